"""devtools/chromium.py: which Chromium the browser tests and benchmarks launch — CHROMIUM, else
chromium, chromium-browser or google-chrome on PATH — and one line when there is none."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import chromium  # devtools/ (pytest pythonpath)
import pytest

SCRIPT = pathlib.Path(chromium.__file__)


def executable(folder: pathlib.Path, name: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def find(tmp_path: pathlib.Path, environ: dict[str, str]) -> subprocess.CompletedProcess:
    """`python devtools/chromium.py` with only `environ` (and tmp_path/bin as PATH)."""
    env = {"PATH": str(tmp_path / "bin"), **environ}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=30)


def test_chromium_variable_wins_over_path(tmp_path):
    executable(tmp_path / "bin", "chromium")
    chosen = executable(tmp_path / "Google Chrome.app", "Google Chrome")  # a path with spaces
    result = find(tmp_path, {"CHROMIUM": str(chosen)})
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{chosen}\n", "")


@pytest.mark.parametrize("names", [("chromium", "chromium-browser", "google-chrome"),
                                   ("chromium-browser", "google-chrome"), ("google-chrome",)])
def test_path_in_order(tmp_path, names):
    for name in names:
        executable(tmp_path / "bin", name)
    result = find(tmp_path, {})
    assert (result.returncode, result.stdout) == (0, f"{tmp_path / 'bin' / names[0]}\n")


def test_a_command_name_in_chromium_is_looked_up_on_path(tmp_path):
    found = executable(tmp_path / "bin", "chrome-beta")
    assert find(tmp_path, {"CHROMIUM": "chrome-beta"}).stdout == f"{found}\n"


def test_none_says_what_to_do_in_one_line(tmp_path):
    (tmp_path / "bin").mkdir()
    result = find(tmp_path, {})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("chromium: no Chromium: set CHROMIUM to its path, or put chromium, "
                             "chromium-browser or google-chrome on PATH (see README, "
                             "Prerequisites)\n")


def test_a_chromium_variable_that_is_not_executable_is_refused(tmp_path):
    executable(tmp_path / "bin", "chromium")  # not used instead: the setting is wrong
    plain = tmp_path / "chrome.txt"
    plain.write_text("")
    result = find(tmp_path, {"CHROMIUM": str(plain)})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"chromium: CHROMIUM={plain} is not an executable file\n"

