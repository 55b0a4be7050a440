"""Erlang A (Palm's M/M/n+M queue: callers who wait too long hang up).

Poisson arrivals (rate ``lam``), exponential handle times (mean ``handle_s``,
rate ``mu``), ``n`` agents, and exponential patience (mean ``patience_s``,
rate ``theta``). With ``x = n mu / theta``, ``y = lam / theta``,
``E = ErlangB(n, lam / mu)`` and ``P(s, z)`` the regularized lower incomplete
gamma function:

* ``A = x e^y y^-x gamma(x, y)`` (``gamma`` the lower incomplete gamma)
* P(wait > 0) ``w = A E / (1 + (A - 1) E)``
* P(abandon | wait > 0) ``= 1 - 1/rho + 1/(rho A)`` with ``rho = lam / (n mu)``
* service level (answered within ``t`` / offered, abandons count against):
  ``1 - w + w (x / y) [P(x+1, y) - P(x+1, y e^(-theta t))] / P(x, y)``
* mean wait of all callers (Little's law on the queue): ``P(abandon) / theta``

The derivation (``docs/staffing.md``): an arrival that finds ``m`` callers
waiting reaches an agent after ``V``, a sum of exponentials with rates
``n mu + j theta`` (j = 0..m), and ``e^(-theta V)`` is Beta(x, m+1)
distributed; it is answered if its own patience outlasts ``V``, which has
probability ``E[e^(-theta V)]``. Summing over the stationary distribution of
``m`` gives the closed forms above. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cti.routing.erlang import erlang_b

_EPS = 1e-15
_MAX_ITER = 100_000


def log_gamma_p(s: float, z: float) -> float:
    """log P(s, z), P = gamma(s, z) / Gamma(s) the regularized lower incomplete gamma
    function, for s > 0, z > 0: a series below z = s + 1, a continued fraction above
    (in logarithms, so that a tiny P does not underflow)."""
    if s <= 0 or z <= 0:
        raise ValueError("s and z must be positive")
    log_front = s * math.log(z) - z - math.lgamma(s)
    if z < s + 1:
        # gamma(s, z) = z^s e^-z sum_k z^k / (s (s+1) ... (s+k))
        term = total = 1.0 / s
        a = s
        for _ in range(_MAX_ITER):
            a += 1
            term *= z / a
            total += term
            if term < total * _EPS:
                break
        return min(0.0, log_front + math.log(total))
    # the continued fraction of Q = 1 - P (modified Lentz)
    tiny = 1e-300
    b = z + 1 - s
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - s)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    q = math.exp(log_front + math.log(h))
    return math.log1p(-q) if q < 1 else -math.inf


def regularized_gamma_p(s: float, z: float) -> float:
    """P(s, z) = gamma(s, z) / Gamma(s); P(s, 0) = 0."""
    if z == 0 and s > 0:
        return 0.0
    return math.exp(log_gamma_p(s, z))


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady-state figures of one M/M/n+M queue."""

    agents: int
    traffic: float  # offered load in Erlangs (lam / mu)
    p_wait: float  # an arriving call waits at all
    p_abandon: float  # an arriving call hangs up before an agent answers
    service_level: float  # answered within ``within_s`` / offered
    mean_wait_s: float  # of all calls, answered or abandoned

    @property
    def occupancy(self) -> float:
        """Share of the agents' time spent on calls (only answered calls take time)."""
        if self.agents == 0:
            return 0.0
        return self.traffic * (1 - self.p_abandon) / self.agents


def erlang_a(
    agents: int, calls_per_s: float, handle_s: float, patience_s: float, within_s: float
) -> ErlangA:
    """Erlang A figures for ``agents`` agents (see the module docstring)."""
    if agents < 0 or calls_per_s < 0 or handle_s <= 0 or patience_s <= 0 or within_s < 0:
        raise ValueError("agents, calls and within_s must not be negative; times positive")
    traffic = calls_per_s * handle_s
    if calls_per_s == 0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 1.0, 0.0)
    theta = 1 / patience_s
    y = calls_per_s / theta
    if agents == 0:
        # nobody answers: everyone waits until they give up
        return ErlangA(0, traffic, 1.0, 1.0, 0.0, patience_s)
    x = agents / handle_s / theta
    blocking = erlang_b(agents, traffic)
    if blocking <= 0:  # so many agents that nobody ever waits (underflow)
        return ErlangA(agents, traffic, 0.0, 0.0, 1.0, 0.0)
    log_p_x = log_gamma_p(x, y)
    log_a = math.log(x) + y - x * math.log(y) + math.lgamma(x) + log_p_x
    # w = A E / (1 + (A - 1) E) = 1 / (1 + (1 - E) / (A E))
    log_ae = log_a + math.log(blocking)
    p_wait = 1.0 if log_ae > 700 else 1 / (1 + (1 - blocking) * math.exp(-log_ae))
    inv_a = math.exp(-log_a) if log_a < 700 else 0.0
    rho = y / x
    p_abandon_waiting = 1 - 1 / rho + inv_a / rho
    p_abandon = min(1.0, max(0.0, p_wait * p_abandon_waiting))
    # (x / y) [P(x+1, y) - P(x+1, y e^-theta t)] / P(x, y), as ratios of logarithms
    late = y * math.exp(-theta * within_s)
    in_time = math.exp(log_gamma_p(x + 1, y) - log_p_x)
    if late > 0:
        in_time -= math.exp(log_gamma_p(x + 1, late) - log_p_x)
    served_in_time = (x / y) * in_time
    service_level = (1 - p_wait) + p_wait * max(0.0, served_in_time)
    return ErlangA(
        agents=agents,
        traffic=traffic,
        p_wait=p_wait,
        p_abandon=p_abandon,
        service_level=min(1.0, max(0.0, service_level)),
        mean_wait_s=p_abandon * patience_s,
    )


def agents_for_service_level_a(
    calls_per_s: float, handle_s: float, patience_s: float, within_s: float, target: float
) -> int:
    """The fewest agents whose Erlang A service level reaches ``target``.

    The service level grows with the number of agents, so the search doubles
    an upper bound and then bisects. Zero calls need zero agents.
    """
    if not 0 <= target < 1:
        raise ValueError("target must be in [0, 1)")
    if calls_per_s == 0:
        return 0

    def good(n: int) -> bool:
        return erlang_a(n, calls_per_s, handle_s, patience_s, within_s).service_level >= target

    low, high = 0, 1  # good(low) is False (0 agents answer nobody) unless target is 0
    if target == 0:
        return 0
    while not good(high):
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if good(mid):
            high = mid
        else:
            low = mid
    return high
