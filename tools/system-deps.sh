#!/usr/bin/env bash
# Install mariadb-server / redis-server when the configured services are unreachable and the
# binaries to start private ones are missing. Only Debian/Ubuntu (apt-get) is automated.
# --browser (make test): also Debian's chromium, which the browser tests drive with Playwright
# (Playwright's own browser download is not used), unless one is there already.
set -euo pipefail

browser=0
[ "${1:-}" = "--browser" ] && browser=1

db_url=${CHATTER_DATABASE__URL:-mysql://root:@127.0.0.1:3306/chatter}
redis_url=${CHATTER_REDIS__URL:-redis://127.0.0.1:6379/0}

hostport() {  # scheme://user:pw@host:port/x -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "$host $port"
}
up() { timeout 1 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

need=()
read -r h p < <(hostport "$db_url" 3306)
if ! up "$h" "$p" && ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
  need+=(mariadb-server)
fi
read -r h p < <(hostport "$redis_url" 6379)
if ! up "$h" "$p" && ! command -v redis-server >/dev/null; then
  need+=(redis-server)
fi
if [ "$browser" = 1 ] && [ ! -x "${CHATTER_TEST_CHROMIUM:-/usr/bin/chromium}" ] && ! command -v chromium >/dev/null; then
  need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing ${need[*]} (not found on this machine)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
else
  echo "error: missing here and cannot be installed automatically: install ${need[*]}" >&2
  exit 1
fi
