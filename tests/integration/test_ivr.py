"""IVR branches over real SIP calls (DTMF as SIP INFO) on the real Asterisk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from cti.demo import DemoSecrets
from cti.server import running_hotline
from tests.support.sipp import CallerLoad, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


def short_flow(tmp_path: Path, *, closed_today: bool = False) -> Path:
    """The shipped flow's shape with short prompts and timeouts (tests run fast)."""
    today = dt.datetime.now(dt.UTC).date()
    nodes = {
        "hours": {
            "type": "hours",
            "timezone": "UTC",
            "hours": {"mon-sun": "00:00-24:00"},
            "holidays": [str(today), str(today + dt.timedelta(days=1))] if closed_today else [],
            "open": "language",
            "closed": "closed",
        },
        "language": {
            "type": "language",
            "prompt": "invalid",
            "timeout_s": 2,
            "choices": {"1": "en", "2": "zh"},
            "next": "menu",
        },
        "menu": {
            "type": "menu",
            "prompt": "invalid",
            "timeout_s": 1,
            "attempts": 2,
            "choices": {"1": "billing", "2": "technical", "3": "identify"},
            "on_fail": "general",
        },
        "identify": {"type": "lookup", "found": "verify", "not_found": "verify"},
        "verify": {
            "type": "verify",
            "prompt": "account-number",
            "pin_prompt": "pin",
            "invalid_prompt": "pin-wrong",
            "max_digits": 4,
            "attempts": 3,
            "timeout_s": 3,
            "next": "account",
            "on_fail": "general",
        },
        "account": {"type": "queue", "queue": "account"},
        "billing": {"type": "queue", "queue": "billing"},
        "technical": {"type": "queue", "queue": "technical"},
        "general": {"type": "queue", "queue": "general"},
        "closed": {"type": "hangup", "prompt": "closed"},
    }
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({"flow": "short", "start": "hours", "nodes": nodes}))
    return path


async def ivr_call(
    settings, dtmf: str, number: str, talk_s: float = 18
) -> tuple[str, str | None, str]:
    """Place a call that hangs up after ``talk_s``; return (IVR path, queue, disposition)."""
    cdr = await ivr_cdr(settings, dtmf, number, talk_s)
    return cdr.ivr_path, cdr.queue, cdr.disposition


async def ivr_cdr(settings, dtmf: str, number: str, talk_s: float):
    async with running_hotline(settings) as running:
        core = running.hotline.core
        handle = await start_call(
            settings.sip_port, caller_number=number, dtmf=dtmf, dtmf_gap_s=1.0, talk_s=talk_s
        )
        async with handle:
            await wait_until(lambda: bool(core.calls), within=15, what="the call to start")
            call_id = next(iter(core.calls))
            await wait_until(
                lambda: call_id not in core.calls or core.calls[call_id].queue is not None,
                within=40,
                what="the IVR to finish",
            )
            await handle.wait(60)
        await wait_until(lambda: call_id not in core.calls, within=15, what="the call to end")
        await running.hotline.drain()
        cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None
    return cdr


async def test_invalid_then_valid_choice(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    path, queue, _ = await ivr_call(settings, dtmf="192", number="15550100002")
    assert queue == "technical"
    assert "lang=en>menu=invalid>menu=2>queue=technical" in path


async def test_mandarin_choice_and_menu(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    path, queue, _ = await ivr_call(settings, dtmf="21", number="13800138000")
    assert queue == "billing"
    assert "lang=zh>menu=1" in path


async def test_timeouts_fall_back_to_general(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    path, queue, disposition = await ivr_call(settings, dtmf="1", number="15550100001")
    assert queue == "general"
    assert "menu=timeout>menu=timeout>queue=general" in path
    assert disposition == "abandoned"  # nobody answered in general: the caller left


async def test_after_hours_the_caller_hears_closed_and_is_hung_up(
    hotline_settings, tmp_path
) -> None:
    settings = hotline_settings.model_copy(
        update={"ivr_flow": short_flow(tmp_path, closed_today=True)}
    )
    path, queue, disposition = await ivr_call(settings, dtmf="", number="15550100001")
    assert path.startswith("closed>hangup")
    assert queue is None
    assert disposition == "ivr_only"


async def test_broken_flow_is_rejected_at_start(hotline_settings, tmp_path) -> None:
    broken = yaml.safe_load(short_flow(tmp_path).read_text())
    broken["nodes"]["menu"]["choices"]["4"] = "nowhere"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    settings = hotline_settings.model_copy(update={"ivr_flow": path})
    from ivr.flow import FlowError

    with pytest.raises(FlowError, match=f"{path}: node 'menu': leads to unknown node 'nowhere'"):
        async with running_hotline(settings):
            pass


async def test_identity_verified_with_the_right_pin(
    hotline_settings, demo_secrets: DemoSecrets, tmp_path
) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    # English, menu 3 (account), the account number typed (the caller ID never
    # picks it), then the demo PIN
    pin = demo_secrets.customer_pins["880002"]
    cdr = await ivr_cdr(settings, dtmf="13880002#" + pin, number="15550100001", talk_s=26)
    assert "menu=3>lookup=found>verify=ok>queue=account" in cdr.ivr_path
    assert cdr.queue == "account"
    assert cdr.verified


async def test_wrong_pin_three_times_is_refused(
    hotline_settings, demo_secrets: DemoSecrets, tmp_path
) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    wrong = "0000" if demo_secrets.customer_pins["880002"] != "0000" else "1111"
    cdr = await ivr_cdr(settings, dtmf="13880002#" + wrong * 3, number="15550100001", talk_s=38)
    assert "verify=wrong>verify=wrong>verify=wrong>verify=failed>queue=general" in cdr.ivr_path
    assert cdr.queue == "general"
    assert not cdr.verified


async def test_many_callers_from_one_sipp_each_get_their_choice(hotline_settings, tmp_path) -> None:
    """The load generator of benchmarks/ivr_load.py: one sipp, one call per caller."""
    settings = hotline_settings.model_copy(update={"ivr_flow": short_flow(tmp_path)})
    choices = {
        "15550300001": ("11", "lang=en>menu=1>queue=billing", "billing"),
        "15550300002": ("12", "lang=en>menu=2>queue=technical", "technical"),
        "15550300003": ("21", "lang=zh>menu=1>queue=billing", "billing"),
        "15550300004": ("22", "lang=zh>menu=2>queue=technical", "technical"),
    }
    async with running_hotline(settings) as running:
        core = running.hotline.core
        async with CallerLoad(
            settings.sip_port,
            [(number, digits) for number, (digits, _, _) in choices.items()],
            rate=4,
            dtmf_delay_s=1.0,
            dtmf_gap_s=1.0,
            hold_s=2.0,
        ) as load:
            result = await load.wait(60)
        await wait_until(lambda: not core.calls, within=15, what="every call to end")
        await running.hotline.drain()
        cdrs = {n: await running.hotline.repository.recent_calls(n) for n in choices}
    assert result.exit_code == 0, result.diagnostics
    assert [call.completed for call in result.calls] == [True] * 4, result.calls
    assert [call.dtmf_sent for call in result.calls] == [d for d, _, _ in choices.values()]
    assert result.peak_concurrent >= 2
    for number, (_, path, queue) in choices.items():
        assert len(cdrs[number]) == 1, cdrs
        assert cdrs[number][0].ivr_path.endswith(path), cdrs[number][0].ivr_path
        assert cdrs[number][0].queue == queue
