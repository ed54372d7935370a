"""make cluster-test: Chatter on several hosts, in network namespaces, with failures on purpose.

    python -m tests.cluster.run [--pairs 200] [--rate 60] [--http-users 8] [--phase 12]   (as root)

Hosts (tools/cluster/netns.sh): db1 MariaDB primary, db2 GTID replica; r1 Redis master, r2
replica, r1-r3 sentinels; app1-app3 `python -m server run --workers 2`; lb HAProxy; cli this
driver. Phases, each with clients running throughout:

  steady      chat pairs + HTTP readers/writers
  kill-app    kill -9 of app2 (then it is started again): sockets resume through HAProxy
  redis       kill -9 of the Redis master: the sentinels promote the replica
  db-replica  the MariaDB replica stops (reads move to the primary), then starts (they return)
  ryw         the replica is delayed (MASTER_DELAY): a user who posts reads the post at once

Asserted: 0 messages lost, 0 duplicated, no seq gap or repeat; HTTP errors in kill-app only for
requests in flight on the killed host; none (5xx) while the replica is away; delivery resumes
within 10 s of the Redis kill; read-your-writes every time. Prints a table; the figures are also
written to var/cluster/last-result.json. Bounded: fixed counts and phase lengths, one
timeout for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter

import aiohttp
import redis as syncredis

from server.config import ROOT
from tests.cluster import load
from tests.cluster.hosts import (
    APP_PORT,
    APPS,
    LB_PORT,
    SENTINEL_PORT,
    SENTINELS,
    SERVICE,
    Cluster,
    ip,
)
from tests.cluster.load import PHASES, ChatUser, HttpUser, Request

RESULT = ROOT / "var" / "cluster" / "last-result.json"


def outside(argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("the cluster test needs root (network namespaces)", file=sys.stderr)
        return 2
    # Namespace names of this run only, so two runs on one machine (two checkouts) never meet.
    prefix = os.environ.get("CLUSTER_NETNS_PREFIX") or f"chc{os.getpid()}"
    env = {**os.environ, "CLUSTER_NETNS_PREFIX": prefix}
    netns = ["bash", str(ROOT / "tools" / "cluster" / "netns.sh")]
    subprocess.run([*netns, "up"], check=True, env=env)
    try:
        return subprocess.call(["ip", "netns", "exec", f"{prefix}-cli", sys.executable, "-m", "tests.cluster.run",
                                "--inside", *argv], cwd=ROOT, env=env)
    finally:
        subprocess.run([*netns, "down"], check=False, env=env)


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dir = ROOT / "var" / "cluster" / "run"
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)
        self.dir.mkdir(parents=True)
        self.cluster = Cluster(self.dir, workers=args.workers)
        self.base = f"http://{ip('lb')}:{LB_PORT}"
        self.chat: list[ChatUser] = []
        self.http: list[HttpUser] = []
        self.requests: list[Request] = []
        self.events: dict[str, float] = {}
        self.figures: dict[str, object] = {}
        self.failures: list[str] = []
        self.t0 = time.monotonic()

    def note(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            self.note(f"FAILED: {what}")

    # --- setup ----------------------------------------------------------------------------

    async def start(self) -> None:
        c = self.cluster
        self.note("starting MariaDB primary + replica, Redis master + replica + 3 sentinels")
        await asyncio.to_thread(c.start_databases)
        await asyncio.to_thread(c.start_redis)
        await asyncio.to_thread(c.migrate)
        self.note(f"starting {len(APPS)} app hosts ({self.args.workers} workers each) and HAProxy")
        await asyncio.gather(*(asyncio.to_thread(c.start_app, h) for h in APPS))
        await asyncio.to_thread(c.start_haproxy)
        await self.wait_healthy(APPS)

    async def wait_healthy(self, hosts: list[str], within: float = 90) -> None:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as s:
            for host in hosts:
                while True:
                    try:
                        async with s.get(f"http://{ip(host)}:{APP_PORT}/readyz",
                                         timeout=aiohttp.ClientTimeout(total=2)) as r:
                            if r.status == 200:
                                break
                    except (TimeoutError, aiohttp.ClientError):
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{host} is not ready")
                    await asyncio.sleep(0.3)
        await asyncio.sleep(2.5)  # HAProxy: rise 2 x inter 1 s

    async def users(self, session: aiohttp.ClientSession) -> None:
        a = self.args
        n_chat, n_http = 2 * a.pairs, a.http_users + 1
        self.note(f"registering {n_chat} chat users and {n_http} HTTP users")
        sem = asyncio.Semaphore(16)
        tag = os.urandom(3).hex()

        async def one(name: str) -> tuple[int, str]:
            async with sem:
                return await load.register(session, self.base, name)

        made = await asyncio.gather(*(one(f"c{tag}{i}") for i in range(n_chat)),
                                    *(one(f"h{tag}{i}") for i in range(n_http)))
        ws_url = f"ws://{ip('lb')}:{LB_PORT}/api/v1/ws"
        self.chat = [ChatUser(uid, token, ws_url) for uid, token in made[:n_chat]]
        for i in range(0, n_chat, 2):
            self.chat[i].peer, self.chat[i + 1].peer = self.chat[i + 1].user_id, self.chat[i].user_id
        http_users = made[n_chat:]
        others = [uid for uid, _ in made]
        self.http = [HttpUser(uid, token, self.base, others, self.requests) for uid, token in http_users[:-1]]
        self.observer = HttpUser(*http_users[-1], self.base, others, [])

    # --- phases ---------------------------------------------------------------------------

    def begin(self, name: str) -> None:
        PHASES.append(name)
        self.events[f"{name}.start"] = time.monotonic()
        self.note(f"phase {name}")

    async def phase_kill_app(self) -> None:
        self.begin("kill-app")
        victim = "app2"
        on_victim = sum(1 for u in self.chat if u.host == victim and u.ws is not None)
        connects_before = {id(u): u.connects for u in self.chat}
        killed = self.events["kill-app.kill"] = time.monotonic()
        self.cluster.procs[victim].kill()
        self.note(f"killed {victim} (kill -9 of its process group); {on_victim} sockets were on it")
        await asyncio.sleep(self.args.phase)
        moved = [u for u in self.chat if u.hosts and victim in u.hosts and u.connects > connects_before[id(u)]]
        self.figures["kill-app.sockets_on_victim"] = on_victim
        self.figures["kill-app.sockets_resumed"] = len(moved)
        back = [t for u in moved for t in u.reconnect_times[-1:]]
        self.figures["kill-app.reconnect_max_s"] = round(max(back), 2) if back else None
        self.check(len(moved) >= on_victim, f"{len(moved)} of {on_victim} sockets on {victim} came back")
        self.check(all(u.ws is not None and u.host != victim for u in moved),
                   "every socket from the killed host is connected to another host")
        # HTTP: an error only for a request that was in flight when the host died.
        errs = [r for r in self.requests if r.phase == "kill-app" and (r.status is None or r.status >= 500)]
        stray = [r for r in errs if not (r.start <= killed + 0.05 and r.end >= killed)]
        self.figures["kill-app.http_errors"] = len(errs)
        self.figures["kill-app.http_errors_not_in_flight"] = len(stray)
        self.check(not stray, f"{len(stray)} HTTP errors were not in flight at the kill: {stray[:3]}")
        self.note(f"restarting {victim}")
        await asyncio.to_thread(self.cluster.start_app, victim)
        await self.wait_healthy([victim])

    async def phase_redis(self) -> None:
        self.begin("redis")
        master = self.sentinel_master()
        old = "r1" if master == ip("r1") else "r2"
        new = "r2" if old == "r1" else "r1"
        killed = self.events["redis.kill"] = time.monotonic()
        self.cluster.procs[f"redis-{old}"].kill()
        self.note(f"killed the Redis master on {old}")
        promoted = None
        while time.monotonic() - killed < 30:
            if self.sentinel_master() == ip(new):
                promoted = time.monotonic() - killed
                break
            await asyncio.sleep(0.1)
        self.figures["redis.promoted_after_s"] = round(promoted, 2) if promoted is not None else None
        self.check(promoted is not None, "the sentinels promoted the replica")
        await asyncio.sleep(max(0.0, self.args.phase - (time.monotonic() - killed)))
        # Delivery resumes: the first message sent after the kill that reached its peer.
        firsts = [u2.received_at[s.message_id] - killed for u in self.chat for s in u.sent.values()
                  for u2 in [self.peer_of(u)] if s.first_sent >= killed and s.message_id in u2.received_at]
        resumed = min(firsts) if firsts else None
        stalled = [u2.received_at[s.message_id] - killed for u in self.chat for s in u.sent.values()
                   for u2 in [self.peer_of(u)] if s.first_sent < killed + 1 and s.message_id in u2.received_at
                   and u2.received_at[s.message_id] > killed]
        self.figures["redis.delivery_resumed_after_s"] = round(resumed, 2) if resumed is not None else None
        self.figures["redis.all_delayed_delivered_after_s"] = round(max(stalled), 2) if stalled else None
        self.check(resumed is not None and resumed <= 10, f"delivery resumed within 10 s (took {resumed})")
        # Not asserted: requests that needed Redis while there was no master (rate limits, the
        # home-timeline fan-out, ...) answer 503 for those seconds.
        errors = Counter(f"{r.kind}:{r.status or r.error}:{'app' if r.served_by else 'lb'}" for r in self.requests
                         if r.phase == "redis" and (r.status is None or r.status >= 500))
        self.figures["redis.http_errors"] = dict(errors)
        if errors:
            last = max(r.end for r in self.requests if r.phase == "redis" and (r.status is None or r.status >= 500))
            self.figures["redis.http_errors_until_s"] = round(last - killed, 2)
        self.note(f"restarting Redis on {old} as a replica of {new}")
        await asyncio.to_thread(self.cluster.restart_redis, old, new)

    async def phase_db_replica(self) -> None:
        self.begin("db-replica")
        stopped = self.events["db-replica.stop"] = time.monotonic()
        await asyncio.to_thread(self.cluster.procs["db2"].stop)
        self.note("stopped the MariaDB replica")
        await asyncio.sleep(self.args.phase)
        away = [r for r in self.requests if r.start >= stopped and r.phase == "db-replica"]
        errors = [r for r in away if r.status is None or r.status >= 500]
        self.figures["db-replica.requests_while_down"] = len(away)
        self.figures["db-replica.5xx_while_down"] = len(errors)
        self.figures["db-replica.reads_primary_while_down"] = sum(1 for r in away if r.read_from == "primary")
        late_replica = [r for r in away if r.read_from == "replica" and r.start > stopped + 2]
        self.check(not errors, f"{len(errors)} requests failed while the replica was down: {errors[:3]}")
        self.check(not late_replica, f"{len(late_replica)} reads still went to the stopped replica")
        PHASES.append("db-replica-back")
        started = self.events["db-replica.restart"] = time.monotonic()
        await asyncio.to_thread(self.cluster.procs["db2"].start)
        self.note("started the MariaDB replica again")
        back = None
        while time.monotonic() - started < 30:
            seen = [r for r in self.requests if r.start >= started and r.read_from == "replica"]
            if seen:
                back = min(r.end for r in seen) - started
                break
            await asyncio.sleep(0.2)
        self.figures["db-replica.reads_back_after_s"] = round(back, 2) if back is not None else None
        self.check(back is not None, "reads returned to the replica after it restarted")
        errors = [r for r in self.requests if r.phase == "db-replica-back" and (r.status is None or r.status >= 500)]
        self.figures["db-replica.5xx_after_restart"] = len(errors)
        self.check(not errors, f"{len(errors)} requests failed after the replica restarted")

    async def phase_ryw(self, session: aiohttp.ClientSession) -> None:
        self.begin("ryw")
        delay = self.args.replica_delay
        await asyncio.to_thread(self.cluster.set_replica_delay, delay)
        self.note(f"replica delayed by MASTER_DELAY={delay}")
        await asyncio.sleep(3)  # STOP/START SLAVE took it out of rotation for a couple of probes
        seen = total = stale_for_others = 0
        misses = []

        async def writer(user: HttpUser) -> None:
            nonlocal seen, total, stale_for_others
            for i in range(self.args.ryw_rounds):
                status, post = await user.call(session, "ryw-post", "POST", "/api/v1/posts",
                                               {"content": f"ryw {user.user_id} {i}"})
                if status != 201:
                    continue
                total += 1
                _, page = await user.call(session, "ryw-read", "GET", f"/api/v1/users/{user.user_id}/posts?limit=5")
                status2, _ = await user.call(session, "ryw-read", "GET", f"/api/v1/posts/{post['id']}")
                ids = [p["id"] for p in (page or [])] if isinstance(page, list) else \
                    [p["id"] for p in (page or {}).get("items", [])]
                if post["id"] in ids and status2 == 200:
                    seen += 1
                else:
                    misses.append((user.user_id, post["id"], ids[:3], status2))
                other, _ = await self.observer.call(session, "ryw-other", "GET", f"/api/v1/posts/{post['id']}")
                stale_for_others += other == 404
                await asyncio.sleep(0.3)

        await asyncio.gather(*(writer(u) for u in self.http))
        await asyncio.to_thread(self.cluster.set_replica_delay, 0)
        self.figures["ryw.posts"] = total
        self.figures["ryw.seen_by_writer"] = seen
        self.figures["ryw.stale_for_others"] = stale_for_others
        self.check(total > 0 and seen == total, f"read-your-writes: {seen} of {total} ({misses[:3]})")
        self.check(stale_for_others > 0, "the delayed replica served stale reads to others (the delay was real)")

    # --- helpers --------------------------------------------------------------------------

    def sentinel_master(self) -> str | None:
        for host in SENTINELS:
            try:
                with syncredis.Redis(host=ip(host), port=SENTINEL_PORT, socket_timeout=1) as s:
                    addr = s.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
                    if addr:
                        return addr[0].decode() if isinstance(addr[0], bytes) else addr[0]
            except syncredis.RedisError:
                continue
        return None

    def peer_of(self, user: ChatUser) -> ChatUser:
        return self._by_id[user.peer]

    # --- the run --------------------------------------------------------------------------

    async def main(self) -> int:
        a = self.args
        await self.start()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await self.users(session)
            self._by_id = {u.user_id: u for u in self.chat}
            stop_chat, stop_http = asyncio.Event(), asyncio.Event()
            interval = len(self.chat) / a.rate
            tasks = [asyncio.create_task(u.run(session, stop_chat)) for u in self.chat]
            await asyncio.sleep(2)
            tasks += [asyncio.create_task(u.sender(interval, stop_chat)) for u in self.chat]
            tasks += [asyncio.create_task(u.run(session, a.http_interval, stop_http)) for u in self.http]
            self.begin("steady")
            await asyncio.sleep(a.phase)
            await self.phase_kill_app()
            PHASES.append("steady-2")
            await asyncio.sleep(3)
            await self.phase_redis()
            PHASES.append("steady-3")
            await asyncio.sleep(3)
            await self.phase_db_replica()
            await self.phase_ryw(session)
            PHASES.append("drain")
            self.note("stopping the senders; draining")
            stop_http.set()
            sender_tasks = tasks[len(self.chat):len(self.chat) * 2]
            for t in sender_tasks:
                t.cancel()
            deadline = time.monotonic() + a.drain
            while time.monotonic() < deadline:
                for u in self.chat:
                    await u.resend(2.0)
                if self.pending() == 0 and self.undelivered() == 0:
                    break
                await asyncio.sleep(0.5)
            stop_chat.set()
            for u in self.chat:
                if u.ws is not None:
                    await u.ws.close()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.missing = await asyncio.to_thread(self.diagnose) if self.pending() or self.undelivered() else []
        self.report()
        return 1 if self.failures else 0

    def pending(self) -> int:
        return sum(1 for u in self.chat for s in u.sent.values() if s.message_id is None)

    def undelivered(self) -> int:
        return sum(1 for u in self.chat for s in u.sent.values()
                   if s.message_id is not None and self.peer_of(u).received[s.message_id] == 0)

    def diagnose(self) -> list[dict]:
        """Where each lost or unacknowledged message stands: in the recipient's durable stream
        (its seq there) vs the seq the recipient's client reached."""
        out = []
        now = time.monotonic()
        for u in self.chat:
            peer = self.peer_of(u)
            for s in u.sent.values():
                if s.message_id is not None and peer.received[s.message_id]:
                    continue
                item = {"sender": u.user_id, "recipient": peer.user_id, "client_id": s.client_id,
                        "message_id": s.message_id, "phase": s.phase, "tries": s.tries,
                        "sender_host": u.host, "sender_connected": u.ws is not None,
                        "sender_idle_s": round(now - u.last_frame_at, 1),
                        "recipient_last_seq": peer.last_seq, "recipient_host": peer.host,
                        "recipient_connected": peer.ws is not None,
                        "recipient_idle_s": round(now - peer.last_frame_at, 1)}
                try:
                    rows = self.cluster.admin(
                        "db1", ("SELECT id FROM chatter.messages WHERE sender_id = %s AND client_id = %s",
                                (u.user_id, s.client_id)),
                        ("SELECT MAX(seq) AS m FROM chatter.user_events WHERE user_id = %s", (peer.user_id,)))
                    item["stored_ids"] = [r["id"] for r in rows[0]]
                    item["recipient_latest_seq"] = rows[1][0]["m"]
                    if item["stored_ids"]:
                        ev = self.cluster.admin("db1", (
                            "SELECT seq FROM chatter.user_events WHERE user_id = %s AND type = 'message.created' "
                            "AND JSON_VALUE(payload, '$.id') = %s", (peer.user_id, item["stored_ids"][0])))[0]
                        item["event_seq"] = ev[0]["seq"] if ev else None
                except Exception as exc:  # diagnostics only
                    item["db"] = repr(exc)
                out.append(item)
        return out

    def report(self) -> None:
        rows: dict[str, Counter] = {}
        for u in self.chat:
            peer = self.peer_of(u)
            for s in u.sent.values():
                c = rows.setdefault(s.phase, Counter())
                c["sent"] += 1
                if s.message_id is None:
                    c["unacked"] += 1
                    continue
                got = peer.received[s.message_id]
                c["delivered"] += got > 0
                c["lost"] += got == 0
                c["duplicated"] += max(0, got - 1)
        http: dict[str, Counter] = {}
        for r in self.requests:
            c = http.setdefault(r.phase, Counter())
            c["requests"] += 1
            c["5xx/conn"] += r.status is None or r.status >= 500
            c["4xx"] += r.status is not None and 400 <= r.status < 500
            c[f"read:{r.read_from}"] += r.read_from is not None
        totals = Counter()
        for c in rows.values():
            totals.update(c)
        gaps = sum(u.seq_gaps for u in self.chat)
        repeats = sum(u.seq_repeats for u in self.chat)
        resets = sum(u.resets for u in self.chat)
        self.check(totals["lost"] == 0, f"{totals['lost']} messages lost")
        self.check(totals["duplicated"] == 0, f"{totals['duplicated']} messages duplicated")
        self.check(totals["unacked"] == 0, f"{totals['unacked']} messages never acknowledged")
        self.check(gaps == 0 and repeats == 0, f"stream seq gaps {gaps}, repeats {repeats}")
        self.check(resets == 0, f"{resets} resets (replay log exceeded)")
        order = ["steady", "kill-app", "steady-2", "redis", "steady-3", "db-replica", "db-replica-back", "ryw",
                 "drain"]
        print()
        print(f"Cluster test: {len(APPS)} app hosts x {self.args.workers} workers behind HAProxy, "
              f"{self.args.pairs} chat pairs ({self.args.rate:g} msg/s), {len(self.http)} HTTP users")
        print(f"{'phase':<16}{'sent':>7}{'deliv':>7}{'lost':>6}{'dup':>5}{'unack':>7}"
              f"{'http':>7}{'5xx/conn':>10}{'4xx':>6}{'replica':>9}{'primary':>9}")
        for name in order:
            c, h = rows.get(name, Counter()), http.get(name, Counter())
            if not c and not h:
                continue
            print(f"{name:<16}{c['sent']:>7}{c['delivered']:>7}{c['lost']:>6}{c['duplicated']:>5}{c['unacked']:>7}"
                  f"{h['requests']:>7}{h['5xx/conn']:>10}{h['4xx']:>6}{h['read:replica']:>9}{h['read:primary']:>9}")
        print(f"{'total':<16}{totals['sent']:>7}{totals['delivered']:>7}{totals['lost']:>6}"
              f"{totals['duplicated']:>5}{totals['unacked']:>7}")
        self.figures.update({"messages": dict(totals), "seq_gaps": gaps, "seq_repeats": repeats, "resets": resets,
                             "socket_connects": sum(u.connects for u in self.chat),
                             "duration_s": round(time.monotonic() - self.t0, 1)})
        for key, value in self.figures.items():
            if key != "messages":
                print(f"  {key}: {value}")
        print("RESULT:", "FAILED: " + "; ".join(self.failures) if self.failures else "all checks passed")
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps({"args": vars(self.args), "figures": self.figures,
                                      "phases": {k: dict(v) for k, v in rows.items()},
                                      "http": {k: dict(v) for k, v in http.items()},
                                      "failures": self.failures, "missing": self.missing[:200]}, indent=2))
        if self.missing:
            print(f"  {len(self.missing)} messages missing; the first: {self.missing[:2]} (all in {RESULT})")


async def inside(args: argparse.Namespace) -> int:
    run = Run(args)
    try:
        return await asyncio.wait_for(run.main(), args.timeout)
    except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"cluster test aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await asyncio.to_thread(run.cluster.stop_all)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--pairs", type=int, default=int(os.environ.get("CLUSTER_PAIRS", 200)))
    p.add_argument("--rate", type=float, default=float(os.environ.get("CLUSTER_RATE", 60)),
                   help="chat messages per second, all users together")
    p.add_argument("--http-users", type=int, default=8)
    p.add_argument("--http-interval", type=float, default=0.4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--phase", type=float, default=12, help="seconds per phase")
    p.add_argument("--replica-delay", type=int, default=2)
    p.add_argument("--ryw-rounds", type=int, default=5)
    p.add_argument("--drain", type=float, default=30, help="seconds to wait for the last deliveries")
    p.add_argument("--timeout", type=float, default=480, help="the whole run, seconds")
    args = p.parse_args(argv)
    if not args.inside:
        return outside([a for a in argv if a != "--inside"])
    return asyncio.run(inside(args))


if __name__ == "__main__":
    sys.exit(main())
