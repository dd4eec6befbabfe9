"""`deploy.sh ci-identity`: what the keyless deploy from GitHub needs. The plan (committed golden);
that its grants are exactly what the deploy plans use (actAs on the functions' accounts, the
functions' secrets, granting only the roles the functions get); a real run against the recording
fakes (exactly the plan, then nothing new on a second run) and its preflight. gcloud's own
reading of every command: test_gcloud_cli.py."""

from __future__ import annotations

import os
import re

import pytest

from .fake_tools import APIS
from .sandbox import GOLDEN, HERE, PROJECT_NUMBER, commands, deploy_command, flags
from .test_run import expected_calls, split_preflight

REPO = "octo-org/jette-ai-app"
ARGS = ("ci-identity", "--project", "demo", "--region", "us-central1", "--repo", REPO)
DEPLOYER = "serviceAccount:github-deployer@demo.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def plan() -> str:
    return (GOLDEN / "ci-identity.txt").read_text()


def bindings(plan: str, group: str) -> list[dict[str, str]]:
    """The flags and the resource of each `gcloud GROUP add-iam-policy-binding RESOURCE`."""
    words = group.split()
    return [{**flags(argv), "resource": argv[len(words) + 2]} for argv in commands(plan)
            if argv[1:len(words) + 2] == [*words, "add-iam-policy-binding"]]


def test_plan_matches_golden(sandbox):
    planned = sandbox.plan(*ARGS)
    golden = GOLDEN / "ci-identity.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(planned)
    assert planned == golden.read_text(), f"plan changed; if deliberate: UPDATE_GOLDEN=1 ({golden})"


def test_dry_run_calls_nothing_and_writes_nothing(sandbox):
    before = sandbox.files()
    result = sandbox.run(*ARGS, "--dry-run")
    assert sandbox.calls() == [] and sandbox.files() == before and result.stderr == ""


def test_the_provider_admits_only_this_repository_production_and_main_or_a_tag(plan):
    oidc = [argv for argv in commands(plan) if argv[3:4] == ["providers"]
            and argv[4] in ("create-oidc", "update-oidc")]
    assert [argv[4] for argv in oidc] == ["create-oidc", "update-oidc"]  # found: kept current
    create, update = (flags(argv) for argv in oidc)
    assert create["--attribute-condition"] == update["--attribute-condition"] == (
        f"assertion.repository == '{REPO}' && assertion.environment == 'production' && "
        "(assertion.ref == 'refs/heads/main' || assertion.ref.startsWith('refs/tags/v'))")
    assert create["--attribute-mapping"] == update["--attribute-mapping"] == (
        "google.subject=assertion.sub,attribute.repository=assertion.repository")
    assert create["--issuer-uri"] == "https://token.actions.githubusercontent.com"
    [wif] = [b for b in bindings(plan, "iam service-accounts")
             if b["--role"] == "roles/iam.workloadIdentityUser"]
    assert wif["resource"] == "github-deployer@demo.iam.gserviceaccount.com"
    assert wif["--member"] == ("principalSet://iam.googleapis.com/projects/<project-number>/"
                               f"locations/global/workloadIdentityPools/github/attribute."
                               f"repository/{REPO}")


def test_the_deployer_acts_as_exactly_the_functions_accounts(plan, golden_plans):
    deploys = [deploy_command(golden_plans["all"], fn) for fn in ("health", "auth", "chat")]
    acts_as = [b for b in bindings(plan, "iam service-accounts")
               if b["--role"] == "roles/iam.serviceAccountUser"]
    assert [b["resource"] for b in acts_as] == [flags(argv)["--service-account"]
                                                 for argv in deploys]
    assert all(b["--member"] == DEPLOYER for b in acts_as)
    # ci-identity makes those accounts as the deploy would (then the deploy only finds them).
    created = [line for line in plan.splitlines() if " service-accounts create " in line]
    assert created[1:] == [line for fn in ("health", "auth", "chat")
                           for line in golden_plans[fn].splitlines()
                           if " service-accounts create " in line]


