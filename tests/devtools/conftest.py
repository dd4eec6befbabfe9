"""The devtools tests import the tools as the tools import each other: flat, from devtools/.
(No tests/devtools/__init__.py: that package would shadow the top-level devtools/ folder.)"""

from __future__ import annotations

import pathlib
import sys

DEVTOOLS = str(pathlib.Path(__file__).resolve().parents[2] / "devtools")
if DEVTOOLS not in sys.path:
    sys.path.insert(0, DEVTOOLS)
