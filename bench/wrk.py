"""wrk: make sure it is installed, run one Lua scenario, parse what it prints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
MARK = "BENCH_JSON "


class WrkMissing(RuntimeError):
    """wrk is not installed and could not be installed."""


def ensure_wrk(install: bool = True) -> str:
    """Path of wrk; on Debian as root, `apt-get install wrk` when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get") and Path("/etc/debian_version").exists():
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "wrk"]):
            subprocess.run(argv, env=env, check=False, stdout=subprocess.DEVNULL, timeout=600)
            found = shutil.which("wrk")
            if found:
                return found
    raise WrkMissing("wrk is not installed: run `sudo apt-get install wrk` (Debian/Ubuntu) or "
                     "`brew install wrk`, then run the bench again")


def script_path(name: str) -> Path:
    return LUA_DIR / f"{name}.lua"


def effective_threads(threads: int, connections: int) -> int:
    """wrk needs at least one connection per thread."""
    return max(1, min(threads, connections))


def command(wrk: str, url: str, script: str, duration: float, connections: int, threads: int = 2,
            timeout: float = 5.0) -> list[str]:
    return [wrk, f"-t{effective_threads(threads, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s",
            f"--timeout={max(1, round(timeout))}s", "-s", str(script_path(script)), url]


def run(wrk: str, url: str, script: str, duration: float, connections: int, threads: int = 2,
        data_path: Path | None = None, timeout: float = 5.0) -> subprocess.Popen:
    """Start wrk (the caller waits, bounded); stdout/stderr are pipes."""
    env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR), BENCH_THREADS=str(effective_threads(threads, connections)))
    if data_path is not None:
        env["BENCH_DATA"] = str(data_path)
    return subprocess.Popen(command(wrk, url, script, duration, connections, threads, timeout), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LAT = re.compile(r"^\s*Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)", re.M)
_PCT = re.compile(r"^\s*(50|75|90|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)", re.M)


def parse(stdout: str) -> dict:
    """wrk's output as {requests, duration_s, rps, latency_ms{...}, errors{...}, statuses{...}}.

    Our Lua done() prints one `BENCH_JSON {...}` line; without it (a script error, or a
    plain wrk run) the standard text summary is parsed, with fewer fields.
    """
    for line in stdout.splitlines():
        if line.startswith(MARK):
            raw = json.loads(line[len(MARK):])
            seconds = raw["duration_us"] / 1e6 or 1e-9
            lat = {k: round(v / 1000.0, 3) for k, v in raw["latency_us"].items()}
            statuses = {str(k): int(v) for k, v in raw.get("statuses", {}).items()}
            non2xx = sum(v for k, v in statuses.items() if not 200 <= int(k) < 300)
            errors = dict(raw["errors"], non2xx=non2xx)
            return {"requests": raw["requests"], "duration_s": round(seconds, 3),
                    "rps": round(raw["requests"] / seconds, 1), "latency_ms": lat, "errors": errors,
                    "statuses": statuses, "error_total": non2xx + sum(raw["errors"][k] for k in
                                                                      ("connect", "read", "write", "timeout"))}
    return _parse_text(stdout)


def _ms(value: str, unit: str) -> float:
    return round(float(value) * _UNITS[unit], 3)


def _parse_text(stdout: str) -> dict:
    out: dict = {"requests": 0, "duration_s": 0.0, "rps": 0.0, "latency_ms": {}, "statuses": {},
                 "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, "non2xx": 0}}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", stdout)
    if m:
        out["requests"] = int(m.group(1))
        out["duration_s"] = _ms(m.group(2), m.group(3)) / 1000.0
    m = re.search(r"Requests/sec:\s+([\d.]+)", stdout)
    if m:
        out["rps"] = float(m.group(1))
    m = _LAT.search(stdout)
    if m:
        out["latency_ms"].update(mean=_ms(m.group(1), m.group(2)), stdev=_ms(m.group(3), m.group(4)),
                                 max=_ms(m.group(5), m.group(6)))
    for pct, value, unit in _PCT.findall(stdout):
        out["latency_ms"]["p" + pct] = _ms(value, unit)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    if m:
        out["errors"].update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)),
                             timeout=int(m.group(4)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    if m:
        out["errors"]["non2xx"] = out["errors"]["status"] = int(m.group(1))
    e = out["errors"]
    out["error_total"] = e["non2xx"] + e["connect"] + e["read"] + e["write"] + e["timeout"]
    return out
