"""scripts/bench_auth.py, smoke-run: a round's CPU per request, latency and rate come out as
numbers after every request answered 200, and nothing it started outlives it (the timings
themselves are never asserted: the machine is shared)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.helpers import ROOT, left_behind

ROW = re.compile(r"^1 +(\d+\.\d\d) +(\d+\.\d) +(\d+\.\d) +(\d+)$")


def test_a_small_run_prints_a_round_of_numbers_and_leaves_nothing_running(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_auth.py"),
                             "--requests", "12", "--concurrency", "3", "--rounds", "1"],
                            env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "auth: GET /api/auth, 3 at once, limits on the Firestore emulator"
    [row] = [m for m in map(ROW.match, lines) if m]
    cpu, p50, p99, rate = (float(value) for value in row.groups())
    assert cpu > 0 and 0 < p50 <= p99 and rate > 0
    assert left_behind(tmp_path) == []


def test_bad_arguments_are_refused():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_auth.py"),
                             "--concurrency", "0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--concurrency 1-64" in result.stderr
