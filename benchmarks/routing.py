"""Routing decisions at 5,000 agents and ~1,000 waiting calls, on one core.

Drives the indexed :class:`Router` and the naive :class:`FullScanRouter` with
the same seeded stream of events (calls arrive, are answered or abandoned,
agents finish calls, pause and come back, relaxation and service-level
timers fire), keeping about 1,000 calls waiting. Every router call is one
routing event; its latency is measured alone. The two routers must take identical decisions
(checked on the events both ran).

Usage: python benchmarks/routing.py [--events N] [--baseline-events N]
Last line: {"p50_ms", "p99_ms", "events_per_s", "baseline_p99_ms",
"baseline_events_per_s", ...}
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cti.routing.config import load_routes
from cti.routing.model import CallAttributes
from cti.routing.router import (
    CancelOffer,
    CancelReason,
    Decision,
    FullScanRouter,
    Offer,
    PauseAgent,
    Router,
)

ROUTES = Path(__file__).resolve().parent.parent / "cti" / "routing" / "routes.example.yaml"
AGENTS = 5_000
WAITING = 1_000
LANGUAGES = (("en", 0.6), ("zh", 0.25), ("es", 0.15))
PRODUCTS = (("billing", 0.4), ("technical", 0.35), ("security", 0.1), ("sales", 0.15))


def pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    for value, share in table:
        if x < share:
            return value
        x -= share
    return table[-1][0]


def agent_skills(rng: random.Random) -> dict[str, int]:
    first = pick(rng, LANGUAGES)
    skills = {f"lang.{first}": rng.randint(3, 5)}
    if rng.random() < 0.3:
        second = pick(rng, LANGUAGES)
        skills.setdefault(f"lang.{second}", rng.randint(2, 4))
    for product in rng.sample([p for p, _ in PRODUCTS], rng.randint(1, 3)):
        skills[product] = rng.randint(1, 5)
    return skills


def call_attrs(rng: random.Random) -> CallAttributes:
    urgency = 1 if rng.random() < 0.05 else (2 if rng.random() < 0.25 else 3)
    return CallAttributes(
        pick(rng, LANGUAGES),
        pick(rng, PRODUCTS),
        tier="vip" if rng.random() < 0.1 else "standard",
        urgency=urgency,
        callback=rng.random() < 0.03,
    )


class Driver:
    """Plays the event stream against one router and times each call into it."""

    def __init__(self, router: Router, seed: int) -> None:
        self.router = router
        self.rng = random.Random(seed)
        self.now = 0.0
        self.open: dict[str, None] = {}  # calls not answered or gone, in arrival order
        self.offers: dict[str, str] = {}  # call -> agent ringing
        self.busy: list[str] = []  # agents talking
        self.paused: list[str] = []
        self.ready: set[str] = set()
        self.next_call = 0
        self.latencies: list[float] = []
        self.log: list[list[Decision]] = []

    def timed(self, action: Callable[[], list[Decision]], measure: bool) -> None:
        start = time.perf_counter_ns()
        decisions = action()
        elapsed = time.perf_counter_ns() - start
        if measure:
            self.latencies.append(elapsed / 1e6)
            self.log.append(decisions)
        for d in decisions:
            if isinstance(d, Offer):
                self.offers[d.call_id] = d.agent_id
                self.ready.discard(d.agent_id)
            elif isinstance(d, CancelOffer):
                self.offers.pop(d.call_id, None)
                if d.reason is CancelReason.CALLER_LEFT:
                    self.ready.add(d.agent_id)
            elif isinstance(d, PauseAgent):
                self.paused.append(d.agent_id)

    def setup(self) -> None:
        r = self.router
        for i in range(AGENTS):
            r.set_agent(f"a{i:05d}", agent_skills(self.rng), self.now)
        for i in range(AGENTS):
            agent = f"a{i:05d}"
            self.timed(partial(r.agent_ready, agent, self.now), False)
            self.ready.add(agent)
        while len(self.open) - len(self.offers) < WAITING:
            self.arrive(False)
            self.answer_all()

    def answer_all(self) -> None:
        for call_id, agent_id in list(self.offers.items()):
            self.answer(call_id, agent_id, False)

    def arrive(self, measure: bool) -> None:
        call_id = f"c{self.next_call:07d}"
        self.next_call += 1
        self.open[call_id] = None
        attrs = call_attrs(self.rng)
        self.timed(lambda: self.router.call_arrived(call_id, attrs, self.now), measure)

    def answer(self, call_id: str, agent_id: str, measure: bool) -> None:
        self.timed(lambda: self.router.offer_answered(call_id, agent_id, self.now), measure)
        del self.open[call_id]
        del self.offers[call_id]
        self.busy.append(agent_id)

    def step(self) -> None:
        """One routing event, chosen at random; keeps about WAITING calls waiting."""
        rng, r = self.rng, self.router
        self.now += 0.02
        deadline = r.next_deadline()
        if deadline is not None and deadline <= self.now:  # one timer: step, RONA, SL threshold
            self.timed(lambda: r.on_timer(deadline), True)
            return
        x = rng.random()
        waiting = len(self.open) - len(self.offers)
        if self.offers and x < 0.3:
            call_id = next(iter(self.offers))
            self.answer(call_id, self.offers[call_id], True)
        elif (x < 0.7 and waiting < WAITING) or not self.busy:
            self.arrive(True)
        elif x < 0.9:
            agent_id = self.busy.pop(rng.randrange(len(self.busy)))
            self.timed(lambda: r.agent_ready(agent_id, self.now), True)
            if agent_id not in self.offers.values():
                self.ready.add(agent_id)
        elif x < 0.95 and self.open:
            call_id = rng.choice(list(self.open)[:64])  # early waiters give up
            del self.open[call_id]
            self.timed(lambda: r.call_left(call_id, self.now), True)
        elif self.paused and x < 0.975:
            agent_id = self.paused.pop(0)
            self.timed(lambda: r.agent_ready(agent_id, self.now), True)
        elif self.ready:
            agent_id = self.ready.pop()
            self.timed(lambda: r.agent_not_ready(agent_id, self.now), True)
            self.paused.append(agent_id)


def run(router: Router, events: int, seed: int) -> Driver:
    driver = Driver(router, seed)
    driver.setup()
    while len(driver.latencies) < events:
        driver.step()
    return driver


def summary(driver: Driver) -> dict[str, float]:
    lat = sorted(driver.latencies)
    total_s = sum(lat) / 1e3
    return {
        "p50_ms": round(statistics.median(lat), 4),
        "p99_ms": round(lat[int(len(lat) * 0.99)], 4),
        "max_ms": round(lat[-1], 3),
        "events_per_s": round(len(lat) / total_s),
        "events": len(lat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--baseline-events", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    plan = load_routes(ROUTES)

    indexed = run(Router(plan), args.events, args.seed)
    naive = run(FullScanRouter(plan), args.baseline_events, args.seed)
    same = min(len(naive.log), len(indexed.log))
    if indexed.log[:same] != naive.log[:same]:
        raise SystemExit("the indexed and full-scan routers decided differently")

    ours, base = summary(indexed), summary(naive)
    offers = sum(isinstance(d, Offer) for ds in indexed.log for d in ds)
    print(
        f"agents {AGENTS}, calls waiting at the end {indexed.router.waiting_count}, "
        f"ready agents {indexed.router.ready_count}, offers made {offers}"
    )
    print(f"indexed router:   {ours}")
    print(f"full-scan router: {base}")
    print(f"identical decisions on the first {same} events")
    print(
        json.dumps(
            {
                **{k: ours[k] for k in ("p50_ms", "p99_ms", "events_per_s")},
                "baseline_p50_ms": base["p50_ms"],
                "baseline_p99_ms": base["p99_ms"],
                "baseline_events_per_s": base["events_per_s"],
                "agents": AGENTS,
                "waiting_calls": WAITING,
                "events": ours["events"],
                "baseline_events": base["events"],
            }
        )
    )


if __name__ == "__main__":
    main()
