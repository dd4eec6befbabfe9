"""Stand-ins for gcloud, npm, firebase, scripts/manage_secrets.py and sleep in a deploy sandbox: each call's
argv goes to a JSON-lines log, and the read-only calls answer from a small JSON state.

`python fake_tools.py TOOL ARGV...` plays TOOL and records ARGV (the command line as deploy.sh
wrote it); FAKE_STATE is the state file, FAKE_LOG the log. Google's servers are the only thing faked; staging is real.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys

CHAT_URL = "https://chat-abc-uc.a.run.app"
SECRET_VERSION = "3"
APIS = ("cloudfunctions", "run", "cloudbuild", "artifactregistry", "secretmanager", "firestore",
        "iam", "cloudresourcemanager", "firebasehosting", "logging", "monitoring", "billingbudgets")


def default_state() -> dict:
    return {"account": "dev@example.com", "apis": [f"{api}.googleapis.com" for api in APIS],
            "service_accounts": [], "ttl_fields": [], "chat_url": CHAT_URL,
            "secret_versions": {}, "failures": {}}


def flag(args: list[str], name: str) -> str | None:
    """The value of --name=VALUE or --name VALUE."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def gcloud(args: list[str], state: dict, record: dict) -> int:
    words = [a for a in args if not a.startswith("-")]
    project = flag(args, "--project")
    command = " ".join(words[:2])
    if state["failures"].get(command, 0) > 0:  # e.g. IAM not yet seeing a new service account
        state["failures"][command] -= 1
        print(f"ERROR: (gcloud.{command.replace(' ', '.')}) INVALID_ARGUMENT: try again",
              file=sys.stderr)
        return 1
    import fake_monitoring  # beside this script (it runs as one)

    answered = fake_monitoring.gcloud(words, lambda name: flag(args, name), state)
    if answered is not None:
        return answered
    if words[:2] == ["auth", "list"]:
        if state["account"]:
            print(state["account"])
    elif words[:2] == ["services", "list"]:
        print("\n".join(state["apis"]))
    elif words[:3] == ["iam", "service-accounts", "describe"]:
        if words[3] not in state["service_accounts"]:
            print(f"ERROR: (gcloud.iam.service-accounts.describe) NOT_FOUND: {words[3]}",
                  file=sys.stderr)
            return 1
        print(words[3])
    elif words[:3] == ["iam", "service-accounts", "create"]:
        state["service_accounts"].append(f"{words[3]}@{project}.iam.gserviceaccount.com")
    elif words[:4] == ["firestore", "fields", "ttls", "list"]:
        group = flag(args, "--collection-group")
        for field in state["ttl_fields"]:
            if f"/collectionGroups/{group}/" in field:
                print(field)
    elif words[:4] == ["firestore", "fields", "ttls", "update"]:
        group = flag(args, "--collection-group")
        state["ttl_fields"].append(f"projects/{project}/databases/(default)/collectionGroups/"
                                   f"{group}/fields/{words[4]}")
    elif words[:2] == ["functions", "describe"]:
        print(state["chat_url"])
    elif words[:2] == ["functions", "deploy"]:
        source = pathlib.Path(flag(args, "--source"))
        record["source_files"] = sorted(str(p.relative_to(source)) for p in source.rglob("*")
                                        if p.is_file() and "__pycache__" not in p.parts)
    return 0


def npm(args: list[str], state: dict, record: dict) -> int:
    dist = pathlib.Path(flag(args, "--prefix") or ".") / "dist"
    if args[-2:] == ["run", "build"]:  # like vite: an emptied dist/, then the build
        shutil.rmtree(dist, ignore_errors=True)
        dist.mkdir(parents=True)
        (dist / "index.html").write_text("<!doctype html><title>built</title>\n")
    return 0


def secrets_tool(args: list[str], state: dict, record: dict) -> int:
    if args[0] == "version":
        print(state["secret_versions"].get(args[1], SECRET_VERSION))
    return 0


def firebase(args: list[str], state: dict, record: dict) -> int:
    record["config_json_present"] = pathlib.Path("hosting/dist/config.json").is_file()
    return 0


def sleep(args: list[str], state: dict, record: dict) -> int:
    return 0  # recorded, not waited for


TOOLS = {"gcloud": gcloud, "npm": npm, "firebase": firebase, "manage_secrets.py": secrets_tool,
         "sleep": sleep}


def main(tool: str, argv: list[str]) -> int:
    """Play `tool` for the command line `argv` (its program, then the arguments)."""
    state_path = pathlib.Path(os.environ["FAKE_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else default_state()
    record = {"argv": argv}
    program_words = 2 if tool == "manage_secrets.py" else 1  # python scripts/manage_secrets.py ...
    code = TOOLS[tool](argv[program_words:], state, record)
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    state_path.write_text(json.dumps(state))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
