#!/usr/bin/env bash
# `make cluster-down`: stops everything scripts/cluster/up.sh and infra.sh started and removes what
# they added to the machine: pods (through the kubelet, so the CNI plugin tears their network
# namespaces and veths down), containers, processes (by pid file), mounts under .run/cluster, the
# bridges and routes, every iptables rule (kube-proxy's, the kubelet's and ours), sysctls.
#   scripts/cluster/down.sh            stop and clean
#   scripts/cluster/down.sh --verify   then fail unless the machine is as up.sh found it
#                                      (links, routes, netns, iptables, mounts, ip_forward, processes)
# Cluster data (etcd, images in containerd) stays in .run/cluster; `--purge` removes it as well.
set -euo pipefail
INFRA_NAME=cluster-down
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PIDS="$CLUSTER_RUN/pids"
INFRA_STOP_TIMEOUT=10
VERIFY=0 PURGE=0
for arg in "$@"; do
  case "$arg" in
    --verify) VERIFY=1 ;;
    --purge) PURGE=1 ;;
    *) usage "[--verify] [--purge]" ;;
  esac
done
[[ -d "$CLUSTER_RUN" ]] || { log "no cluster here"; exit 0; }
cluster_path 2>/dev/null || true

stop() { stop_pidfile "$PIDS/$1.pid" "$1"; }
alive() { pidfile_alive "$PIDS/$1.pid"; }
CTR=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)

# Pods go first, through the kubelet, while nothing can create new ones.
remove_pods() {
  alive kube-apiserver && alive kubelet || return 0
  local i
  for name in keda-operator keda-adapter keda-webhooks kube-controller-manager kube-scheduler; do stop "$name"; done
  log "deleting every pod (the kubelet tears their sandboxes and networks down)"
  kubectl delete pods --all-namespaces --all --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
  for ((i = 0; i < 120; i++)); do
    [[ -z "$("${CTR[@]}" tasks ls -q 2>/dev/null)" ]] && ! ls "$CLUSTER_RUN"/kubelet/root/pods/*/volumes >/dev/null 2>&1 && break
    sleep 0.5
  done
}

# Whatever the kubelet did not finish: kill tasks, remove containers, unmount, drop namespaces.
remove_leftovers() {
  local task netns mount
  if alive containerd; then
    for task in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
      "${CTR[@]}" tasks kill -s KILL "$task" >/dev/null 2>&1 || true
      "${CTR[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true
    done
    for task in $("${CTR[@]}" containers ls -q 2>/dev/null); do
      "${CTR[@]}" containers delete "$task" >/dev/null 2>&1 || true
    done
  fi
  # Network namespaces of our sandboxes: the ones whose veth peer sits on our bridge are gone with
  # the bridge; the files in /run/netns are named cni-<uuid> and recorded in the CNI results.
  { grep -rhoE '/var/run/netns/cni-[0-9a-f-]+|/run/netns/cni-[0-9a-f-]+' "$CLUSTER_RUN"/containerd/root 2>/dev/null || true; } | sort -u |
    while read -r netns; do
      [[ -e "$netns" ]] || continue
      umount "$netns" 2>/dev/null || true
      rm -f "$netns"
    done
  # Mounts under .run/cluster, deepest first.
  { awk '{ print $5 }' /proc/self/mountinfo | grep -F "$CLUSTER_RUN/" || true; } | sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true
  done
}

# remove_kube_rules CMD -- every KUBE-* chain and every jump to one (kube-proxy's and the kubelet's).
remove_kube_rules() {
  local cmd="$1" table rule chain
  for table in filter nat mangle raw; do
    "$cmd" -t "$table" -S >/dev/null 2>&1 || continue
    { "$cmd" -t "$table" -S | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' || true; } | sed 's/^-A /-D /' | while read -r rule; do
      eval "$cmd -t $table $rule" || true
    done
    for chain in $("$cmd" -t "$table" -S | awk '/^-N KUBE-/ { print $2 }'); do "$cmd" -t "$table" -F "$chain"; done
    for chain in $("$cmd" -t "$table" -S | awk '/^-N KUBE-/ { print $2 }'); do "$cmd" -t "$table" -X "$chain" || true; done
  done
}

network_down() {
  local out
  out="$(cat "$CLUSTER_RUN/outside-interface" 2>/dev/null || true)"
  if [[ -n "$out" ]]; then
    while iptables -C FORWARD -s "$POD_CIDR" -o "$out" -j DROP 2>/dev/null; do
      iptables -D FORWARD -s "$POD_CIDR" -o "$out" -j DROP
    done
  fi
  remove_kube_rules iptables
  remove_kube_rules ip6tables
  ip link delete "$BRIDGE" 2>/dev/null || true
  ip link delete "$SERVICE_BRIDGE" 2>/dev/null || true
  local forward
  forward="$(sed -n 's/^net.ipv4.ip_forward=//p' "$CLUSTER_RUN/host-before" 2>/dev/null || true)"
  [[ -n "$forward" ]] && sysctl -qw "net.ipv4.ip_forward=$forward"
}

remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

verify() {
  local failed=0 name
  for name in "$PIDS"/*.pid; do
    [[ -e "$name" ]] || continue
    if pidfile_alive "$name"; then
      warn "still running: $(basename "$name" .pid) (pid $(read_pid "$name"))"
      failed=1
    fi
  done
  local cmdline pid leftover=()
  for cmdline in /proc/[0-9]*/cmdline; do
    pid="${cmdline#/proc/}" && pid="${pid%/cmdline}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    [[ "$({ tr '\0' ' ' <"$cmdline"; } 2>/dev/null)" == *"$CLUSTER_RUN"* ]] && leftover+=("$pid")
  done
  if ((${#leftover[@]} > 0)); then
    warn "processes still naming $CLUSTER_RUN: ${leftover[*]}"
    failed=1
  fi
  if [[ -s "$CLUSTER_RUN/host-before" ]]; then
    if ! diff -u "$CLUSTER_RUN/host-before" <("$CLUSTER_DIR/hoststate.sh") >"$CLUSTER_RUN/host-diff"; then
      warn "the machine differs from before cluster-up (links, routes, netns, iptables, mounts, sysctl):"
      cat "$CLUSTER_RUN/host-diff" >&2
      failed=1
    fi
  else
    warn "no record of the machine before cluster-up ($CLUSTER_RUN/host-before)"
    failed=1
  fi
  if ((failed)); then
    echo "cluster-down: 0 passed, 1 failed"
    # The record belongs to this cluster: a later cluster-up records the machine afresh instead of
    # comparing against a state that no longer holds (host-diff keeps what differed).
    rm -f "$CLUSTER_RUN/host-before"
    exit 1
  fi
  log "verified: no process, mount, link, route, network namespace or iptables rule left"
  echo "cluster-down: 1 passed, 0 failed"
}

started=$SECONDS
remove_pods
for name in keda-operator keda-adapter keda-webhooks coredns kube-proxy kubelet kube-controller-manager kube-scheduler; do
  stop "$name"
done
remove_leftovers
stop containerd
remove_leftovers
stop kube-apiserver
stop etcd
"$CLUSTER_DIR/infra.sh" stop
network_down
remove_cgroups
log "stopped in $((SECONDS - started))s"
if ((VERIFY)); then verify; fi
rm -f "$CLUSTER_RUN/host-before"
if ((PURGE)); then
  rm -rf "$CLUSTER_RUN"
  log "removed $CLUSTER_RUN"
fi
