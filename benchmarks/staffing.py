"""Staffing against the routing simulator on the single-skill scenario.

Usage: python benchmarks/staffing.py [SCENARIO] [--weeks N] [--replications R]
       [--patience SECONDS ...]

The scenario's day is played as the same weekday of N past weeks; the next
one is forecast and planned with Erlang C for the route's service-level
target (and with Erlang A for each patience given: callers then hang up after
an exponential patience of that mean); the planned day is simulated R times
with exactly the planned agents per interval. Prints, per plan, the agents
per interval, Erlang's predicted service level (and abandon rate) for those
agents, and the simulated ones; the last line is one JSON object with keys
erlang_c (target, predicted_sl, simulated_sl, simulated_sl_sd, agents) and
erlang_a (one entry per patience, plus predicted/simulated abandon rates),
and ok: every simulated service level within TOLERANCE of Erlang's
prediction and of at least the target minus TOLERANCE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cti.routing.simulator import load_scenario
from cti.staffing.simcheck import SimCheck, check

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "single_skill.yaml"
TOLERANCE = 0.03


def describe(result: SimCheck) -> dict[str, object]:
    return {
        "target": result.target,
        "within_s": result.within_s,
        "agents": list(result.agents),
        "predicted_sl": round(result.predicted_sl, 4),
        "simulated_sl": round(result.simulated_sl, 4),
        "simulated_sl_sd": round(result.simulated_sl_sd, 4),
        "predicted_abandon": round(result.predicted_abandon, 4),
        "simulated_abandon": round(result.simulated_abandon, 4),
        "replications": result.replications,
    }


def good(result: SimCheck) -> bool:
    return (
        abs(result.simulated_sl - result.predicted_sl) <= TOLERANCE
        and result.simulated_sl >= result.target - TOLERANCE
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT))
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--patience", type=float, nargs="*", default=[120.0, 600.0])
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    started = time.perf_counter()
    results = [check(scenario, weeks=args.weeks, replications=args.replications)]
    results += [
        check(scenario, weeks=args.weeks, replications=args.replications, patience_s=p)
        for p in args.patience
    ]
    for result, patience in zip(results, [None, *args.patience], strict=True):
        label = "Erlang C" if patience is None else f"Erlang A (patience {patience:g} s)"
        print(
            f"{label}: target {result.target:.0%} within {result.within_s:g} s, "
            f"{result.calls_per_day:.0f} calls forecast, agents per interval "
            f"{','.join(map(str, result.agents))}"
        )
        print(
            f"  predicted SL {result.predicted_sl:.1%}, simulated SL {result.simulated_sl:.1%} "
            f"(sd {result.simulated_sl_sd:.1%} over {result.replications} days)"
            + (
                ""
                if patience is None
                else f"; abandons predicted {result.predicted_abandon:.1%}, "
                f"simulated {result.simulated_abandon:.1%}"
            )
        )
    print(f"{time.perf_counter() - started:.1f} s")
    figures = {
        "erlang_c": describe(results[0]),
        "erlang_a": {
            f"{p:g}": describe(r) for p, r in zip(args.patience, results[1:], strict=True)
        },
        "tolerance": TOLERANCE,
        "ok": all(good(r) for r in results),
    }
    print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