def test_the_deployer_holds_exactly_the_functions_secrets(plan, golden_plans):
    pinned = {pin.split("=", 1)[0] for argv in commands(golden_plans["all"])
              for pin in flags(argv).get("--set-secrets", "").split(",") if pin}
    granted = bindings(plan, "secrets")
    assert {b["resource"] for b in granted} == pinned and len(granted) == len(pinned)
    assert all(b["--role"] == "roles/secretmanager.admin" and b["--member"] == DEPLOYER
               for b in granted)


def test_the_deployer_may_grant_only_the_roles_the_deploy_grants(sandbox, plan):
    (sandbox.repo / "deploy.env").write_text("CHECK_REVOKED=true\n")  # chat's extra role too
    deploy = sandbox.plan("all", "--project", "demo", env_file="deploy.env")
    granted = {flags(argv)["--role"] for argv in commands(deploy)
               if argv[1:3] == ["projects", "add-iam-policy-binding"]}
    [admin] = [b for b in bindings(plan, "projects")
               if b["--role"] == "roles/resourcemanager.projectIamAdmin"]
    expression = re.search(r";expression=(.*)$", admin["--condition"])[1]
    assert expression == ("api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', [])"
                          f".hasOnly([{', '.join(repr(r) for r in sorted(granted))}])")
    project_roles = [b["--role"] for b in bindings(plan, "projects")]
    assert project_roles == [
        "roles/cloudfunctions.developer", "roles/run.admin", "roles/cloudbuild.builds.viewer",
        "roles/datastore.indexAdmin", "roles/firebasehosting.admin",
        "roles/serviceusage.serviceUsageViewer", "roles/resourcemanager.projectIamAdmin"]
    assert all(b["--member"] == DEPLOYER for b in bindings(plan, "projects"))
    assert not any(role in ("roles/owner", "roles/editor") for role in project_roles)


def test_secrets_are_read_first_and_the_variables_told_last(plan):
    lines = plan.splitlines()
    assert [line.split()[3] for line in lines[:2]] == ["SECRET_KEY", "GEMINI_API_KEY"]
    assert lines[-5:] == [
        f"# then in GitHub, {REPO}: Settings > Secrets and variables > Actions > Variables:",
        "#   GCP_PROJECT_ID=demo", "#   GCP_REGION=us-central1",
        "#   GCP_WORKLOAD_IDENTITY_PROVIDER=projects/<project-number>/locations/global/"
        "workloadIdentityPools/github/providers/jette-deploy",
        "#   GCP_DEPLOYER_SERVICE_ACCOUNT=github-deployer@demo.iam.gserviceaccount.com"]


def test_region_comes_from_the_flag_or_deploy_env(sandbox):
    (sandbox.repo / "deploy.env").write_text("REGION=europe-west1\n")
    assert "#   GCP_REGION=europe-west1\n" in sandbox.plan(
        "ci-identity", "--project", "demo", "--repo", REPO, env_file="deploy.env")


