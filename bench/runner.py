"""`python -m bench run`: start servers, run the scenarios (bounded, loopback only), write the report."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import feeds, overload, procs, report, seed, tokens, wrk, wsbench
from server.config import ROOT, Config, load_config
from server.localsvc import free_port

HOST = "127.0.0.1"  # loopback only, always
VAR = ROOT / "var" / "bench"
RESULTS = Path(__file__).resolve().parent / "results"
BENCH_DATABASE = "chatter_bench"
REDIS_PREFIX = "bench:"  # chatter_bench's; another --database gets "bench-<database>:" (redis_prefix)

HTTP_SCENARIOS = ["hello", "healthz", "get_user", "get_post", "get_post_anon", "feed", "feed_filtered", "feed_heavy",
                  "feed_cold", "public_timeline", "public_timeline_filtered", "feed_blocking", "public_timeline_blocking",
                  "comments", "like_toggle",
                  "create_post", "conduit_articles", "conduit_feed", "conduit_article", "conduit_create",
                  "mixed", "overload", "login", "tag_page", "search"]
WS_SCENARIOS = ["ws_chat", "ws_fanout", "ws_hold"]
SCENARIOS = HTTP_SCENARIOS + WS_SCENARIOS
SCRIPTS = {"overload": "get_post", "feed_blocking": "feed_filtered",
           "public_timeline_blocking": "public_timeline_filtered"}
NO_RATIO = {"overload"}  # its req/s counts the 503s it sheds: no share of hello  # scenarios driven by another scenario's Lua script
# Scenarios measured in steady state: the home timelines of these token lists are warmed first.
WARMED = {"feed": ("tokens",), "feed_filtered": ("filtered_tokens",), "feed_heavy": ("heavy_tokens",),
          "mixed": ("tokens",)}
# The same pages read by users who each block and mute 100 accounts: compared with the plain scenario
# of the same run (the target: within 10 %).
FILTERED = {"feed_filtered": "feed", "public_timeline_filtered": "public_timeline"}
# The same comparison made robust to a drifting machine: the plain and the filtered scenario run
# in alternating slices (ABBA...) of one window, so background load hits both alike; the row is the
# filtered side, `filter_ratio` its req/s over the plain side's from the same slices.
PAIRED = {"feed_blocking": ("feed", "feed_filtered"),
          "public_timeline_blocking": ("public_timeline", "public_timeline_filtered")}
PAIRED_SLICES = 6


def stamp(when: datetime) -> str:
    """The date-time that names a run's files (`2026-12-02T153012`)."""
    return when.strftime("%Y-%m-%dT%H%M%S")


def script_for(name: str) -> str:
    return SCRIPTS.get(name, name)


@dataclass
class Options:
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    workers: list[int] = field(default_factory=lambda: [1, 2])
    duration: float = 10.0
    connections: int = 64
    threads: int = 2
    warmup: float = 1.0
    login_connections: int = 20
    ws_sockets: int = 10_000
    chat_pairs: int = 50
    chat_rate: float | None = None  # None: 300/s with one worker, 700/s with more
    fanout_receivers: int = 200
    overload_connections: int = overload.CONNECTIONS
    tokens: int = 1_000
    cold_tokens: int = 4_000
    filtered_tokens: int = 100
    database: str = BENCH_DATABASE
    keep_db_settings: bool = False
    out_dir: Path = RESULTS
    reseed: bool = False


def redis_prefix(database: str) -> str:
    """The Redis key prefix of a bench database: runs on different databases do not share keys
    (sessions, timelines, the bus), so they may run side by side."""
    return REDIS_PREFIX if database == BENCH_DATABASE else f"bench-{database}:"


def bench_config(database: str = BENCH_DATABASE, environ: dict | None = None) -> Config:
    """The configured services (private ones started when unreachable), pointed at the bench database."""
    from server.localsvc import ensure_services

    base = load_config(environ=environ)
    if database == base.db.name:
        raise SystemExit(f"refusing to use {database!r}: it is the server's own database and the bench "
                         "wipes what it seeds; pick another with --database")
    db_url, redis_url, _ = ensure_services(base.database.url, base.redis.url, ROOT / "var")
    db_url = urlsplit(db_url)._replace(path=f"/{database}").geturl()
    return load_config(environ=environ, overrides={"database": {"url": db_url},
                                                   "redis": {"url": redis_url, "prefix": redis_prefix(database)}})


