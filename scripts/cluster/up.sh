#!/usr/bin/env bash
# `make cluster-up`: a real single-node Kubernetes cluster on this machine, without Docker or kind.
# Every part is a host process tracked by a pid file in .run/cluster/pids: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd (Debian) + runc + CNI bridge, kubelet,
# kube-proxy, CoreDNS, KEDA (operator, metrics adapter, admission webhooks). Only the workloads
# (Conveyor's pods) run in containers. Binaries come from scripts/cluster/build.sh (cached).
#
# Network (a rule of this machine: nothing leaves it): pods live on the bridge conveyor0
# ($POD_CIDR, the node is $BRIDGE_IP); the service range is routed to an empty bridge so unmatched
# ClusterIP traffic stays here; forwarding from the pod range to the outside interface is dropped;
# no NAT to the outside. apiserver, kubelet, CoreDNS listen on the bridge address and loopback only.
# Re-running it converges (what runs is left running). `scripts/cluster/down.sh` undoes everything.
set -euo pipefail
INFRA_NAME=cluster-up
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=pki.sh source-path=SCRIPTDIR
source "$CLUSTER_DIR/pki.sh"
INFRA_START_TIMEOUT="${CLUSTER_START_TIMEOUT:-180}"

PIDS="$CLUSTER_RUN/pids"
LOGS="$CLUSTER_RUN/logs"
CONF="$CLUSTER_RUN/conf"
DEBIAN_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack openssl buildah skopeo debootstrap)

preflight() {
  [[ "$(id -u)" -eq 0 ]] || die "the cluster needs root (network namespaces, mounts, iptables)"
  local missing=() pkg
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  "$CLUSTER_DIR/build.sh"
  cluster_path
  mkdir -p "$PIDS" "$LOGS" "$CONF"
}

outside_interface() { ip -o route show default | awk '{print $5; exit}'; }

# The machine's state before the cluster, so down.sh --verify can prove it left nothing behind.
snapshot_host() {
  [[ -s "$CLUSTER_RUN/host-before" ]] && return 0
  mkdir -p "$CLUSTER_RUN"
  "$CLUSTER_DIR/hoststate.sh" >"$CLUSTER_RUN/host-before"
}

network_up() {
  local out
  out="$(outside_interface)"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  # Service range: a local route on an empty bridge (a dummy device is not available here), so
  # ClusterIP traffic no rule matches is held on this machine instead of following the default route.
  if ! ip link show "$SERVICE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$SERVICE_BRIDGE" type bridge
  fi
  ip link set "$SERVICE_BRIDGE" up
  ip route replace "$SERVICE_CIDR" dev "$SERVICE_BRIDGE"
  sysctl -qw net.ipv4.ip_forward=1
  isolate_pods "$out"
}

# isolate_pods OUTSIDE_IF -- the pod range may never be forwarded to the outside interface; the rule
# stays first in FORWARD (kube-proxy inserts its own jumps at the top when it starts).
isolate_pods() {
  local out="$1"
  while iptables -C FORWARD -s "$POD_CIDR" -o "$out" -j DROP 2>/dev/null; do
    iptables -D FORWARD -s "$POD_CIDR" -o "$out" -j DROP
  done
  iptables -I FORWARD 1 -s "$POD_CIDR" -o "$out" -j DROP
  echo "$out" >"$CLUSTER_RUN/outside-interface"
}

# run NAME CMD... -- start a component unless its pid file names a live process running NAME.
run() {
  local name="$1"
  shift
  if pidfile_alive "$PIDS/$name.pid" "$name"; then return 0; fi
  log "starting $name"
  start_bg "$PIDS/$name.pid" "$LOGS/$name.log" "$@"
}

# ready NAME CHECK... -- wait for CHECK while NAME's process lives.
ready() {
  local name="$1"
  shift
  wait_until "$name" "$LOGS/$name.log" "$PIDS/$name.pid" "" "$@"
}

kubectl_ok() { kubectl --request-timeout=5s "$@" >/dev/null 2>&1; }
containerd_ok() { ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }
apiserver_ready() { curl -fsS --max-time 3 --cacert "$PKI/ca.crt" "https://$BRIDGE_IP:$APISERVER_PORT/readyz" >/dev/null 2>&1; }

