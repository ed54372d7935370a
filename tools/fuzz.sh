#!/usr/bin/env bash
# Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis), against a
# live server started the way `make run` starts it: a free port, a database of its own, rate
# limits off, authenticated with a real token. Every operation, every phase (examples, coverage,
# fuzzing, stateful from the document's links) and every check (`--checks all`): it fails on any
# 5xx, undocumented status or content type, response that breaks its schema, valid request
# refused or invalid request accepted.
#
#   tools/fuzz.sh                                  (make fuzz; about 3 minutes)
#   FUZZ_MAX_TIME=60 FUZZ_MAX_EXAMPLES=5 tools/fuzz.sh   (a quicker look)
#   FUZZ_SEED=123 tools/fuzz.sh                    (repeat a run; the seed is printed)
#   tools/fuzz.sh --include-path-regex '^/api/articles'  (extra arguments go to schemathesis)
#
# Settings: tools/fuzz/schemathesis.toml. Hooks: tools/fuzz/hooks.py, which also holds the
# accepted refusals of valid requests (each with its reason). Exclusions, each for a check that
# cannot apply:
#   - positive_data_acceptance, for the refusals listed in hooks.py ACCEPTED only: they depend on
#     stored data (ids of other users' or attached media, one's own id, taken names, a mailed
#     reset token, a reused Idempotency-Key, a file's bytes) or on rules JSON Schema cannot state
#     (password length in UTF-8 bytes, email-validator's rules, ?before with ?after, the WebSocket
#     handshake). Any other refusal still fails.
#   - ensure_resource_availability ("created resource not found"), when its premise fails: an
#     article asked for by a slug that a new title replaced, or whose post DELETE /api/v1/posts/{id}
#     removed (an id it infers from the slug); a create answered by an Idempotency-Key replay,
#     which repeats the first answer although that resource was deleted since (hooks.py).
#   - the operations of /socket.io/: Socket.IO's own protocol (Engine.IO packets in plain text,
#     handshake by query parameters) on an HTTP path; documented so the document lists every route,
#     tested by tests/test_socketio*.py with real Socket.IO clients (--exclude-path).
#   - use_after_free, when it takes a path segment and its plural for one resource: DELETE
#     .../posts/{id}/like (a toggle) then GET .../posts/{id}/likes (who liked it) (hooks.py).
# Reports (JUnit, NDJSON) and the server log: var/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
ST="$ROOT/.venv/bin/schemathesis"
WORK="$ROOT/var/fuzz"
DB_NAME=chatter_fuzz_ci
MAX_TIME=${FUZZ_MAX_TIME:-150}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-25}

[ -x "$PY" ] || { echo "fuzz: run 'make install' first" >&2; exit 2; }
[ -x "$ST" ] || { echo "fuzz: schemathesis is missing: run 'make install'" >&2; exit 2; }
rm -rf "$WORK"
mkdir -p "$WORK"

# An empty database of its own: the configured MariaDB when reachable, else the private one
# `make run` uses (server/localsvc.py).
NAME=fuzz
. "$ROOT/tools/live-server.sh"
fresh_database "$DB_NAME"
export CHATTER_RATELIMIT__ENABLED=false
# Keys of their own, so a `make run` server sharing this Redis never sees this run's sessions.
export CHATTER_REDIS__PREFIX="fuzz-ci-$$:"
export CHATTER_AUTH__SECRET="fuzz-$("$PY" -c 'import secrets; print(secrets.token_hex(24))')"
export CHATTER_AUTH__BCRYPT_ROUNDS=4
export CHATTER_MEDIA__DIR="$WORK/media" CHATTER_MAIL__OUTBOX_DIR="$WORK/outbox"
start_server

