#!/usr/bin/env bash
# What the cluster test needs beyond the project's own packages: iproute2 (ip netns), HAProxy,
# MariaDB and Redis (redis-server runs the sentinels too, with --sentinel). Debian/Ubuntu only.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb-install-db >/dev/null || need+=(mariadb-server)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "error: the cluster test needs root and apt-get to install: ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
