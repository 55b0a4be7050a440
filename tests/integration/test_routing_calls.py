"""The router's decisions on the wire: real SIP calls through the real Asterisk.

Each test starts a hotline with its own routes file (short relaxation and
ring times) and agent skills, places calls with sipp through the IVR, and
checks which agent phone rang and answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from cti.config import Settings
from cti.db.repository import Repository, make_engine
from cti.domain.model import AgentState
from cti.server import Running, running_hotline
from recordings.catalogue import AudioLevel, audio_level
from tests.support.sipp import AgentPhone, CallHandle, agent_port, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk

ROUTES = """
version: 1
fairness: longest_idle
rona_pause_reason: rona
priority:
  per_second_waited: 1
  tier: {standard: 0, gold: 30, platinum: 60}
  urgency: {1: 10000, 2: 30, 3: 0}
defaults:
  ring_timeout_s: 4
routes:
  - name: billing
    match: {product: billing}
    steps:
      - requires: "lang.{language} >= 4 & billing >= 3"
      - after_s: 5
        requires: "lang.{language} >= 2 & billing >= 1"
  - name: general
    steps:
      - requires: "lang.{language} >= 1"
"""

BOB = "15550100002"  # demo customer, tier standard
ZHANG = "13800138000"  # demo customer, tier platinum (VIP)

EN_BILLING = "lang.en:5,billing:4"
ZH_BILLING = "lang.zh:5,billing:4"
EN_JUNIOR_BILLING = "lang.en:5,billing:1"


async def routing_settings(
    settings: Settings, tmp_path: Path, skills: Mapping[str, str]
) -> Settings:
    """Settings for the skills router with the test routes; agents given ``skills``."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES, encoding="utf-8")
    engine = make_engine(settings.effective_database_url)
    repository = Repository(engine)
    for agent_id, agent_skills in skills.items():
        await repository.set_agent_skills(agent_id, agent_skills)
    await engine.dispose()
    return settings.model_copy(update={"routes_file": routes, "routing_mode": "skills"})


@contextlib.asynccontextmanager
async def routing_hotline(
    settings: Settings, tmp_path: Path, skills: Mapping[str, str]
) -> AsyncIterator[Running]:
    configured = await routing_settings(settings, tmp_path, skills)
    async with running_hotline(configured) as running:
        try:
            yield running
        finally:
            await hang_up_all(running)


async def hang_up_all(running: Running) -> None:
    """End every call still up, so the next test starts with an empty PBX."""
    core = running.hotline.core
    for call in list(core.calls.values()):
        with contextlib.suppress(Exception):
            await running.ami.action({"Action": "Hangup", "Channel": call.channel})
    await wait_until(lambda: not core.calls, within=15, what="every call to end")


def go_ready(running: Running, *agents: str) -> None:
    for agent_id in agents:
        running.hotline.desk.login(agent_id)
        running.hotline.desk.ready(agent_id)


def call_of(running: Running, number: str) -> str | None:
    """The newest call from ``number``."""
    calls = [c for c in running.hotline.core.calls.values() if c.caller_number == number]
    return max(calls, key=lambda c: c.started_at).call_id if calls else None


async def answered_by(running: Running, call_id: str | None, agent_id: str) -> None:
    """Wait until the core saw ``agent_id`` answer ``call_id`` (the phone may be quicker)."""
    core = running.hotline.core
    await wait_until(
        lambda: call_id in core.calls and core.calls[call_id].agent_id is not None,
        within=10,
        what=f"the core to see call {call_id} answered",
    )
    assert call_id is not None and core.calls[call_id].agent_id == agent_id


def waiting_ids(running: Running) -> list[str]:
    router = running.hotline.router
    assert router is not None
    return [w.call_id for w in router.waiting(running.hotline.clock())]


async def caller(settings: Settings, number: str, dtmf: str, talk_s: float = 4) -> CallHandle:
    return await start_call(
        settings.sip_port, caller_number=number, dtmf=dtmf, dtmf_gap_s=1.0, talk_s=talk_s
    )


