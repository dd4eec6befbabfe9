"""scripts/manage_secrets.py with the real google-cloud-secret-manager client (REST) against the fake."""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import sys

import pytest

from tests.helpers import wait_until

from .conftest import CANARY, PROJECT, ROOT, SA, assert_no_values


def deploy_recorder(tmp_path, fail_on: str | None = None) -> tuple[str, object]:
    """A redeploy command that records `FUNCTION --project ID` and fails for `fail_on`."""
    log = tmp_path / "deploys.txt"
    script = f'echo "$@" >> {shlex.quote(str(log))}; [ "$1" != "{fail_on}" ]'
    return shlex.join(["sh", "-c", script, "deploy"]), log


def read_some(terminal: int, screen: bytearray) -> bool:
    """Add what the child wrote to its terminal to `screen` (waiting up to 0.1 s for it); False
    once the child has closed the terminal."""
    ready, _, _ = select.select([terminal], [], [], 0.1)
    if not ready:
        return True
    try:
        chunk = os.read(terminal, 4096)
    except OSError:  # Linux: EIO once the child closed the terminal
        return False
    screen += chunk
    return bool(chunk)


def test_create_adds_first_versions_and_prints_no_value(run_secrets_cli, fake):
    created = run_secrets_cli("create", stdin=CANARY + "\n")
    assert created.returncode == 0, created.stderr
    assert fake.fake.versions(PROJECT, "GEMINI_API_KEY") == {1: "ENABLED"}
    assert fake.fake.versions(PROJECT, "SECRET_KEY") == {1: "ENABLED"}
    gemini, secret_key = fake.fake.stored_values()
    assert gemini == CANARY.encode()  # trailing newline stripped, value intact
    assert len(secret_key) == 64 and secret_key != gemini  # token_urlsafe(48)
    with fake.fake._lock:  # each payload was sent with its CRC32C, which the fake verified
        assert all(v["checksummed"] for s in fake.fake._secrets.values() for v in s["versions"])
    listed = run_secrets_cli("list")
    assert listed.stdout.splitlines() == ["GEMINI_API_KEY: 1 enabled", "SECRET_KEY: 1 enabled"]
    # The wire log of the fake holds only methods and paths.
    assert_no_values(fake, repr(fake.fake.requests))


def test_create_is_idempotent(run_secrets, fake):
    run_secrets("create", stdin=CANARY)
    again = run_secrets("create", stdin="AIzaSomethingElse")
    assert again.returncode == 0
    assert again.stdout.count("left alone") == 2
    assert fake.fake.versions(PROJECT, "GEMINI_API_KEY") == {1: "ENABLED"}
    assert fake.fake.stored_values()[0] == CANARY.encode()


def test_create_refuses_empty_or_multiline_input_before_writing(run_secrets, fake):
    for bad in ("", "\n", "two words", "line1\nline2"):
        done = run_secrets("create", stdin=bad)
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
        assert "GEMINI_API_KEY" in done.stderr
    assert not any(method == "POST" for method, _ in fake.fake.requests)


def test_library_debug_logging_cannot_print_the_payload(run_secrets_cli):
    done = run_secrets_cli("create", stdin=CANARY,
                           env={"GOOGLE_SDK_PYTHON_LOGGING_SCOPE": "google"})
    assert done.returncode == 0  # and run_secrets found no value in stdout or stderr


def test_prompt_hides_the_key_on_a_terminal(fake):
    """On a TTY the key comes from getpass: prompted, not echoed, stored."""
    env = {**os.environ, "SECRET_MANAGER_ENDPOINT": fake.url}
    pid, terminal = pty.fork()
    if pid == 0:  # child: the terminal is its controlling TTY
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "scripts/manage_secrets.py", "create", "--project",
                                   PROJECT], env)
    screen = bytearray()
    wait_until(lambda: b"input hidden" in screen or not read_some(terminal, screen), timeout=30,
               what="the hidden-input prompt", interval=0)
    assert b"input hidden" in screen, bytes(screen)
    os.write(terminal, CANARY.encode() + b"\n")
    wait_until(lambda: not read_some(terminal, screen), timeout=30,
               what="the command to end", interval=0)
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, bytes(screen)
    assert CANARY.encode() not in screen
    assert fake.fake.stored_values()[0] == CANARY.encode()


def test_rotate_redeploys_then_disables_the_old_version(run_secrets, run_secrets_cli, fake,
                                                        tmp_path):
    run_secrets("create", stdin=CANARY)
    command, log = deploy_recorder(tmp_path)
    rotated = run_secrets_cli("rotate", "GEMINI_API_KEY", "--redeploy-command", command,
                          stdin="AIzaSecondKey-0123456789")
    assert rotated.returncode == 0, rotated.stderr
    assert fake.fake.versions(PROJECT, "GEMINI_API_KEY") == {1: "DISABLED", 2: "ENABLED"}
    assert log.read_text().splitlines() == [f"chat --project {PROJECT}"]
    assert run_secrets_cli("version", "GEMINI_API_KEY").stdout == "2\n"  # as deploy.sh asks

    rotated = run_secrets("rotate", "SECRET_KEY", env={"JETTE_DEPLOY": command})
    assert rotated.returncode == 0, rotated.stderr
    assert fake.fake.versions(PROJECT, "SECRET_KEY") == {1: "DISABLED", 2: "ENABLED"}
    assert log.read_text().splitlines()[1:] == [f"chat --project {PROJECT}",
                                                f"auth --project {PROJECT}"]
    assert run_secrets("list").stdout.splitlines() == [
        "GEMINI_API_KEY: 2 enabled, 1 disabled", "SECRET_KEY: 2 enabled, 1 disabled"]


