"""Several processes: every event reaches a user's sockets whichever process each landed on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from server.localsvc import free_port
from tests.conftest import TEST_SECRET, _db_url_with
from tests.helpers import next_frame

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _env(services, tmp_path: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    env.update({
        "CHATTER_DATABASE__URL": _db_url_with(services.db_url, services.database),
        "CHATTER_REDIS__URL": services.redis_url,
        "CHATTER_REDIS__PREFIX": prefix,
        "CHATTER_BUS__BACKEND": "redis",
        "CHATTER_AUTH__SECRET": TEST_SECRET,
        "CHATTER_RATELIMIT__ENABLED": "false",
        "CHATTER_AUTH__BCRYPT_ROUNDS": "4",
        "CHATTER_MEDIA__DIR": str(tmp_path / "media"),
        "CHATTER_MAIL__OUTBOX_DIR": str(tmp_path / "outbox"),
        "CHATTER_LOG__LEVEL": "WARNING",
    })
    return env


class Server:
    def __init__(self, env: dict[str, str], tmp_path: Path, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "server", "--no-local-services", "run", "--port", str(self.port)]
        if workers > 1:
            argv += ["--workers", str(workers)]
        self.log = open(tmp_path / f"server-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)  # our own process group (gunicorn master and workers)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def start_servers(services, tmp_path):
    started: list[Server] = []
    prefix = f"test:{uuid.uuid4().hex[:12]}:"

    def start(count: int, workers: int = 1) -> list[Server]:
        servers = [Server(_env(services, tmp_path, prefix), tmp_path, workers) for _ in range(count)]
        started.extend(servers)
        for s in servers:
            s.wait_ready()
        return servers

    yield start
    for s in started:
        s.stop()


async def _register(session, url: str) -> dict:
    name = f"u{uuid.uuid4().hex[:10]}"
    async with session.post(url + "/api/v1/auth/register",
                            json={"username": name, "email": f"{name}@example.com",
                                  "password": "correct horse battery"}) as resp:
        assert resp.status == 201, await resp.text()
        body = await resp.json()
    return {"id": body["user"]["id"], "headers": {"Authorization": f"Bearer {body['access_token']}"}}


async def _socket(session, url: str, user: dict):
    ws = await session.ws_connect(url + "/api/v1/ws", headers=user["headers"])
    assert (await next_frame(ws, wait=10))["type"] == "hello"
    return ws


async def test_two_processes_deliver_to_sockets_on_either(start_servers):
    a, b = await asyncio.to_thread(start_servers, 2)
    async with aiohttp.ClientSession() as session:
        alice, bob = await _register(session, a.url), await _register(session, b.url)
        bob_on_a = await _socket(session, a.url, bob)
        bob_on_b = await _socket(session, b.url, bob)
        alice_on_a = await _socket(session, a.url, alice)
        await asyncio.sleep(0.3)  # SUBSCRIBEs reach Redis

        async with session.post(b.url + "/api/v1/messages", headers=alice["headers"],
                                json={"recipient_id": bob["id"], "content": "across processes"}) as resp:
            assert resp.status == 201
            msg = await resp.json()
        for ws in (bob_on_a, bob_on_b, alice_on_a):
            frame = await next_frame(ws, "message.created", wait=10)
            assert frame["data"]["id"] == msg["id"]
        seqs = [(await next_frame(ws, "notification.created", wait=10))["seq"] for ws in (bob_on_a, bob_on_b)]
        assert seqs[0] == seqs[1]

        # a frame sent on one process reaches the peer on the other
        await bob_on_b.send_json({"type": "message.send",
                                  "data": {"to": alice["id"], "content": "back", "client_id": "x1"}})
        ack = await next_frame(bob_on_b, "message.ack", wait=10)
        got = await next_frame(alice_on_a, "message.created", wait=10)
        assert got["data"] == ack["data"]["message"]
        for ws in (bob_on_a, bob_on_b, alice_on_a):
            await ws.close()


async def test_gunicorn_with_two_workers_delivers_to_every_socket(start_servers):
    (server,) = await asyncio.to_thread(start_servers, 1, 2)
    async with aiohttp.ClientSession() as session:
        alice, bob = await _register(session, server.url), await _register(session, server.url)
        sockets = []
        for _ in range(6):  # new connections, spread over the workers by the kernel
            async with aiohttp.ClientSession() as probe:
                await probe.get(server.url + "/healthz")
            sockets.append(await _socket(session, server.url, bob))
        await asyncio.sleep(0.3)
        for i in range(3):
            async with session.post(server.url + "/api/v1/messages", headers=alice["headers"],
                                    json={"recipient_id": bob["id"], "content": f"m{i}"}) as resp:
                assert resp.status == 201
        for ws in sockets:
            got = [(await next_frame(ws, "message.created", wait=10))["data"]["content"] for _ in range(3)]
            assert got == ["m0", "m1", "m2"]
            await ws.close()
