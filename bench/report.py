"""Render a bench result (the JSON written by `python -m bench run`) as Markdown and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}"


def _errors(row: dict) -> str:
    total = row.get("error_total") or 0
    if not total:
        return "0"
    parts = []
    for code, n in sorted((row.get("statuses") or {}).items()):
        if not 200 <= int(code) < 300:
            parts.append(f"{code}×{n}")
    for kind, n in sorted((row.get("errors") or {}).items()):
        if n and kind not in ("status", "non2xx"):
            parts.append(f"{kind}×{n}")
    return f"**{total:,}** ({', '.join(parts)})" if parts else f"**{total:,}**"


def _cpu(row: dict) -> str:
    cpu = row.get("cpu") or {}
    if not cpu:
        return "—"
    text = " / ".join(_num(cpu.get(k)) for k in ("server", "mariadb", "redis", "loadgen"))
    return text + (f" ({_num(cpu['host'])})" if cpu.get("host") is not None else "")


def _ratio(row: dict) -> str:
    ratio = row.get("ratio")
    return "—" if ratio is None else f"{ratio * 100:.1f} %"


def markdown(result: dict) -> str:
    params = result.get("params", {})
    host = result.get("host", {})
    dataset = result.get("dataset") or {}
    counts = dataset.get("counts") or {}
    lines = [
        f"# Chatter bench — {result.get('started_at', '?')}",
        "",
        f"Host: {host.get('cpus', '?')} CPUs, {host.get('platform', '?')}, Python {host.get('python', '?')}, "
        f"wrk {host.get('wrk', '?')}. Loopback only; server, MariaDB, Redis and the load generator share "
        "the machine.",
        f"Load: wrk `-t{params.get('threads', '?')} -c{params.get('connections', '?')} "
        f"-d{params.get('duration', '?')}s` per HTTP scenario (login: c={params.get('login_connections', '?')}). "
        f"Load average at the start: {host.get('loadavg', '?')}.",
    ]
    pool = (result.get("db") or {}).get("buffer_pool") or {}
    if pool:
        mb = {k: pool.get(k, 0) >> 20 for k in ("before", "after", "dataset")}
        lines.append(f"MariaDB buffer pool: {mb['after']:,} MB for a {mb['dataset']:,} MB bench database"
                     + (f" (raised from {mb['before']:,} MB for the run, every index loaded in "
                        f"{pool.get('warmed_s', '?')} s)" if mb["after"] != mb["before"] else "") + ".")
    if counts:
        lines.append("Dataset: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
                     + f" (seed {dataset.get('spec', {}).get('seed', '?')}).")
    lines += [
        "",
        "req/s for WebSocket rows: sockets opened/s (ws_hold), messages delivered/s (ws_chat), "
        "notifications delivered/s (ws_fanout). × hello: the scenario's req/s as a share of the same "
        "run's `hello` with the same workers. CPU: % of one core for server / MariaDB / Redis / load "
        "generator during the scenario; in parentheses the whole machine (well above the sum: something else "
        "competed for the CPU, and the row is noisy).",
        "",
        "| Scenario | Workers | req/s | × hello | p50 ms | p99 ms | p99.9 ms | Errors | CPU srv/db/redis/load (host) % "
        "| Notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in result.get("results", []):
        lat = row.get("latency_ms") or {}
        notes = row.get("failed") or row.get("notes") or ""
        lines.append(
            f"| {row['scenario']} | {row.get('workers', '?')} | {_num(row.get('rps'))} | {_ratio(row)} "
            f"| {_num(lat.get('p50'), 2)} | {_num(lat.get('p99'), 2)} | {_num(lat.get('p999'), 2)} "
            f"| {_errors(row)} | {_cpu(row)} | {notes.replace('|', '/')} |")
    problems = result.get("problems") or []
    if problems:
        lines += ["", "## Problems during the run", ""] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n"


def chart(result: dict, path: Path) -> Path | None:
    """Latency percentiles per scenario (log scale), one panel per worker count."""
    rows = [r for r in result.get("results", []) if (r.get("latency_ms") or {}).get("p50") is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = sorted({r.get("workers", 1) for r in rows})
    fig, axes = plt.subplots(len(workers), 1, figsize=(max(8, 0.9 * len(rows) / len(workers) + 3),
                                                       4 * len(workers)), squeeze=False)
    keys = [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")]
    for ax, w in zip(axes[:, 0], workers, strict=True):
        mine = [r for r in rows if r.get("workers", 1) == w]
        xs = range(len(mine))
        width = 0.27
        for k, (key, label) in enumerate(keys):
            values = [max((r["latency_ms"].get(key) or 0.0), 0.001) for r in mine]
            ax.bar([x + (k - 1) * width for x in xs], values, width, label=label)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["scenario"] for r in mine], rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"{w} worker{'s' if w > 1 else ''}")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"Chatter bench {result.get('started_at', '')}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def render(json_path: Path) -> tuple[Path, Path | None]:
    """Re-render <name>.md and <name>.png next to <name>.json."""
    result = json.loads(Path(json_path).read_text())
    md_path = Path(json_path).with_suffix(".md")
    md_path.write_text(markdown(result))
    return md_path, chart(result, Path(json_path).with_suffix(".png"))