def server_env(config: Config, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CHATTER_DATABASE__URL": config.database.url,
        "CHATTER_REDIS__URL": config.redis.url,
        "CHATTER_REDIS__PREFIX": config.redis.prefix,
        "CHATTER_AUTH__SECRET": config.auth.secret,
        "CHATTER_RATELIMIT__ENABLED": "false",
        "CHATTER_LOG__LEVEL": "WARNING",
        "CHATTER_HTTP__HOST": HOST,
        "CHATTER_HTTP__PORT": str(port),
    })
    return env


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _forget_redis_state(config: Config) -> None:
    """Drop this bench's own Redis keys (cached sessions of a previous dataset would be stale)."""
    import redis

    client = redis.Redis.from_url(config.redis.url, socket_timeout=5)
    try:
        batch = []
        for n, key in enumerate(client.scan_iter(match=config.redis.prefix + "*", count=1000)):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
            if n > 10_000_000:
                break
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def prepare_dataset(config: Config, opts: Options) -> dict:
    """Schema, seeded data (the default size when the bench database is empty), fresh tokens."""
    from server.migrate import migrate

    asyncio.run(migrate(config))
    meta_path = VAR / "dataset.json"
    conn = seed.connect(config)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM users")
            users = cur.fetchone()[0]
    finally:
        conn.close()
    if opts.reseed or users == 0:
        _say(f"seeding {config.db.name} with the default dataset (a few minutes; "
             "`python -m bench seed` chooses the size)")
        spec = seed.SeedSpec(bcrypt_rounds=config.auth.bcrypt_rounds)
        seed.seed(config, spec, meta_path=meta_path)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("database") not in (None, config.db.name):
        meta = {}
    conn = seed.connect(config)
    try:
        data = tokens.mint(config, conn, count=opts.tokens, heavy_ids=meta.get("heavy_user_ids", []),
                           password=meta.get("password", seed.PASSWORD), cold_count=opts.cold_tokens,
                           filtered_count=opts.filtered_tokens)
    finally:
        conn.close()
    tokens.write(data, VAR)
    _forget_redis_state(config)
    return {"meta": meta, "tokens": data}


def existing_dataset(config: Config) -> dict | None:
    """prepare_dataset()'s answer from the files a previous run (or `bench tokens`) wrote, without
    touching the database; None when there are no tokens for this database yet."""
    meta_path, tokens_path = VAR / "dataset.json", VAR / "tokens.json"
    if not tokens_path.exists() or not (VAR / "data.lua").exists():
        return None
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("database") not in (None, config.db.name):
        return None
    return {"meta": meta, "tokens": json.loads(tokens_path.read_text())}


def _wrk_version(path: str | None) -> str:
    if not path:
        return "missing"
    try:
        out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=5)
        return (out.stdout or out.stderr).split("\n")[0].replace("wrk ", "").split(" [")[0].strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _merge_slices(parts: list[dict]) -> dict:
    """Several wrk runs of one scenario as one: totals summed, each latency percentile the median of
    the runs' (percentiles cannot be merged exactly without the histograms)."""
    requests = sum(p["requests"] for p in parts)
    seconds = sum(p["duration_s"] for p in parts) or 1e-9
    keys = sorted({k for p in parts for k in p["latency_ms"]})
    latency = {k: round(statistics.median(p["latency_ms"][k] for p in parts if k in p["latency_ms"]), 3)
               for k in keys}
    errors: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
        for k, v in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {"requests": requests, "duration_s": round(seconds, 3), "rps": round(requests / seconds, 1),
            "latency_ms": latency, "errors": errors, "statuses": statuses,
            "error_total": sum(p.get("error_total", 0) for p in parts)}


def _row(scenario: str, workers: int, kind: str, **extra) -> dict:
    row = {"scenario": scenario, "workers": workers, "kind": kind, "rps": None, "requests": 0,
           "latency_ms": {}, "errors": {}, "error_total": 0, "statuses": {}, "cpu": {}, "notes": ""}
    row.update(extra)
    return row


