"""Operations metrics for Prometheus: the running service's figures, read at scrape time.

Gauges are not kept up to date as things happen: ``HotlineCollector`` asks the
core, the WebSocket hub, the CDR writer and the AMI client when Prometheus
scrapes, so they can never drift from what the service holds. Only the AMI
event lag is observed as events are handled (``EventLag``), into a histogram.

Metrics (the README describes each): ``hotline_calls_in_progress{state}``,
``hotline_queue_waiting_calls{queue}``, ``hotline_queue_longest_wait_seconds{queue}``,
``hotline_agents{state}``, ``hotline_ami_connected``, ``hotline_ami_reconnects_total``,
``hotline_ami_events_queued``, ``hotline_ami_event_lag_seconds`` (histogram),
``hotline_cdr_writer_queue_depth``, ``hotline_database_failing``,
``hotline_database_write_failures_total``, ``hotline_websocket_clients{role}``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cti.domain.model import AgentState, CallState

if TYPE_CHECKING:
    from cti.service.hotline import Hotline

# AMI event lag buckets (seconds): the wallboard's goal is well under 50 ms
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EventLag:
    """How late AMI events are handled.

    With Asterisk's ``Timestamp`` header (``timestampevents = yes`` in
    manager.conf, as shipped): now minus the event's time. Without it: the time
    the service took to handle the event (``started`` is when it was taken).
    """

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.histogram = Histogram(
            "hotline_ami_event_lag_seconds",
            "Time from the AMI event (its Timestamp header, else its being taken) to handled",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def handled(self, event: Mapping[str, str], started: float) -> None:
        now = self.clock()
        stamp = _float(event.get("Timestamp"))
        lag = now - stamp if stamp is not None else now - started
        self.histogram.observe(max(lag, 0.0))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class HotlineCollector(Collector):
    """The service's live figures, asked for at each scrape."""

    def __init__(self, hotline: Hotline) -> None:
        self._hotline = hotline

    def collect(self) -> Iterable[Metric]:
        hotline = self._hotline
        now = hotline.clock()
        core = hotline.core

        calls = GaugeMetricFamily(
            "hotline_calls_in_progress", "Calls in progress, by state", labels=["state"]
        )
        snapshots = {call.call_id: call for call in core.call_snapshots(now)}
        by_state = Counter(call.state for call in snapshots.values())
        for state in CallState:
            if state is not CallState.ENDED:
                calls.add_metric([state.value], by_state[state])
        yield calls

        waiting = GaugeMetricFamily(
            "hotline_queue_waiting_calls", "Callers waiting in each queue", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "hotline_queue_longest_wait_seconds",
            "Wait of the longest waiting caller in each queue",
            labels=["queue"],
        )
        for queue in sorted(core.queues):
            ids = core.waiting_in(queue)
            waits = [snapshots[i].waited_s for i in ids if i in snapshots]
            waiting.add_metric([queue], len(ids))
            longest.add_metric([queue], max(waits, default=0.0))
        yield waiting
        yield longest

        agents = GaugeMetricFamily("hotline_agents", "Agents by state", labels=["state"])
        agent_states = Counter(agent.state for agent in core.agent_snapshots())
        for agent_state in AgentState:
            agents.add_metric([agent_state.value], agent_states[agent_state])
        yield agents

        ami = hotline.ami
        yield GaugeMetricFamily(
            "hotline_ami_connected",
            "1 while logged in to the AMI",
            value=int(ami.logged_in.is_set()),
        )
        yield CounterMetricFamily(
            "hotline_ami_reconnects",
            "AMI logins after the first one",
            value=max(ami.generation - 1, 0),
        )
        yield GaugeMetricFamily(
            "hotline_ami_events_queued",
            "AMI events read and not handled yet",
            value=ami.events.qsize(),
        )
        yield GaugeMetricFamily(
            "hotline_cdr_writer_queue_depth",
            "CDRs and call-backs waiting for the database writer",
            value=hotline.records.queue.qsize(),
        )
        health = hotline.records.dead_letters.health
        yield GaugeMetricFamily(
            "hotline_database_failing",
            "1 while the CDR writer cannot write (database locked, full or down)",
            value=int(health.failing_since is not None),
        )
        yield CounterMetricFamily(
            "hotline_database_write_failures",
            "Tries of the CDR writer the database failed (retried)",
            value=health.failures,
        )

        sockets = GaugeMetricFamily(
            "hotline_websocket_clients", "Open WebSockets by role", labels=["role"]
        )
        roles = hotline.hub.clients_by_role()
        for role in ("agent", "qa", "supervisor", "admin"):
            sockets.add_metric([role], roles.get(role, 0))
        yield sockets


class ServiceMetrics:
    """The service's Prometheus registry: its live figures and the AMI event lag."""

    def __init__(self, hotline: Hotline, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(HotlineCollector(hotline))
        self.lag = EventLag(self.registry, clock)

    def exposition(self) -> bytes:
        """The figures in Prometheus' text format."""
        return generate_latest(self.registry)
