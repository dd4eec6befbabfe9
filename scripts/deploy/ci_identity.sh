# shellcheck shell=bash disable=SC2034,SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): `ci-identity`, what the keyless deploy from GitHub
# Actions (.github/workflows/deploy.yml) needs, made once by the project's owner. A Workload
# Identity pool whose provider admits only GitHub's tokens of one repository's `production`
# environment on main or a v* tag, and a deployer service account that those tokens (and nothing
# else: no key is ever made) may act as, with only the roles ./deploy.sh uses (SECURITY.md,
# "Deploying from GitHub", says why each one).

CI_POOL=github CI_PROVIDER=jette-deploy CI_ACCOUNT=github-deployer
GITHUB_ISSUER=https://token.actions.githubusercontent.com
# The deployer cannot enable APIs: those the deploy uses must be on already (besides those of
# every function, which deploy.sh's preflight adds), and those its tokens need: sts (GitHub's
# token exchanged for a federated one), iamcredentials (that one for the deployer's).
CI_APIS=(firebasehosting sts iamcredentials)
# Project-wide roles of the deployer, each for what ./deploy.sh runs.
CI_ROLES=(roles/cloudfunctions.developer roles/run.admin roles/cloudbuild.builds.viewer
          roles/datastore.indexAdmin roles/firebasehosting.admin
          roles/serviceusage.serviceUsageViewer)
# The roles functions.sh grants the functions' accounts: the only ones the deployer may grant.
CI_GRANTABLE=(roles/datastore.user roles/firebaseauth.admin roles/firebaseauth.viewer)

# --repo (deploy.sh checks it against GitHub's OWNER/NAME syntax, so it is safe in CEL quotes).
# Only the `production` environment on main or a v* tag: a workflow edited on another branch
# gets no token, whatever the environment's own rules in GitHub say.
ci_condition() {
  echo "assertion.repository == '$repo' && assertion.environment == 'production' &&" \
    "(assertion.ref == 'refs/heads/main' || assertion.ref.startsWith('refs/tags/v'))"
}

ci_grant_condition() {  # projectIamAdmin, limited to granting (or removing) CI_GRANTABLE
  local roles expression
  roles=$(printf "'%s', " "${CI_GRANTABLE[@]}")
  expression="api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', [])"
  expression+=".hasOnly([${roles%, }])"
  # gcloud splits --condition on commas unless told another delimiter (gcloud topic escaping)
  echo "^;^title=Grants only the roles of the functions;description=deploy.sh gives the" \
    "accounts of the functions these roles and no other;expression=$expression"
}

deploy_ci_identity() {
  local deployer="$CI_ACCOUNT@$project.iam.gserviceaccount.com" fn secret role line secrets=()
  local at=(--location=global "--project=$project") pool provider
  # A missing secret stops the run before anything changes (the deployer is granted on each).
  for fn in health auth chat; do
    for secret in $(secrets_of "$fn"); do
      [[ " ${secrets[*]} " == *" $secret "* ]] || secrets+=("$secret")
      resolve_version "$secret"
    done
  done
  ask "<project-number>" gcloud projects describe "$project" --format='value(projectNumber)' ||
    exit 1
  [[ $answer =~ ^[0-9]+$ ]] || $dry_run || die "no project number for $project: $answer"
  pool="projects/$answer/locations/global/workloadIdentityPools/$CI_POOL"
  provider="$pool/providers/$CI_PROVIDER"

  probe gcloud iam workload-identity-pools describe "$CI_POOL" "${at[@]}" \
    --format='value(name)' ||
    note="only if the describe above failed" run gcloud iam workload-identity-pools create \
      "$CI_POOL" "${at[@]}" --display-name="GitHub Actions" \
      --description="OIDC tokens of GitHub Actions workflows (deploy.sh ci-identity)"
  local mapping=google.subject=assertion.sub,attribute.repository=assertion.repository
  local oidc=("--workload-identity-pool=$CI_POOL" "${at[@]}" "--attribute-mapping=$mapping"
              "--attribute-condition=$(ci_condition)"
              "--description=Deploys of $repo from GitHub Actions (deploy.sh ci-identity)")
  probe gcloud iam workload-identity-pools providers describe "$CI_PROVIDER" \
    "--workload-identity-pool=$CI_POOL" "${at[@]}" --format='value(name)' ||
    note="only if the describe above failed" run gcloud iam workload-identity-pools providers \
      create-oidc "$CI_PROVIDER" "${oidc[@]}" --issuer-uri="$GITHUB_ISSUER" \
      --display-name="Jette deploys"
  # Whether just made or found: the condition is that of this --repo from now on.
  run gcloud iam workload-identity-pools providers update-oidc "$CI_PROVIDER" "${oidc[@]}"

  ensure_account "$CI_ACCOUNT" "Jette deployer (GitHub Actions)" \
    "Deploys the app from the deploy workflow of $repo (deploy.sh ci-identity)"
  for fn in health auth chat; do  # the same accounts as functions.sh's: it then only finds them
    ensure_account "$fn-fn" "Jette $fn function" \
      "Runtime identity of the $fn Cloud Function (deploy.sh)"
  done
  for role in "${CI_ROLES[@]}"; do
    run_retrying gcloud projects add-iam-policy-binding "$project" \
      --member="serviceAccount:$deployer" --role="$role" --condition=None --format=none
  done
  run_retrying gcloud projects add-iam-policy-binding "$project" \
    --member="serviceAccount:$deployer" --role=roles/resourcemanager.projectIamAdmin \
    --condition="$(ci_grant_condition)" --format=none
  for fn in health auth chat; do  # deploy a function that runs as it (actAs), and nothing else
    run_retrying gcloud iam service-accounts add-iam-policy-binding \
      "$fn-fn@$project.iam.gserviceaccount.com" --project="$project" \
      --member="serviceAccount:$deployer" --role=roles/iam.serviceAccountUser --format=none
  done
  for secret in "${secrets[@]}"; do  # read its version, grant a function access: these two only
    run_retrying gcloud secrets add-iam-policy-binding "$secret" --project="$project" \
      --member="serviceAccount:$deployer" --role=roles/secretmanager.admin --format=none
  done
  run_retrying gcloud iam service-accounts add-iam-policy-binding "$deployer" \
    --project="$project" --role=roles/iam.workloadIdentityUser \
    --member="principalSet://iam.googleapis.com/$pool/attribute.repository/$repo" --format=none

  local variables=("GCP_PROJECT_ID=$project" "GCP_REGION=$region"
                   "GCP_WORKLOAD_IDENTITY_PROVIDER=$provider"
                   "GCP_DEPLOYER_SERVICE_ACCOUNT=$deployer") page="in GitHub, $repo: Settings >"
  page+=" Secrets and variables > Actions > Variables"
  if $dry_run; then
    say "then $page:"
    for line in "${variables[@]}"; do say "  $line"; done
  else
    printf '%s\n' "Now set these variables $page (README, Deploy from GitHub):" \
      "${variables[@]}"
  fi
}
