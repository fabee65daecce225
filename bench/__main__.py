"""``python -m bench``: run the benchmark suite and write bench/results/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._runner import ALL_CASES, CASE_NAMES, DEFAULT_OUT, run
from ._sizes import Sizes


def parse_cases(text: str) -> list[int]:
    """Parse ``"1,2,7"`` (or ``"adversity"``, by name) into case numbers."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        numbers = [CASE_NAMES.get(part) or int(part) for part in parts]
    except ValueError:
        msg = f"--cases takes numbers separated by commas, e.g. 1,2,7; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    bad = [n for n in numbers if n not in ALL_CASES]
    if bad or not numbers:
        msg = f"--cases takes case numbers {ALL_CASES} or names {sorted(CASE_NAMES)}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return numbers


def main(argv: list[str] | None = None) -> int:
    """Run the cases the command line chooses; print the Markdown table; return 0."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="mira-actors against raw trio, pykka and the asyncio thread-pool design.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: every case and ratio in < 60 s"
    )
    parser.add_argument(
        "--cases",
        type=parse_cases,
        default=list(ALL_CASES),
        help="which cases to run, e.g. 1,2,7 or adversity (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    mode = "python -m bench" + (" --quick" if args.quick else "")
    if sorted(args.cases) != list(ALL_CASES):
        mode += " --cases " + ",".join(map(str, args.cases))
    result = run(sizes, numbers=args.cases, out=args.out, mode=mode)
    print(result.markdown_path.read_text(encoding="utf-8"))
    print(
        f"wrote {result.json_path}, {result.markdown_path} and {result.chart_path} "
        f"in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
