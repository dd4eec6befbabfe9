"""Stage one function for running or deploying: its folder plus the shared `core` package.

The staged folder is exactly what `gcloud functions deploy --source` uploads (no symlinks).
"""

from __future__ import annotations

import argparse
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTIONS = ("chat", "auth", "health")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")


def stage(name: str, dest: pathlib.Path) -> pathlib.Path:
    """Copy functions/<name>/ and functions/core/ into a fresh `dest`; return main.py's path."""
    if name not in FUNCTIONS:
        raise SystemExit(f"unknown function {name!r}; choose one of {', '.join(FUNCTIONS)}")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "functions" / name, dest, ignore=_IGNORE)
    shutil.copytree(ROOT / "functions" / "core", dest / "core", ignore=_IGNORE)
    return dest / "main.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=FUNCTIONS)
    parser.add_argument("dest", type=pathlib.Path, nargs="?")
    args = parser.parse_args()
    print(stage(args.name, args.dest or ROOT / "build" / "functions" / args.name))


if __name__ == "__main__":
    main()