control_plane_up() {
  run etcd etcd --name conveyor --data-dir "$CLUSTER_RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "conveyor=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
    --quota-backend-bytes 2147483648 --log-level warn
  ready etcd curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

  run kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$BRIDGE_IP" --advertise-address "$BRIDGE_IP" --secure-port "$APISERVER_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" --service-node-port-range 30000-32767 \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --authorization-mode Node,RBAC \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/service-account.pub" --service-account-signing-key-file "$PKI/service-account.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true --allow-privileged=true --profiling=false --v=1
  ready kube-apiserver apiserver_ready
  # A fresh etcd: the controller-manager exits if it starts before RBAC bootstrap has landed.
  wait_until "RBAC bootstrap" "$LOGS/kube-apiserver.log" "$PIDS/kube-apiserver.pid" "" \
    kubectl_ok -n kube-system get rolebinding system::extension-apiserver-authentication-reader

  run kube-controller-manager kube-controller-manager --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" \
    --service-account-private-key-file "$PKI/service-account.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --controllers '*,-nodeipam,-cloud-node-lifecycle' \
    --leader-elect=false --horizontal-pod-autoscaler-sync-period 5s --profiling=false --v=1
  run kube-scheduler kube-scheduler --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false --v=1
}

containerd_up() {
  mkdir -p "$CONF/cni" "$CLUSTER_RUN/containerd"
  cat >"$CONF/containerd.toml" <<TOML
version = 2
root = "$CLUSTER_RUN/containerd/root"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: without this runc fails with "can't get final child's PID from pipe"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CONF/cni"
TOML
  cat >"$CONF/cni/10-conveyor.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "conveyor",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$CLUSTER_RUN/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "rangeStart": "${POD_CIDR%.*}.10", "gateway": "$BRIDGE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "loopback" }
  ]
}
JSON
  run containerd containerd --config "$CONF/containerd.toml"
  ready containerd containerd_ok
  "$CLUSTER_DIR/images.sh" pause
}

node_up() {
  mkdir -p "$CLUSTER_RUN/kubelet"
  printf 'nameserver %s\n' "$DNS_SVC_IP" >"$CONF/resolv.conf"
  cat >"$CONF/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$PKI/ca.crt" }
authorization: { mode: Webhook }
tlsCertFile: "$PKI/kubelet.crt"
tlsPrivateKeyFile: "$PKI/kubelet.key"
# cgroup v1 host: kubelet 1.34 still runs on it when told to; no systemd here.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
clusterDNS: ["$DNS_SVC_IP"]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: "$CONF/resolv.conf"
podCIDR: $POD_CIDR
podLogsDir: "$CLUSTER_RUN/kubelet/pod-logs"
volumePluginDir: "$CLUSTER_RUN/kubelet/volume-plugins"
serializeImagePulls: false
maxPods: 110
evictionHard: { memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
  run kubelet kubelet --config "$CONF/kubelet.yaml" --kubeconfig "$PKI/kubelet.kubeconfig" \
    --root-dir "$CLUSTER_RUN/kubelet/root" --cert-dir "$CLUSTER_RUN/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$BRIDGE_IP" --v=1
  cat >"$CONF/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: "$PKI/kube-proxy.kubeconfig" }
hostnameOverride: $NODE_NAME
bindAddress: $BRIDGE_IP
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
mode: iptables
clusterCIDR: $POD_CIDR
# NodePorts answer on the bridge address only, never on the outside interface.
nodePortAddresses: ["$BRIDGE_IP/32"]
# Masquerade service traffic so replies between pods on the same bridge come back through the host.
iptables: { masqueradeAll: true, syncPeriod: 10s, minSyncPeriod: 1s }
# Leave the host's conntrack sysctls alone.
conntrack: { maxPerCore: 0, min: 0 }
YAML
  run kube-proxy kube-proxy --config "$CONF/kube-proxy.yaml" --v=1
  wait_until "node $NODE_NAME Ready" "$LOGS/kubelet.log" "$PIDS/kubelet.pid" "" \
    kubectl_ok wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  weigh_pods
}

