"""Cold start: no garbage collection while a function's modules load.

The SDKs chat and auth import (google-genai, firebase-admin) allocate hundreds of thousands of
objects, and the collector would scan them again and again while they load: ~20 ms of auth's
and ~30 ms of chat's cold start (scripts/bench_cold_start.py). A function's main.py imports this
module first, which pauses the collector, and calls `loaded()` last: everything loaded so far
goes into the permanent generation (gc.freeze: later collections, during requests, never scan
it again) and collection resumes.
"""

import gc

gc.disable()


def loaded() -> None:
    """main.py has loaded: keep what it loaded out of every later collection, and collect again."""
    gc.freeze()
    gc.enable()
