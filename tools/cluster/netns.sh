#!/usr/bin/env bash
# Private network for the cluster test: one network namespace per host, each with a veth pair to a
# bridge that lives in a namespace of its own (chc-net). Nothing is added to the machine's own
# namespace, the namespaces have no default route, so no packet can leave them.
#
#   tools/cluster/netns.sh up     create the namespaces (idempotent: tears down leftovers first)
#   tools/cluster/netns.sh down   delete them (and so every veth and the bridge)
set -euo pipefail

PREFIX=${CLUSTER_NETNS_PREFIX:-chc}
SUBNET=${CLUSTER_SUBNET:-10.213.7}
# name:last-octet
HOSTS=(db1:11 db2:12 r1:21 r2:22 r3:23 app1:31 app2:32 app3:33 lb:40 cli:50)

down() {
  for entry in "${HOSTS[@]}" net:0; do
    ns="$PREFIX-${entry%%:*}"
    if ip netns list | grep -qw "$ns"; then
      # Whatever still runs in it (a test killed half-way) goes with it.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns"
    fi
  done
}

up() {
  down
  ip netns add "$PREFIX-net"
  ip -n "$PREFIX-net" link set lo up
  ip -n "$PREFIX-net" link add br0 type bridge
  ip -n "$PREFIX-net" link set br0 up
  for entry in "${HOSTS[@]}"; do
    name=${entry%%:*} octet=${entry##*:} ns="$PREFIX-${entry%%:*}"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$PREFIX-net" link add "v-$name" type veth peer name eth0 netns "$ns"
    ip -n "$PREFIX-net" link set "v-$name" master br0 up
    ip -n "$ns" addr add "$SUBNET.$octet/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