dns_up() {
  cat >"$CONF/Corefile" <<COREFILE
.:53 {
    bind $BRIDGE_IP
    errors
    health 127.0.0.1:$COREDNS_HEALTH_PORT
    ready 127.0.0.1:$COREDNS_READY_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $PKI/admin.kubeconfig conveyor
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    # No forward plugin: names outside the cluster are not resolved (nothing leaves this machine).
    cache 30
    loop
}
COREFILE
  run coredns coredns -conf "$CONF/Corefile"
  ready coredns curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$COREDNS_READY_PORT/ready"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $DNS_SVC_IP
  ports: [{ name: dns, port: 53, protocol: UDP, targetPort: 53 }, { name: dns-tcp, port: 53, protocol: TCP, targetPort: 53 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: kube-dns-host, namespace: kube-system, labels: { kubernetes.io/service-name: kube-dns } }
addressType: IPv4
endpoints: [{ addresses: ["$BRIDGE_IP"], conditions: { ready: true } }]
ports: [{ name: dns, port: 53, protocol: UDP }, { name: dns-tcp, port: 53, protocol: TCP }]
YAML
}

keda_up() {
  local crd_dir="$GOMODCACHE/github.com/kedacore/keda/v2@$KEDA_VERSION/config/crd/bases" ca
  [[ -d "$crd_dir" ]] || (cd "$CLUSTER_DIR/go/keda" && go mod download "github.com/kedacore/keda/v2@$KEDA_VERSION")
  kubectl apply --server-side -f "$crd_dir" >/dev/null
  wait_until "KEDA's CRDs" "$LOGS/kube-apiserver.log" "" "" \
    kubectl_ok wait --for=condition=Established crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh --timeout=2s
  kubectl create namespace keda --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # WATCH_NAMESPACE empty: every namespace.
  local env=(env KUBECONFIG="$KUBECONFIG_ADMIN" POD_NAMESPACE=keda KEDA_CLUSTER_OBJECT_NAMESPACE=keda WATCH_NAMESPACE=)
  run keda-operator "${env[@]}" keda-operator --cert-dir "$PKI/keda-certs" --enable-cert-rotation=false \
    --enable-webhook-patching=false --enable-apiservice-patching=false --leader-elect=false \
    --metrics-bind-address "127.0.0.1:$KEDA_OPERATOR_METRICS_PORT" --health-probe-bind-address "127.0.0.1:$KEDA_OPERATOR_HEALTH_PORT" \
    --metrics-service-bind-address "$BRIDGE_IP:$KEDA_GRPC_PORT" --zap-log-level info --zap-encoder console
  run keda-adapter "${env[@]}" keda-adapter --secure-port "$KEDA_ADAPTER_PORT" --bind-address "$BRIDGE_IP" \
    --cert-dir "$PKI/keda-certs" --tls-cert-file "$PKI/keda-certs/tls.crt" --tls-private-key-file "$PKI/keda-certs/tls.key" \
    --lister-kubeconfig "$KUBECONFIG_ADMIN" --authentication-kubeconfig "$KUBECONFIG_ADMIN" --authorization-kubeconfig "$KUBECONFIG_ADMIN" \
    --metrics-service-address "$BRIDGE_IP:$KEDA_GRPC_PORT" --metrics-service-grpc-authority keda-operator.keda.svc \
    --port "$KEDA_ADAPTER_METRICS_PORT" --zap-log-level info --zap-encoder console
  run keda-webhooks "${env[@]}" keda-webhooks --cert-dir "$PKI/keda-certs" --port "$KEDA_WEBHOOKS_PORT" \
    --metrics-bind-address "127.0.0.1:$KEDA_WEBHOOKS_METRICS_PORT" --health-probe-bind-address "127.0.0.1:$KEDA_WEBHOOKS_HEALTH_PORT" \
    --zap-log-level info --zap-encoder console
  ca="$(base64 -w0 <"$PKI/ca.crt")"
  sed -e "s|@BRIDGE_IP@|$BRIDGE_IP|g" -e "s|@CA_BUNDLE@|$ca|g" -e "s|@ADAPTER_PORT@|$KEDA_ADAPTER_PORT|g" \
    -e "s|@WEBHOOKS_PORT@|$KEDA_WEBHOOKS_PORT|g" "$REPO_ROOT/k8s/cluster/keda.yaml" | kubectl apply -f - >/dev/null
  wait_until "KEDA metrics API" "$LOGS/keda-adapter.log" "$PIDS/keda-adapter.pid" "" \
    kubectl_ok get --raw /apis/external.metrics.k8s.io/v1beta1
}

main() {
  local started=$SECONDS
  preflight
  snapshot_host
  network_up
  pki_all
  control_plane_up
  containerd_up
  node_up
  dns_up
  keda_up
  isolate_pods "$(outside_interface)"
  log "cluster ready in $((SECONDS - started))s: KUBECONFIG=$KUBECONFIG_ADMIN (kubectl: $(kube_bin_dir)/kubectl)"
}

main "$@"