@pytest.mark.parametrize("args, message", [
    (("ci-identity", "--project", "demo"), "ci-identity needs --repo OWNER/NAME"),
    (("chat", "--project", "demo", "--repo", REPO), "--repo is only for ci-identity"),
    (("ci-identity", "--project", "demo", "--repo"), "--repo needs a value"),
    *((("ci-identity", "--project", "demo", f"--repo={repo}"),
       f"--repo: not a GitHub repository OWNER/NAME: {repo}")
      for repo in ("jette-ai-app", "-octo/app", "octo-/app", "octo/..", "octo/a b",
                   "octo/app'||true||'", "o/a/b", "a" * 40 + "/app", "octo/" + "a" * 101)),
])
def test_bad_repo_is_one_clear_line(sandbox, args, message):
    result = sandbox.run("--dry-run", *args, check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert sandbox.calls() == []


@pytest.mark.parametrize("repo", ["a/b", "Octo-Org/jette.ai_app-2", "a" * 39 + "/" + "b" * 100])
def test_any_github_repository_name_is_taken(sandbox, repo):
    plan = sandbox.plan("ci-identity", "--project", "demo", "--repo", repo)
    [wif] = [b for b in bindings(plan, "iam service-accounts")
             if b["--role"] == "roles/iam.workloadIdentityUser"]
    assert wif["--member"].endswith(f"/attribute.repository/{repo}")
    [create] = [argv for argv in commands(plan) if "create-oidc" in argv]
    assert flags(create)["--attribute-condition"].startswith(f"assertion.repository == '{repo}' ")


def real_sandbox(sandbox, apis=(*APIS, "sts", "iamcredentials")):
    """The sandbox with its gcloud also answering what ci-identity asks (fake_ci_identity.py)."""
    sandbox._wrapper(sandbox.bin / "gcloud", f"{HERE / 'fake_ci_identity.py'} gcloud")
    sandbox.set_state(apis=[f"{api}.googleapis.com" for api in apis])
    return sandbox


def test_run_makes_exactly_the_planned_calls_and_prints_the_variables(sandbox, plan):
    result = real_sandbox(sandbox).run(*ARGS)
    _, calls = split_preflight(sandbox.calls())
    assert calls == expected_calls(plan)
    provider = (f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/github/"
                "providers/jette-deploy")
    assert result.stdout.splitlines() == [
        f"Now set these variables in GitHub, {REPO}: Settings > Secrets and variables > Actions >"
        " Variables (README, Deploy from GitHub):",
        "GCP_PROJECT_ID=demo", "GCP_REGION=us-central1",
        f"GCP_WORKLOAD_IDENTITY_PROVIDER={provider}",
        "GCP_DEPLOYER_SERVICE_ACCOUNT=github-deployer@demo.iam.gserviceaccount.com"]


def test_second_run_creates_nothing_and_keeps_the_condition_current(sandbox):
    real_sandbox(sandbox).run(*ARGS)
    first = split_preflight(sandbox.calls())[1]
    sandbox.log.write_text("")
    sandbox.run(*ARGS)
    second = split_preflight(sandbox.calls())[1]
    creates = [argv for argv in first if argv[-1:] != ["--format=none"] and any(
        word in ("create", "create-oidc") for word in argv)]
    assert len(creates) == 6  # pool, provider, the deployer and the three functions' accounts
    assert second == [argv for argv in first if argv not in creates]
    assert any("update-oidc" in argv for argv in second)  # a new --repo would take its place


@pytest.mark.parametrize("apis, missing", [
    ((*APIS, "sts"), "iamcredentials.googleapis.com"),
    ([api for api in (*APIS, "sts", "iamcredentials") if api != "run"], "run.googleapis.com"),
])
def test_preflight_wants_every_api_the_deploy_and_its_tokens_use(sandbox, apis, missing):
    """The deployer cannot turn an API on: ci-identity, run by the owner, says which are off."""
    result = real_sandbox(sandbox, apis).run(*ARGS, check=False)
    assert result.returncode == 1 and result.stderr == (
        f"deploy: APIs not enabled in demo: run gcloud services enable {missing} --project=demo\n")
    assert [call["argv"][1:3] for call in sandbox.calls()] == [["auth", "list"],
                                                               ["services", "list"]]


def test_a_missing_secret_stops_it_before_any_change(sandbox):
    real_sandbox(sandbox).set_state(secret_versions={"GEMINI_API_KEY": "none"})
    result = sandbox.run(*ARGS, check=False)
    assert result.returncode == 1 and "no enabled version of GEMINI_API_KEY" in result.stderr
    assert all(call["argv"][0] != "gcloud" or call["argv"][1:3] in (["auth", "list"],
                                                                    ["services", "list"])
               for call in sandbox.calls())
