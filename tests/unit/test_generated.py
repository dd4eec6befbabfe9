"""scripts/generate.py: the web app's contract module and README's settings table are what the
Python tables say now, and the JavaScript the web app imports holds exactly those values."""

from __future__ import annotations

import json
import shutil
import subprocess

import generate
import pytest

from core.errors import Code
from core.settings import SETTINGS


@pytest.mark.parametrize("path", sorted(generate.outputs()), ids=lambda path: path.name)
def test_each_generated_file_is_up_to_date(path):
    assert path.read_text(encoding="utf-8") == generate.outputs()[path], (
        f"{path.relative_to(generate.ROOT)} is stale: run .venv/bin/python scripts/generate.py")


def test_the_web_app_reads_the_python_tables():
    """The generated module, imported by Node as the web app imports it."""
    node = shutil.which("node")
    assert node, "node is needed (the web app's tests run on it too)"
    script = (f"import {{ ERROR_CODES, DEFAULT_LIMITS }} from {json.dumps(generate.CONTRACT_JS.as_uri())};"
              "console.log(JSON.stringify({ ERROR_CODES, DEFAULT_LIMITS, "
              "frozen: Object.isFrozen(ERROR_CODES.timeout) && Object.isFrozen(DEFAULT_LIMITS) }));")
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=60, check=True)
    module = json.loads(done.stdout)
    assert module["ERROR_CODES"] == {
        code.value: {"status": code.status, "message": code.message, "header": code.header}
        for code in Code}
    assert module["DEFAULT_LIMITS"] == {
        entry.web: list(entry.default) if isinstance(entry.default, tuple) else entry.default
        for entry in SETTINGS.values() if entry.web}
    assert set(module["DEFAULT_LIMITS"]) >= {"maxMessageChars", "maxHistoryMessages",
                                             "maxRequestBytes", "maxInstructionsChars"}
    assert module["frozen"]


def test_check_reports_a_stale_file_and_writing_fixes_it(tmp_path, monkeypatch, capsys):
    for name in ("CONTRACT_JS", "README"):
        copy = tmp_path / getattr(generate, name).name
        shutil.copy(getattr(generate, name), copy)
        monkeypatch.setattr(generate, name, copy)
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    assert generate.main(["--check"]) == 0
    stale = generate.README.read_text().replace("| `APP_ENV` |", "| `APP_MODE` |")
    generate.README.write_text(stale)
    generate.CONTRACT_JS.unlink()
    assert generate.main(["--check"]) == 1
    assert not generate.CONTRACT_JS.exists() and generate.README.read_text() == stale
    assert "README.md is stale" in capsys.readouterr().out
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    assert "| `APP_ENV` |" in generate.README.read_text()


def test_readme_without_the_markers_is_refused():
    with pytest.raises(SystemExit, match="lacks the markers"):
        generate.readme("# A README\n\nNo table here.\n")