class Bench:
    def __init__(self, opts: Options, config: Config, wrk_path: str | None, data: dict):
        self.opts = opts
        self.config = config
        self.wrk = wrk_path
        self.data = data
        self.problems: list[str] = []

    def sampler(self, server: procs.Server, loadgen: str) -> procs.CpuSampler:
        return procs.CpuSampler({
            "server": server.pids,
            "mariadb": lambda: procs.pids_named("mariadbd", "mysqld"),
            "redis": lambda: procs.pids_named("redis-server"),
        }, loadgen=loadgen)

    # -- HTTP (wrk) ------------------------------------------------------------------------
    def _wrk(self, server: procs.Server, script: str, duration: float, connections: int,
             threads: int | None = None, timeout: float = 5.0) -> subprocess.Popen:
        return wrk.run(self.wrk, f"http://{HOST}:{server.port}", script_for(script), duration, connections,
                       threads or self.opts.threads, data_path=VAR / "data.lua", timeout=timeout)

    def _finish(self, proc: subprocess.Popen, duration: float) -> tuple[str, str, bool]:
        try:
            out, err = proc.communicate(timeout=duration + 30)
            return out, err, True
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=10)
            return out, err, False

    def warm(self, server: procs.Server, lists: tuple[str, ...]) -> dict:
        """Read the first feed page of every token in these lists once (bounded), before a steady-state run."""
        data = self.data["tokens"]
        toks = [t["token"] for key in lists for t in data.get(key, [])]
        if not toks and ("heavy_tokens" in lists or "filtered_tokens" in lists):  # fall back like the scripts
            toks = [t["token"] for t in data.get("tokens", [])]
        coro = feeds.warm(f"http://{HOST}:{server.port}", toks)
        try:
            return asyncio.run(asyncio.wait_for(coro, feeds.WARM_LIMIT + 30))
        except TimeoutError:  # warm() bounds itself; this is the backstop
            return feeds.summarize(len(toks), {}, {"TimeoutError": 1}, feeds.WARM_LIMIT + 30)

    def http(self, name: str, server: procs.Server, workers: int,
             on_load: Callable[[], object] | None = None) -> dict:
        """One wrk scenario (warmed and warmed up first). on_load is called once the measured wrk has
        started, while the CPU sampler runs (`bench profile` attaches py-spy there)."""
        if name == "overload":
            return self.overload(server, workers)
        if name in PAIRED:
            return self.paired(name, server, workers)
        opts = self.opts
        conns = opts.login_connections if name == "login" else opts.connections
        row = _row(name, workers, "http", connections=conns)
        if not self.wrk:
            row["failed"] = "wrk is not installed"
            return row
        notes = []
        if name in WARMED:
            row["warm"] = self.warm(server, WARMED[name])
            notes.append("steady state: " + feeds.warm_note(row["warm"]))
        if opts.warmup > 0 and name != "login":
            self._finish(self._wrk(server, name, opts.warmup, conns), opts.warmup)
        gen = feeds.Generation(self.config.redis.url, self.config.redis.prefix) if name == "feed_cold" else None
        bumped = gen is not None and gen.bump() is not None  # every timeline cold from the first request on
        sampler = self.sampler(server, "children")
        sampler.start()
        proc = self._wrk(server, name, opts.duration, conns)
        probe = self._wrk(server, "healthz", opts.duration, 4, threads=1) if name == "login" else None
        if on_load is not None:
            on_load()
        out, err, finished = self._finish(proc, opts.duration)
        pout = self._finish(probe, opts.duration)[0] if probe is not None else ""
        row["cpu"] = sampler.stop()
        row.update(wrk.parse(out))
        if not finished:
            row["failed"] = f"wrk did not finish within {opts.duration + 30:.0f} s"
        elif "BENCH_JSON" not in out:
            row["failed"] = "wrk failed: " + (err.strip().splitlines() or ["no output"])[-1][:200]
        if probe is not None:
            health = wrk.parse(pout)
            row["extra"] = {"healthz_during_login": health}
            notes.append(f"/healthz during {conns} logins: p99 {health['latency_ms'].get('p99', '?')} ms, "
                         f"{health['error_total']} errors")
        if gen is not None:
            data = self.data["tokens"]
            users = len(data.get("cold_tokens") or data.get("tokens", []))
            notes.append(feeds.cold_note(bumped, row.get("requests") or 0, users,
                                         wrk.effective_threads(opts.threads, conns), gen.errors))
            # Later scenarios see the steady state again (writes fan out to warm timelines only, so the
            # set of warm timelines matters): a second bump drops the cold users' new timelines, then
            # the usual ones are warmed again.
            gen.bump()
            row["cold"] = {"generations": gen.gens, "users": users, "errors": gen.errors,
                           "stale_keys_dropped": gen.drop_stale()}
            gen.close()
            row["rewarm"] = self.warm(server, ("tokens", "heavy_tokens", "filtered_tokens"))
            notes.append("afterwards re-" + feeds.warm_note(row["rewarm"]))
        row["notes"] = "; ".join(notes)
        if not server.alive():
            row["failed"] = (row.get("failed") or "") + " server died: " + server.log_tail(3)
        return row

    def paired(self, name: str, server: procs.Server, workers: int) -> dict:
        """PAIRED: plain and filtered pages in alternating slices of --duration each (ABBA order)."""
        opts = self.opts
        plain, filtered = PAIRED[name]
        conns = opts.connections
        row = _row(name, workers, "http", connections=conns)
        if not self.wrk:
            row["failed"] = "wrk is not installed"
            return row
        notes = []
        lists = tuple(dict.fromkeys(WARMED.get(plain, ()) + WARMED.get(filtered, ())))
        if lists:
            row["warm"] = self.warm(server, lists)
            notes.append("steady state: " + feeds.warm_note(row["warm"]))
        if opts.warmup > 0:
            for s in (plain, filtered):
                self._finish(self._wrk(server, s, opts.warmup, conns), opts.warmup)
        part = max(1.0, opts.duration / PAIRED_SLICES)
        slices: dict[str, list[dict]] = {plain: [], filtered: []}
        sampler = self.sampler(server, "children")
        sampler.start()
        for i in range(PAIRED_SLICES):
            for s in ((plain, filtered) if i % 2 == 0 else (filtered, plain)):
                out, err, finished = self._finish(self._wrk(server, s, part, conns), part)
                if not finished or "BENCH_JSON" not in out:
                    row["failed"] = f"{s}: wrk failed: " + (err.strip().splitlines() or ["no output"])[-1][:200]
                    break
                slices[s].append(wrk.parse(out))
            if row.get("failed"):
                break
        row["cpu"] = sampler.stop()
        if row.get("failed"):
            return row
        mine, base = _merge_slices(slices[filtered]), _merge_slices(slices[plain])
        row.update(mine)
        row["plain"] = dict(base, scenario=plain)
        row["filter_ratio"] = round(mine["rps"] / base["rps"], 4) if base["rps"] else None
        row["slice_ratios"] = [round(f["rps"] / p["rps"], 4) if p["rps"] else None
                               for f, p in zip(slices[filtered], slices[plain], strict=True)]
        if row["filter_ratio"] is not None:
            notes.append(f"{filtered} vs {plain} in {PAIRED_SLICES} alternating slices of {part:.1f} s each: "
                         f"{mine['rps']:,.0f} vs {base['rps']:,.0f} req/s = {row['filter_ratio'] * 100:.1f} % "
                         f"(p50 {mine['latency_ms'].get('p50')} vs {base['latency_ms'].get('p50')} ms; slices "
                         + ", ".join(f"{r * 100:.0f} %" for r in row["slice_ratios"] if r is not None) + ")")
        row["notes"] = "; ".join(notes)
        if not server.alive():
            row["failed"] = "server died: " + server.log_tail(3)
        return row

    def overload(self, server: procs.Server, workers: int) -> dict:
        """get_post at saturation (c=--connections), then far past it (c=--overload-connections, short
        client timeout); statuses, latency and the server's RSS before / at peak / after."""
        opts = self.opts
        fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        over_conns = overload.fit_connections(opts.overload_connections, fd_limit)
        row = _row("overload", workers, "http", connections=over_conns)
        if not self.wrk:
            row["failed"] = "wrk is not installed"
            return row
        pids = server.pids()
        if opts.warmup > 0:
            self._finish(self._wrk(server, "overload", opts.warmup, opts.connections), opts.warmup)
        time.sleep(1.0)
        rss = {"before": procs.rss_kib(pids)}
        phases = {}
        for phase, conns, timeout in (("saturation", opts.connections, 5.0),
                                      ("overload", over_conns, overload.TIMEOUT)):
            sampler = self.sampler(server, "children")
            sampler.start()
            with procs.RssPeak(pids) as peak:
                out, err, finished = self._finish(self._wrk(server, "overload", opts.duration, conns,
                                                            timeout=timeout), opts.duration)
            parsed = wrk.parse(out)
            parsed.update(connections=conns, cpu=sampler.stop(), rss_peak_kib=peak.peak)
            if not finished or "BENCH_JSON" not in out:
                parsed["failed"] = (f"{phase}: wrk did not finish" if not finished else
                                    f"{phase}: wrk failed: " + (err.strip().splitlines() or ["no output"])[-1][:200])
            phases[phase] = parsed
            time.sleep(0.5)
        rss["peak"] = max(p["rss_peak_kib"] for p in phases.values())
        time.sleep(4.5)  # 5 s after the load stopped
        rss["after5"] = procs.rss_kib(pids)
        time.sleep(5.0)  # an idle moment more: the collector and the allocator get to give memory back
        rss["after"] = procs.rss_kib(pids)
        sat, over = phases["saturation"], phases["overload"]
        row.update({k: over[k] for k in ("requests", "duration_s", "rps", "latency_ms", "errors", "statuses",
                                         "error_total") if k in over})
        row["cpu"] = over["cpu"]
        decision = overload.verdict(sat, over, rss)
        row["extra"] = {"saturation": sat, "overload": {k: v for k, v in over.items() if k != "cpu"},
                        "rss_kib": rss, "fd_limit": fd_limit, "verdict": decision}
        row["verdict"] = decision["pass"]
        row["notes"] = overload.notes(sat, over, rss, opts.connections, over_conns, decision)
        failed = [p["failed"] for p in phases.values() if p.get("failed")]
        if failed:
            row["failed"] = "; ".join(failed) + " — " + row["notes"]
        if not server.alive():
            row["failed"] = (row.get("failed") or "") + " server died: " + server.log_tail(3)
        return row

    # -- WebSocket ---------------------------------------------------------------------------
    def _stored(self, pattern: str) -> int:
        conn = seed.connect(self.config)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM messages WHERE client_id LIKE %s", (pattern,))
                return int(cur.fetchone()[0])
        finally:
            conn.close()

    def _not_followed_by(self, actor: int, candidates: list[dict]) -> list[dict]:
        conn = seed.connect(self.config)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT followee_id FROM follows WHERE follower_id = %s", (actor,))
                followed = {r[0] for r in cur.fetchall()}
        finally:
            conn.close()
        return [c for c in candidates if c["user_id"] not in followed and c["user_id"] != actor]

    def ws(self, name: str, server: procs.Server, workers: int) -> dict:
        opts = self.opts
        base = f"http://{HOST}:{server.port}"
        toks = self.data["tokens"]["tokens"]
        if name == "ws_hold":
            coro = wsbench.hold(base, [t["token"] for t in toks], opts.ws_sockets, min(opts.duration, 20),
                                lambda: procs.rss_kib(server.pids()))
            limit = 200 + opts.duration
        elif name == "ws_chat":
            rate = opts.chat_rate or (300.0 if workers == 1 else 700.0)
            coro = wsbench.chat(base, [(t["user_id"], t["token"]) for t in toks[1:]], opts.chat_pairs, rate,
                                opts.duration, self._stored, workers=workers,
                                locate=lambda clients: procs.connection_owners(server.port, clients,
                                                                               server.pids()),
                                server_cpu=lambda: procs.cpu_seconds(server.pids()))
            limit = 120 + opts.duration  # + placing the pairs on workers (bounded by wsbench)
        else:
            actor = toks[0] if toks else None
            receivers = self._not_followed_by(actor["user_id"], toks[1:])[: opts.fanout_receivers] if actor else []
            coro = wsbench.fanout(base, (actor["user_id"], actor["token"]) if actor else (0, ""),
                                  [(t["user_id"], t["token"]) for t in receivers])
            limit = 90
        row = _row(name, workers, "ws")
        sampler = self.sampler(server, "self")
        sampler.start()
        try:
            row.update(asyncio.run(asyncio.wait_for(coro, limit)))
        except TimeoutError:
            row["failed"] = f"did not finish within {limit:.0f} s"
        except Exception as exc:  # a broken scenario is reported, the run goes on
            row["failed"] = f"{type(exc).__name__}: {exc}"[:300]
        row["cpu"] = sampler.stop()
        return row

    # -- servers ---------------------------------------------------------------------------
    def start_hello(self, workers: int) -> procs.Server | None:
        port = free_port()
        server = procs.start("hello", [sys.executable, "-m", "bench", "hello-server", "--port", str(port),
                                       "--workers", str(workers)], port, VAR / f"hello-{workers}.log", cwd=ROOT)
        if procs.wait_http(server, "/", timeout=30):
            return server
        self.problems.append(f"hello server ({workers} workers) did not start: {server.log_tail(5)}")
        server.stop()
        return None

    def start_chatter(self, workers: int) -> procs.Server | None:
        port = free_port()
        argv = [sys.executable, "-m", "server", "--no-local-services", "run", "--workers", str(workers),
                "--port", str(port), "--host", HOST]
        server = procs.start("chatter", argv, port, VAR / f"server-{workers}.log",
                             env=server_env(self.config, port), cwd=ROOT)
        if procs.wait_http(server, "/readyz", timeout=90):
            return server
        self.problems.append(f"server ({workers} workers) not ready within 90 s: {server.log_tail(5)}")
        server.stop()
        return None

    def run_workers(self, workers: int) -> list[dict]:
        rows = []
        _say(f"{workers} worker(s): hello")
        hello = self.start_hello(workers)
        if hello is None:
            rows.append(_row("hello", workers, "http", failed="hello server did not start"))
        else:
            try:
                rows.append(self.http("hello", hello, workers))
            finally:
                hello.stop()
        rest = [s for s in self.opts.scenarios if s != "hello"]
        if not rest:
            return rows
        server = self.start_chatter(workers)
        if server is None:
            return rows + [_row(s, workers, "ws" if s in WS_SCENARIOS else "http",
                                failed="server did not become ready") for s in rest]
        try:
            for name in rest:
                _say(f"{workers} worker(s): {name}")
                if not server.alive():
                    rows.append(_row(name, workers, "http", failed="server is not running"))
                    continue
                rows.append(self.ws(name, server, workers) if name in WS_SCENARIOS
                            else self.http(name, server, workers))
                time.sleep(0.5)
        finally:
            server.stop()
        return rows


