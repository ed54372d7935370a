# Sourced by tools/fuzz.sh and tools/conduit-newman.sh: a live server started the way `make run`
# starts it, on a free port, with an empty database of its own. Expects PY (the venv's python),
# ROOT (the checkout) and WORK (a scratch directory); NAME prefixes the messages.

# fresh_database DB_NAME: drop DB_NAME and export CHATTER_DATABASE__URL naming it (the server
# creates and migrates it). The configured MariaDB when reachable, else the private one `make
# run` uses (server/localsvc.py).
fresh_database() {
  CHATTER_DATABASE__URL=$("$PY" - "$1" <<'EOF'
import sys
from urllib.parse import urlsplit

import pymysql

from server.config import ROOT, load_config
from server.localsvc import ensure_services

config = load_config()
configured = urlsplit(config.database.url)._replace(path="/" + sys.argv[1]).geturl()
effective, _, _ = ensure_services(configured, config.redis.url, ROOT / "var")
u = urlsplit(effective)
conn = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                       password=u.password or "")
with conn.cursor() as cur:
    cur.execute(f"DROP DATABASE IF EXISTS `{sys.argv[1]}`")
conn.close()
print(configured)
EOF
  )
  export CHATTER_DATABASE__URL
}

# start_server: `python -m server run` on PORT (chosen here when unset), log in $WORK/server.log,
# stopped on exit; returns once /readyz answers (exits 1 when it never does). Sets PORT, BASE, SERVER.
start_server() {
  PORT=${PORT:-$("$PY" -c 'from server.localsvc import free_port; print(free_port())')}
  BASE="http://127.0.0.1:$PORT"
  "$PY" -m server run --port "$PORT" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  trap stop_server EXIT
  for _ in $(seq 1 120); do
    _ready 1 && return 0
    if ! kill -0 "$SERVER" 2>/dev/null; then
      echo "$NAME: the server exited while starting:" >&2; tail -n 40 "$WORK/server.log" >&2; exit 1
    fi
    sleep 0.5
  done
  _ready 2 || { echo "$NAME: the server never became ready:" >&2; tail -n 40 "$WORK/server.log" >&2; exit 1; }
}

_ready() {
  "$PY" -c "import urllib.request; urllib.request.urlopen('$BASE/readyz', timeout=$1)" 2>/dev/null
}

stop_server() {
  if kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
}
