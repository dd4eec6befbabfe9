"""A stand-in for the `gcloud` commands scripts/doctor.py runs, answering from a JSON state file.

FAKE_GCLOUD_STATE names the state ({"functions": {name: describe-JSON}, "ttls": [...],
"project_policy": {...}}); each call's argv is appended to FAKE_GCLOUD_LOG as a JSON line.
"""

import json
import os
import sys

args = sys.argv[1:]
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "--format=json" not in args or "--project" not in args:
    sys.exit("ERROR: (gcloud) the doctor must ask for --format=json and name --project")
project = args[args.index("--project") + 1]
with open(os.environ["FAKE_GCLOUD_STATE"]) as source:
    state = json.load(source)

if args[:2] == ["functions", "describe"]:
    name = args[2]
    if "--gen2" not in args or "--region" not in args or name not in state["functions"]:
        sys.exit(f"ERROR: (gcloud.functions.describe) NOT_FOUND: Resource 'projects/{project}/"
                 f"locations/{args[args.index('--region') + 1]}/functions/{name}' was not found")
    answer = state["functions"][name]
elif args[:4] == ["firestore", "fields", "ttls", "list"]:
    answer = state["ttls"]
elif args[:2] == ["projects", "get-iam-policy"]:
    answer = state["project_policy"]
else:
    print(f"ERROR: (gcloud) Invalid choice: {args[:2]}", file=sys.stderr)
    sys.exit(2)
print(json.dumps(answer, indent=2))
