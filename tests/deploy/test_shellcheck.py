"""shellcheck finds nothing in any shell script of the repository (deploy.sh and the parts it
sources from scripts/deploy/, scripts/*.sh, .ci/run and whatever else starts with a shell shebang).
A missing shellcheck fails the test."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .sandbox import ROOT

SHEBANG = re.compile(rb"^#!\s*(/usr/bin/env\s+)?(/usr)?(/bin/)?(ba|da)?sh\b")
# deploy.sh's parts: each is checked on its own, and all of them in place in deploy.sh
DEPLOY_PARTS = {"scripts/deploy/settings.sh", "scripts/deploy/commands.sh",
                "scripts/deploy/functions.sh", "scripts/deploy/hosting.sh",
                "scripts/deploy/monitoring.sh", "scripts/deploy/ci_identity.sh"}
SOURCE = re.compile(r"^source (scripts/deploy/[a-z_]+\.sh)$", re.MULTILINE)


def shell_scripts() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found = []
    for name in listed.splitlines():
        path = ROOT / name
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            head = handle.read(64)
        if name.endswith(".sh") or SHEBANG.match(head):
            found.append(name)
    return sorted(found)


def shellcheck(*args: str, text: str | None = None) -> subprocess.CompletedProcess:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: apt-get install shellcheck "
                    "(./scripts/setup.sh --test-services installs it)")
    return subprocess.run(["shellcheck", *args], cwd=ROOT, input=text, capture_output=True,
                          text=True, timeout=60)


def test_every_shell_script_is_shellcheck_clean():
    scripts = shell_scripts()
    assert {"deploy.sh", ".ci/run", "scripts/setup.sh", "scripts/test.sh",
            "scripts/dev.sh"} | DEPLOY_PARTS <= set(scripts)
    result = shellcheck("--external-sources", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_sh_with_its_parts_in_place_is_shellcheck_clean():
    """On its own, a part may use what deploy.sh or another part sets (its first line tells
    shellcheck so). shellcheck does not look into sourced files, so this checks the whole: deploy.sh
    with each `source` line replaced by that part, without the parts' own directives."""
    sourced = []

    def inline(match: re.Match) -> str:
        sourced.append(match[1])
        lines = (ROOT / match[1]).read_text().splitlines()
        return "\n".join(line for line in lines if not line.startswith("# shellcheck "))

    whole = SOURCE.sub(inline, (ROOT / "deploy.sh").read_text())
    assert sorted(sourced) == sorted(DEPLOY_PARTS)
    assert {p for p in shell_scripts() if p.startswith("scripts/deploy/")} == DEPLOY_PARTS
    result = shellcheck("--shell=bash", "-", text=whole)
    assert result.returncode == 0, ("line numbers count in deploy.sh with its parts in place:\n"
                                    + result.stdout + result.stderr)