# The fuzzing account (its token serves both APIs: `Bearer` and Conduit's `Token`) and a spare
# one whose fresh tokens the logout and end-session operations spend (hooks.py).
export CHATTER_FUZZ_URL="$BASE"
export CHATTER_FUZZ_SPARE_LOGIN=fuzz_spare CHATTER_FUZZ_SPARE_PASSWORD="spare-$$-password"
CHATTER_FUZZ_TOKEN=$("$PY" - <<'EOF'
import json
import os
import urllib.request


def register(username, password):
    body = json.dumps({"username": username, "email": f"{username}@fuzz.example.com",
                       "password": password}).encode()
    req = urllib.request.Request(os.environ["CHATTER_FUZZ_URL"] + "/api/v1/auth/register", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)["access_token"]


register(os.environ["CHATTER_FUZZ_SPARE_LOGIN"], os.environ["CHATTER_FUZZ_SPARE_PASSWORD"])
print(register("fuzzer", "fuzzer-password"))
EOF
)
export CHATTER_FUZZ_TOKEN CHATTER_FUZZ_CONDUIT_TOKEN="$CHATTER_FUZZ_TOKEN"
export CHATTER_FUZZ_DROPPED="$WORK/dropped.json"

status=0
"$ST" --config-file tools/fuzz/schemathesis.toml run "$BASE/api/openapi.json" \
  --checks all --exclude-path /socket.io/ --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
  --report junit,ndjson --report-dir "$WORK" --no-color "$@" 2>&1 | tee "$WORK/schemathesis.txt" \
  || status=$?

if [ -s "$WORK/dropped.json" ]; then
  echo "fuzz: failures dropped as not applicable (tools/fuzz/hooks.py), by reason:"
  "$PY" -c 'import json, sys
for reason, n in json.load(open(sys.argv[1])).items(): print(f"  {n:6d}  {reason}")' "$WORK/dropped.json"
fi

# The server's own count of what it answered (Prometheus metrics), and any traceback it logged.
"$PY" - "$BASE" "$WORK/server.log" "$WORK/schemathesis.txt" <<'EOF' || status=1
import json
import re
import sys
import urllib.request

base, log, report = sys.argv[1], sys.argv[2], sys.argv[3]
with urllib.request.urlopen(base + "/api/openapi.json", timeout=10) as resp:
    spec = json.load(resp)
operations = sum(len(ops) for ops in spec["paths"].values())
summary = open(report, errors="replace").read()
tested = re.search(r"^\s*Tested: (\d+)", summary, re.M)
cases = re.search(r"^\s*(\d+) generated", summary, re.M)
with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
    metrics = resp.read().decode()
by_status: dict[str, float] = {}
for m in re.finditer(r'^chatter_request_seconds_count\{(.*)\} ([0-9.e+]+)$', metrics, re.M):
    status = re.search(r'status="(\d+)"', m.group(1)).group(1)  # (a route label holds braces)
    by_status[status] = by_status.get(status, 0) + float(m.group(2))
requests = int(sum(by_status.values()))
errors = int(sum(n for s, n in by_status.items() if s.startswith("5") and s != "503"))
unavailable = int(by_status.get("503", 0))


def logged_error(line: str) -> bool:
    """An ERROR record, except aiohttp's parser refusing a malformed request (answered 400)."""
    try:
        record = json.loads(line)
    except ValueError:
        return "Traceback" in line
    if record.get("level") not in ("ERROR", "CRITICAL"):
        return False
    return not (record.get("logger") == "aiohttp.server" and "aiohttp.http_exceptions." in record.get("exc", ""))


tracebacks = sum(1 for line in open(log, errors="replace") if logged_error(line))
print(f"fuzz: {operations} operations in the document, {tested.group(1) if tested else '?'} tested "
      f"({cases.group(1) if cases else '?'} test cases); the server answered "
      f"{requests} requests, {errors} server errors (5xx but 503), "
      f"{unavailable} 503, {tracebacks} errors logged; statuses: "
      + ", ".join(f"{s}: {int(n)}" for s, n in sorted(by_status.items())))
sys.exit(1 if errors or unavailable or tracebacks else 0)
EOF
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED; reports and the server log are in $WORK" >&2
  exit "$status"
fi
echo "fuzz: passed"
