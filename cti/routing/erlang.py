"""Erlang C (M/M/N, no abandonment): waiting probability, service level, ASA."""

from __future__ import annotations

import math


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability with ``agents`` servers and ``traffic`` Erlangs (stable recursion)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits; 1.0 when the queue is unstable (traffic >= agents)."""
    if traffic >= agents:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, handle_s: float, within_s: float) -> float:
    """Share of calls answered within ``within_s`` seconds."""
    if traffic >= agents:
        return 0.0
    wait = erlang_c(agents, traffic)
    return 1.0 - wait * math.exp(-(agents - traffic) * within_s / handle_s)


def average_speed_of_answer(agents: int, traffic: float, handle_s: float) -> float:
    if traffic >= agents:
        return math.inf
    return erlang_c(agents, traffic) * handle_s / (agents - traffic)


def agents_for_service_level(
    traffic: float, handle_s: float, within_s: float, target: float
) -> int:
    """The fewest agents that reach ``target`` (e.g. 0.8 within 20 s)."""
    agents = max(1, math.floor(traffic) + 1)
    while service_level(agents, traffic, handle_s, within_s) < target:
        agents += 1
    return agents
