#!/usr/bin/env bash
# `make chart-test`: everything about the Kubernetes deliverables that can be proven without a
# cluster or Docker. Tools come from package registries and are cached (scripts/tools/tools.sh).
#   1. shellcheck of the kind and tool scripts
#   2. helm lint --strict for every charts/conveyor/ci/*-values.yaml
#   3. helm-unittest (charts/conveyor/tests/*_test.yaml)
#   4. kubeconform -strict on k8s/*.yaml and the chart's CRDs (core kinds: kubernetes-validate's
#      strict schemas; KEDA/prometheus-operator: schemas generated from test/chart/crds/)
#   5. vitest test/chart: the rendered chart for every ci values file passes kubeconform -strict
#      (and a misspelt field fails it), and its names agree with topology() of @conveyor/jobs;
#      and every rendered object passes a server-side apply --dry-run=All with fieldValidation=Strict
#      against a real kube-apiserver (test/apiserver; built with Go unless cached in CONVEYOR_CACHE_DIR)
# Rendered manifests are kept in .cache/chart-test/ for inspection.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=tools/tools.sh source-path=SCRIPTDIR
source scripts/tools/tools.sh
OUT="${CONVEYOR_CACHE_DIR:-$REPO_ROOT/.cache}/chart-test"
CHART=charts/conveyor
started=$SECONDS

step() { printf '\n\033[1m[chart-test] %s\033[0m\n' "$*"; }

step "tools"
ensure_helm
ensure_helm_unittest
ensure_kubeconform
K8S_SCHEMAS="$(ensure_k8s_schemas)"
CRD_SCHEMAS="$(ensure_crd_schemas "$OUT/crd-schemas")"
helm version --short
kubeconform -v

step "shellcheck"
command -v shellcheck >/dev/null || (apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null)
shellcheck -x scripts/chart-test.sh scripts/kind-up.sh scripts/kind-down.sh scripts/tools/tools.sh

values_files=("$CHART"/ci/*-values.yaml)

step "helm lint"
for values in "${values_files[@]}"; do
  helm lint --strict "$CHART" --values "$values" --kube-version "$KUBERNETES_VERSION"
done

step "helm-unittest"
helm-unittest --color=false "$CHART"

step "helm template"
mkdir -p "$OUT/rendered"
for values in "${values_files[@]}"; do
  name="$(basename "$values" .yaml)"
  helm template conveyor "$CHART" --namespace conveyor --kube-version "$KUBERNETES_VERSION" \
    --values "$values" >"$OUT/rendered/$name.yaml"
  printf '  %s: %s objects -> %s\n' "$name" "$(grep -c '^kind:' "$OUT/rendered/$name.yaml")" "${OUT#"$REPO_ROOT"/}/rendered/$name.yaml"
done

step "kubeconform -strict: k8s/ and the chart's CRDs"
shopt -s nullglob
manifests=(k8s/*.yaml "$CHART"/crds/*.yaml)
shopt -u nullglob
kubeconform -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
  -schema-location "$K8S_SCHEMAS" -schema-location "$CRD_SCHEMAS" "${manifests[@]}"

step "vitest test/chart: rendered chart against the schemas, names against topology()"
CONVEYOR_HELM="$(command -v helm)" CONVEYOR_KUBECONFORM="$(command -v kubeconform)" \
  CONVEYOR_SCHEMA_LOCATIONS="$K8S_SCHEMAS"$'\n'"$CRD_SCHEMAS" KUBERNETES_VERSION="$KUBERNETES_VERSION" \
  npx vitest run --config test/chart/vitest.config.ts

step "passed in $((SECONDS - started))s"
