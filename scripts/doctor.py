"""The production checklist, by machine: secrets and who may read them, each function's identity
and settings, the Firestore TTL policy, and the live site's security headers.

Usage: .venv/bin/python scripts/doctor.py --project ID [--region R] [--site URL] [--origin URL]...
Prints `✔ text` or `✘ text — fix: <command>` per check and exits 1 if any failed. It reads only:
`gcloud` (env GCLOUD overrides the command), Secret Manager (metadata and IAM, never a value),
the site's response headers and, when App Check is on, the web app's public /config.json. It
never prints a secret value, nor an environment value other than origins, service accounts and
the App Check mode. Settings are read by functions/core/config.py's own rules (one boolean rule).
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
FUNCTIONS = ("chat", "auth", "health")
SECRETS_OF = {"chat": ("GEMINI_API_KEY", "SECRET_KEY"), "auth": ("SECRET_KEY",), "health": ()}
NEEDS_ORIGINS = ("chat", "auth")
DEV_ONLY = ("FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "DEBUG", "FLASK_DEBUG",
            "GEMINI_BASE_URL")
APP_CHECK_CSP = "https://content-firebaseappcheck.googleapis.com"  # deploy.sh adds it with a key
MAX_INSTANCES = {"chat": 5, "auth": 3, "health": 2}  # deploy.sh's defaults
HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
           "Cross-Origin-Opener-Policy", "Strict-Transport-Security")


sys.path.insert(0, _HERE)
sys.path.insert(1, os.path.join(os.path.dirname(_HERE), "functions"))
import manage_secrets as tool  # noqa: E402  (the secrets tool beside this file)
from core.config import APP_CHECK_MODES, ConfigError, parse_bool  # noqa: E402  (stdlib only)


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


def require_auth_state(env: dict) -> str:
    """"on", "off" or "invalid": REQUIRE_AUTH as the function reads it (unset means on)."""
    try:
        return "on" if parse_bool("REQUIRE_AUTH", env.get("REQUIRE_AUTH"), True) else "off"
    except ConfigError:
        return "invalid"


def app_check_mode(env: dict) -> str | None:
    """APP_CHECK as the function reads it (unset or blank means off); None: it refuses to start."""
    raw = (env.get("APP_CHECK") or "").strip().lower() or "off"
    return raw if raw in APP_CHECK_MODES else None


def check_function(report: Report, name: str, data: dict, args) -> None:
    service = data.get("serviceConfig") or {}
    env = service.get("environmentVariables") or {}
    update = (f"gcloud run services update {name} --region {args.region} "
              f"--project {args.project}")
    account = service.get("serviceAccountEmail") or ""
    shared = [other for other, sa in args.accounts.items() if other != name and sa == account]
    default = (not account or account.endswith("-compute@developer.gserviceaccount.com")
               or account == f"{args.project}@appspot.gserviceaccount.com")
    report.check(not default and not shared,
                 f"{name}: runs as " + ("the default service account" if default else
                                        f"{account}, shared with {', '.join(shared)}" if shared
                                        else f"its own service account {account}"),
                 f"./deploy.sh {name} --project {args.project} (one service account per function)")
    report.check(env.get("APP_ENV") == "production",
                 f"{name}: APP_ENV=production" if env.get("APP_ENV") == "production" else
                 f"{name}: APP_ENV is {'missing' if 'APP_ENV' not in env else 'not production'}",
                 f"{update} --update-env-vars APP_ENV=production")
    if name == "chat" and not args.allow_anonymous:
        state = {"on": "on", "off": "false: anyone can chat on your bill",
                 "invalid": "not true or false (the function refuses to start)"}[
                     require_auth_state(env)]
        report.check(state == "on", f"{name}: REQUIRE_AUTH is {state}",
                     f"{update} --update-env-vars REQUIRE_AUTH=true (and REQUIRE_AUTH=true in "
                     "deploy.env), or pass --allow-anonymous if intended")
    bad = [v for v in DEV_ONLY if v in env]
    bad += [v for v in ("LOG_LEVEL", "GUNICORN_LOG_LEVEL") if env.get(v, "").lower() == "debug"]
    report.check(not bad, f"{name}: " + (f"development-only settings {', '.join(bad)}" if bad
                                         else "no emulator, debug or stand-in settings"),
                 f"{update} --remove-env-vars {','.join(bad)}")
    check_origins(report, name, env, update, args)
    if name in NEEDS_ORIGINS:  # chat and auth: App Check
        mode = args.app_check[name] = app_check_mode(env)
        report.check(mode is not None, f"{name}: APP_CHECK " + (
            mode or "is not off, monitor or enforce (the function refuses to start)"),
            f"{update} --update-env-vars APP_CHECK=off (and APP_CHECK in deploy.env)")
    most = service.get("maxInstanceCount") or 0
    report.check(int(most) > 0, f"{name}: max instances {most or 'not set (unbounded cost)'}",
                 f"{update} --max-instances {MAX_INSTANCES[name]}")
    check_function_secrets(report, name, service, update, args)


def check_origins(report: Report, name: str, env: dict, update: str, args) -> None:
    want = sorted(args.origins)
    if "ALLOWED_ORIGINS" not in env and name not in NEEDS_ORIGINS:
        report.check(True, f"{name}: no ALLOWED_ORIGINS (not needed)")
        return
    have = [o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]
    fix = f"{update} --update-env-vars '^@^ALLOWED_ORIGINS={','.join(want)}'"
    if not have:
        report.check(False, f"{name}: ALLOWED_ORIGINS missing", fix)
    elif "*" in "".join(have) or any(not o.startswith("https://") for o in have):
        report.check(False, f"{name}: ALLOWED_ORIGINS has a wildcard or a non-https origin", fix)
    else:
        extra, missing = sorted(set(have) - set(want)), sorted(set(want) - set(have))
        report.check(not extra and not missing, f"{name}: ALLOWED_ORIGINS " + (
            f"is exactly {', '.join(want)}" if not extra and not missing else
            "differs: " + "; ".join(filter(None, (extra and f"unexpected {', '.join(extra)}",
                                                  missing and f"missing {', '.join(missing)}")))),
            fix + " (or pass the extra origins with --origin)")


def check_function_secrets(report: Report, name: str, service: dict, update: str, args) -> None:
    env = service.get("environmentVariables") or {}
    refs = {s.get("secret", ""): s for s in service.get("secretEnvironmentVariables") or []}
    refs.update({s.get("secret", ""): s for s in service.get("secretVolumes") or []})
    args.uses.update({(name, secret): str(ref.get("version", "latest"))
                      for secret, ref in refs.items()})
    plain = [key for key in tool.NAMES if key in env]
    extra = sorted(set(refs) - set(SECRETS_OF[name]))
    missing = sorted(set(SECRETS_OF[name]) - set(refs))
    if plain:
        report.check(False, f"{name}: {', '.join(plain)} set as a plain environment variable",
                     f"{update} --remove-env-vars {','.join(plain)}; then ./deploy.sh {name} "
                     f"--project {args.project} and rotate it (it was exposed)")
    wanted = ", ".join(SECRETS_OF[name]) or "none"
    report.check(not extra and not missing, f"{name}: secrets " + (
        f"{wanted}" + (" from Secret Manager" if refs else "") if not extra and not missing else
        f"{', '.join(refs) or 'none'}, but it needs {wanted}"),
        f"{update} --remove-secrets {','.join(extra)}" if extra else
        f"./deploy.sh {name} --project {args.project}")


def check_secret(report: Report, client, name: str, args) -> None:
    from google.api_core import exceptions

    create = f".venv/bin/python scripts/manage_secrets.py create --project {args.project}"
    try:
        states = dict(tool.versions(client, args.project, name))
        policy = client.get_iam_policy(request={
            "resource": f"projects/{args.project}/secrets/{name}",
            "options": {"requested_policy_version": 3}})
    except exceptions.NotFound:
        report.check(False, f"secret {name} does not exist", create)
        return
    except Exception as error:  # one line per check, never a traceback
        why = tool.explain(error, argparse.Namespace(project=args.project, name=name))
        text, _, fix = why.partition(" — fix: ")
        report.check(False, f"secret {name}: {text}", fix or "retry; check the network")
        return
    live = [n for n, state in states.items() if state == tool.ENABLED]
    used = {fn: v for (fn, secret), v in args.uses.items() if secret == name}
    dead = {fn: v for fn, v in used.items() if states.get(
        max(states, default=0) if v == "latest" else int(v) if v.isdigit() else 0) != tool.ENABLED}
    if not live:
        report.check(False, f"secret {name}: no enabled version", create)
    elif dead:
        uses = ", ".join(f"{fn} uses version {v}" for fn, v in dead.items())
        report.check(False, f"secret {name}: {uses}, not enabled",
                     "; ".join(f"./deploy.sh {fn} --project {args.project}" for fn in dead))
    else:
        report.check(True, f"secret {name}: version {max(live)} enabled")
    readers = [fn for fn in FUNCTIONS if name in SECRETS_OF[fn]]
    if any(fn not in args.accounts for fn in readers):
        report.check(False, f"secret {name}: readers unknown (a function was not described)",
                     "fix the function lines above, then run doctor again")
        return
    want = {f"serviceAccount:{args.accounts[fn]}" for fn in readers}
    have = {m for b in policy.bindings if b.role == tool.ACCESSOR for m in b.members}
    extra, missing = sorted(have - want), sorted(want - have)
    fixes = [f"gcloud secrets remove-iam-policy-binding {name} --project {args.project} "
             f"--member {m} --role {tool.ACCESSOR}" for m in extra]
    fixes += [f".venv/bin/python scripts/manage_secrets.py bind {name} --project {args.project} "
              f"--member {m}" for m in missing]
    report.check(not fixes, f"secret {name}: " + (
        f"readable only by {' and '.join(readers)}" if not fixes else "; ".join(filter(None, (
            extra and f"also readable by {', '.join(extra)}",
            missing and f"not readable by {', '.join(missing)}")))), "; ".join(fixes))


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
