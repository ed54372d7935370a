#!/usr/bin/env bash
# Run the public RealWorld "Conduit" Postman collection with newman against a live server,
# started the way `make run` starts it, on a free port and a database of its own.
# Exits non-zero when any request or assertion fails.
#
#   tools/conduit-newman.sh                 (collection from tests/realworld)
#   CONDUIT_DIR=/path/to/realworld tools/conduit-newman.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
CONDUIT_DIR=${CONDUIT_DIR:-"$ROOT/tests/realworld"}
COLLECTION="$CONDUIT_DIR/Conduit.postman_collection.json"
WORK="$ROOT/var/conduit-newman"
NEWMAN="$ROOT/var/newman/node_modules/.bin/newman"
DB_NAME=chatter_conduit_ci

[ -f "$COLLECTION" ] || { echo "conduit-newman: no collection at $COLLECTION" >&2; exit 2; }
[ -x "$PY" ] || { echo "conduit-newman: run 'make install' first" >&2; exit 2; }
command -v npm >/dev/null || { echo "conduit-newman: npm (Node.js) is needed to install newman" >&2; exit 2; }
mkdir -p "$WORK"

# newman, installed once into var/newman (kept between runs).
if [ ! -x "$NEWMAN" ]; then
  echo "conduit-newman: installing newman@6 into var/newman"
  npm install --prefix "$ROOT/var/newman" --no-audit --no-fund --loglevel=error newman@6 >"$WORK/npm.log" 2>&1 \
    || { cat "$WORK/npm.log" >&2; exit 2; }
fi

# Start from an empty database: the collection expects, e.g., exactly one favorite per article.
# The configured MariaDB when reachable, else the private one `make run` uses (server/localsvc.py).
NAME=conduit-newman
. "$ROOT/tools/live-server.sh"
fresh_database "$DB_NAME"

export CHATTER_RATELIMIT__ENABLED=false
# Keys of their own, so a `make run` server sharing this Redis never sees this run's sessions.
export CHATTER_REDIS__PREFIX="conduit-ci-$$:"
start_server

U="u$(date +%s)"
status=0
"$NEWMAN" run "$COLLECTION" --delay-request 10 --color off \
  --global-var "APIURL=http://127.0.0.1:$PORT/api" \
  --global-var "USERNAME=$U" --global-var "EMAIL=$U@mail.com" --global-var "PASSWORD=password" \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "conduit-newman: FAILED (newman exit $status); server log: $WORK/server.log" >&2
  tail -n 40 "$WORK/server.log" >&2
  exit "$status"
fi
echo "conduit-newman: every assertion passed"