async def test_vip_call_arriving_second_is_answered_first(hotline_settings, tmp_path) -> None:
    async with routing_hotline(hotline_settings, tmp_path, {"1001": EN_BILLING}) as running:
        core = running.hotline.core
        running.hotline.desk.login("1001")  # logged in, paused: nobody free
        async with AgentPhone(agent_port(1001), answer_after_s=0.3) as phone:
            normal = await caller(hotline_settings, BOB, "11", talk_s=12)
            await wait_until(
                lambda: len(waiting_ids(running)) == 1, within=30, what="the normal call waiting"
            )
            vip = await caller(hotline_settings, ZHANG, "11", talk_s=12)
            await wait_until(
                lambda: len(waiting_ids(running)) == 2, within=30, what="both calls waiting"
            )
            vip_id, normal_id = call_of(running, ZHANG), call_of(running, BOB)
            assert waiting_ids(running) == [vip_id, normal_id]  # the router's order
            running.hotline.desk.ready("1001")
            await wait_until(
                lambda: core.agents["1001"].state is AgentState.TALKING,
                within=20,
                what="agent 1001 to answer a call",
            )
            assert core.agents["1001"].call_id == vip_id
            assert core.calls[vip_id].agent_id == "1001"
            assert normal_id in core.calls and core.calls[normal_id].agent_id is None
            await phone.wait_answered(1, timeout=10)
            assert phone.calls_received == 1  # only the VIP call rang the phone so far
            await hang_up_all(running)
            await vip.stop()
            await normal.stop()


async def test_mandarin_call_goes_to_the_mandarin_agent_while_an_english_one_idles(
    hotline_settings, tmp_path
) -> None:
    skills = {"1001": EN_BILLING, "1003": ZH_BILLING}
    async with routing_hotline(hotline_settings, tmp_path, skills) as running:
        core = running.hotline.core
        go_ready(running, "1001")  # ready first: longest idle, would win on fairness
        go_ready(running, "1003")
        async with (
            AgentPhone(agent_port(1001), answer_after_s=0.3) as english,
            AgentPhone(agent_port(1003), answer_after_s=0.3) as mandarin,
        ):
            call = await caller(hotline_settings, ZHANG, "21", talk_s=3)  # 中文, billing
            await mandarin.wait_answered(1, timeout=30)
            call_id = call_of(running, ZHANG)
            await answered_by(running, call_id, "1003")
            assert core.agents["1001"].state is AgentState.READY
            result = await call.wait(30)
            assert result.answered
            assert english.calls_received == 0
        await wait_until(lambda: call_id not in core.calls, within=15, what="the call to end")
        await running.hotline.drain()  # the CDR is written (before the database closes)
        cdr = await running.hotline.repository.cdr(call_id)
        assert cdr is not None and (cdr.agent_id, cdr.queue) == ("1003", "billing")
        assert "lang=zh" in cdr.ivr_path


async def test_after_relaxation_a_call_goes_to_the_best_partial_match(
    hotline_settings, tmp_path
) -> None:
    # nobody meets "lang.en >= 4 & billing >= 3"; after 5 s "lang.en >= 2 &
    # billing >= 1" is accepted: the junior (billing 1) qualifies, the
    # Mandarin-only agent never does.
    skills = {"1003": ZH_BILLING, "1004": EN_JUNIOR_BILLING}
    async with routing_hotline(hotline_settings, tmp_path, skills) as running:
        core = running.hotline.core
        go_ready(running, "1003", "1004")
        async with (
            AgentPhone(agent_port(1003), answer_after_s=0.3) as mandarin,
            AgentPhone(agent_port(1004), answer_after_s=0.3) as junior,
        ):
            # talk_s counts from the IVR's answer: long enough to wait, then hung up
            call = await caller(hotline_settings, BOB, "11", talk_s=20)
            await wait_until(
                lambda: len(waiting_ids(running)) == 1, within=30, what="the call waiting"
            )
            call_id = waiting_ids(running)[0]
            await junior.wait_answered(1, timeout=30)
            await answered_by(running, call_id, "1004")
            answered = core.calls[call_id]
            assert answered.queued_at is not None and answered.answered_at is not None
            assert answered.answered_at - answered.queued_at >= 4.5  # not before the step
            assert mandarin.calls_received == 0
            await hang_up_all(running)
            result = await call.wait(30)
            assert result.answered


