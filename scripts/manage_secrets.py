"""This app's two secrets in Secret Manager (GEMINI_API_KEY, SECRET_KEY): create, rotate with
redeploy, list states, print the version in use, grant one function's service account access.

No command prints, logs or takes on its command line a value: GEMINI_API_KEY comes from stdin or
a hidden prompt, SECRET_KEY is generated. Errors: one line on stderr, exit 1. With
SECRET_MANAGER_ENDPOINT=http://127.0.0.1:PORT it talks to devtools/fake_secret_manager.py.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shlex
import subprocess
import sys
from urllib.parse import urlsplit

_HERE = os.path.dirname(os.path.abspath(__file__))


ROOT = os.path.dirname(_HERE)
sys.path.insert(0, os.path.join(ROOT, "functions"))
from core.settings import SETTINGS  # noqa: E402  (stdlib only; functions/ put on sys.path above)

NAMES = tuple(name for name, entry in SETTINGS.items() if entry.source == "secret")
USED_BY = {name: SETTINGS[name].functions for name in NAMES}  # who must redeploy
ACCESSOR = "roles/secretmanager.secretAccessor"
ENABLED, STATES = 1, {1: "enabled", 2: "disabled", 3: "destroyed"}  # SecretVersion.State


class Failure(Exception):
    """A one-line, value-free explanation for the operator (the command exits 1)."""


def make_client():
    """A REST client: ADC normally; anonymous to a loopback SECRET_MANAGER_ENDPOINT if set."""
    # The library logs request bodies (values!) at DEBUG when this asks for it: never here.
    os.environ.pop("GOOGLE_SDK_PYTHON_LOGGING_SCOPE", None)
    from google.cloud import secretmanager

    endpoint = os.environ.get("SECRET_MANAGER_ENDPOINT", "").strip()
    if not endpoint:
        try:
            return secretmanager.SecretManagerServiceClient(transport="rest")
        except Exception as error:  # google.auth's DefaultCredentialsError and kin
            raise Failure("no Google credentials (Application Default Credentials) — fix: "
                          "gcloud auth application-default login") from error
    import functools

    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest import (
        SecretManagerServiceRestTransport,
    )

    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or url.hostname not in ("127.0.0.1", "localhost",
                                                                   "::1"):
        raise Failure("SECRET_MANAGER_ENDPOINT must be a local http(s)://127.0.0.1:PORT URL "
                      "(it sends values without credentials)")
    transport = functools.partial(SecretManagerServiceRestTransport, url_scheme=url.scheme)
    return secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(), transport=transport,
        client_options=ClientOptions(api_endpoint=url.netloc))


def versions(client, project: str, name: str, state: int | None = None) -> list:
    """(number, state) of the versions of secret `name` (only numbers, if `state`), newest first."""
    found = client.list_secret_versions(request={"parent": f"projects/{project}/secrets/{name}"})
    pairs = sorted(((int(v.name.rsplit("/", 1)[1]), int(v.state)) for v in found), reverse=True)
    return pairs if state is None else [number for number, s in pairs if s == state]


def new_value(name: str) -> bytes:
    """SECRET_KEY: generated. GEMINI_API_KEY: stdin when piped, else a hidden prompt."""
    if name == "SECRET_KEY":
        import secrets  # the standard library's (see _load_standard_secrets)

        return secrets.token_urlsafe(48).encode()
    if sys.stdin is None or sys.stdin.isatty():
        value = getpass.getpass("GEMINI_API_KEY (input hidden): ").strip()
    else:
        value = sys.stdin.read().strip()
    if not value or len(value) > 4096 or any(c.isspace() or not c.isprintable() for c in value):
        raise Failure("GEMINI_API_KEY: expected one key (no spaces, at most 4096 characters) on "
                      "stdin or at the prompt")
    return value.encode()


def add_version(client, project: str, name: str, value: bytes) -> int:
    import google_crc32c  # Secret Manager verifies the payload against it

    version = client.add_secret_version(request={
        "parent": f"projects/{project}/secrets/{name}",
        "payload": {"data": value, "data_crc32c": google_crc32c.value(value)}})
    return int(version.name.rsplit("/", 1)[1])


def cmd_create(client, args) -> int:
    from google.api_core import exceptions

    needed = {}  # name -> whether the secret exists; every input is read before any write
    for name in NAMES:
        try:
            live = versions(client, args.project, name, ENABLED)
        except exceptions.NotFound:
            needed[name] = False
            continue
        if live:
            print(f"{name}: exists with enabled version {live[0]} — left alone (replace it "
                  f"with: scripts/manage_secrets.py rotate {name} --project {args.project})")
        else:
            needed[name] = True
    values = {name: new_value(name) for name in needed}
    for name, exists in needed.items():
        if not exists:
            client.create_secret(request={"parent": f"projects/{args.project}", "secret_id": name,
                                          "secret": {"replication": {"automatic": {}}}})
            print(f"{name}: created (automatic replication)")
        print(f"{name}: added version {add_version(client, args.project, name, values[name])}")
    return 0


def cmd_rotate(client, args) -> int:
    name, project = args.name, args.project
    previous = versions(client, project, name, ENABLED)
    number = add_version(client, project, name, new_value(name))
    print(f"{name}: added version {number}")
    command = shlex.split(args.redeploy_command or os.environ.get("JETTE_DEPLOY")
                          or os.path.join(ROOT, "deploy.sh"))
    for function in USED_BY[name]:
        print(f"redeploying {function}: {shlex.join(command + [function])} --project {project}",
              flush=True)
        try:
            code = subprocess.run(command + [function, "--project", project], cwd=ROOT).returncode
        except OSError as error:
            code = f"not runnable: {type(error).__name__}"
        if code != 0:  # the old versions stay: whatever did not redeploy still reads them
            raise Failure(f"redeploy of {function} failed (exit {code}); {name} version(s) "
                          f"{', '.join(map(str, previous)) or 'none'} stay enabled next to the "
                          f"new {number} — fix: repair the deploy, then rotate again (it "
                          "disables every older version)")
    for old in previous:
        client.disable_secret_version(
            request={"name": f"projects/{project}/secrets/{name}/versions/{old}"})
        print(f"{name}: disabled version {old}")
    if name == "SECRET_KEY":
        print("note: a new SECRET_KEY changes log pseudonyms and starts rate-limit windows afresh")
    return 0


def cmd_list(client, args) -> int:
    names = {s.name.rsplit("/", 1)[1]
             for s in client.list_secrets(request={"parent": f"projects/{args.project}"})}
    for name in sorted(names | set(NAMES)):
        if name not in names:
            print(f"{name}: missing — fix: scripts/manage_secrets.py create --project {args.project}")
            continue
        states = [f"{n} {STATES.get(s, 'unknown')}" for n, s in versions(client, args.project,
                                                                         name)]
        note = "" if name in NAMES else " (not used by this app)"
        print(f"{name}{note}: " + (", ".join(states) or "no versions"))
    return 0


def cmd_version(client, args) -> int:
    live = versions(client, args.project, args.name, ENABLED)
    if not live:
        raise Failure(f"{args.name} has no enabled version in project {args.project} — fix: "
                      f"scripts/manage_secrets.py create --project {args.project}")
    print(live[0])
    return 0


def cmd_bind(client, args) -> int:
    from google.api_core import exceptions

    resource = f"projects/{args.project}/secrets/{args.name}"
    for _ in range(5):  # read-modify-write: the etag makes a concurrent change fail, then retry
        policy = client.get_iam_policy(request={"resource": resource,
                                                "options": {"requested_policy_version": 3}})
        bindings = [b for b in policy.bindings if b.role == ACCESSOR and not b.condition.expression]
        if bindings and args.member in bindings[0].members:
            print(f"{args.name}: {args.member} already has {ACCESSOR}")
            return 0
        if bindings:
            bindings[0].members.append(args.member)
        else:
            policy.bindings.add(role=ACCESSOR, members=[args.member])
        try:
            client.set_iam_policy(request={"resource": resource, "policy": policy})
        except (exceptions.Aborted, exceptions.Conflict):
            continue
        print(f"{args.name}: granted {ACCESSOR} to {args.member}")
        return 0
    raise Failure(f"{args.name}: the IAM policy kept changing under us; run bind again")


def explain(error: Exception, args) -> str:
    """One value-free line for an API error (its text is never shown: it may quote anything)."""
    import google.auth.exceptions
    from google.api_core import exceptions

    project, name = args.project, getattr(args, "name", None) or "the secrets"
    denied = isinstance(error, (exceptions.PermissionDenied, exceptions.Forbidden))
    if denied and error.reason == "SERVICE_DISABLED":
        return (f"the Secret Manager API is disabled in project {project} — fix: gcloud services "
                f"enable secretmanager.googleapis.com --project {project}")
    if denied:
        return (f"permission denied on {name} in project {project} — fix: ask for "
                "roles/secretmanager.admin on the project (or check the project id)")
    if isinstance(error, exceptions.NotFound):
        return (f"{name} not found in project {project} — fix: scripts/manage_secrets.py create "
                f"--project {project}")
    if isinstance(error, exceptions.GoogleAPICallError):
        return f"Secret Manager refused: {error.code} {type(error).__name__}"
    if isinstance(error, google.auth.exceptions.GoogleAuthError):
        return (f"Google credentials failed ({type(error).__name__}) — fix: gcloud auth "
                "application-default login")
    return f"cannot reach Secret Manager ({type(error).__name__}); check the network and retry"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse quotes unexpected words, and one may be a key
        message = re.sub(r"(unrecognized arguments): .*", r"\1 (not shown)", message)
        super().error(re.sub(r"invalid choice: '[^']*'", "invalid choice", message))


def _matching(pattern: str, hint: str):
    def check(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise argparse.ArgumentTypeError(hint)  # the hint, never the text (it may be a key)
        return text
    return check


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command, help_text in (("create", "create both secrets with a first version"),
                               ("rotate", "add a version, redeploy its functions, disable the old"),
                               ("list", "names, versions and states (never values)"),
                               ("version", "print the latest enabled version number"),
                               ("bind", "grant a service account access to one secret")):
        sub = commands.add_parser(command, help=help_text)
        sub.add_argument("--project", required=True, help="Google Cloud project id")
        if command == "rotate":
            sub.add_argument("name", choices=NAMES)
            sub.add_argument("--redeploy-command", help="run as CMD FUNCTION --project ID "
                             "(default: env JETTE_DEPLOY, else ./deploy.sh)")
        elif command in ("version", "bind"):
            sub.add_argument("name", type=_matching(r"[A-Za-z0-9_-]{1,255}", "a secret name"))
        if command == "bind":
            sub.add_argument("--member", required=True, help="serviceAccount:EMAIL", type=_matching(
                r"serviceAccount:[^@\s]+@[A-Za-z0-9.-]+", "expected serviceAccount:EMAIL"))
    args = parser.parse_args(argv)
    try:
        return globals()[f"cmd_{args.command}"](make_client(), args)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    except Exception as error:  # one line, never a traceback
        print(f"error: {explain(error, args)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
