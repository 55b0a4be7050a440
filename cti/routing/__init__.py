"""Skills- and priority-based routing: the pure decision core, its config, a simulator.

``model`` (skills, requirements, priority, routes) and ``router`` are pure;
``config`` reads the routes file; ``simulator`` plays a contact-centre day.
"""

from cti.routing.model import (
    CallAttributes,
    Dnf,
    Fairness,
    NoRouteError,
    Overflow,
    PriorityPolicy,
    Requirement,
    RequirementError,
    Route,
    RoutingPlan,
    ServiceLevel,
    Step,
)
from cti.routing.router import (
    AgentStatus,
    CancelOffer,
    CancelReason,
    Decision,
    FullScanRouter,
    Offer,
    Overflowed,
    PauseAgent,
    Relaxed,
    Router,
    UnknownAgent,
    WaitingCall,
)

__all__ = [
    "AgentStatus",
    "CallAttributes",
    "CancelOffer",
    "CancelReason",
    "Decision",
    "Dnf",
    "Fairness",
    "FullScanRouter",
    "NoRouteError",
    "Offer",
    "Overflow",
    "Overflowed",
    "PauseAgent",
    "PriorityPolicy",
    "Relaxed",
    "Requirement",
    "RequirementError",
    "Route",
    "Router",
    "RoutingPlan",
    "ServiceLevel",
    "Step",
    "UnknownAgent",
    "WaitingCall",
]