async def test_unanswered_offer_goes_to_the_next_agent_and_pauses_the_first(
    hotline_settings, tmp_path
) -> None:
    skills = {"1001": EN_BILLING, "1002": EN_BILLING}
    async with routing_hotline(hotline_settings, tmp_path, skills) as running:
        core = running.hotline.core
        go_ready(running, "1001")  # longest idle: offered first
        go_ready(running, "1002")
        async with (
            AgentPhone(agent_port(1001), answer=False) as sleepy,
            AgentPhone(agent_port(1002), answer_after_s=0.3) as awake,
        ):
            call = await caller(hotline_settings, BOB, "11", talk_s=20)
            await sleepy.wait_ringing(1, timeout=30)
            await awake.wait_answered(1, timeout=30)
            await sleepy.wait_cancelled(1, timeout=10)
            await answered_by(running, call_of(running, BOB), "1002")
            agent = core.agents["1001"]
            assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "rona")
            await wait_until(
                lambda: all(
                    q.members["1001"].paused for q in core.queues.values() if "1001" in q.members
                ),
                within=10,
                what="Asterisk to report agent 1001 paused in its queues",
            )
            assert sleepy.calls_received == 1  # rung once, never again
            await hang_up_all(running)
            result = await call.wait(30)
            assert result.answered


async def test_a_caller_hanging_up_while_the_agent_rings_leaves_the_agent_ready(
    hotline_settings, tmp_path
) -> None:
    skills = {"1001": EN_BILLING, "1002": EN_BILLING}
    async with routing_hotline(hotline_settings, tmp_path, skills) as running:
        core = running.hotline.core
        go_ready(running, "1001")  # longest idle: offered first
        go_ready(running, "1002")
        async with (
            AgentPhone(agent_port(1001), answer=False) as ringing,
            AgentPhone(agent_port(1002), answer_after_s=0.3) as other,
        ):
            # the caller hangs up 2 s after its digits, within the 4 s ring
            call = await caller(hotline_settings, BOB, "11", talk_s=2)
            await ringing.wait_ringing(1, timeout=30)
            result = await call.wait(30)
            assert result.answered and result.local_hangup, result.describe()
            await wait_until(lambda: not core.calls, within=15, what="the call to end")
            agent = core.agents["1001"]
            assert agent.state is AgentState.READY, (agent.state, agent.pause_reason)
            assert other.calls_received == 0  # the gone call was offered to nobody else


async def channel_variable(running: Running, channel: str, name: str) -> str:
    reply = await running.ami.action({"Action": "Getvar", "Channel": channel, "Variable": name})
    return str(reply.get("Value", "") or "")


async def test_waiting_callers_hear_their_place_in_line(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"announce_first_s": 2, "announce_every_s": 60})
    async with routing_hotline(settings, tmp_path, {"1001": EN_BILLING}) as running:
        running.hotline.desk.login("1001")  # paused: everybody waits
        first = await caller(settings, BOB, "11", talk_s=30)
        await wait_until(lambda: len(waiting_ids(running)) == 1, within=30, what="first call")
        second = await caller(settings, ZHANG, "11", talk_s=30)
        await wait_until(lambda: len(waiting_ids(running)) == 2, within=30, what="second call")
        core = running.hotline.core
        told: dict[str, str] = {}
        async with asyncio.timeout(20):
            while len(told) < 2:
                for number in (BOB, ZHANG):
                    call_id = call_of(running, number)
                    assert call_id is not None
                    value = await channel_variable(
                        running, core.calls[call_id].channel, "HOTLINE_QUEUE_POSITION"
                    )
                    if value:
                        told[number] = value
                await asyncio.sleep(0.2)
        # the VIP arrived second but is served first, and is told so
        assert told == {ZHANG: "1", BOB: "2"}
        estimate = running.hotline.queue_estimate(call_of(running, BOB) or "")
        assert estimate is not None and estimate.wait_s > 0
        # an agent comes: the caller is taken out of the wait (announcement or not)
        async with AgentPhone(agent_port(1001), answer_after_s=0.3) as phone:
            running.hotline.desk.ready("1001")
            await phone.wait_answered(1, timeout=20)
            await answered_by(running, call_of(running, ZHANG), "1001")
        await hang_up_all(running)
        await first.stop()
        await second.stop()