def add_ratios(rows: list[dict]) -> None:
    """Each row's req/s as a share of the same run's hello with the same worker count; a filtered
    scenario's also as a share of its plain scenario's (`filter_ratio`, in Notes with the p50s)."""
    hello = {r["workers"]: r.get("rps") for r in rows if r["scenario"] == "hello" and not r.get("failed")}
    for r in rows:
        base = hello.get(r["workers"])
        shares = r["kind"] == "http" and r["scenario"] not in NO_RATIO
        r["ratio"] = round(r["rps"] / base, 4) if base and r.get("rps") is not None and shares else None
    plain = {(r["scenario"], r["workers"]): r for r in rows if not r.get("failed")}
    for r in rows:
        other = plain.get((FILTERED.get(r["scenario"]), r["workers"]))
        if other is None or not other.get("rps") or r.get("rps") is None or r.get("failed"):
            continue
        r["filter_ratio"] = round(r["rps"] / other["rps"], 4)
        p50 = (r.get("latency_ms") or {}).get("p50"), (other.get("latency_ms") or {}).get("p50")
        note = (f"blocking and muting 100 accounts each: {r['filter_ratio'] * 100:.1f} % of "
                f"{other['scenario']}'s req/s (p50 {p50[0]} vs {p50[1]} ms)")
        r["notes"] = "; ".join(n for n in (r.get("notes"), note) if n)


