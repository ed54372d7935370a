"""`python -m bench profile`: where the time of a scenario goes.

For each scenario the Chatter server is started as `bench run` starts it with one worker (that
worker is the server process itself: `python -m server run --workers 1` serves in-process through
`web.run_app`; `serving_pid` checks it holds the listening socket), warmed and warmed up as
`bench run` does, and while wrk runs `py-spy record --idle --threads --nonblocking` samples the
worker and procs.CpuSampler measures the server, MariaDB, Redis, wrk and the machine. Written to
`--out-dir`: `profile-<scenario>.raw` (py-spy's collapsed stacks), `profile-<scenario>.txt` (the
figures, the idle share, a one-line reading, top inclusive and self frames; bench/stacks.py) and
`PROFILES.md`, one row per scenario.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import procs, runner, stacks, wrk

RATE = 250  # samples per second
LEAD = 0.5  # seconds between wrk's start and py-spy's (wrk's connections are open by then)
CAP_SYS_PTRACE = 19
PROFILED = [s for s in runner.HTTP_SCENARIOS if s != "overload"]
REJECTED = {"overload": "its second phase (1,024 connections, mostly shed 503s) is not a workload to "
                        "profile: profile get_post, the script it drives",
            **{s: "WebSocket scenarios are driven by bench/wsbench.py, not wrk, and spend their first "
                  "seconds placing sockets: profile them by hand (`py-spy record --pid <server pid>` "
                  "during `python -m bench run --scenario ws_chat --workers 1`)" for s in runner.WS_SCENARIOS}}


class ProfileError(RuntimeError):
    """The profile cannot be taken at all (py-spy missing or not allowed to read the worker)."""


def check_scenarios(names: list[str]) -> None:
    """Raise SystemExit naming what cannot be profiled and why."""
    if not names:
        raise SystemExit("name the scenario(s) to profile: --scenario get_post ...")
    problems = []
    for name in names:
        if name in REJECTED:
            problems.append(f"{name}: {REJECTED[name]}")
        elif name not in PROFILED:
            problems.append(f"{name}: unknown scenario; choose from {', '.join(PROFILED)}")
    if problems:
        raise SystemExit("cannot profile " + "; ".join(problems))


# -- py-spy ---------------------------------------------------------------------------------
def find_py_spy() -> str:
    """py-spy next to this interpreter (the virtualenv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    found = shutil.which("py-spy")
    if found:
        return found
    raise ProfileError("py-spy is not installed: `.venv/bin/pip install py-spy` (it is in the bench "
                       "extra: `pip install -e '.[bench]'`)")


def spy_seconds(duration: float) -> int:
    """py-spy samples whole seconds, started LEAD s after wrk: it stops before wrk does, so no
    sample falls after the load (they would all read idle)."""
    return max(1, round(duration) - 1)


def spy_command(py_spy: str, pid: int, rate: int, seconds: int, output: Path) -> list[str]:
    return [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration", str(seconds),
            "--format", "raw", "--output", str(output), "--nonblocking", "--idle", "--threads"]


def ptrace_state() -> tuple[str | None, int, bool]:
    """kernel.yama.ptrace_scope (None without Yama), our euid, whether we hold CAP_SYS_PTRACE."""
    try:
        scope: str | None = Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:
        scope = None
    cap = False
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                cap = bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError, IndexError):
        pass
    return scope, os.geteuid(), cap