async def wait_for_audio(path: Path, seconds: float = 1.0) -> AudioLevel:
    """The recording once Asterisk has written at least ``seconds`` of it."""

    def level() -> AudioLevel | None:
        try:
            found = audio_level(path)
        except (OSError, ValueError):
            return None  # not there yet, or its header not yet final
        return found if found.seconds >= seconds else None

    await wait_until(lambda: level() is not None, within=10, what=f"audio in {path.name}")
    found = level()
    assert found is not None
    return found


async def ask_for_callback(running: Running, settings: Settings) -> tuple[str, CallHandle]:
    """BOB (English, billing) asks for a call-back during the announcement and is
    hung up; another caller waits behind him. Returns his call id and the other call."""
    core = running.hotline.core
    # during the announcement: 1 (call me back), then 1 to confirm the number
    asked = await start_call(
        settings.sip_port,
        caller_number=BOB,
        dtmf="11",
        dtmf_gap_s=1.0,
        late_dtmf="11",
        late_dtmf_delay_s=10,
        late_dtmf_gap_s=16,  # the whole number (11 digits, ~10 s) is read back first
        talk_s=60,
    )
    await wait_until(lambda: len(waiting_ids(running)) == 1, within=30, what="BOB waiting")
    callback_id = waiting_ids(running)[0]
    behind = await caller(settings, "15550109999", "11", talk_s=90)
    await wait_until(lambda: len(waiting_ids(running)) == 2, within=30, what="two waiting")
    await wait_until(
        lambda: core.calls[callback_id].awaiting_callback,
        within=45,
        what="BOB to ask for a call-back and hang up",
    )
    result = await asked.wait(30)
    assert result.answered and not result.local_hangup  # the IVR hung up on him
    assert waiting_ids(running)[0] == callback_id  # his place is kept
    return callback_id, behind


@pytest.mark.parametrize("order", ["agent-first", "customer-first"])
async def test_callback_keeps_the_place_and_rings_the_caller_back_once(
    hotline_settings, tmp_path, order
) -> None:
    settings = hotline_settings.model_copy(
        update={
            "announce_first_s": 2,
            "announce_every_s": 60,
            "callback_offer_after_s": 0,
            "callback_order": order,
        }
    )
    customer_port = int(settings.trunk_host.rsplit(":", 1)[1])  # the trunk's far end
    async with routing_hotline(settings, tmp_path, {"1001": EN_BILLING}) as running:
        core = running.hotline.core
        running.hotline.desk.login("1001")  # paused: everybody waits
        callback_id, behind = await ask_for_callback(running, settings)
        async with (
            AgentPhone(agent_port(1001), answer_after_s=0.3) as agent,
            AgentPhone(customer_port, answer_after_s=0.5, hangup_after_s=3) as customer,
        ):
            running.hotline.desk.ready("1001")
            await customer.wait_completed(1, timeout=30)
            await wait_until(
                lambda: callback_id not in core.calls, within=15, what="the call-back to end"
            )
            await running.hotline.drain()
            cdr = await running.hotline.repository.cdr(callback_id)
            assert cdr is not None
            assert (cdr.callback_outcome, cdr.agent_id, cdr.disposition) == (
                "answered",
                "1001",
                "answered",
            )
            assert cdr.talk_s > 0
            # the call-back conversation is recorded, in the call's own recording
            assert cdr.recording_path is not None
            level = await wait_for_audio(Path(cdr.recording_path))
            assert not level.silent, level
            # the next caller in line goes to the agent afterwards
            await agent.wait_answered(2, timeout=30)
            assert customer.calls_received == 1  # rung back exactly once
        await hang_up_all(running)
        await behind.stop()