@pytest.mark.parametrize("name, fail_on", [("GEMINI_API_KEY", "chat"), ("SECRET_KEY", "auth")])
def test_a_failed_redeploy_keeps_the_old_version_enabled(run_secrets, fake, tmp_path, name,
                                                         fail_on):
    run_secrets("create", stdin=CANARY)
    command, _ = deploy_recorder(tmp_path, fail_on=fail_on)
    done = run_secrets("rotate", name, "--redeploy-command", command, stdin="AIzaNext-123456789")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert f"redeploy of {fail_on} failed" in done.stderr and "stay enabled" in done.stderr
    assert fake.fake.versions(PROJECT, name) == {1: "ENABLED", 2: "ENABLED"}


def test_rotate_without_a_deploy_script_disables_nothing(run_secrets, fake):
    run_secrets("create", stdin=CANARY)
    done = run_secrets("rotate", "SECRET_KEY", "--redeploy-command", "/nonexistent/deploy.sh")
    assert done.returncode == 1 and "not runnable" in done.stderr
    assert fake.fake.versions(PROJECT, "SECRET_KEY") == {1: "ENABLED", 2: "ENABLED"}


def test_bind_is_idempotent_and_keeps_other_bindings(run_secrets, run_secrets_cli, fake):
    run_secrets("create", stdin=CANARY)
    member = f"serviceAccount:{SA['chat']}"
    first = run_secrets_cli("bind", "GEMINI_API_KEY", "--member", member)  # as deploy.sh does
    second = run_secrets("bind", "GEMINI_API_KEY", "--member", member)
    assert first.returncode == second.returncode == 0
    assert "granted" in first.stdout and "already has" in second.stdout
    assert fake.fake.accessors(PROJECT, "GEMINI_API_KEY") == [member]
    run_secrets("bind", "GEMINI_API_KEY", "--member", f"serviceAccount:{SA['auth']}")
    assert fake.fake.accessors(PROJECT, "GEMINI_API_KEY") == sorted(
        [member, f"serviceAccount:{SA['auth']}"])
    sets = [path for method, path in fake.fake.requests if path.endswith(":setIamPolicy")]
    assert len(sets) == 2  # the idempotent call wrote nothing


def test_version_prints_only_the_latest_enabled_number(run_secrets, fake):
    fake.fake.put(PROJECT, "SECRET_KEY", b"a" * 40, b"b" * 40, b"c" * 40)
    with fake.fake._lock:  # version 3 disabled by hand: the answer is 2
        fake.fake._secrets[(PROJECT, "SECRET_KEY")]["versions"][2]["state"] = "DISABLED"
    assert run_secrets("version", "SECRET_KEY").stdout == "2\n"


@pytest.mark.parametrize("refusal, args, expected", [
    (None, ("version", "GEMINI_API_KEY"), "GEMINI_API_KEY not found in project"),
    (None, ("bind", "SECRET_KEY", "--member", f"serviceAccount:{SA['auth']}"),
     "SECRET_KEY not found"),
    (None, ("rotate", "SECRET_KEY"), "SECRET_KEY not found"),
    ("api_disabled", ("list",), "gcloud services enable secretmanager.googleapis.com"),
    ("api_disabled", ("create",), "Secret Manager API is disabled"),
    ("permission_denied", ("version", "SECRET_KEY"), "permission denied on SECRET_KEY"),
])
def test_errors_are_one_clear_line(run_secrets, fake, refusal, args, expected):
    fake.fake.refusal = refusal
    done = run_secrets(*args, stdin=CANARY)
    assert done.returncode == 1
    assert done.stdout == "" or args[0] == "rotate"
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr


def test_unreachable_or_remote_endpoints_are_one_line(run_secrets):
    down = run_secrets("list", env={"SECRET_MANAGER_ENDPOINT": "http://127.0.0.1:9"})
    remote = run_secrets("list", env={"SECRET_MANAGER_ENDPOINT": "http://192.0.2.1:80"})
    for done in (down, remote):
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "cannot reach Secret Manager" in down.stderr
    assert "must be a local" in remote.stderr


def test_no_command_takes_a_value_on_the_command_line(run_secrets):
    for args in (("create", "--value", CANARY), ("rotate", "GEMINI_API_KEY", CANARY),
                 ("bind", "SECRET_KEY", "--member", "allUsers")):
        assert run_secrets(*args).returncode == 2


def test_the_script_never_shadows_the_standard_library_secrets():
    """`python scripts/any.py` (and pytest's `pythonpath`) put scripts/ first on sys.path: every
    later `import secrets` (core's config, google-auth) must still get the standard library's."""
    probe = ("import sys; sys.path.insert(0, 'scripts'); import secrets; "
             "print(secrets.__file__, len(secrets.token_urlsafe(48)))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path, length = done.stdout.split()
    assert "scripts" not in path and length == "64"


def test_without_credentials_it_says_how_to_log_in(tmp_path):
    """The normal path (no SECRET_MANAGER_ENDPOINT) uses Application Default Credentials; with
    none, one line says how to get them. The metadata server lookup is switched off."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_", "CLOUDSDK_", "GCE_", "SECRET_MANAGER"))}
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path), NO_GCE_CHECK="true",
               GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9")
    done = subprocess.run([sys.executable, "scripts/manage_secrets.py", "list", "--project", PROJECT],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("error: no Google credentials (Application Default Credentials) — "
                           "fix: gcloud auth application-default login\n")
