"""Write what is derived from the Python tables, so that nothing is typed twice:

    hosting/src/generated/contract.js  the error codes (functions/core/errors.py) and the limit
                                       defaults the web app shows (functions/core/settings.py)
    README.md, "Configuration"         the table of settings (functions/core/settings.py)

Usage: .venv/bin/python scripts/generate.py [--check]
Both files are committed (the web build needs no Python); --check writes nothing and exits 1 if
either differs from what this would write now (tests/unit/test_generated.py runs it).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
from core.errors import Code  # noqa: E402  (functions/, put on sys.path above)
from core.settings import FUNCTIONS, SETTINGS, Setting  # noqa: E402

CONTRACT_JS = ROOT / "hosting" / "src" / "generated" / "contract.js"
README = ROOT / "README.md"
TABLE_START = "<!-- settings table: written by scripts/generate.py from functions/core/settings.py -->"
TABLE_END = "<!-- end of the settings table -->"
_MIB, _KIB = 1 << 20, 1 << 10


def contract_js() -> str:
    codes = {code.value: {"status": code.status, "message": code.message, "header": code.header}
             for code in Code}
    limits = {entry.web: list(entry.default) if isinstance(entry.default, tuple) else entry.default
              for entry in SETTINGS.values() if entry.web}

    def frozen(value: object, depth: int = 0) -> str:
        """`value` as a frozen JS literal: the top level one entry a line, the rest inline."""
        if isinstance(value, dict):
            items = [f"{key}: {frozen(item, depth + 1)}" for key, item in value.items()]
            if depth:
                return f"Object.freeze({{ {', '.join(items)} }})"
            return "Object.freeze({\n" + "".join(f"  {item},\n" for item in items) + "})"
        if isinstance(value, list):
            return f"Object.freeze([{', '.join(frozen(item, depth + 1) for item in value)}])"
        return json.dumps(value, ensure_ascii=False)

    return (
        "// Written by scripts/generate.py from functions/core/errors.py and\n"
        "// functions/core/settings.py: do not edit. After changing those, run\n"
        "//   .venv/bin/python scripts/generate.py\n"
        "// (tests/unit/test_generated.py fails while this file is stale).\n\n"
        "/** Every error code the functions answer with: its HTTP status, the server's default\n"
        " * message, and the extra header every answer with it carries (null: none). */\n"
        f"export const ERROR_CODES = {frozen(codes)};\n\n"
        "/** The server's default limits (GET /api/auth's chat.limits says the deployment's). */\n"
        f"export const DEFAULT_LIMITS = {frozen(limits)};\n"
    )


def _size(number: int) -> str:
    for unit, name in ((_MIB, "MiB"), (_KIB, "KiB")):
        if number >= unit and number % unit == 0:
            return f"{number // unit} {name}"
    return f"{number} B"


def _default(entry: Setting) -> str:
    value = entry.default
    if entry.shown is not None:
        return entry.shown
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int):
        return f"{value} ({_size(value)})" if entry.name.endswith("_BYTES") else str(value)
    if isinstance(value, tuple):
        return ", ".join(f"`{item}`" for item in value)
    return f"`{value}`"


def _values(entry: Setting) -> str:
    if entry.kind == "bool":
        return "true or false"
    if entry.kind == "choice":
        return ", ".join(f"`{choice}`" for choice in entry.choices)
    if entry.kind in ("int", "seconds"):
        low, high = ((_size(entry.low), _size(entry.high)) if entry.name.endswith("_BYTES")
                     else (entry.low, entry.high))
        return f"{low}–{high}" + (" s" if entry.kind == "seconds" else "")
    return "comma list" if entry.kind == "list" else "text"


def _notes(entry: Setting) -> str:
    parts = []
    if entry.required_by:
        parts.append("required in production" + (
            "" if entry.required_by == entry.functions else f" by {', '.join(entry.required_by)}"))
    parts.append({"secret": "Secret Manager", "development": "development only",
                  "runtime": "set by Google's runtime"}.get(entry.source, ""))
    return "; ".join(filter(None, [*parts, entry.doc]))


def settings_table() -> str:
    rows = ["| Variable | Default | Values | Used by | Notes |", "|---|---|---|---|---|"]
    for entry in SETTINGS.values():
        used_by = "all" if entry.functions == FUNCTIONS else ", ".join(entry.functions)
        rows.append(f"| `{entry.name}` | {_default(entry)} | {_values(entry)} | {used_by} | "
                    f"{_notes(entry)} |")
    return "\n".join(rows)


def readme(text: str) -> str:
    """README's text with the settings table between its markers written anew."""
    before, start, rest = text.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not (start and end):
        raise SystemExit(f"generate: README.md lacks the markers {TABLE_START} ... {TABLE_END}")
    return f"{before}{TABLE_START}\n{settings_table()}\n{TABLE_END}{after}"


def outputs() -> dict[pathlib.Path, str]:
    """Each generated file with the text it must have now."""
    return {CONTRACT_JS: contract_js(), README: readme(README.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{path} is stale" if args.check else f"wrote {path}")
    if args.check and stale:
        print("run: .venv/bin/python scripts/generate.py")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
