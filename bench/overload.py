"""The `overload` scenario's decisions: status split, pass/fail against the target, the Notes text.

Target: under twice the saturating load the server sheds work (fast 503 or timeouts) instead of
queueing without bound; no 5xx below saturation; memory returns to its baseline after the run.
Measured on get_post (authenticated): wrk at the normal connection count (the server is CPU-bound
there: saturation), then at a much higher concurrency with a short client timeout.
"""

from __future__ import annotations

MIB = 1024  # KiB
CONNECTIONS = 1024
TIMEOUT = 2.0  # wrk --timeout of the overload phase, seconds
FD_RESERVE = 256  # descriptors left for everything but the load connections
MAX_TIMEOUT_SHARE = 0.01  # more wrk timeouts than this share of responses: a queue, not shedding
RSS_SLACK_SHARE = 0.10  # "back to baseline": after <= before * (1 + share) + slack
RSS_SLACK_KIB = 16 * MIB


def fit_connections(wanted: int, fd_limit: int, reserve: int = FD_RESERVE) -> int:
    """The overload concurrency that fits under the open-files limit (wrk and the server inherit it)."""
    return max(1, min(wanted, fd_limit - reserve))


def split_statuses(statuses: dict) -> dict[str, int]:
    """Counts by class, with 503 (shed or timed out by the server) apart from the other 5xx."""
    out = {"2xx": 0, "3xx": 0, "4xx": 0, "503": 0, "5xx_other": 0, "other": 0}
    for code, n in (statuses or {}).items():
        c = int(code)
        if c == 503:
            out["503"] += n
        elif 500 <= c < 600:
            out["5xx_other"] += n
        elif 200 <= c < 600:
            out[f"{c // 100}xx"] += n
        else:
            out["other"] += n
    return out


def memory_returned(before_kib: int, after_kib: int, share: float = RSS_SLACK_SHARE,
                    slack_kib: int = RSS_SLACK_KIB) -> bool:
    """RSS back to its baseline: at most `share` of it plus `slack_kib` above (CPython keeps some
    freed arenas, so byte-exact equality is not expected)."""
    return after_kib <= before_kib * (1 + share) + slack_kib


def verdict(sat: dict, over: dict, rss: dict, timeout_s: float = TIMEOUT) -> dict:
    """Pass/fail of each part of the target from the two wrk phases (parsed by wrk.parse) and the
    server's RSS in KiB ({"before", "peak", "after"}). Returns {"pass": bool | None, "checks": {...},
    "reasons": [...]}; pass is None when the run did not overload the server (nothing shed or timed
    out), so it proves nothing about shedding."""
    s, o = split_statuses(sat.get("statuses")), split_statuses(over.get("statuses"))
    sat_5xx = s["503"] + s["5xx_other"]
    timeouts = (over.get("errors") or {}).get("timeout", 0)
    responses = max(over.get("requests") or 0, 1)
    p99 = (over.get("latency_ms") or {}).get("p99")
    checks, reasons = {}, []

    checks["no_5xx_below_saturation"] = sat_5xx == 0
    if sat_5xx:
        reasons.append(f"{sat_5xx} 5xx at saturation")
    checks["no_other_5xx_under_overload"] = o["5xx_other"] == 0
    if o["5xx_other"]:
        reasons.append(f"{o['5xx_other']} 5xx other than 503 under overload")
    bounded = timeouts <= MAX_TIMEOUT_SHARE * responses and (p99 is None or p99 < timeout_s * 1000)
    checks["bounded_latency"] = bounded
    if not bounded:
        reasons.append(f"queued: {timeouts} wrk timeouts (> {MAX_TIMEOUT_SHARE:.0%} of {responses} responses) "
                       f"or p99 at the {timeout_s:g} s timeout")
    shed = o["503"] > 0 or timeouts > 0
    checks["shed"] = shed
    before, after = rss.get("before"), rss.get("after")
    if before and after is not None:
        checks["memory_returned"] = memory_returned(before, after)
        if not checks["memory_returned"]:
            reasons.append(f"RSS {after / MIB:.0f} MiB after vs {before / MIB:.0f} MiB before")
    else:
        checks["memory_returned"] = False
        reasons.append("server RSS not measured")
    failed = [k for k, ok in checks.items() if not ok and k != "shed"]
    if failed:
        result = False
    elif not shed:
        result = None
        reasons.append("no 503 and no timeout: the load did not overload the server")
    else:
        result = True
    return {"pass": result, "checks": checks, "reasons": reasons}


def _mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / MIB:.0f}"


def _ms(value) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def notes(sat: dict, over: dict, rss: dict, sat_conns: int, over_conns: int, decision: dict) -> str:
    """e.g. 'c=64: 2,400 req/s (host CPU 195 %), 0 5xx, p99 40 ms; c=1024 (--timeout 2 s): 503×9,000
    (shed 60 %), other 5xx 0, timeouts 0, 2xx 2,100/s (88 % of c=64), p50 20 ms, p99 190 ms;
    RSS 80→120→86→85 MiB (before/peak/+5 s/+10 s), +5 MiB kept (allowed 24) → PASS'."""
    s, o = split_statuses(sat.get("statuses")), split_statuses(over.get("statuses"))
    lat_s, lat_o = sat.get("latency_ms") or {}, over.get("latency_ms") or {}
    secs = over.get("duration_s") or 0
    total = max(over.get("requests") or 0, 1)
    goodput = o["2xx"] / secs if secs else 0.0
    sat_good = s["2xx"] / sat["duration_s"] if sat.get("duration_s") else 0.0
    sat_errs = s["503"] + s["5xx_other"]
    sat_socket = sum((sat.get("errors") or {}).get(k, 0) for k in ("connect", "read", "write", "timeout"))
    over_socket = {k: (over.get("errors") or {}).get(k, 0) for k in ("connect", "read", "write", "timeout")}
    host = (sat.get("cpu") or {}).get("host")
    before, after = rss.get("before"), rss.get("after")
    kept = ""
    if before and after is not None:
        allowed = before * RSS_SLACK_SHARE + RSS_SLACK_KIB
        kept = f", {(after - before) / MIB:+.0f} MiB kept (allowed {allowed / MIB:.0f})"
    parts = [
        f"c={sat_conns}: {sat.get('rps') or 0:,.0f} req/s"
        + (f" (host CPU {host:.0f} %)" if host is not None else "")
        + f", {sat_errs} 5xx, p99 {_ms(lat_s.get('p99'))} ms"
        + (f", socket errors {sat_socket}" if sat_socket else ""),
        f"c={over_conns} (--timeout {TIMEOUT:g} s): 503×{o['503']:,} (shed {o['503'] / total:.0%}), "
        f"other 5xx {o['5xx_other']}, timeouts {over_socket['timeout']:,}, 2xx {goodput:,.0f}/s"
        + (f" ({goodput / sat_good:.0%} of c={sat_conns})" if sat_good else "")
        + f", p50 {_ms(lat_o.get('p50'))} ms, p99 {_ms(lat_o.get('p99'))} ms"
        + "".join(f", {k} errors {v:,}" for k, v in over_socket.items() if v and k != "timeout"),
        f"RSS {_mib(before)}→{_mib(rss.get('peak'))}→{_mib(rss.get('after5'))}→{_mib(after)}"
        f" MiB (before/peak/+5 s/+10 s){kept}",
    ]
    word = {True: "PASS", False: "FAIL", None: "INCONCLUSIVE"}[decision["pass"]]
    tail = f" → {word}" + (f" ({'; '.join(decision['reasons'])})" if decision["reasons"] else "")
    return "; ".join(parts) + tail
