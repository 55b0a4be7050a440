"""Supervisor figures (KPIs) and alarms: the pure core.

No I/O here. ``live.LiveKpis`` folds the core's effects into figures for
"now", "today" and a sliding window; ``report`` computes the same figures
from stored CDRs and the agent state log for any period. Both add up the
same per-call contributions (``figures.contribution``), in integer
milliseconds, so they agree exactly. Formulas: docs/kpi.md.
"""
