"""The cyclic garbage collector of the service's process, set once it is up.

Its passes stop the event loop while they walk the objects they look at; with
the interpreter's defaults a busy service (hundreds of events and wallboard
frames a second) runs a young pass every 700 allocations, promotes the objects
of calls in flight to the older generations, and every few seconds runs a full
pass over the whole heap: a stall of 100 ms and more on a small shared machine,
which every event in flight waits for (the wallboard's p99).

* what was built to start (modules, settings, the agents, today's figures read
  back) lives as long as the process: it is collected once, then frozen
  (``gc.freeze``), and no full pass walks it again;
* young passes run every ``YOUNG_EVERY`` allocations, so that the short-lived
  objects of one event or one frame are freed by reference counting before a
  pass sees them, and fewer are promoted (fewer and shorter full passes).

Reference counting frees everything that is not a cycle at once; cycles wait a
little longer for a pass (a few MB at most).
"""

from __future__ import annotations

import gc

#: allocations (net of frees) between young passes (the interpreter's default: 700)
YOUNG_EVERY = 50_000
#: young passes per middle pass, middle passes per full pass (defaults: 10, 10)
OLDER_EVERY = 20


def settle_heap() -> None:
    """Collect the start's garbage, freeze what is left, and space the passes
    (once, when the service is up)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_EVERY, OLDER_EVERY, OLDER_EVERY)
