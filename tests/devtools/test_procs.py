"""devtools/procs.py's Process: whatever a run started and did not stop is ended when the
interpreter exits (a test run cut short mid-teardown leaves no process behind)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT, wait_until

SCRIPT = f"""
import os, pathlib, sys
sys.path.insert(0, {str(ROOT / "devtools")!r})
from procs import Process
stopped = Process("stopped", ["sleep", "300"], dict(os.environ), pathlib.Path(sys.argv[1]))
stopped.stop()
forgotten = Process("forgotten", ["sh", "-c", "sleep 300 & sleep 300"], dict(os.environ),
                    pathlib.Path(sys.argv[1]))
print(forgotten.popen.pid, flush=True)
"""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_not_stopped_is_killed_with_its_group_at_exit(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "log")],
                            capture_output=True, text=True, timeout=60, check=True)
    pgid = int(result.stdout)
    wait_until(lambda: not group_alive(pgid), 10,
               "the forgotten process group to die with its interpreter")
