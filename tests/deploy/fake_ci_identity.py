"""gcloud in a deploy sandbox for ci-identity's real runs: fake_tools.py's gcloud (the call is
recorded there, and service accounts are found there), which here also answers the project's
number and finds the Workload Identity pool and provider that an earlier run made.

`python fake_ci_identity.py gcloud ARGS...`; FAKE_STATE and FAKE_LOG as for fake_tools.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

PROJECT_NUMBER = "123456789012"


def answer(words: list[str], state: dict) -> tuple[int, str] | None:
    """(exit code, output) where this fake knows better than fake_tools, else None."""
    if words[:2] == ["projects", "describe"]:
        return 0, PROJECT_NUMBER
    if words[:2] != ["iam", "workload-identity-pools"]:
        return None
    *kind, verb, name = words[2:]  # [providers] describe|create|create-oidc NAME
    made = state.setdefault("workload_identity", [])
    key = "/".join([*kind, name])
    if verb == "describe":
        return (0, key) if key in made else (1, f"ERROR: NOT_FOUND: {key}")
    if verb.startswith("create"):
        made.append(key)
    return 0, ""


def main(argv: list[str]) -> int:
    import fake_tools  # beside this script (it runs as one; sandbox.py imports the number)

    state_path = pathlib.Path(os.environ["FAKE_STATE"])
    state = (json.loads(state_path.read_text()) if state_path.exists()
             else fake_tools.default_state())
    known = answer([a for a in argv[1:] if not a.startswith("-")], state)
    state_path.write_text(json.dumps(state))
    code = fake_tools.main("gcloud", argv)  # records the call (and answers the rest)
    if known is None:
        return code
    code, output = known
    if output:
        print(output, file=sys.stdout if code == 0 else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
