"""Imports point down the layers: runtime <- supervisors <- agents <- CLI and web."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Highest first; a module belongs to the first layer whose prefix its name starts with.
LAYERS = [
    ("cli/web", ("mira_actors.web", "mira_actors.agents._cli", "mira_actors.agents._commands")),
    ("agents", ("mira_actors.agents",)),
    ("supervisors", ("supervisors",)),
    ("runtime", ("mira_actors",)),
]
RANK = {name: rank for rank, (name, _) in enumerate(reversed(LAYERS))}
# What the runtime may import besides the standard library and itself; optional extras
# only in the module that wraps them.
RUNTIME_THIRD_PARTY = {"trio", "attrs"}
EXTRAS = {
    # The OpenTelemetry instrumentation, and the spans it opens.
    "mira_actors.instrumentation.otel": {"opentelemetry"},
    "mira_actors.instrumentation._otel_spans": {"opentelemetry"},
}


def layer_of(module: str) -> str | None:
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("mira_actors", "supervisors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((".".join(parts), path))
    return found


def imports_of(module: str, path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved to absolute names."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    targets = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets.append(stem)
            # "from package import submodule" imports the submodule too.
            targets += [f"{stem}.{alias.name}" for alias in node.names]
    return targets


def is_module(name: str) -> bool:
    top = name.split(".")[0]
    if top not in ("mira_actors", "supervisors"):
        return True
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


ALL = modules()


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_imports_point_down_the_layers(module: str, path: Path) -> None:
    """A module imports only from its own layer or the layers below it."""
    own = layer_of(module)
    assert own is not None
    upward = [
        target
        for target in imports_of(module, path)
        if is_module(target) and (layer := layer_of(target)) is not None and RANK[layer] > RANK[own]
    ]
    assert upward == [], f"{module} ({own}) imports from a higher layer: {upward}"


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_supervisors_use_only_the_runtimes_public_names(module: str, path: Path) -> None:
    """supervisors imports mira_actors' public packages, never its private modules."""
    if layer_of(module) != "supervisors":
        return
    private = [
        target
        for target in imports_of(module, path)
        if target.startswith("mira_actors.")
        and any(part.startswith("_") for part in target.split(".")[1:])
        and is_module(target)
    ]
    assert private == [], f"{module} imports the runtime's private modules: {private}"


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_runtime_imports_only_trio_attrs_and_the_standard_library(module: str, path: Path) -> None:
    """A runtime module imports the standard library, trio, attrs and itself."""
    if layer_of(module) != "runtime":
        return
    allowed = RUNTIME_THIRD_PARTY | EXTRAS.get(module, set()) | {"mira_actors", "__future__"}
    foreign = {
        top
        for target in imports_of(module, path)
        if (top := target.split(".")[0])
        and top not in allowed
        and top not in sys.stdlib_module_names
    }
    assert foreign == set(), f"{module} imports {sorted(foreign)}"


def test_importing_the_runtime_imports_no_higher_layer() -> None:
    """`import mira_actors` loads neither supervisors, the agents, the CLI nor the web view."""
    code = (
        "import sys, mira_actors\n"
        "print(sorted(m for m in sys.modules if m == 'supervisors' or "
        "m.startswith(('supervisors.', 'mira_actors.agents', 'mira_actors.web'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The layer check itself sees a runtime module that imports the agents."""
    bad = tmp_path / "_bad.py"
    bad.write_text("from .agents import OrchestratorAgent\nimport supervisors\n")
    targets = imports_of("mira_actors._bad", bad)
    layers = {layer_of(t) for t in targets if is_module(t)}
    assert {"agents", "supervisors"} <= layers
