#!/usr/bin/env bash
# Builds every binary of the local cluster from the Go module proxy, once per input hash:
#   kube     etcd, kube-apiserver, -controller-manager, -scheduler, kubelet, kube-proxy, kubectl, pause
#            (go/kube: a wrapper module, because k8s.io/kubernetes' own replace directives make
#            `go install` refuse it; its staging modules are the published k8s.io/* v0.34.3)
#   keda     operator, metrics adapter, admission webhooks (go/keda: KEDA's replace block)
#   coredns  go install (no replace directives)
#   helm     scripts/tools/tools.sh (the same helm as make chart-test)
# A rerun with unchanged inputs does nothing; the Go caches under $CONVEYOR_CACHE_DIR/cluster/go
# keep a rebuild after a small change to seconds.
#   scripts/cluster/build.sh            build what is missing
#   scripts/cluster/build.sh --regen    regenerate go/*/go.mod and go.sum from the pinned versions
set -euo pipefail
INFRA_NAME=cluster-build
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Two compile jobs: the machine has two cores; nice keeps other work responsive.
GO_BUILD=(nice go build -p 2)

kube_ldflags() {
  local v="${KUBERNETES_VERSION#v}" flags="-s -w" key val
  local -A values=([gitVersion]="$KUBERNETES_VERSION" [gitMajor]="${v%%.*}" [gitMinor]="$(cut -d. -f2 <<<"$v")"
    [gitTreeState]=clean [buildDate]=1970-01-01T00:00:00Z)
  for key in "${!values[@]}"; do
    val="${values[$key]}"
    flags+=" -X k8s.io/component-base/version.$key=$val -X k8s.io/client-go/pkg/version.$key=$val"
  done
  echo "$flags"
}

build_kube() {
  local out tmp started=$SECONDS
  out="$(kube_bin_dir)"
  [[ -x "$out/kubectl" ]] && return 0
  tmp="$out.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "building Kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION (first time ~10 min on 2 cores)"
  (
    cd "$CLUSTER_DIR/go/kube"
    "${GO_BUILD[@]}" -ldflags "$(kube_ldflags)" -o "$tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
    "${GO_BUILD[@]}" -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
    CGO_ENABLED=0 "${GO_BUILD[@]}" -ldflags "-s -w" -o "$tmp/pause" ./pause
  )
  mv "$tmp" "$out"
  log "Kubernetes built in $((SECONDS - started))s -> $out"
}

build_keda() {
  local out tmp started=$SECONDS
  out="$(keda_bin_dir)"
  [[ -x "$out/keda-webhooks" ]] && return 0
  tmp="$out.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "building KEDA $KEDA_VERSION (first time ~5 min)"
  (
    cd "$CLUSTER_DIR/go/keda"
    local cmd
    for cmd in operator adapter webhooks; do
      "${GO_BUILD[@]}" -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION" \
        -o "$tmp/keda-$cmd" "github.com/kedacore/keda/v2/cmd/$cmd"
    done
  )
  mv "$tmp" "$out"
  log "KEDA built in $((SECONDS - started))s -> $out"
}

build_coredns() {
  local out started=$SECONDS
  out="$(coredns_bin_dir)"
  [[ -x "$out/coredns" ]] && return 0
  log "building CoreDNS $COREDNS_VERSION (first time ~2 min)"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" nice go install -p 2 -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  rm -rf "$out" && mv "$out.tmp" "$out"
  log "CoreDNS built in $((SECONDS - started))s"
}

regen() {
  local kube="$GOMODCACHE/k8s.io/kubernetes@$KUBERNETES_VERSION" keda staging
  (cd /tmp && go mod download "k8s.io/kubernetes@$KUBERNETES_VERSION" "github.com/kedacore/keda/v2@$KEDA_VERSION")
  keda="$GOMODCACHE/github.com/kedacore/keda/v2@$KEDA_VERSION"
  staging="v0.${KUBERNETES_VERSION#v1.}"
  (
    cd "$CLUSTER_DIR/go/kube"
    {
      printf 'module conveyor.dev/cluster/kube\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBERNETES_VERSION"
      echo '// k8s.io/kubernetes replaces its staging modules by ./staging paths, which "go install"'
      printf '// refuses; the same modules are published as k8s.io/<name> %s (build.sh --regen).\nreplace (\n' "$staging"
      sed -n '/^replace (/,/^)/p' "$kube/go.mod" | grep '=> ./staging' | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
      printf ')\n'
    } >go.mod
    rm -f go.sum
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubelet@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-proxy@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" \
      "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
  )
  (
    cd "$CLUSTER_DIR/go/keda"
    {
      printf 'module conveyor.dev/cluster/keda\n\ngo 1.26.0\n\nrequire github.com/kedacore/keda/v2 %s\n\n' "$KEDA_VERSION"
      echo '// KEDA pins its Kubernetes libraries with replace directives, which "go install" ignores;'
      printf '// the same block, copied from its go.mod (build.sh --regen), builds what KEDA releases.\n'
      sed -n '/^replace (/,/^)/p' "$keda/go.mod" | grep -v '^[[:space:]]*//'
    } >go.mod
    rm -f go.sum
    go get -tool "github.com/kedacore/keda/v2/cmd/operator@$KEDA_VERSION" \
      "github.com/kedacore/keda/v2/cmd/adapter@$KEDA_VERSION" "github.com/kedacore/keda/v2/cmd/webhooks@$KEDA_VERSION"
    go mod tidy
  )
}

command -v go >/dev/null || die "Go is needed to build the cluster's binaries (https://go.dev/dl)"
if [[ "${1:-}" == "--regen" ]]; then
  regen
  exit 0
fi
started=$SECONDS
mkdir -p "$GOMODCACHE" "$GOCACHE"
# One build at a time (a second caller waits, then finds the binaries built).
exec 9>"$CLUSTER_CACHE/build.lock"
flock 9
build_kube
build_keda
build_coredns
# shellcheck source=../tools/tools.sh source-path=SCRIPTDIR
source "$CLUSTER_DIR/../tools/tools.sh"
ensure_helm
log "all binaries ready in $((SECONDS - started))s"