async def test_customer_first_callback_unanswered_frees_the_agent_and_tries_again(
    hotline_settings, tmp_path
) -> None:
    settings = hotline_settings.model_copy(
        update={
            "announce_first_s": 2,
            "announce_every_s": 60,
            "callback_offer_after_s": 0,
            "callback_order": "customer-first",
            "callback_customer_ring_s": 3,
        }
    )
    customer_port = int(settings.trunk_host.rsplit(":", 1)[1])
    async with routing_hotline(settings, tmp_path, {"1001": EN_BILLING}) as running:
        core = running.hotline.core
        running.hotline.desk.login("1001")
        callback_id, behind = await ask_for_callback(running, settings)
        async with (
            AgentPhone(agent_port(1001), answer_after_s=0.3) as agent,
            AgentPhone(customer_port, answer=False) as customer,
        ):
            running.hotline.desk.ready("1001")
            await customer.wait_ringing(1, timeout=20)
            # no answer: not the agent's fault; the agent takes the next caller
            # while the call-back keeps the head of the line
            await agent.wait_answered(1, timeout=30)
            behind_id = call_of(running, "15550109999")
            await answered_by(running, behind_id, "1001")
            assert waiting_ids(running) == [callback_id]
            assert core.agents["1001"].pause_reason != "rona"
            assert behind_id is not None
            await running.ami.action({"Action": "Hangup", "Channel": core.calls[behind_id].channel})
            # the agent is free: second (last) try, then the call-back gives up
            await customer.wait_ringing(2, timeout=30)
            await wait_until(
                lambda: callback_id not in core.calls, within=30, what="the call-back to give up"
            )
            assert customer.calls_received == 2
            assert core.agents["1001"].state is not AgentState.PAUSED
            await running.hotline.drain()
            cdr = await running.hotline.repository.cdr(callback_id)
            assert cdr is not None and cdr.callback_outcome == "failed:customer-failed"
        await hang_up_all(running)
        await behind.stop()


async def test_callback_promised_before_a_cti_restart_is_made_once_after_it(
    hotline_settings, tmp_path
) -> None:
    settings = hotline_settings.model_copy(
        update={"announce_first_s": 2, "announce_every_s": 60, "callback_offer_after_s": 0}
    )
    configured = await routing_settings(settings, tmp_path, {"1001": EN_BILLING})
    customer_port = int(settings.trunk_host.rsplit(":", 1)[1])
    async with running_hotline(configured) as running:
        running.hotline.desk.login("1001")  # paused: nobody is served
        callback_id, behind = await ask_for_callback(running, settings)
        core = running.hotline.core
        queued_at = core.calls[callback_id].queued_at
        behind_id = call_of(running, "15550109999")
        assert behind_id is not None
        await running.ami.action({"Action": "Hangup", "Channel": core.calls[behind_id].channel})
        await behind.stop()
        await wait_until(
            lambda: len(running.hotline.core.calls) == 1, within=15, what="the other caller gone"
        )
        await running.hotline.drain()
    # the CTI restarts: the promise is read back from the database
    async with running_hotline(configured) as running:
        core = running.hotline.core
        await wait_until(lambda: callback_id in core.calls, within=10, what="the call-back back")
        call = core.calls[callback_id]
        assert call.awaiting_callback and call.queued_at == queued_at
        assert waiting_ids(running) == [callback_id]
        async with (
            AgentPhone(agent_port(1001), answer_after_s=0.3) as agent,
            AgentPhone(customer_port, answer_after_s=0.5, hangup_after_s=3) as customer,
        ):
            go_ready(running, "1001")
            await customer.wait_completed(1, timeout=30)
            await wait_until(
                lambda: callback_id not in core.calls, within=15, what="the call-back to end"
            )
            await running.hotline.drain()
            cdr = await running.hotline.repository.cdr(callback_id)
            assert cdr is not None
            assert (cdr.callback_outcome, cdr.agent_id) == ("answered", "1001")
            assert not cdr.recovered
            assert customer.calls_received == 1 and agent.calls_answered == 1
            assert await running.hotline.repository.pending_callbacks() == []
