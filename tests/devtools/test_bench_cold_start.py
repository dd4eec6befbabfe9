"""scripts/bench_cold_start.py, smoke-run: the table and the goals come out with numbers once
every start ended in a successful answer, a wrong answer voids the benchmark, its helper prints
where import time goes, and nothing it started outlives it. (The timings themselves are the
script's output, never asserted: the machine is shared.) The +fs variants are not run here (gcloud's
Firestore emulator would double the time): their settings are checked, the emulator itself is
tests/devtools/test_firestore_emulator.py's.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import bench_cold_start  # scripts/ (pytest pythonpath)
import procs  # devtools/ (pytest pythonpath)

from tests.helpers import ROOT, left_behind, wait_until

SCRIPT = ROOT / "scripts" / "bench_cold_start.py"
ROW = re.compile(r"^(\S+) +(\d+) +(\d+) +(\d+) +([\d.]+|-) +([\d.]+|-)$")
GOAL = re.compile(r"^  (\S+) +<= ([\d.]+) x (\S+) +([\d.]+)  (PASS|MISS)$")


def bench(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """The script as a developer runs it, its temporary files (and so every log and staged
    source of the processes it starts) under `tmp_path`."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.run([sys.executable, str(SCRIPT), "--python", "current", *args], env=env,
                          capture_output=True, text=True, timeout=110, stdin=subprocess.DEVNULL)


def test_a_quick_run_prints_every_variant_and_the_goals_with_numbers(tmp_path):
    result = bench(tmp_path, "--quick", "--runs", "1", "--only", "health,chat")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("cold start to the first successful answer: median of 1 ")
    rows = {m[1]: m.groups()[1:] for m in map(ROW.match, lines) if m}
    # The peers their goals compare against come along; nothing else does.
    assert list(rows) == ["hello", "sdk-floor", "health", "chat"]
    for median, low, high, _, _ in rows.values():
        assert 0 < int(low) <= int(median) <= int(high)
    assert rows["hello"][3] == "1.00" and rows["sdk-floor"][4] == "1.00"
    goals = [m.groups() for m in map(GOAL.match, lines) if m]
    assert [(name, limit, peer) for name, limit, peer, _, _ in goals] == [
        ("health", "1.05", "hello"), ("chat", "1.15", "sdk-floor")]
    for name, limit, peer, value, verdict in goals:
        column = 3 if peer == "hello" else 4
        assert value == rows[name][column]  # the goal judges the ratio the table shows
        assert verdict == ("PASS" if float(value) <= float(limit) else "MISS")
    assert left_behind(tmp_path) == []


def test_sigterm_mid_run_stops_every_process_it_started(tmp_path):
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--python", "current", "--quick",
                                "--runs", "100", "--only", "health"],
                               env={**os.environ, "TMPDIR": str(tmp_path)},
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(lambda: any("functions-framework" in p for p in left_behind(tmp_path)), 30,
                   "a function the benchmark started")
        process.terminate()
        assert process.wait(30) == 143, process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
        process.stderr.close()
    # A function started in the instant of the signal is killed by procs' exit hook (SIGKILL,
    # not waited for): give it a moment to be gone.
    wait_until(lambda: not left_behind(tmp_path), 5, "every process of the benchmark to end")


def test_fewer_than_seven_runs_need_quick_and_variants_must_exist(tmp_path):
    result = bench(tmp_path, "--runs", "3")
    assert result.returncode == 2
    assert "--runs 3: medians need at least 7 runs (--quick for a smoke run)" in result.stderr
    result = bench(tmp_path, "--quick", "--runs", "1", "--only", "health,nosuch")
    assert result.returncode == 2
    assert "unknown variant nosuch" in result.stderr
    assert result.stdout == ""


def test_a_wrong_answer_voids_the_benchmark_with_the_function_log(tmp_path, monkeypatch, capsys):
    real = bench_cold_start.expected

    def demanding(function, user):
        method, path, want = real(function, user)
        return (method, path, {"status": "degraded"}) if function == "health" else want

    monkeypatch.setattr(bench_cold_start, "expected", demanding)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert bench_cold_start.main(["--python", "current", "--quick", "--runs", "1", "--only",
                                  "health"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no table: a start that failed is not a timing
    first, _, tail = err.partition("\n")
    prefix = "bench_cold_start: health: GET /api/health -> 200 "
    assert first.startswith(prefix) and json.loads(first[len(prefix):]) == {"status": "ok"}
    assert '"message": "request"' in tail  # the tail of the function's own log: its request line
    assert left_behind(tmp_path) == []


def test_importtime_lists_the_25_largest_cumulative_imports(tmp_path):
    result = bench(tmp_path, "--importtime", "chat")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    totals = re.fullmatch(r"chat \(python -X importtime\): import main ([\d.]+) ms, after import "
                          r"functions_framework ([\d.]+) ms; the 25 largest:", lines[0])
    assert totals and float(totals[1]) > 0 and float(totals[2]) > 0
    assert lines[1] == "cumulative ms  self ms  module"
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 25
    cumulative = [float(row[0]) for row in rows]
    assert cumulative == sorted(cumulative, reverse=True)
    assert all(float(own) <= total for (_, own, _), total in zip(rows, cumulative))
    assert "functions_framework" in {row[2] for row in rows}  # ~100 ms: always among them
    assert left_behind(tmp_path) == []


def test_the_variants_run_on_the_stand_in_and_only_the_fs_ones_count_in_firestore(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "a-real-key-in-the-shell")
    monkeypatch.setenv("RATE_LIMITS", "1/day")  # the shell's settings never reach a function
    ports = {"auth-emulator": 9101, "gemini-standin": 9102}
    envs = bench_cold_start.settings_for(["auth", "auth+fs", "chat"], ports, "127.0.0.1:9103")
    for env in envs.values():
        assert env["GEMINI_BASE_URL"] == "http://127.0.0.1:9102"
        assert env["GEMINI_API_KEY"] != "a-real-key-in-the-shell"
        assert env["FIREBASE_AUTH_EMULATOR_HOST"] == "127.0.0.1:9101"
        assert "RATE_LIMITS" not in procs.function_environ(env)
    assert "RATE_LIMIT_STORAGE" not in envs["auth"]  # memory, the default
    assert {k: v for k, v in envs["auth+fs"].items() if envs["auth"].get(k) != v} == {
        "RATE_LIMIT_STORAGE": "firestore://rate_limits", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9103"}
    assert os.environ["GEMINI_API_KEY"] == "a-real-key-in-the-shell"  # the shell's, left as it was
