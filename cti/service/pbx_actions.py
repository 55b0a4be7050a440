"""Every write to Asterisk, through one ordered worker, with typed helpers.

The core's membership and offer effects and every command (Setvar, Redirect,
Originate, Hangup, QueueAdd/QueueRemove/QueuePause, MixMonitorMute) are queued here and sent
one at a time in the order decided, so Asterisk never sees them reordered.
A helper awaits its own reply (and raises ``AmiError``); the core's effects
are fire-and-forget: a failure is logged and the next resync repairs it.
Reads (Getvar, CoreShowChannels, QueueStatus) go to the client directly, not
through the worker (nothing to order): :meth:`PbxActions.channels` is the
typed one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message

from cti import dialplan
from cti.ami.client import AmiClient, AmiError
from cti.domain import effects as fx

log = logging.getLogger(__name__)

#: Hang-up cause "normal clearing" (Q.850 16).
NORMAL_CLEARING = 16


@dataclass(slots=True)
class _Job:
    send: Callable[[], Awaitable[Any]]
    what: str
    reply: asyncio.Future[Any] | None  # None: a core effect, failures only logged


class PbxQueueFull(AmiError):
    """More actions wait for Asterisk than allowed: it is not keeping up (or not there)."""


class PbxActions:
    """The one ordered AMI action worker (:meth:`run`) and its typed helpers.

    At most ``max_queued`` actions wait: beyond, a command fails at once with
    :class:`PbxQueueFull` and a core effect is dropped with an error in the log
    (the next resync re-applies membership and offers).
    """

    def __init__(self, ami: AmiClient, max_queued: int = 5_000) -> None:
        self.ami = ami
        self.max_queued = max_queued
        self.dropped = 0  # core effects dropped because the queue was full
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queued)

    async def run(self) -> None:
        """One worker so actions reach Asterisk in the order decided."""
        while True:
            job = await self._jobs.get()
            try:
                result = await job.send()
            except AmiError as exc:
                if job.reply is None:
                    # after a reconnect, resync re-applies the membership we want
                    log.warning("AMI action for %s failed: %s", job.what, exc)
                elif not job.reply.done():
                    job.reply.set_exception(exc)
            except Exception as exc:
                if job.reply is None:
                    log.exception("AMI action for %s failed", job.what)
                elif not job.reply.done():
                    job.reply.set_exception(exc)
            else:
                if job.reply is not None and not job.reply.done():
                    job.reply.set_result(result)
            finally:
                self._jobs.task_done()

    # ------------------------------------------------------------ core effects
    def carry_out(self, effect: fx.Effect) -> None:
        """Queue a membership or offer effect of the core (not awaited)."""
        try:
            self._jobs.put_nowait(_Job(lambda: self._effect(effect), repr(effect), None))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error(
                "PBX action queue full (%d waiting): %r dropped; resync will repair",
                self.max_queued,
                effect,
            )

    async def _effect(self, effect: fx.Effect) -> None:
        match effect:
            case fx.AddQueueMember():
                await self._queue_add(
                    effect.queue, effect.agent_id, effect.interface, effect.paused, effect.reason
                )
            case fx.RemoveQueueMember():
                await self._send(
                    {"Action": "QueueRemove", "Queue": effect.queue, "Interface": effect.interface}
                )
            case fx.PauseQueueMember():
                await self._queue_pause(effect.interface, effect.paused, effect.reason)
            case fx.OfferCall():
                # the dialplan's Dial() gets 2 s more than the router's ring
                # timeout, so the router's RONA (which withdraws) always leads
                ring = max(1, round(effect.ring_timeout_s)) + 2
                offer = f"{effect.agent_id}|{effect.interface}|{ring}"
                await self._setvar(dialplan.OFFER, offer, effect.channel)
                await self._redirect(effect.channel, dialplan.OFFER_CONTEXT, "s")
                log.info("offered call %s to agent %s", effect.call_id, effect.agent_id)
            case fx.WithdrawOffer():
                await self._redirect(effect.channel, dialplan.WAIT_CONTEXT, dialplan.REQUEUE_EXTEN)
            case _:
                raise TypeError(f"not an AMI effect: {effect!r}")

    # ------------------------------------------------------------ typed helpers
    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        """Set a channel variable (or a global one without ``channel``)."""
        await self._submit(lambda: self._setvar(variable, value, channel), f"Setvar {variable}")

    async def redirect(self, channel: str, context: str, exten: str = "s", tries: int = 1) -> None:
        """Send ``channel`` to priority 1 of ``context``/``exten``."""
        await self._submit(
            lambda: self._redirect(channel, context, exten, tries), f"Redirect {channel}"
        )

    async def hangup(self, channel: str, cause: int = NORMAL_CLEARING) -> None:
        await self._submit(
            lambda: self._send({"Action": "Hangup", "Channel": channel, "Cause": str(cause)}),
            f"Hangup {channel}",
        )

    async def originate(
        self,
        channel: str,
        channel_id: str | None,
        context: str,
        timeout_s: float,
        caller_id: str,
        variables: Mapping[str, str],
        exten: str = "s",
    ) -> None:
        """Async Originate of ``channel`` into ``context``/``exten``; ``channel_id``
        names its leg (None: Asterisk names it)."""
        fields = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Timeout": str(int(timeout_s * 1000)),
            "CallerID": caller_id,
            "Variable": ",".join(f"{name}={value}" for name, value in variables.items()),
            "Async": "true",
        }
        if channel_id is not None:
            fields["ChannelId"] = channel_id
        await self._submit(lambda: self._send(fields), f"Originate {channel}")

    async def queue_pause(self, interface: str, paused: bool, reason: str = "") -> None:
        await self._submit(
            lambda: self._queue_pause(interface, paused, reason), f"QueuePause {interface}"
        )

    async def mixmonitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        """Mute (``muted``) or unmute the MixMonitor recording ``channel``: the
        muted span is silence in its files, which keep their timing."""
        fields = {
            "Action": "MixMonitorMute",
            "Channel": channel,
            "Direction": direction,
            "State": "1" if muted else "0",
        }
        await self._submit(lambda: self._send(fields), f"MixMonitorMute {channel}")

    # ------------------------------------------------------------ reads
    async def channels(self) -> list[Message]:
        """Every channel the PBX has now (CoreShowChannels), one message each."""
        return await self.ami.list_action({"Action": "CoreShowChannels"})

    # ------------------------------------------------------------ internals
    async def _submit(self, send: Callable[[], Awaitable[Any]], what: str) -> Any:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self._jobs.put_nowait(_Job(send, what, reply))
        except asyncio.QueueFull:
            raise PbxQueueFull(
                f"{what} refused: {self.max_queued} PBX actions already waiting for Asterisk"
            ) from None
        return await reply

    async def _send(self, fields: dict[str, str]) -> Any:
        return await self.ami.action(fields)

    async def _setvar(self, variable: str, value: str, channel: str | None) -> None:
        fields = {"Action": "Setvar", "Variable": variable, "Value": value}
        if channel is not None:
            fields = {"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value}
        await self._send(fields)

    async def _queue_add(
        self, queue: str, agent_id: str, interface: str, paused: bool, reason: str
    ) -> None:
        await self._send(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": interface,
                "MemberName": agent_id,
                "StateInterface": interface,
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )

    async def _queue_pause(self, interface: str, paused: bool, reason: str) -> None:
        await self._send(
            {
                "Action": "QueuePause",
                "Interface": interface,
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )

    async def _redirect(self, channel: str, context: str, exten: str, tries: int = 5) -> None:
        """AMI Redirect, retried briefly: Asterisk refuses a Redirect ("channel not
        up") while the channel still carries out the previous one."""
        for attempt in range(tries):
            try:
                await self._send(
                    {
                        "Action": "Redirect",
                        "Channel": channel,
                        "Context": context,
                        "Exten": exten,
                        "Priority": "1",
                    }
                )
                return
            except AmiError as exc:
                if "not up" not in str(exc) or attempt == tries - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
