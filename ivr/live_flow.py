"""The flow new calls take, switchable while calls run (the crisis switch).

Each call reads :attr:`LiveFlow.current` once, when it enters the IVR, and
keeps that flow to its end; a switch changes what the next call gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flow import Flow


@dataclass(frozen=True, slots=True)
class ActiveFlow:
    flow: Flow
    announcement: str | None = None  # a prompt played before the flow starts
    label: str = ""  # the crisis profile's name; "" for the normal flow


class LiveFlow:
    def __init__(self, normal: Flow) -> None:
        self.normal = normal
        self.current = ActiveFlow(normal)

    def use(self, active: ActiveFlow) -> None:
        self.current = active

    def use_normal(self) -> None:
        self.current = ActiveFlow(self.normal)