def explain_failure(log: str, returncode: int | None, scope: str | None, euid: int, cap: bool) -> str:
    """What went wrong with py-spy, and for a permission refusal what would allow it."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and not ln.startswith("py-spy> Sampling")]
    msg = f"py-spy failed (exit {returncode}): " + (" / ".join(lines[-3:])[:400] or "no output")
    if not re.search(r"permission denied|operation not permitted|eperm|ptrace", log, re.I):
        return msg
    hints = []
    if scope == "3":
        hints.append("kernel.yama.ptrace_scope is 3 (no process may be traced until reboot)")
    elif scope in ("1", "2") and not cap:
        hints.append(f"kernel.yama.ptrace_scope is {scope}: py-spy is not the server's parent, so it needs "
                     "CAP_SYS_PTRACE (run as root) or `sudo sysctl kernel.yama.ptrace_scope=0`")
    if euid != 0 and not cap:
        hints.append("run as root, e.g. `sudo .venv/bin/python -m bench profile ...`")
    if euid == 0 and not cap:
        hints.append("root without CAP_SYS_PTRACE: in a container, start it with `--cap-add SYS_PTRACE`")
    if not hints:
        hints.append("check the container's seccomp/AppArmor profile (process_vm_readv and ptrace)")
    return msg + ". Reading another process's memory needs ptrace permission: " + "; ".join(hints)


@dataclass
class Spy:
    """One `py-spy record` run, reaped with os.wait4 so that its own CPU time is known (and kept out
    of wrk's: the sampler reads the load generator from RUSAGE_CHILDREN, and py-spy is reaped after)."""

    argv: list[str]
    proc: subprocess.Popen
    log: object  # the temporary file holding its stdout and stderr
    returncode: int | None = None
    cpu_s: float = 0.0
    text: str = ""

    @classmethod
    def start(cls, argv: list[str]) -> Spy:
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return cls(argv, proc, log)

    def wait(self, timeout: float) -> Spy:
        """Reap it (killed after `timeout` s) and read what it printed."""
        deadline, killed = time.monotonic() + timeout, False
        while True:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.returncode = self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s = usage.ru_utime + usage.ru_stime
                break
            if not killed and time.monotonic() > deadline:
                self.proc.kill()
                killed = True
            time.sleep(0.1)
        self.log.seek(0)
        self.text = self.log.read().decode(errors="replace")
        self.log.close()
        return self

    def counts(self) -> tuple[int | None, int | None]:
        """py-spy's own `Samples: N Errors: M` (every thread's samples)."""
        m = re.search(r"Samples: (\d+) Errors: (\d+)", self.text)
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def preflight(py_spy: str, pid: int) -> None:
    """`py-spy dump` of the worker once, before any load: a refusal is explained, not profiled."""
    try:
        out = subprocess.run([py_spy, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True,
                             text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        raise ProfileError(f"py-spy dump --pid {pid} did not answer within 30 s") from exc
    if out.returncode != 0:
        raise ProfileError(explain_failure(out.stdout + out.stderr, out.returncode, *ptrace_state()))


def stale_token(server: procs.Server, data: dict) -> str | None:
    """The first token of a list the scenarios read that the server refuses (401), else None. Every
    mint (`bench run`, `bench tokens`) deletes the sessions of the previous one."""
    for key in ("tokens", "filtered_tokens", "heavy_tokens", "cold_tokens"):
        toks = data["tokens"].get(key) or []
        if not toks:
            continue
        req = urllib.request.Request(f"http://{runner.HOST}:{server.port}/api/v1/users/me",
                                     headers={"Authorization": f"Bearer {toks[0]['token']}"})
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback URL we built
                pass
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return key
        except (urllib.error.URLError, OSError):
            return None  # not a token problem: the scenarios will say what is wrong
    return None


def serving_pid(server: procs.Server) -> int:
    """The process of the server's tree holding its listening socket and not its parent's: with one
    worker the server process itself (web.run_app in-process), with gunicorn a worker."""
    pids = server.pids()
    rows = procs.tcp_rows() or []
    listening = {r.inode for r in rows if r.local[1] == server.port and r.state == 0x0A and r.inode}
    holders = [p for p in pids if (procs.socket_inodes(p) or set()) & listening]
    children = [p for p in holders if p != server.pid]
    return (children or holders or [server.pid])[0]


# -- the runs ---------------------------------------------------------------------------------
class Profiler(runner.Bench):
    """runner.Bench with py-spy attached to the worker during each measured wrk run."""

    def __init__(self, opts: runner.Options, config, wrk_path: str | None, data: dict, py_spy: str,
                 rate: int, out_dir: Path):
        super().__init__(opts, config, wrk_path, data)
        self.py_spy = py_spy
        self.rate = rate
        self.out_dir = out_dir
        self.worker_pid = 0

    def sampler(self, server: procs.Server, loadgen: str) -> procs.CpuSampler:
        sampler = super().sampler(server, loadgen)
        sampler.groups["worker"] = lambda: [self.worker_pid] if self.worker_pid else []
        return sampler

    def profile(self, name: str, server: procs.Server) -> dict:
        script = runner.PAIRED[name][1] if name in runner.PAIRED else name
        raw = self.out_dir / f"profile-{name}.raw"
        raw.unlink(missing_ok=True)
        seconds = spy_seconds(self.opts.duration)
        argv = spy_command(self.py_spy, self.worker_pid, self.rate, seconds, raw)
        spies: list[Spy] = []

        def attach() -> None:
            time.sleep(LEAD)
            spies.append(Spy.start(argv))

        row = self.http(script, server, 1, on_load=attach)
        result = {"scenario": name, "script": script, "duration": self.opts.duration, "rate": self.rate,
                  "spy_seconds": seconds, "worker_pid": self.worker_pid, "cores": os.cpu_count() or 1,
                  "command": profile_command([name], self.opts, self.rate),
                  "spy_command": shlex.join(spy_command("py-spy", self.worker_pid, self.rate, seconds,
                                                        Path(raw.name))),
                  "row": row, "raw": raw.name, "summary": None, "problem": None, "spy_cpu": None}
        if not spies:
            result["problem"] = "py-spy was not started: " + (row.get("failed") or "wrk did not start")
            return result
        spy = spies[0].wait(seconds + 30)
        result["spy_samples"], result["spy_errors"] = spy.counts()
        result["spy_cpu"] = round(100.0 * spy.cpu_s / seconds, 1)
        if spy.returncode != 0 or not raw.exists():
            result["problem"] = explain_failure(spy.text, spy.returncode, *ptrace_state())
            return result
        parsed = stacks.parse_raw(raw.read_text(errors="replace"))
        result["summary"] = stacks.summarise(parsed)
        result["threads"] = stacks.other_threads(parsed, stacks.main_thread(parsed))
        return result

    def profile_all(self, names: list[str], start) -> list[dict]:
        """Start a one-worker server with `start` (Bench.start_chatter or start_hello), check py-spy can
        read its worker, profile each scenario on it, stop it; each profile-<scenario>.txt as it comes."""
        server = start(1)
        if server is None:
            raise SystemExit("; ".join(self.problems))
        results = []
        try:
            self.worker_pid = serving_pid(server)
            preflight(self.py_spy, self.worker_pid)
            stale = stale_token(server, self.data) if server.name == "chatter" else None
            if stale:
                raise ProfileError(f"the server refuses the {stale} of {runner.VAR}/tokens.json (401): a later "
                                   "`bench run` or `bench tokens` minted new ones (every mint deletes the previous "
                                   "sessions); run `python -m bench tokens`, then profile again")
            for n, name in enumerate(names):
                runner._say(f"profile {name} ({self.opts.duration:g} s of wrk, py-spy at {self.rate} Hz on "
                            f"pid {self.worker_pid})")
                result = self.profile(name, server)
                (self.out_dir / f"profile-{name}.txt").write_text(render_text(result))
                results.append(result)
                if result["problem"]:
                    runner._say(result["problem"])
                if n + 1 < len(names):
                    time.sleep(0.5)
        except ProfileError as exc:
            raise SystemExit(str(exc)) from exc
        finally:
            server.stop()
            self.worker_pid = 0
        return results


def profile_command(names: list[str], opts: runner.Options, rate: int) -> str:
    return (f"python -m bench profile --scenario {' '.join(names)} --duration {opts.duration:g} "
            f"--connections {opts.connections} --rate {rate}")


# -- reports ------------------------------------------------------------------------------------
def _ms(value) -> str:
    return f"{value:,.1f} ms" if isinstance(value, int | float) else "?"


def cpu_line(cpu: dict, spy_cpu: float | None, cores: int) -> str:
    def pct(key: str) -> str:
        return f"{cpu[key]:.0f}" if key in cpu else "?"

    spy = f", py-spy {spy_cpu:.0f}" if spy_cpu is not None else ""
    return (f"CPU (% of one core): server worker {pct('worker')} (all server processes {pct('server')}), "
            f"MariaDB {pct('mariadb')}, Redis {pct('redis')}, wrk {pct('loadgen')}{spy}, "
            f"whole machine {pct('host')} of {cores * 100}")


def render_text(result: dict) -> str:
    """profile-<scenario>.txt."""
    row, summary = result["row"], result["summary"]
    lines = [result["command"]]
    if result["script"] != result["scenario"]:
        lines.append(f"{result['scenario']} alternates two scripts: profiled its filtered side, {result['script']}")
    lines.append(f"{result['spy_command']}  (worker pid {result['worker_pid']}, {result['spy_seconds']} s "
                 f"from {LEAD:g} s into the {result['duration']:g} s wrk run)")
    lat = row.get("latency_ms") or {}
    if row.get("rps") is not None:
        lines.append(f"wrk: {row['rps']:,.1f} req/s, p50 {_ms(lat.get('p50'))}, p99 {_ms(lat.get('p99'))}, "
                     f"{row.get('error_total', 0)} errors, c={row.get('connections')}")
    if row.get("cpu"):
        lines.append(cpu_line(row["cpu"], result.get("spy_cpu"), result["cores"]))
    for key in ("failed", "notes"):
        if row.get(key):
            lines.append(f"{key.capitalize()}: {row[key]}")
    if result.get("problem"):
        lines.append(f"Profile failed: {result['problem']}")
    if summary is None:
        return "\n".join(lines) + "\n"
    total = result.get("spy_samples")
    lines.append(f"Samples: {summary.samples:,} of the worker's event-loop thread"
                 + (f" (py-spy: {total:,} in all threads, {result.get('spy_errors', 0)} errors)"
                    if total is not None else ""))
    if summary.samples:
        lines.append(f"Idle: {summary.idle_share * 100:.1f} % of them ({summary.idle:,}): the event loop waiting "
                     "for I/O (leaf frame run_app, where uvloop's C loop runs, so its own C work counts here too; a "
                     "worker waiting for a core on a busy machine counts as busy) — cross-check: the worker's "
                     "CPU % above")
    if result.get("threads"):
        lines.append("Other threads (left out of the shares): "
                     + "; ".join(t.describe() for t in result["threads"]))
    lines.append("Reading: " + stacks.reading(row.get("cpu") or {}, summary.idle_share, result["cores"]))
    lines.append("")
    lines.append(f"Top inclusive (share of the {summary.busy:,} busy samples in which the function is on "
                 "the stack, once per sample):")
    lines.extend(stacks.table(summary.top_inclusive(40)))
    lines.append("")
    lines.append("Top self (share of the busy samples in which the function is the leaf):")
    lines.extend(stacks.table(summary.top_self(25)))
    return "\n".join(lines) + "\n"


def index_row(result: dict) -> str:
    row, summary = result["row"], result["summary"]
    cpu = row.get("cpu") or {}
    lat = row.get("latency_ms") or {}
    rps = f"{row['rps']:,.0f}" if row.get("rps") is not None else "—"
    p99 = f"{lat['p99']:,.1f}" if "p99" in lat else "—"
    worker = f"{cpu['worker']:.0f}" if "worker" in cpu else "—"
    db = f"{cpu['mariadb']:.0f}" if "mariadb" in cpu else "—"
    if summary is None:
        idle, top = "—", "no profile: " + (result.get("problem") or row.get("failed") or "?")
    else:
        idle = f"{summary.idle_share * 100:.1f} %" if summary.idle_share is not None else "—"
        top = "; ".join(f"{stacks.frame_label(f)} {s * 100:.1f} %" for f, s in summary.top_self(3))
    name = result["scenario"] + (f" ({result['script']})" if result["script"] != result["scenario"] else "")
    link = f"[{name}](profile-{result['scenario']}.txt)"
    return f"| {link} | {rps} | {p99} | {worker} | {db} | {idle} | {top.replace('|', '/')} |"


def render_index(results: list[dict], header: list[str]) -> str:
    """PROFILES.md: one row per scenario."""
    lines = ["# Where the time goes: py-spy profiles of the worker", "", *header, "",
             "| Scenario | req/s | p99 ms | worker CPU % | MariaDB CPU % | idle | top 3 self frames (% of busy samples) |",
             "|---|---:|---:|---:|---:|---:|---|"]
    lines.extend(index_row(r) for r in results)
    readings = [f"- {r['scenario']}: " + stacks.reading(r["row"].get("cpu") or {}, r["summary"].idle_share,
                                                         r["cores"])
                for r in results if r["summary"] is not None]
    if readings:
        lines += ["", "Reading (CPU in % of one core; idle = the worker's event loop waiting):", *readings]
    return "\n".join(lines) + "\n"


# -- the command --------------------------------------------------------------------------------
def run(opts: runner.Options, rate: int = RATE, out_dir: Path | None = None) -> Path:
    """Profile every scenario of opts.scenarios on one server (one worker); returns PROFILES.md's path."""
    check_scenarios(opts.scenarios)
    started = datetime.now(UTC)
    out_dir = out_dir or runner.RESULTS / f"{runner.stamp(started)}-profiles"
    loadavg = " ".join(f"{v:.2f}" for v in os.getloadavg())
    try:
        py_spy = find_py_spy()
        wrk_path = wrk.ensure_wrk()
    except (ProfileError, wrk.WrkMissing) as exc:
        raise SystemExit(str(exc)) from exc
    procs.raise_fd_limit()
    config = runner.bench_config(opts.database)
    data = runner.existing_dataset(config)
    if data is None:
        raise SystemExit(f"no tokens for {config.db.name} in {runner.VAR}: run `python -m bench tokens` (or "
                         "`python -m bench run` once) first; profile never seeds or mints")
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = runner.fit_buffer_pool(config, opts.keep_db_settings)
    bench = Profiler(opts, config, wrk_path, data, py_spy, rate, out_dir)
    results: list[dict] = []
    try:
        hello = [n for n in opts.scenarios if n == "hello"]
        rest = [n for n in opts.scenarios if n != "hello"]
        if hello:  # the ceiling is served by its own bare server, as `bench run` measures it
            results += bench.profile_all(hello, bench.start_hello)
        if rest:
            results += bench.profile_all(rest, bench.start_chatter)
    finally:
        runner.restore_buffer_pool(config, pool)
    pool_note = (f"innodb_buffer_pool_size {pool['before'] >> 20} MB → {pool['after'] >> 20} MB for the run"
                 if pool.get("after") != pool.get("before") else
                 f"innodb_buffer_pool_size {pool.get('before', 0) >> 20} MB (left as it was)")
    header = [f"`{profile_command(opts.scenarios, opts, rate)}` — started "
              f"{started.isoformat(timespec='seconds').replace('+00:00', 'Z')}, load average {loadavg}, "
              f"{os.cpu_count()} cores; one worker, c={opts.connections} (login {opts.login_connections}), "
              f"database {config.db.name}, {pool_note}.",
              "Each scenario: py-spy `--idle --threads --nonblocking` on the worker's event-loop thread for "
              f"{spy_seconds(opts.duration)} s inside the {opts.duration:g} s wrk run; CPU in % of one core "
              "over the wrk run; idle = samples in which the loop waited for I/O; the frame shares are of the "
              "busy samples. Details, top inclusive and self frames: profile-<scenario>.txt; raw stacks: "
              "profile-<scenario>.raw."]
    index = out_dir / "PROFILES.md"
    index.write_text(render_index(results, header))
    return index
