"""WebSocket scenarios, driven by an aiohttp client of ours (wrk cannot speak WebSocket).

- ws_hold: open N sockets, report server memory per socket (VmRSS of its processes).
- ws_chat: pairs of users chatting at a fixed total rate; latency from `message.send` to the
  recipient's `message.created` (end to end), ack latency, lost messages, rows stored in MySQL.
- ws_fanout: one actor follows many connected users over REST; latency from the request to each
  user's `notification.created`.

Every wait is bounded; a server that answers 404 (no WebSocket route yet) yields errors, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import orjson

CONNECT_TIMEOUT = 10.0
WS_PATH = "/api/v1/ws"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    s = sorted(samples_ms)

    def p(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 3)

    return {"min": round(s[0], 3), "mean": round(sum(s) / len(s), 3), "p50": p(0.50), "p90": p(0.90),
            "p99": p(0.99), "p999": p(0.999), "max": round(s[-1], 3)}


@dataclass
class Errors:
    counts: Counter = field(default_factory=Counter)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def _open(session: aiohttp.ClientSession, base: str, token: str, errors: Errors,
                last_seq: int | None = None, hello: dict | None = None) -> aiohttp.ClientWebSocketResponse | None:
    """Connect (resuming after last_seq when given) and wait for the `hello` frame, whose data is
    copied into `hello`; None (and an error counted) on any failure."""
    path = WS_PATH if last_seq is None else f"{WS_PATH}?last_seq={last_seq}"
    try:
        ws = await asyncio.wait_for(
            session.ws_connect(base + path, headers={"Authorization": f"Bearer {token}"},
                               heartbeat=None, autoping=True, max_msg_size=1 << 20), CONNECT_TIMEOUT)
    except aiohttp.WSServerHandshakeError as exc:
        errors.add(f"handshake_{exc.status}")
        return None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        errors.add(type(exc).__name__)
        return None
    try:
        msg = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
        first = msg.json() if msg.type == aiohttp.WSMsgType.TEXT else {}
        if first.get("type") != "hello":
            errors.add(f"no_hello_first_{first.get('type') or msg.type.name.lower()}")
        elif hello is not None:
            hello.update(first.get("data") or {})
    except (TimeoutError, ValueError, aiohttp.ClientError):
        errors.add("no_hello")
    return ws


async def _open_many(session, base: str, tokens: list[str], errors: Errors, concurrency: int = 100,
                     deadline: float | None = None) -> list:
    sem = asyncio.Semaphore(concurrency)

    async def one(tok: str):
        async with sem:
            if deadline is not None and time.monotonic() > deadline:
                errors.add("open_deadline")
                return None
            return await _open(session, base, tok, errors)

    return list(await asyncio.gather(*(one(t) for t in tokens)))  # aligned with tokens; None = failed


async def _close_all(sockets: list) -> None:
    async def close(ws):
        with contextlib.suppress(Exception):
            await ws.close()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(close(ws) for ws in sockets)), 10.0)


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False),
                                 timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT))


async def hold(base: str, tokens: list[str], sockets: int, hold_s: float,
               server_rss: Callable[[], int]) -> dict:
    """Open `sockets` sockets (tokens reused round-robin), hold them, close them; server KiB per socket."""
    errors = Errors()
    wanted = [tokens[i % len(tokens)] for i in range(sockets)] if tokens else []
    if not wanted:
        errors.add("no_tokens")
    async with _session() as session:
        await asyncio.sleep(0.5)
        before = server_rss()
        t0 = time.monotonic()
        open_ = [ws for ws in await _open_many(session, base, wanted, errors, deadline=t0 + 120) if ws]
        open_s = time.monotonic() - t0
        await asyncio.sleep(min(hold_s, 20.0))  # below the server's 30 s heartbeat: no reader needed
        during = server_rss()
        await _close_all(open_)
    await asyncio.sleep(2.0)
    after = server_rss()
    per = (during - before) / len(open_) if open_ else None
    return {
        "rps": round(len(open_) / open_s, 1) if open_ else 0.0,
        "requests": len(open_),
        "latency_ms": {},
        "errors": dict(errors.counts), "error_total": errors.total,
        "extra": {"sockets_wanted": sockets, "sockets_open": len(open_), "open_seconds": round(open_s, 2),
                  "server_rss_kib": {"before": before, "open": during, "after_close": after},
                  "kib_per_socket": round(per, 2) if per is not None else None},
        "notes": (f"{len(open_)}/{sockets} open, {per:.1f} KiB/socket" if per is not None
                  else f"0/{sockets} open"),
    }


Locate = Callable[[list[tuple[str, int]]], dict[tuple[str, int], int] | None]

PLACE_SECONDS = 30.0  # bounds of the placement of chat pairs on workers
PLACE_ROUNDS = 20


def _client_addr(ws) -> tuple[str, int] | None:
    with contextlib.suppress(Exception):
        name = ws.get_extra_info("sockname")
        if name:
            return str(name[0]), int(name[1])
    return None


def _owners(locate: Locate, sockets: list) -> dict[int, int | None] | None:
    """Index in `sockets` → pid of the server worker holding its peer end (None: not found);
    None when the location is unknown altogether."""
    addrs = {i: _client_addr(ws) for i, ws in enumerate(sockets) if ws is not None}
    try:
        found = locate([a for a in addrs.values() if a is not None])
    except Exception:  # a report detail: never crash the run for it
        return None
    if found is None:
        return None
    return {i: found.get(a) if a is not None else None for i, a in addrs.items()}


def cross_pairs(owner: list[int | None], pairs: int) -> list[tuple[int, int]]:
    """Up to `pairs` (sender, recipient) pairs of indexes whose owners are known and differ, as many as
    possible: each pair takes one index from each of the two groups with the most left (which is
    optimal); which one sends alternates, so every worker stores messages, not only one."""
    groups: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        if o is not None:
            groups.setdefault(o, []).append(i)
    out: list[tuple[int, int]] = []
    while len(out) < pairs:
        big = sorted((g for g in groups.values() if g), key=len, reverse=True)[:2]
        if len(big) < 2:
            break
        a, b = big[0].pop(), big[1].pop()
        out.append((a, b) if len(out) % 2 == 0 else (b, a))  # senders (first) spread over the workers too
    return out


def _split_shortfall(owner: list[int | None], pairs: int) -> int:
    """Sockets still needed (on other workers) before `pairs` cross-worker pairs can be formed."""
    counts: dict[int, int] = {}
    for o in owner:
        if o is not None:
            counts[o] = counts.get(o, 0) + 1
    return max(0, 2 * pairs - sum(min(c, pairs) for c in counts.values()))


async def _place(session, base: str, users: list[tuple[int, str]], spare: list[tuple[int, str]],
                 sockets: list, pairs: int, locate: Locate, errors: Errors) -> tuple[list, list, dict]:
    """Reorder (users, sockets) so that each pair (2i, 2i+1) has its ends on different server workers.

    A burst of connections lands mostly on one worker (they share the listening socket), so extra
    sockets are opened one at a time for spare users until the split is possible (bounded in time and
    count), and the surplus is closed. Returns the new users, sockets and a placement report."""
    owners = _owners(locate, sockets)
    if owners is None:
        return users, sockets, {"status": "placement unknown (/proc unreadable)"}
    users, sockets = list(users), list(sockets)
    owner = [owners.get(i) for i in range(len(sockets))]
    initial = _count(owner)
    extra_opened, spare = 0, list(spare)
    deadline = time.monotonic() + PLACE_SECONDS
    for _ in range(PLACE_ROUNDS):
        need = _split_shortfall(owner, pairs)
        if not need or not spare or time.monotonic() > deadline:
            break
        batch, spare = spare[:need], spare[need:]
        opened = await _open_many(session, base, [t for _, t in batch], errors, concurrency=1, deadline=deadline)
        new = [(u, ws) for u, ws in zip(batch, opened, strict=True) if ws is not None]
        extra_opened += len(new)
        found = _owners(locate, [ws for _, ws in new]) or {}
        for j, (u, ws) in enumerate(new):
            users.append(u)
            sockets.append(ws)
            owner.append(found.get(j))
    chosen = cross_pairs(owner, pairs)
    used = {i for pair in chosen for i in pair}
    rest = [i for i in range(len(sockets)) if i not in used]
    while len(chosen) < pairs and len(rest) >= 2:  # not enough across workers: same-worker pairs
        chosen.append((rest.pop(0), rest.pop(0)))
    used = {i for pair in chosen for i in pair}
    surplus = [sockets[i] for i in range(len(sockets)) if i not in used]
    await _close_all(surplus)
    order = [i for pair in chosen for i in pair]
    final_owner = [owner[i] for i in order]
    report = {"status": "placed", "pairs": len(chosen), "pairs_split": _pairs_split(final_owner),
              "sockets_per_worker": _count(final_owner), "senders_per_worker": _count(final_owner[0::2]),
              "initial_sockets_per_worker": initial,
              "extra_opened": extra_opened, "surplus_closed": len(surplus)}
    return [users[i] for i in order], [sockets[i] for i in order], report


def _count(owner: list[int | None]) -> dict[str, int]:
    counts: Counter = Counter("?" if o is None else str(o) for o in owner)
    return dict(counts.most_common())


def _pairs_split(owner: list[int | None]) -> int:
    return sum(1 for k in range(0, len(owner) - 1, 2)
               if owner[k] is not None and owner[k + 1] is not None and owner[k] != owner[k + 1])


def _placement_note(placement: dict) -> str:
    if placement.get("status") != "placed":
        return placement.get("status", "")
    per = "/".join(str(n) for n in placement["sockets_per_worker"].values())
    senders = "/".join(str(n) for n in placement["senders_per_worker"].values())
    note = (f"{placement['pairs_split']}/{placement['pairs']} pairs split across workers "
            f"(sockets per worker {per}, senders {senders}; {placement['extra_opened']} extra opened, "
            f"{placement['surplus_closed']} closed)")
    end = placement.get("pairs_split_at_end")
    if end is not None and end != placement["pairs_split"]:
        note += f", {end} at the end (after reconnects)"
    return note


async def chat(base: str, tokens: list[tuple[int, str]], pairs: int, rate: float, duration: float,
               count_stored: Callable[[str], int] | None = None, drain: float = 15.0,
               workers: int = 1, locate: Locate | None = None,
               server_cpu: Callable[[], float] | None = None) -> dict:
    """`pairs` sender→recipient pairs; `rate` messages/s in total, spread round-robin over the pairs.

    Every socket has its own reader task. A socket the server closes (e.g. "too slow") is counted
    (`dropped_<code>`) and reopened with `?last_seq=` like a real client: messages that come back by
    replay count as delivered, with their full (late) latency, and are also counted as `replayed`.
    After the last send the run waits up to `drain` seconds for stragglers: a saturated server shows
    as latency; only what never arrives is `not_delivered`.

    With `workers` > 1 and `locate` (client (ip, port)s → server worker pid, see
    bench.procs.connection_owners), each pair's sender and recipient are placed on different workers
    (see `_place`); the placement is reported in `extra.placement` and the notes.

    `server_cpu` (CPU seconds used so far by all the server's processes) is read when sending starts
    and when the last message is in (or the drain gives up): `extra.server_cpu_ms_per_msg` is that
    CPU time divided by the messages delivered, the server's whole cost of storing and delivering one.
    """
    errors = Errors()
    users = tokens[: pairs * 2]
    spare = tokens[pairs * 2:]
    pairs = len(users) // 2
    placing = workers > 1 and locate is not None
    placement: dict = ({"status": "1 worker"} if workers <= 1 else
                       {"status": "placement unknown (no locator)"} if locate is None else {})
    if pairs == 0:
        errors.add("no_tokens")
        return {"rps": 0.0, "requests": 0, "latency_ms": {}, "errors": dict(errors.counts),
                "error_total": errors.total, "extra": {}, "notes": "no tokens"}
    run_id = uuid.uuid4().hex[:10]
    sent_at: dict[str, float] = {}
    delivered: dict[str, float] = {}
    acked: dict[str, float] = {}
    replayed: set[str] = set()
    all_in = asyncio.Event()
    stopping = asyncio.Event()
    expected: list[int | None] = [None]  # known once sending is over
    sockets: list = []
    last_seq: list[int | None] = [None] * len(users)

    def on_frame(i: int, me: int, text: str, now: float, replay_upto: int) -> None:
        try:
            frame = orjson.loads(text)
        except ValueError:
            errors.add("bad_frame")
            return
        kind, data = frame.get("type"), frame.get("data") or {}
        seq = frame.get("seq")
        if isinstance(seq, int):
            last_seq[i] = seq
        if kind == "message.created" and data.get("recipient_id") == me:
            cid = data.get("client_id")
            if cid in sent_at and cid not in delivered:
                delivered[cid] = (now - sent_at[cid]) * 1000
                if isinstance(seq, int) and seq <= replay_upto:
                    replayed.add(cid)
                if expected[0] is not None and len(delivered) >= expected[0]:
                    all_in.set()
        elif kind == "message.ack":
            cid = data.get("client_id")
            if cid in sent_at and cid not in acked:
                acked[cid] = (now - sent_at[cid]) * 1000
        elif kind == "reset":
            errors.add("reset")  # older than the server's replay log: those events are gone for this socket
        elif kind == "error":
            errors.add(f"error_{data.get('code', 'frame')}")

    async def reader(session, i: int) -> None:
        me, token = users[i]
        replay_upto = -1  # events up to this seq on the current socket are a replay
        while True:
            ws = sockets[i]
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    on_frame(i, me, msg.data, time.perf_counter(), replay_upto)
            if stopping.is_set():
                return
            errors.add(f"dropped_{ws.close_code}")
            while not stopping.is_set():
                hello: dict = {}
                ws = await _open(session, base, token, errors, last_seq=last_seq[i], hello=hello)
                if ws is not None:
                    sockets[i] = ws
                    replay_upto = int(hello.get("seq") or 0)
                    break
                await asyncio.sleep(0.2)
            else:
                return

    async with _session() as session:
        # One at a time when placing: a burst would land mostly on one worker.
        sockets.extend(await _open_many(session, base, [t for _, t in users], errors,
                                        concurrency=1 if placing else 100,
                                        deadline=time.monotonic() + 60))
        if not all(sockets):
            await _close_all([ws for ws in sockets if ws])
            return {"rps": 0.0, "requests": 0, "latency_ms": {}, "errors": dict(errors.counts),
                    "error_total": errors.total, "extra": {"pairs": pairs},
                    "notes": f"only {sum(1 for ws in sockets if ws)}/{len(users)} sockets opened"}
        if placing:
            t_place = time.monotonic()
            users, placed, placement = await _place(session, base, users, spare, sockets, pairs, locate, errors)
            sockets[:] = placed
            placement["seconds"] = round(time.monotonic() - t_place, 2)
            pairs = len(users) // 2
            if pairs == 0:
                await _close_all(sockets)
                return {"rps": 0.0, "requests": 0, "latency_ms": {}, "errors": dict(errors.counts),
                        "error_total": errors.total, "extra": {"placement": placement}, "notes": "no pairs"}
        readers = [asyncio.create_task(reader(session, i)) for i in range(len(users))]
        interval = 1.0 / max(rate, 0.1)
        total = int(rate * duration)
        cpu0 = server_cpu() if server_cpu is not None else None
        t0 = time.perf_counter()
        for n in range(total):  # fixed schedule: a slow server shows as latency, not as a lower rate
            due = t0 + n * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            i = n % pairs
            sender_ws = sockets[2 * i]
            recipient_id = users[2 * i + 1][0]
            cid = f"b{run_id}-{n}"
            sent_at[cid] = time.perf_counter()
            try:
                await sender_ws.send_str(orjson.dumps({
                    "type": "message.send",
                    "data": {"to": recipient_id, "content": f"bench message {n}", "client_id": cid}}).decode())
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                del sent_at[cid]  # never left this client: not counted as sent
                errors.add("send_failed")
        send_s = time.perf_counter() - t0
        expected[0] = len(sent_at)
        if len(delivered) >= len(sent_at):
            all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), drain)
        elapsed = time.perf_counter() - t0
        cpu_s = server_cpu() - cpu0 if cpu0 is not None else None
        if placing and placement.get("status") == "placed":  # reopened sockets land anywhere
            end = _owners(locate, sockets)
            placement["pairs_split_at_end"] = (
                None if end is None else _pairs_split([end.get(i) for i in range(len(sockets))]))
        stopping.set()
        await _close_all(sockets)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    lost = len(sent_at) - len(delivered)
    if lost:
        errors.add("not_delivered", lost)
    stored = None
    if count_stored is not None:
        try:
            stored = count_stored(f"b{run_id}-%")
        except Exception:  # the check is a report detail; never crash the run for it
            errors.add("store_check_failed")
    late = sum(1 for ms in delivered.values() if ms > 1000)
    cpu_ms = round(cpu_s * 1000 / len(delivered), 3) if cpu_s is not None and delivered else None
    return {
        "rps": round(len(delivered) / max(elapsed, 1e-6), 1),
        "requests": len(sent_at),
        "latency_ms": percentiles(list(delivered.values())),
        "errors": dict(errors.counts), "error_total": errors.total,
        "extra": {"pairs": pairs, "target_rate": rate, "sent": len(sent_at), "delivered": len(delivered),
                  "acked": len(acked), "stored": stored, "replayed": len(replayed), "late_over_1s": late,
                  "send_seconds": round(send_s, 2), "elapsed_seconds": round(elapsed, 2),
                  "ack_latency_ms": percentiles(list(acked.values())), "placement": placement,
                  "server_cpu_ms_per_msg": cpu_ms},
        "notes": (f"{len(delivered)}/{len(sent_at)} delivered ({len(replayed)} by replay, {late} after > 1 s), "
                  f"{stored} stored, target {rate:g}/s"
                  + ("" if cpu_ms is None else f", server CPU {cpu_ms:.2f} ms/msg")
                  + f"; {_placement_note(placement)}"),
    }


async def fanout(base: str, actor: tuple[int, str], receivers: list[tuple[int, str]],
                 concurrency: int = 16) -> dict:
    """The actor follows every connected receiver; each receiver's `notification.created` is timed."""
    errors = Errors()
    if not receivers:
        errors.add("no_tokens")
        return {"rps": 0.0, "requests": 0, "latency_ms": {}, "errors": dict(errors.counts),
                "error_total": errors.total, "extra": {}, "notes": "no receivers"}
    started: dict[int, float] = {}
    got: dict[int, float] = {}
    all_in = asyncio.Event()
    expected: list[int] = [len(receivers)]
    actor_id, actor_token = actor
    headers = {"Authorization": f"Bearer {actor_token}"}

    async def reader(ws, me: int) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            with contextlib.suppress(ValueError):
                frame = msg.json()
                data = frame.get("data") or {}
                actor_data = data.get("actor") or {}
                if (frame.get("type") == "notification.created" and actor_data.get("id") == actor_id
                        and me in started and me not in got):
                    got[me] = (time.perf_counter() - started[me]) * 1000
                    if len(got) >= expected[0]:
                        all_in.set()

    async with _session() as session:
        opened = await _open_many(session, base, [t for _, t in receivers], errors)
        pairs = [(ws, uid) for ws, (uid, _) in zip(opened, receivers, strict=True) if ws is not None]
        sockets = [ws for ws, _ in pairs]
        ids = [uid for _, uid in pairs]
        expected[0] = len(ids)
        readers = [asyncio.create_task(reader(ws, uid)) for ws, uid in pairs]
        sem = asyncio.Semaphore(concurrency)

        async def follow(uid: int, method: str) -> None:
            async with sem:
                if method == "PUT":
                    started[uid] = time.perf_counter()
                try:
                    async with session.request(method, f"{base}/api/v1/users/{uid}/follow", headers=headers,
                                               timeout=aiohttp.ClientTimeout(total=10)) as resp:
                        await resp.read()
                        if not 200 <= resp.status < 300:
                            errors.add(f"http_{resp.status}")
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    errors.add(type(exc).__name__)

        t0 = time.perf_counter()
        if sockets:
            await asyncio.gather(*(follow(uid, "PUT") for uid in ids))
            if len(got) >= len(ids):
                all_in.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), 5.0)
        elapsed = time.perf_counter() - t0
        # Put the graph back as it was (the receivers were chosen among non-followed users).
        await asyncio.gather(*(follow(uid, "DELETE") for uid in ids))
        await _close_all(sockets)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    missing = len(ids) - len(got)
    if missing:
        errors.add("not_notified", missing)
    return {
        "rps": round(len(got) / max(elapsed, 1e-6), 1),
        "requests": len(ids),
        "latency_ms": percentiles(list(got.values())),
        "errors": dict(errors.counts), "error_total": errors.total,
        "extra": {"receivers": len(receivers), "connected": len(sockets), "notified": len(got)},
        "notes": f"{len(got)}/{len(receivers)} notified",
    }
