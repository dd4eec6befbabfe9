"""The production checklist, by machine: secrets and who may read them, each function's identity
and settings, the Firestore TTL policy, the live site's security headers, the alerts and the
billing budget.

Usage: .venv/bin/python scripts/doctor.py --project ID [--region R] [--site URL] [--origin URL]...
       [--billing-account ID]
Prints `✔ text` or `✘ text — fix: <command>` per check and exits 1 if any failed. It reads only:
`gcloud` (env GCLOUD overrides the command), Secret Manager (metadata and IAM, never a value),
the site's response headers and, when App Check is on, the web app's public /config.json. It
never prints a secret value, nor an environment value other than origins, service accounts and
the App Check mode. Settings are read by functions/core/config.py's own rules (one boolean rule).
The checks of each function and secret are in scripts/doctor_checks.py, those of the alerts and
the budget in scripts/doctor_monitoring.py; the project-wide ones (IAM, Firestore TTL, the site,
App Check's wiring) are here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

_HERE = os.path.dirname(os.path.abspath(__file__))
APP_CHECK_CSP = "https://content-firebaseappcheck.googleapis.com"  # deploy.sh adds it with a key
HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
           "Cross-Origin-Opener-Policy", "Strict-Transport-Security")

sys.path.insert(0, _HERE)
from doctor_checks import (FUNCTIONS, check_function, check_secret,  # noqa: E402  (beside this)
                           require_auth_state, tool)
from doctor_monitoring import check_budget, check_monitoring  # noqa: E402  (beside this)

__all__ = ["main", "require_auth_state"]


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, ok: bool, text: str, fix: str = "") -> bool:
        self.failed += not ok
        print(f"✔ {text}" if ok else f"✘ {text} — fix: {fix}", flush=True)
        return ok


def gcloud(*args: str, project: str) -> tuple[object, str | None]:
    """Run gcloud with JSON output: (parsed output, None) or (None, its first error line)."""
    command = shlex.split(os.environ.get("GCLOUD", "gcloud")) + list(args)
    try:
        done = subprocess.run(command + ["--project", project, "--format=json"], text=True,
                              capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"gcloud could not run ({type(error).__name__})"
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return None, (lines[0] if lines else f"gcloud exit {done.returncode}")[:200]
    try:
        return json.loads(done.stdout or "null"), None
    except ValueError:
        return None, "gcloud printed no JSON"


def check_project_iam(report: Report, args) -> None:
    policy, error = gcloud("projects", "get-iam-policy", args.project, project=args.project)
    if error:
        report.check(False, f"project IAM policy unreadable: {error}",
                     "gcloud auth login with a project viewer account")
        return
    broad = sorted(m for b in (policy or {}).get("bindings", []) if b.get("role") == tool.ACCESSOR
                   for m in b.get("members", []))
    report.check(not broad, "no project-wide secret accessor" if not broad else
                 f"project-wide {tool.ACCESSOR} (reads every secret): {', '.join(broad)}",
                 "; ".join(f"gcloud projects remove-iam-policy-binding {args.project} --member "
                           f"{m} --role {tool.ACCESSOR}" for m in broad))


def check_ttl(report: Report, args) -> None:
    storage = args.storage or "firestore://rate_limits"
    if not storage.startswith("firestore://"):
        kind = storage.split("://")[0]
        report.check(True, f"rate limits kept in {kind}: no Firestore TTL needed")
        return
    collection = storage.split("://", 1)[1].strip("/") or "rate_limits"
    fields, error = gcloud("firestore", "fields", "ttls", "list", project=args.project)
    suffix = f"/collectionGroups/{collection}/fields/expire_at"
    state = next(((f.get("ttlConfig") or {}).get("state", "?") for f in fields or []
                  if f.get("name", "").endswith(suffix)), None)
    report.check(state in ("ACTIVE", "CREATING"), f"Firestore TTL on {collection}.expire_at: " +
                 (error or state or "missing (old rate-limit windows are never deleted)"),
                 f"gcloud firestore fields ttls update expire_at --collection-group={collection} "
                 f"--enable-ttl --project {args.project}")


def check_site(report: Report, args) -> None:
    fix = f"./deploy.sh hosting --project {args.project} (firebase.json sets it)"
    try:
        if not args.site.startswith(("https://", "http://")):
            raise ValueError("not an http(s) URL")
        with urllib.request.urlopen(args.site, timeout=20) as response:
            headers = response.headers
    except urllib.error.HTTPError as error:  # an error page still carries Hosting's headers
        headers = error.headers
    except (OSError, ValueError) as error:
        report.check(False, f"{args.site}: unreachable ({type(error).__name__})", fix)
        return
    args.site_csp = headers.get("Content-Security-Policy") or ""
    for header in HEADERS:
        value = headers.get(header) or ""
        problem = ("missing" if not value else
                   "allows unsafe-inline/unsafe-eval" if "unsafe-" in value.lower() else
                   "is not nosniff" if header == "X-Content-Type-Options"
                   and value.strip().lower() != "nosniff" else
                   "has no max-age" if header == "Strict-Transport-Security"
                   and "max-age=" not in value.lower() else None)
        report.check(problem is None, f"{args.site}: {header} {problem or 'present'}", fix)
    if args.site_csp:  # thumbnails of a user's attachments are blob: URLs (firebase.json allows them)
        images = next((rule.split()[1:] for rule in args.site_csp.split(";")
                       if rule.split()[:1] == ["img-src"]), [])
        report.check("blob:" in images, f"{args.site}: CSP img-src "
                     + ("allows blob: (attachment thumbnails)" if "blob:" in images else
                        "does not allow blob: (attachment thumbnails are blocked)"), fix)


def check_app_check(report: Report, args) -> None:
    """chat and auth agree on APP_CHECK, and the web app can get tokens where they are needed."""
    modes = {fn: mode for fn, mode in args.app_check.items() if mode is not None}
    on = sorted(fn for fn, mode in modes.items() if mode != "off")
    deploy = f"./deploy.sh all --project {args.project}"
    if len(set(modes.values())) > 1:
        report.check(False, "App Check differs: " + ", ".join(
            f"{fn} {mode}" for fn, mode in sorted(modes.items())),
            f"set APP_CHECK in deploy.env, then {deploy}")
        return
    if not on:
        report.check(True, "App Check off on chat and auth" if modes else "App Check: not checked")
        return
    mode = modes[on[0]]
    url = urllib.parse.urljoin(args.site, "/config.json")
    try:
        if not url.startswith(("https://", "http://")):
            raise ValueError("not an http(s) URL")
        with urllib.request.urlopen(url, timeout=20) as response:
            key = json.loads(response.read(65536)).get("appCheckSiteKey")
    except (OSError, ValueError, AttributeError) as error:
        report.check(False, f"App Check {mode}: the web app's /config.json is unreadable "
                     f"({type(error).__name__})", f"./deploy.sh hosting --project {args.project}")
        return
    if not key:
        report.check(mode != "enforce", f"App Check {mode} on {', '.join(on)}, but the web app's "
                     "/config.json has no appCheckSiteKey" + (
                         " (every request from the web app is refused)" if mode == "enforce" else
                         " (it sends no tokens yet)"),
                     f"set APP_CHECK_SITE_KEY in deploy.env, then ./deploy.sh hosting --project "
                     f"{args.project}")
    elif args.site_csp is not None and APP_CHECK_CSP not in next(
            (rule.split()[1:] for rule in args.site_csp.split(";")
             if rule.split()[:1] == ["connect-src"]), []):
        report.check(False, f"App Check {mode}: the site's CSP connect-src does not allow "
                     f"{APP_CHECK_CSP}", f"./deploy.sh hosting --project {args.project}")
    else:
        report.check(True, f"App Check {mode} on {', '.join(on)}; the web app has a site key")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", default="us-central1")
    parser.add_argument("--site", help="the live web app (default https://PROJECT.web.app)")
    parser.add_argument("--origin", action="append", default=[],
                        help="an extra allowed https origin (a custom domain); repeatable")
    parser.add_argument("--allow-anonymous", action="store_true",
                        help="REQUIRE_AUTH=false on chat is intended")
    parser.add_argument("--billing-account", default="",
                        help="deploy.env's BILLING_ACCOUNT: check the project's billing budget")
    args = parser.parse_args(argv)
    args.site = args.site or f"https://{args.project}.web.app"
    args.origins = {f"https://{args.project}.web.app", f"https://{args.project}.firebaseapp.com",
                    *(o.rstrip("/") for o in args.origin)}
    args.accounts, args.uses, args.storage, args.app_check = {}, {}, None, {}
    args.site_csp = None  # the live site's CSP, once check_site has read it
    report = Report()
    described = {}
    with ThreadPoolExecutor(len(FUNCTIONS)) as pool:  # each gcloud start costs about a second
        answers = pool.map(lambda fn: gcloud("functions", "describe", fn, "--gen2", "--region",
                                             args.region, project=args.project), FUNCTIONS)
    for name, (data, error) in zip(FUNCTIONS, answers):
        state = error or f"state {(data or {}).get('state', 'unknown')}"
        if report.check(state == "state ACTIVE", f"{name}: deployed in {args.region}" if state ==
                        "state ACTIVE" else f"{name}: {state}",
                        f"./deploy.sh {name} --project {args.project} (or check --region)"):
            described[name] = data
            args.accounts[name] = (data.get("serviceConfig") or {}).get("serviceAccountEmail", "")
    for name, data in described.items():
        check_function(report, name, data, args)
    if "chat" in described:
        args.storage = ((described["chat"].get("serviceConfig") or {})
                        .get("environmentVariables") or {}).get("RATE_LIMIT_STORAGE")
    try:
        client = tool.make_client()
    except tool.Failure as failure:
        text, _, fix = str(failure).partition(" — fix: ")
        report.check(False, f"Secret Manager: {text}", fix or "set SECRET_MANAGER_ENDPOINT right")
    else:
        for name in tool.NAMES:
            check_secret(report, client, name, args)
    check_project_iam(report, args)
    check_ttl(report, args)
    check_monitoring(report, gcloud, args)
    check_budget(report, gcloud, args)
    check_site(report, args)
    check_app_check(report, args)
    if report.failed:
        print(f"{report.failed} check(s) failed. A `gcloud run services update` fix changes the "
              "live service at once; ./deploy.sh FN re-applies deploy.env: keep it in line.")
    else:
        print("all checks passed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
