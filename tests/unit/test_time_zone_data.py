"""The IVR's business hours work on a machine without the system's time-zone database.

Minimal systems and container images have no ``/usr/share/zoneinfo``; the
project depends on the ``tzdata`` package so that ``zoneinfo`` finds its
zones anyway. The check runs in a fresh interpreter whose time-zone search
path (``PYTHONTZPATH``) points at an empty directory, so only the project's
own dependencies can answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ivr.service import DEFAULT_FLOW

PROBE = """
import datetime as dt, json, sys, zoneinfo
from pathlib import Path
from ivr.flow import load_flow

flow = load_flow(Path(sys.argv[1]))
hours = [n for n in flow.nodes.values() if n.type == "hours"]
now = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
print(json.dumps({
    "tzpath": list(zoneinfo.TZPATH),
    "zones": [n.timezone for n in hours],
    "open": [flow.is_open(n, now) for n in hours],
    "local": [now.astimezone(zoneinfo.ZoneInfo(n.timezone)).isoformat() for n in hours],
}))
"""


def test_shipped_flow_hours_work_without_the_systems_time_zone_database(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-zoneinfo"
    nowhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(DEFAULT_FLOW)],
        env={**os.environ, "PYTHONTZPATH": str(nowhere)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["tzpath"] == [str(nowhere)]  # the system's database was out of reach
    assert seen["zones"] == ["Asia/Shanghai"]
    assert seen["open"] == [True]  # the shipped flow is open around the clock
    assert seen["local"] == ["2026-11-25T10:00:00+08:00"]
