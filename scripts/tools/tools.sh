# shellcheck shell=bash
# Installers for the chart tooling, all from package registries and cached under
# ${CONVEYOR_CACHE_DIR:-.cache}/tools so a second run builds and downloads nothing. Source it.
#   helm             go install from the Go module proxy
#   helm-unittest    built from its Go module (it has replace directives, so `go install` refuses it)
#   kubeconform      go install from the Go module proxy
#   k8s schemas      strict JSON schemas from the kubernetes-validate wheel (PyPI)
#   CRD schemas      generated from test/chart/crds/*.yaml and charts/conveyor/crds/*.yaml

TOOLS_SH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_REPO_ROOT="$(cd "$TOOLS_SH_DIR/../.." && pwd)"
TOOLS_CACHE="${CONVEYOR_CACHE_DIR:-$TOOLS_REPO_ROOT/.cache}/tools"
TOOLS_BIN="$TOOLS_CACHE/bin"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM_UNITTEST_VERSION="${HELM_UNITTEST_VERSION:-v1.1.2}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
# The Kubernetes version the chart is rendered and validated for (kind's node, k8s/versions.env).
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.34.0}"

export PATH="$TOOLS_BIN:$PATH"

tools_log() { printf '[tools] %s\n' "$*" >&2; }
tools_die() {
  printf '[tools] ERROR: %s\n' "$*" >&2
  exit 1
}

require_go() {
  command -v go >/dev/null || tools_die "Go is needed to build helm and kubeconform (https://go.dev/dl); or put helm and kubeconform on PATH"
}

# go_install NAME VERSION PACKAGE -- installs $TOOLS_BIN/NAME once per version (stamp file).
# One compile job at a time: the machine's cores are shared; the Go build cache keeps reruns cheap.
go_install() {
  local name="$1" version="$2" package="$3" stamp="$TOOLS_BIN/.$1.version"
  if [[ -x "$TOOLS_BIN/$name" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then return; fi
  require_go
  mkdir -p "$TOOLS_BIN"
  tools_log "building $name $version (go install, a few minutes the first time)"
  GOBIN="$TOOLS_BIN" GOFLAGS=-buildvcs=false nice go install -p 1 "$package@$version" >&2
  printf '%s\n' "$version" >"$stamp"
}

ensure_helm() { go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm; }

ensure_kubeconform() { go_install kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform; }

ensure_helm_unittest() {
  local name=helm-unittest version="$HELM_UNITTEST_VERSION" stamp="$TOOLS_BIN/.helm-unittest.version" dir
  if [[ -x "$TOOLS_BIN/$name" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then return; fi
  require_go
  mkdir -p "$TOOLS_BIN"
  tools_log "building helm-unittest $version from its Go module"
  dir="$(cd "$TOOLS_CACHE" && go mod download -json "github.com/helm-unittest/helm-unittest@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir" ]] || tools_die "go mod download github.com/helm-unittest/helm-unittest@$version failed"
  (cd "$dir" && GOFLAGS="-buildvcs=false -modcacherw" nice go build -p 1 -o "$TOOLS_BIN/$name" ./cmd/helm-unittest) >&2
  printf '%s\n' "$version" >"$stamp"
}

# ensure_k8s_schemas -- prints the kubeconform -schema-location for core kinds.
ensure_k8s_schemas() {
  local root="$TOOLS_CACHE/schemas/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION" wheel
  if [[ ! -f "$root/v$KUBERNETES_VERSION-standalone-strict/deployment-apps-v1.json" ]]; then
    command -v python3 >/dev/null || tools_die "python3 is needed to unpack the Kubernetes schemas"
    mkdir -p "$root/wheel"
    tools_log "downloading kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI) for the Kubernetes JSON schemas"
    python3 -m pip download --quiet --no-deps -d "$root/wheel" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
    wheel="$(ls "$root"/wheel/kubernetes_validate-*.whl)"
    python3 "$TOOLS_SH_DIR/k8s-schemas.py" "$wheel" "v$KUBERNETES_VERSION" "$root" >&2
    rm -rf "$root/wheel"
  fi
  printf '%s\n' "$root/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
}

# ensure_crd_schemas OUT_DIR -- regenerates the CRD schemas (cheap) and prints their -schema-location.
ensure_crd_schemas() {
  local out="$1" crds=()
  shopt -s nullglob
  crds=("$TOOLS_REPO_ROOT"/test/chart/crds/*.yaml "$TOOLS_REPO_ROOT"/charts/conveyor/crds/*.yaml)
  shopt -u nullglob
  rm -rf "$out" && mkdir -p "$out"
  node "$TOOLS_SH_DIR/crd-schemas.mjs" "$out" "${crds[@]}" >&2
  printf '%s\n' "$out/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
}
