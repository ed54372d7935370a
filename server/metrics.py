"""Prometheus metrics: request latency by route template, in-flight requests, pool and socket use,
circuit breakers."""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from server.breaker import STATES, CircuitBreaker


class Metrics:
    """One registry per app, so tests and several apps in one process don't collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestLatency(
            "chatter_request_seconds", "HTTP request latency",
            (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.registry.register(self.requests)
        self.in_flight = Gauge("chatter_requests_in_flight", "Requests being served", registry=self.registry)
        self.shed = Counter("chatter_requests_shed_total", "Requests refused with 503 under overload",
                            registry=self.registry)
        self.sockets = Gauge("chatter_websockets_open", "Open WebSockets in this process",
                             registry=self.registry)
        # Read replicas (server/replicas.py): routed reads per target ("primary" or the replica's
        # host:port), why a routed read went to the primary, replica lag and rotation state.
        self.db_reads = Counter("chatter_db_reads_total", "Lag-tolerant reads by target", ["target"],
                                registry=self.registry)
        self.db_read_fallbacks = Counter(
            "chatter_db_read_fallbacks_total",
            "Lag-tolerant reads sent to the primary: no replica in rotation, read-your-writes, replica failed",
            ["reason"], registry=self.registry)
        self.replica_lag = Gauge("chatter_db_replica_lag_seconds", "Replica lag (Seconds_Behind_Master)",
                                 ["replica"], registry=self.registry)
        self.replica_up = Gauge("chatter_db_replica_in_rotation", "1 while the replica takes reads",
                                ["replica"], registry=self.registry)
        self._pool_source = None

    def watch_pool(self, source) -> None:
        """source() -> (size, free, maxsize) of the MySQL pool."""
        self._pool_source = source
        metrics = self

        class PoolCollector:
            def collect(self):
                if metrics._pool_source is None:
                    return
                size, free, maxsize = metrics._pool_source()
                g = GaugeMetricFamily("chatter_db_pool_connections", "MySQL pool connections", labels=["state"])
                g.add_metric(["in_use"], size - free)
                g.add_metric(["idle"], free)
                g.add_metric(["max"], maxsize)
                yield g

        self.registry.register(PoolCollector())

    def watch_breaker(self, breaker: CircuitBreaker) -> None:
        """A dependency's circuit breaker: its state, transitions and the calls it refused."""

        class BreakerCollector:
            def collect(self):
                labels = ["dependency", "state"]
                state = GaugeMetricFamily("chatter_breaker_state", "Circuit breaker state (1: current)", labels=labels)
                entered = CounterMetricFamily("chatter_breaker_transitions", "Circuit breaker state entries",
                                              labels=labels)
                for name in STATES:
                    state.add_metric([breaker.name, name], float(breaker.state == name))
                    entered.add_metric([breaker.name, name], breaker.transitions[name])
                refused = CounterMetricFamily("chatter_breaker_rejected", "Calls refused by an open breaker",
                                              labels=["dependency"])
                refused.add_metric([breaker.name], breaker.rejected)
                yield from (state, entered, refused)

        self.registry.register(BreakerCollector())

    def watch_sessions(self, checks: dict[str, int]) -> None:
        """Where session checks were answered: this process's cache, Redis, MySQL (server/auth.py)."""

        class SessionCollector:
            def collect(self):
                family = CounterMetricFamily("chatter_session_checks", "Session checks by where they were answered",
                                             labels=["source"])
                for source, count in list(checks.items()):
                    family.add_metric([source], count)
                yield family

        self.registry.register(SessionCollector())

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestLatency:
    """The request-latency histogram by (method, route, status), without prometheus_client's
    per-call label lookup and locks: observe() runs on every request in the event loop's thread,
    so a dict of plain lists (one per series: bucket counts, sum) is enough. Exposed exactly like
    a prometheus_client Histogram (_bucket, _count, _sum), less the _created series."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]):
        self.name, self.documentation = name, documentation
        self.bounds = tuple(float(b) for b in buckets)
        self._series: dict[tuple[str, str, int], list] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = [0] * (len(self.bounds) + 1) + [0.0]
        series[bisect_left(self.bounds, seconds)] += 1  # le: a value equal to a bound is inside it
        series[-1] += seconds

    def collect(self):
        family = HistogramMetricFamily(self.name, self.documentation, labels=["method", "route", "status"])
        les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        for (method, route, status), series in list(self._series.items()):
            counts, total, buckets = series[:-1], series[-1], []
            running = 0
            for le, n in zip(les, counts, strict=True):
                running += n
                buckets.append((le, running))
            family.add_metric([method, route, str(status)], buckets, total)
        yield family

