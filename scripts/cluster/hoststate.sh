#!/usr/bin/env bash
# Prints what the local cluster may change on this machine, normalised so two runs compare with
# diff: network links, routes, network namespaces, iptables rules (IPv4 and IPv6, all tables, no
# counters), mounts, and the IPv4 forwarding switch. up.sh records it before the first start;
# down.sh --verify compares after the last stop.
set -euo pipefail
section() { printf '== %s\n' "$1"; }
section links
ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
section routes
ip route show table all | grep -v -E '^(local|broadcast|multicast|ff00|fe80)' | sort
section netns
find /run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort || true
for cmd in iptables ip6tables; do
  for table in filter nat mangle raw; do
    section "$cmd -t $table"
    "$cmd-save" -t "$table" 2>/dev/null | grep -v -E '^(#|COMMIT)' | sed -E 's/ \[[0-9]+:[0-9]+\]$//' | sort || true
  done
done
section mounts
awk '{ print $5 " " $9 }' /proc/self/mountinfo | sort
section sysctl
printf 'net.ipv4.ip_forward=%s\n' "$(sysctl -n net.ipv4.ip_forward)"