POOL_CHUNK = 128 << 20


def fit_buffer_pool(config: Config, keep: bool) -> dict:
    """Make MariaDB's buffer pool hold the bench database, as any deployment serving it would (the
    server default of 128 MB holds a fifth of the default dataset: the reads then measure InnoDB
    page churn, not Chatter), and load every index into it. `SET GLOBAL` resizes it online; run()
    puts the old size back at the end. keep (--keep-db-settings): only report."""
    conn = seed.connect(config)
    info: dict = {}
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_buffer_pool_size")
            info["before"] = info["after"] = int(cur.fetchone()[0])
            cur.execute("SELECT table_name, SUM(data_length + index_length) FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND engine = 'InnoDB' GROUP BY table_name")
            sizes = {name: int(n or 0) for name, n in cur.fetchall()}
            info["dataset"] = sum(sizes.values())
            want = -(-(info["dataset"] * 5 // 4 + POOL_CHUNK) // POOL_CHUNK) * POOL_CHUNK
            if keep or info["before"] >= want:
                return info
            try:
                cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (want,))
            except Exception as exc:  # not allowed (no SUPER): measure with what there is
                info["error"] = str(exc)
                return info
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                cur.execute("SELECT @@innodb_buffer_pool_size")
                if int(cur.fetchone()[0]) >= want:
                    break
                time.sleep(0.5)
            info["after"] = want
            t0 = time.monotonic()
            cur.execute("SELECT table_name, index_name FROM information_schema.statistics "
                        "WHERE table_schema = DATABASE() GROUP BY table_name, index_name")
            for table, index in cur.fetchall():  # names from the catalogue, not from input
                if table in sizes and time.monotonic() < deadline:
                    cur.execute(f"SELECT COUNT(*) FROM `{table}` FORCE INDEX (`{index}`)")  # noqa: S608
                    cur.fetchall()
            info["warmed_s"] = round(time.monotonic() - t0, 1)
    finally:
        conn.close()
    return info


def restore_buffer_pool(config: Config, info: dict) -> None:
    if info.get("after", 0) != info.get("before", 0):
        conn = seed.connect(config)
        try:
            with conn.cursor() as cur:
                cur.execute("SET GLOBAL innodb_buffer_pool_size = %s", (info["before"],))
        except Exception as exc:
            _say(f"could not put innodb_buffer_pool_size back to {info['before']}: {exc}")
        finally:
            conn.close()


def run(opts: Options) -> Path:
    started = datetime.now(UTC)
    loadavg = " ".join(f"{v:.2f}" for v in os.getloadavg())
    procs.raise_fd_limit()
    wrk_path = None
    problems = []
    try:  # every run has at least the hello ceiling, driven by wrk
        wrk_path = wrk.ensure_wrk()
    except wrk.WrkMissing as exc:
        problems.append(str(exc))
        _say(str(exc))
    if "hello" not in opts.scenarios:
        opts.scenarios = ["hello"] + opts.scenarios  # the ceiling is measured in every run
    config = bench_config(opts.database)
    data = prepare_dataset(config, opts)
    pool = fit_buffer_pool(config, opts.keep_db_settings)
    if pool.get("error"):
        problems.append(f"innodb_buffer_pool_size stays {pool['before'] >> 20} MB: {pool['error']}")
    bench = Bench(opts, config, wrk_path, data)
    bench.problems = problems
    rows: list[dict] = []
    try:
        for workers in opts.workers:
            rows.extend(bench.run_workers(workers))
    finally:
        restore_buffer_pool(config, pool)
    add_ratios(rows)
    result = {
        "version": 1,
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                 "wrk": _wrk_version(wrk_path), "loadavg": loadavg},
        "params": {"duration": opts.duration, "connections": opts.connections, "threads": opts.threads,
                   "warmup": opts.warmup, "login_connections": opts.login_connections,
                   "workers": opts.workers, "scenarios": opts.scenarios, "ws_sockets": opts.ws_sockets,
                   "chat_pairs": opts.chat_pairs, "chat_rate": opts.chat_rate,
                   "fanout_receivers": opts.fanout_receivers,
                   "overload_connections": opts.overload_connections, "database": config.db.name},
        "dataset": data["meta"],
        "db": {"buffer_pool": pool},
        "results": rows,
        "problems": bench.problems,
    }
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = opts.out_dir / f"{stamp(started)}.json"
    json_path.write_text(json.dumps(result, indent=1) + "\n")
    md_path, png_path = report.render(json_path)
    print(md_path.read_text())
    _say(f"wrote {json_path}, {md_path}" + (f", {png_path}" if png_path else ""))
    return json_path

