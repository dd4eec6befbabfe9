"""scripts/bench_streams.py, smoke-run: a quick run streams through every variant with no error
and prints every column with numbers; a stream that is not the whole echo counts as an error of
its kind; the arguments are bounded; nothing it started outlives it. (The timings themselves are
the script's output, never asserted: the machine is shared.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import bench_streams  # scripts/ (pytest pythonpath)
import gemini_standin  # devtools/ (pytest pythonpath)
import requests
import stream_burst  # scripts/

from tests.helpers import ROOT, left_behind

SCRIPT = ROOT / "scripts" / "bench_streams.py"
NUMBER = r"(\d+(?:\.\d+)?)"
ROW = re.compile(r"^(threaded|async|chat) +(\d+)" + rf" +{NUMBER}" * 7 + "$")


def bench(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The script as a developer runs it, its temporary files (and so every log and staged
    source of the processes it starts) under `tmp_path`."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_a_quick_run_streams_through_every_variant_without_an_error(tmp_path):
    result = bench(tmp_path, "--quick", "--streams", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("N=3 concurrent streams on one instance (THREADS=3), 10 chunks 100 ms "
                        "apart; median of 1 interleaved runs")
    rows = {m[1]: [float(value) for value in m.groups()[1:]] for m in map(ROW.match, lines) if m}
    assert list(rows) == ["threaded", "async", "chat"]
    for errors, p50, p99, wall, rss, cpu, _, _ in rows.values():
        assert errors == 0
        assert 0 < p50 <= p99 < wall * 1000
        assert wall >= 0.9  # 10 chunks, 100 ms apart: the stand-in paced every stream
        assert rss > 0 and cpu > 0
    assert rows["threaded"][6] == 1.0 and rows["async"][7] == 1.0  # each its own peer
    assert re.fullmatch(rf"  the load \(this process, not counted\): {NUMBER} ms CPU per answer",
                        lines[-1])
    assert left_behind(tmp_path) == []


def test_a_stream_that_is_not_the_whole_echo_is_an_error_of_its_kind(tmp_path):
    standin, _ = gemini_standin.serve(chunk_delay=0.01)
    url = gemini_standin.base_url(standin)
    peer = None
    try:
        peer = bench_streams.start_peer("threaded", 4, url, tmp_path)
        requests.post(f"{url}/_standin/script", timeout=5, json={"steps": [
            {"action": "error", "status": 400}, {"action": "reply", "text": "Not the echo."},
            {"action": "reply", "chunks": ["Echo: ", "stream"]}]}).raise_for_status()
        result = stream_burst.burst(peer, 4)
    finally:
        if peer is not None:
            peer.stop()
        standin.shutdown()
        standin.server_close()
    # The peer fails on Gemini's 400 (a 500 of its own); the other two answers are not the echo
    # of their message in 10 deltas; the fourth, unscripted, is.
    assert result.errors == {"status 500": 1, "wrong answer": 2}
    assert len(result.first_delta_s) == 1
    assert left_behind(tmp_path) == []


def test_the_arguments_are_bounded(tmp_path):
    for args, message in [
            (["--runs", "3"], "--runs 3: medians need at least 7 runs (--quick for a smoke run)"),
            (["--quick", "--streams", "513"], "--streams: each between 1 and 512"),
            (["--quick", "--streams", "0"], "--streams: each between 1 and 512")]:
        result = bench(tmp_path, *args)
        assert result.returncode == 2 and message in result.stderr
        assert result.stdout == ""
    assert left_behind(tmp_path) == []
