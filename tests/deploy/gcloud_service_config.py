"""Run under gcloud's own Python: `python gcloud_service_config.py SDK_ROOT functions deploy ...`.

The real gcloud CLI parses the command line; where `gcloud functions deploy` would start calling
Google, this prints instead, as JSON, the ServiceConfig gcloud would send (environment variables,
secrets, service account, sizes) and the build arguments. Only the two calls to Google's servers
(the deploy itself and the project number lookup for secret references) are replaced.
"""

import json
import os
import sys

SDK_ROOT = sys.argv.pop(1)
sys.path.insert(0, os.path.join(SDK_ROOT, "lib"))

import gcloud  # noqa: E402  (gcloud's lib/gcloud.py: the CLI's entry point)
from apitools.base.py import encoding  # noqa: E402
from googlecloudsdk.api_lib.util import apis  # noqa: E402
from googlecloudsdk.command_lib.functions.v2.deploy import command  # noqa: E402

PROJECT_NUMBER = 123456789012


def show_request(args, release_track):
    messages = apis.GetMessagesModule("cloudfunctions", "v2")
    service_config, _ = command._GetServiceConfig(args, messages, None)
    print(json.dumps({
        "serviceConfig": json.loads(encoding.MessageToJson(service_config)),
        "build": {"runtime": args.runtime, "entryPoint": args.entry_point, "source": args.source,
                  "region": args.region, "triggerHttp": args.trigger_http,
                  "allowUnauthenticated": args.allow_unauthenticated},
    }))


command.Run = show_request
command.projects_util.GetProjectNumber = lambda project: PROJECT_NUMBER
sys.argv[0] = "gcloud"
gcloud.main()
