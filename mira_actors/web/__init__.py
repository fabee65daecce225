"""The web view of runs: ``mira-actors serve``, or ``serve(system)`` in process.

Needs the ``web`` extra (``pip install 'mira-actors[web]'``). Nothing else in the
package imports this one.
"""

from ._app import create_app as create_app
from ._server import NonLoopbackError as NonLoopbackError
from ._server import WebServer as WebServer
from ._server import serve as serve

__all__ = ["NonLoopbackError", "WebServer", "create_app", "serve"]
