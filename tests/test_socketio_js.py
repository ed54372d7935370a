"""The real socket.io-client (npm, pinned in tests/js/package-lock.json) against two worker processes.

tests/js/sio_chat.mjs: Alice on worker A and Bob on worker B (WebSocket transport) chat both ways
with acknowledgements, get typing and follow/like notifications made on the other worker, Bob
drops off and resumes on the other worker with auth.last_seq (no gap, no duplicate), then
long-polling and a polling→WebSocket upgrade on one worker each.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.test_multiworker import _register, start_servers  # noqa: F401 - start_servers is a fixture

pytestmark = pytest.mark.slow
JS = Path(__file__).resolve().parent / "js"


def npm_ci() -> str:
    """node_modules as package-lock.json pins it: `npm ci` once, again only when the lock changes."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the socket.io-client tests (Debian: apt-get install nodejs npm)")
    lock = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    stamp = JS / "node_modules" / ".chatter-lock-sha256"
    if not stamp.exists() or stamp.read_text() != lock:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS,
                                capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            pytest.fail(f"npm ci in {JS} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        stamp.write_text(lock)
    return node


async def test_socketio_client_across_two_workers(start_servers):  # noqa: F811 - the imported fixture
    node = await asyncio.to_thread(npm_ci)
    a, b = await asyncio.to_thread(start_servers, 2)
    async with aiohttp.ClientSession() as session:
        alice, bob = await _register(session, a.url), await _register(session, b.url)
    token = {u["id"]: u["headers"]["Authorization"].split()[1] for u in (alice, bob)}
    config = {"urls": [a.url, b.url],
              "alice": {"id": alice["id"], "token": token[alice["id"]]},
              "bob": {"id": bob["id"], "token": token[bob["id"]]}}
    proc = await asyncio.create_subprocess_exec(
        node, str(JS / "sio_chat.mjs"), cwd=JS, env={**os.environ, "SIO_CONFIG": json.dumps(config)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"sio_chat.mjs failed ({proc.returncode}):\n{err.decode()[-4000:]}"
    summary = json.loads(out.decode().strip().splitlines()[-1])
    print("socket.io-client summary:", summary)

    assert summary["acks"] == 8 and summary["errors_acked"] == 1
    assert summary["replayed"] == 7
    assert summary["transports"] == ["polling", "websocket"]
    seqs = summary["bob_seqs"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # one stream, no gap, no duplicate
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{b.url}/api/v1/conversations/{bob['id']}/messages?limit=50",
                               headers=alice["headers"]) as resp:
            assert resp.status == 200
            messages = (await resp.json())["items"]
    assert len(messages) == 8  # every acknowledged send, stored once
    for server in (a, b):
        log = await asyncio.to_thread(Path(server.log.name).read_text, errors="replace")
        assert "Traceback" not in log, log[-3000:]
