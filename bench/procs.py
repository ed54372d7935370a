"""Processes the bench starts (servers) and measures (CPU and memory from /proc, psutil-free)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
    return soft


def _stat(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2:].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 when it is gone)."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes together, in seconds."""
    return sum(cpu_ticks(p) for p in pids) / CLK_TCK


def host_busy_ticks() -> int:
    """Busy (non-idle, non-iowait) ticks of the whole machine, all cores."""
    try:
        first = (PROC / "stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0
    values = [int(v) for v in first[1:9]]
    return sum(values) - values[3] - values[4]


def all_pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def tree(pid: int) -> list[int]:
    """pid and all its descendants (gunicorn master + workers)."""
    children: dict[int, list[int]] = {}
    for p in all_pids():
        fields = _stat(p)
        if fields:
            children.setdefault(int(fields[1]), []).append(p)
    out, todo = [], [pid]
    while todo and len(out) < 10_000:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pids_named(*names: str) -> list[int]:
    found = []
    for p in all_pids():
        try:
            comm = (PROC / str(p) / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            found.append(p)
    return found


def rss_kib(pids: list[int]) -> int:
    """Sum of VmRSS over pids, in KiB."""
    total = 0
    for p in pids:
        try:
            for line in (PROC / str(p) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class CpuSampler:
    """CPU % (100 = one core) of process groups between start() and stop().

    Groups are callables returning pids, re-evaluated at both ends so workers started
    in between count; a process gone by the end contributes what it had at the start.
    The load generator is measured with getrusage: `"children"` (wrk, reaped before stop())
    or `"self"` (our own WebSocket client).
    """

    groups: dict[str, object]
    loadgen: str = "children"
    _start: dict[str, dict[int, int]] = field(default_factory=dict)
    _t0: float = 0.0
    _usage0: float = 0.0
    _host0: int = 0

    def _usage(self) -> float:
        who = resource.RUSAGE_CHILDREN if self.loadgen == "children" else resource.RUSAGE_SELF
        ru = resource.getrusage(who)
        return ru.ru_utime + ru.ru_stime

    def _snapshot(self) -> dict[str, dict[int, int]]:
        return {name: {p: cpu_ticks(p) for p in fn()} for name, fn in self.groups.items()}

    def start(self) -> None:
        self._start = self._snapshot()
        self._host0 = host_busy_ticks()
        self._usage0 = self._usage()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        end = self._snapshot()
        wall = max(time.monotonic() - self._t0, 1e-6)
        out = {}
        for name, ticks in end.items():
            before = self._start.get(name, {})
            used = sum(t - before.get(p, 0) for p, t in ticks.items())
            out[name] = round(100.0 * used / CLK_TCK / wall, 1)
        out["loadgen"] = round(100.0 * (self._usage() - self._usage0) / wall, 1)
        # The whole machine: well above the sum of the others means something else competed.
        out["host"] = round(100.0 * (host_busy_ticks() - self._host0) / CLK_TCK / wall, 1)
        return out


@dataclass
class Server:
    """A process group we started (bench hello server or the Chatter server)."""

    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def pids(self) -> list[int]:
        return tree(self.proc.pid) if self.proc.poll() is None else []

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM our own process group, SIGKILL it if it lingers."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    return Server(name, proc, port, log_path)


def wait_http(server: Server, path: str, timeout: float = 60.0) -> bool:
    """Poll http://127.0.0.1:<port><path> until a 200, the process exits, or the timeout."""
    url = f"http://127.0.0.1:{server.port}{path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL we built
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


# -- which process holds a TCP connection (WebSocket placement on gunicorn workers) ---------------
@dataclass(frozen=True)
class TcpRow:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: int  # 1 = ESTABLISHED
    inode: int


def _hex_addr(text: str) -> tuple[str, int]:
    """'0100007F:1F90' (IPv4) or 32 hex digits (IPv6) + ':port', as the kernel prints them: the
    address in 32-bit words of host byte order, the port as a plain hex number."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(raw)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr), int(port, 16)


def parse_tcp_table(text: str, limit: int = 1_000_000) -> list[TcpRow]:
    """Rows of /proc/net/tcp or /proc/net/tcp6; malformed lines are skipped."""
    rows = []
    for n, line in enumerate(text.splitlines()[1:]):
        if n >= limit:
            break
        parts = line.split()
        if len(parts) < 10:
            continue
        try:
            rows.append(TcpRow(_hex_addr(parts[1]), _hex_addr(parts[2]), int(parts[3], 16), int(parts[9])))
        except ValueError:
            continue
    return rows


def tcp_rows() -> list[TcpRow] | None:
    """This network namespace's TCP sockets (v4 and v6); None when /proc/net/tcp is unreadable."""
    rows, readable = [], False
    for name in ("tcp", "tcp6"):
        try:
            text = (PROC / "net" / name).read_text()
        except OSError:
            continue
        readable = True
        rows.extend(parse_tcp_table(text))
    return rows if readable else None


def socket_inodes(pid: int, limit: int = 1_000_000) -> set[int] | None:
    """Inodes of the sockets pid has open; None when its fd table is unreadable."""
    found: set[int] = set()
    try:
        with os.scandir(PROC / str(pid) / "fd") as it:
            for n, entry in enumerate(it):
                if n >= limit:
                    break
                try:
                    target = os.readlink(entry.path)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    except OSError:
        return None
    return found


def connection_owners(server_port: int, clients: list[tuple[str, int]], pids: list[int],
                      rows: list[TcpRow] | None = None) -> dict[tuple[str, int], int] | None:
    """For each client (ip, port) connected to server_port, the pid among `pids` holding the server's
    end of that connection. Clients not found are left out; None when /proc cannot tell at all."""
    rows = tcp_rows() if rows is None else rows
    if rows is None:
        return None
    wanted = {(ip, port) for ip, port in clients}
    inode_of = {row.remote: row.inode for row in rows
                if row.local[1] == server_port and row.remote in wanted and row.inode and row.state == 1}
    owner_of_inode: dict[int, int] = {}
    readable = False
    for pid in pids:
        inodes = socket_inodes(pid)
        if inodes is None:
            continue
        readable = True
        for inode in inodes:
            owner_of_inode.setdefault(inode, pid)
    if not readable:
        return None
    return {client: owner_of_inode[inode] for client, inode in inode_of.items() if inode in owner_of_inode}


class RssPeak:
    """The highest VmRSS sum of `pids` seen by a background thread sampling every `interval` s."""

    def __init__(self, pids: list[int], interval: float = 0.2):
        self.pids = list(pids)
        self.interval = interval
        self.peak = rss_kib(self.pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-peak", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_kib(self.pids))

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, rss_kib(self.pids))
