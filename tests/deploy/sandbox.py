"""The deploy sandbox: a copy of what deploy.sh reads (the real staging script and functions
included), with gcloud, npm, firebase, scripts/manage_secrets.py and sleep replaced by recording fakes, and a
PATH of those fakes and a few system tools only: the real gcloud is never reachable from it.
Also the helpers that read a plan."""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

from .fake_ci_identity import PROJECT_NUMBER
from .fake_monitoring import ALERT_CHANNEL, ALERT_EMAIL
from .fake_tools import CHAT_URL, SECRET_VERSION, default_state

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
TARGETS = ("chat", "auth", "health", "hosting", "all")
FUNCTIONS = ("chat", "auth", "health")
SECRETS_OF = {"chat": ("GEMINI_API_KEY", "SECRET_KEY"), "auth": ("SECRET_KEY",), "health": ()}
# Read-only calls that only a real run makes (a dry run skips these checks).
PREFLIGHT = (("gcloud", "auth", "list"), ("gcloud", "services", "list"))
_SYSTEM_TOOLS = ("bash", "env", "dirname", "grep")  # all deploy.sh runs besides the fakes
_COPIED = ("deploy.sh", "scripts/deploy", "deploy.env.example", "firebase.json",
           "scripts/stage_function.py", "functions", "hosting/package.json")


def placeholders_resolved(line: str) -> str:
    """A plan line with what the read-only calls answer in the sandbox."""
    line = line.replace("<project-number>", PROJECT_NUMBER)
    line = line.replace("<chat-url>", CHAT_URL).replace("<alert channel>", ALERT_CHANNEL)
    line = line.replace("<ALERT_EMAIL>", ALERT_EMAIL)
    for name in ("GEMINI_API_KEY", "SECRET_KEY"):
        line = line.replace(f"<version of {name}>", SECRET_VERSION)
    return line


def commands(plan: str) -> list[list[str]]:
    """The plan's commands as argv lists (comment lines and trailing comments dropped)."""
    return [shlex.split(line, comments=True) for line in plan.splitlines()
            if line.strip() and not line.startswith("#")]


def deploy_command(plan: str, fn: str) -> list[str]:
    [argv] = [c for c in commands(plan) if c[:4] == ["gcloud", "functions", "deploy", fn]]
    return argv


def flags(argv: list[str]) -> dict[str, str]:
    """--name=value flags as a dict (bare flags map to "")."""
    return dict((a.split("=", 1) + [""])[:2] for a in argv if a.startswith("--"))


def env_vars(argv: list[str]) -> dict[str, str]:
    """--set-env-vars=^D^K=V(DK=V)* as gcloud reads it (the real gcloud: test_gcloud_cli)."""
    spec = flags(argv)["--set-env-vars"]
    assert spec.startswith("^")
    delimiter, items = spec[1:].split("^", 1)
    return dict(item.split("=", 1) for item in items.split(delimiter))


RICH_ENV = """\
# every kind of value that needs care on a gcloud command line
REGION=europe-west1
EXTRA_ORIGINS=https://chat.example.com, https://www.example.com
ALLOWED_EMAILS=a@example.com,b@example.com
ALLOWED_DOMAINS="example.org"
CHECK_REVOKED=true
RATE_LIMITS=10/minute;100/day
SYSTEM_PROMPT=Say "hi", it's ## fine = ok
MAX_MESSAGE_CHARS=4000
MIN_INSTANCES=1
MAX_INSTANCES_CHAT=9
CONCURRENCY_HEALTH=4
CPU_HEALTH=1
"""


class Sandbox:
    def __init__(self, base: pathlib.Path):
        self.repo, self.bin, self.tools = base / "repo", base / "bin", base / "tools"
        self.state, self.log = base / "state.json", base / "calls.jsonl"
        for name in _COPIED:
            source, dest = ROOT / name, self.repo / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, dest)
        (self.repo / ".venv").symlink_to(ROOT / ".venv")
        (self.repo / "hosting" / "node_modules").mkdir()
        fake = HERE / "fake_tools.py"
        (self.repo / "scripts" / "manage_secrets.py").write_text(
            f"import sys\nsys.path.insert(0, {str(HERE)!r})\nimport fake_tools\n"
            "sys.exit(fake_tools.main('manage_secrets.py', sys.orig_argv))\n")
        self._wrapper(self.bin / "gcloud", f"{fake} gcloud gcloud")
        self._wrapper(self.bin / "npm", f"{fake} npm npm")
        self._wrapper(self.bin / "sleep", f"{fake} sleep sleep")
        self._wrapper(self.repo / "node_modules" / ".bin" / "firebase",
                      f"{fake} firebase node_modules/.bin/firebase")
        self.tools.mkdir()
        for tool in _SYSTEM_TOOLS:
            (self.tools / tool).symlink_to(shutil.which(tool))
        self.log.touch()

    @staticmethod
    def _wrapper(path: pathlib.Path, command: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {command} "$@"\n')
        path.chmod(0o755)

    def run(self, *args: str, env_file: str | None = None, path: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """./deploy.sh ARGS with deploy.env absent unless `env_file` (a path in the repo)."""
        env = {"PATH": path or f"{self.bin}:{self.tools}", "HOME": str(self.repo.parent),
               "FAKE_STATE": str(self.state), "FAKE_LOG": str(self.log), "LANG": "C.UTF-8",
               "DEPLOY_ENV_FILE": env_file or "deploy.env.absent"}
        result = subprocess.run(["/bin/bash", "deploy.sh", *args], cwd=self.repo, env=env,
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"deploy.sh {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr}")
        return result

    def plan(self, *args: str, **kwargs) -> str:
        return self.run(*args, "--dry-run", **kwargs).stdout

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def set_state(self, **changes) -> None:
        state = json.loads(self.state.read_text()) if self.state.exists() else default_state()
        state.update(changes)
        self.state.write_text(json.dumps(state))

    def files(self) -> dict[str, tuple[int, int]]:
        """Every file under the repo copy (the .venv link not followed): size and mtime."""
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.repo):
            for name in filenames:
                stat = os.lstat(os.path.join(dirpath, name))
                found[os.path.relpath(os.path.join(dirpath, name), self.repo)] = (
                    stat.st_size, stat.st_mtime_ns)
            dirnames[:] = [d for d in dirnames if d != ".venv"]
        return found
