# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source it
# Shared settings and helpers of scripts/cluster/*.sh (a real single-node Kubernetes cluster built
# from package registries, no Docker). Source it; do not run it.
#
# Layout:
#   $CONVEYOR_CACHE_DIR/cluster/go/{mod,build}   Go module and build caches (kept across runs)
#   $CONVEYOR_CACHE_DIR/cluster/bin/<set>-<hash>  built binaries, one folder per input hash
#   $CONVEYOR_CACHE_DIR/cluster/images/           image tarballs + content stamps
#   .run/cluster/                                 pki, configs, data, logs, pid files of a running cluster
CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INFRA_NAME="${INFRA_NAME:-cluster}"
# shellcheck source=../infra/lib.sh source-path=SCRIPTDIR
source "$CLUSTER_DIR/../infra/lib.sh"

KUBERNETES_VERSION=v1.34.3 # kubelet 1.34 still runs on a cgroup v1 host (failCgroupV1: false)
ETCD_VERSION=v3.6.4        # the etcd Kubernetes v1.34.3 itself requires
COREDNS_VERSION=v1.12.4
KEDA_VERSION=v2.20.2

CLUSTER_CACHE="$CACHE_DIR/cluster"
# Not $RUN_DIR: infra.sh points RUN_DIR (CONVEYOR_RUN_DIR) of scripts/infra at .run/cluster/infra.
CLUSTER_RUN="$REPO_ROOT/.run/cluster"
export GOMODCACHE="$CLUSTER_CACHE/go/mod" GOCACHE="$CLUSTER_CACHE/go/build" GOTOOLCHAIN=local
export GOFLAGS="-modcacherw -buildvcs=false -trimpath"

# Network: everything lives on one local bridge; nothing is routed off the machine.
BRIDGE=conveyor0
BRIDGE_IP=10.244.0.1 # the node's address: apiserver, kubelet and host services listen here
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_SVC_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
SERVICE_BRIDGE=conveyor-svc # empty bridge holding the service range
NODE_NAME=conveyor-node
# Ports: apiserver and kubelet on the bridge address; the rest on loopback unless pods need them.
APISERVER_PORT=6443
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
ETCD_PORT=12379
ETCD_PEER_PORT=12380
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
KUBE_PROXY_HEALTHZ_PORT=10256
KUBE_PROXY_METRICS_PORT=10249
COREDNS_HEALTH_PORT=18053
COREDNS_READY_PORT=18181
KEDA_GRPC_PORT=9666
KEDA_ADAPTER_PORT=6444
KEDA_WEBHOOKS_PORT=9443
KEDA_OPERATOR_METRICS_PORT=18090
KEDA_OPERATOR_HEALTH_PORT=18091
KEDA_ADAPTER_METRICS_PORT=18092
KEDA_WEBHOOKS_METRICS_PORT=18093
KEDA_WEBHOOKS_HEALTH_PORT=18094
# The public entry: the ingress controller's NodePort on the bridge address.
INGRESS_NODE_PORT="${INGRESS_NODE_PORT:-30080}"
PAUSE_IMAGE=localhost/conveyor/pause:3.10
# CPU weight of all pods together, in busy host processes (weigh_pods below).
POD_CPU_WEIGHT="${POD_CPU_WEIGHT:-16}"
# Host servers for the pods (scripts/cluster/infra.sh), apart from the shared dev servers' ports.
CLUSTER_PG_PORT=25432
CLUSTER_KAFKA_PORT=29092
CLUSTER_KAFKA_CONTROLLER_PORT=29093
CLUSTER_SQS_PORT=24566
CLUSTER_PROMETHEUS_PORT=29090
# The OTLP/HTTP receiver the cluster test listens on (the chart's otel.endpoint in ci/cluster-values.yaml).
CLUSTER_OTLP_PORT=24318
# The container port Prometheus scrapes /metrics from (the chart's operational port).
METRICS_PORT_NAME=ops

KUBECONFIG_ADMIN="$CLUSTER_RUN/pki/admin.kubeconfig"
CONTAINERD_SOCK="$CLUSTER_RUN/containerd/containerd.sock"
CONTAINERD_STATE="$CLUSTER_RUN/containerd/state"

# set_hash NAME FILE... -- a short content hash of the files (and the Go version) naming a build.
set_hash() {
  local name="$1"
  shift
  { go version; cat "$@"; } | sha256sum | cut -c1-12 | sed "s/^/$name-/"
}

kube_bin_dir() { echo "$CLUSTER_CACHE/bin/$(set_hash kube "$CLUSTER_DIR"/go/kube/go.mod "$CLUSTER_DIR"/go/kube/go.sum "$CLUSTER_DIR"/go/kube/pause/main.go)"; }
keda_bin_dir() { echo "$CLUSTER_CACHE/bin/$(set_hash keda "$CLUSTER_DIR"/go/keda/go.mod "$CLUSTER_DIR"/go/keda/go.sum)"; }
coredns_bin_dir() { echo "$CLUSTER_CACHE/bin/coredns-$COREDNS_VERSION"; }

cluster_path() {
  # shellcheck source=../tools/tools.sh source-path=SCRIPTDIR
  source "$CLUSTER_DIR/../tools/tools.sh"
  PATH="$(kube_bin_dir):$(keda_bin_dir):$(coredns_bin_dir):$PATH"
  export PATH KUBECONFIG="$KUBECONFIG_ADMIN"
}

# Pods share this machine's two cores with host processes, each of which (in cgroup v1's root)
# weighs as much as the kubelet gives all pods together (1024 per allocatable core); under load,
# pods starved past their startup probes. Weigh all pods like $POD_CPU_WEIGHT busy host processes.
# The kubelet writes its own value when it sets up its cgroups, so up.sh, deploy.sh and test.sh
# each apply this again.
weigh_pods() {
  local shares=/sys/fs/cgroup/cpu/kubepods/cpu.shares
  [[ -w "$shares" ]] && echo "$((POD_CPU_WEIGHT * 1024))" >"$shares"
  return 0
}
