"""shellcheck finds nothing in any shell script of the repository (deploy.sh, scripts/*.sh,
.ci/run and whatever else starts with a shell shebang). A missing shellcheck fails the test."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .sandbox import ROOT

SHEBANG = re.compile(rb"^#!\s*(/usr/bin/env\s+)?(/usr)?(/bin/)?(ba|da)?sh\b")


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


def test_every_shell_script_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: apt-get install shellcheck "
                    "(./scripts/setup.sh --test-services installs it)")
    scripts = shell_scripts()
    assert {"deploy.sh", ".ci/run", "scripts/setup.sh", "scripts/test.sh",
            "scripts/dev.sh"} <= set(scripts)
    result = subprocess.run(["shellcheck", "--external-sources", *scripts], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
