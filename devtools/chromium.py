"""The Chromium that the browser tests and the benchmarks launch: the `CHROMIUM` environment
variable (a path or a command name), else the first of chromium, chromium-browser and
google-chrome on PATH. No browser is downloaded.

`python devtools/chromium.py` prints its path, or one line saying what is missing (exit 1).
"""

from __future__ import annotations

import os
import shutil
import sys

NAMES = ("chromium", "chromium-browser", "google-chrome")


class ChromiumNotFound(RuntimeError):
    """No Chromium to launch; the message says what to do, in one line."""


def find_chromium(environ=os.environ, which=shutil.which) -> str:
    configured = environ.get("CHROMIUM")
    if configured:
        path = which(configured)
        if path is None:
            raise ChromiumNotFound(f"CHROMIUM={configured} is not an executable file")
        return path
    for name in NAMES:
        path = which(name)
        if path is not None:
            return path
    names = f"{', '.join(NAMES[:-1])} or {NAMES[-1]}"
    raise ChromiumNotFound(f"no Chromium: set CHROMIUM to its path, or put {names} on PATH "
                           "(see README, Prerequisites)")


def main() -> int:
    try:
        print(find_chromium())
    except ChromiumNotFound as error:
        print(f"chromium: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
