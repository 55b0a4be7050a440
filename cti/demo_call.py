"""``hotline demo call``: a demo customer calls the hotline and answers the IVR like a person.

The keys come from the IVR flow itself (:func:`plan_keys`): the language
menu's key for ``--lang``, the main menu's ``--choice``, the demo PIN when
that choice checks the caller's identity. Each prompt's keys are pressed a
moment after the prompt starts (as someone who knows the menu would), as SIP
INFO DTMF; then the caller stays on the line (waiting in line, then talking
to the agent) for ``--talk-s`` seconds and hangs up. The call is a real SIP
call placed by sipp with the project's caller scenario (:mod:`cti.sipp`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cti.config import Settings
from cti.demo import DEMO_CUSTOMERS, DEMO_PIN
from cti.sipp import caller_args, caller_scenario, sipp_command, udp_free
from ivr.flow import Flow, FlowError, load_flow
from ivr.service import DEFAULT_FLOW

#: How long after a prompt starts the caller presses its first key.
PROMPT_DELAY_S = 2.0
#: Between the keys of one answer (a PIN).
KEY_GAP_S = 0.4
_LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
_PHONE = re.compile(r"\+?[0-9]{3,20}")


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    digit: str
    pause_after_s: float
    what: str  # "language: English", "menu: billing", "PIN"


class PlanError(ValueError):
    """The flow cannot be answered with these options."""


def plan_keys(flow: Flow, *, language: str, choice: str, pin: str = DEMO_PIN) -> list[Key]:
    """The keys a caller presses through ``flow`` (open hours, a known caller).

    Walks the flow from its start: business hours are taken as open, the
    first language menu gets the key of ``language``, the first DTMF menu
    ``choice``, a lookup finds the caller (a demo customer), a verify node
    gets ``pin``; the walk ends at a queue (or any other ending).
    """
    keys: list[Key] = []
    answers: list[list[tuple[str, str]]] = []  # one list of (digit, what) per prompt
    chose_language = chose_menu = False
    name: str | None = flow.start
    seen: set[str] = set()
    while name is not None:
        if name in seen:
            raise PlanError(f"the flow loops at {name!r} with these keys")
        seen.add(name)
        node = flow.nodes[name]
        if node.type == "hours":
            name = node.open
        elif node.type == "language":
            if chose_language:
                raise PlanError(f"a second language menu ({name!r})")
            digits = [d for d, lang in node.choices.items() if lang == language]
            if not digits:
                offered = ", ".join(sorted(set(node.choices.values())))
                raise PlanError(f"the flow offers no language {language!r} (only {offered})")
            answers.append([(digits[0], f"language: {_LANGUAGE_NAMES.get(language, language)}")])
            chose_language = True
            name = node.next
        elif node.type == "menu":
            if chose_menu:
                raise PlanError(f"a second menu ({name!r}): the demo call answers one")
            if choice not in node.choices:
                offered = ", ".join(sorted(node.choices))
                raise PlanError(f"menu {name!r} has no choice {choice!r} (only {offered})")
            target = node.choices[choice]
            answers.append([(choice, f"menu: {choice} ({target})")])
            chose_menu = True
            name = target
        elif node.type == "lookup":
            name = node.found
        elif node.type == "verify":
            answers.append([(d, "PIN") for d in pin])
            name = node.next
        elif node.type in ("play", "set"):
            name = node.next
        elif node.type == "collect":
            raise PlanError(f"node {name!r} collects digits the demo call does not know")
        else:  # queue, transfer, hangup, voicemail: the IVR ends
            name = None
    for answer in answers:
        for i, (digit, what) in enumerate(answer):
            last = i == len(answer) - 1
            keys.append(Key(digit, PROMPT_DELAY_S if last else KEY_GAP_S, what))
    return keys


def caller_for(language: str, number: str | None) -> tuple[str, str]:
    """(number, who) of the caller: ``number``, or the first demo customer speaking ``language``."""
    if number is not None:
        if not _PHONE.fullmatch(number):
            raise PlanError(f"--from {number!r} is not a phone number (digits, optional +)")
        known = next((c for c in DEMO_CUSTOMERS if c.phone == number), None)
        who = (
            f"{known.name} ({known.tier}, {number})"
            if known
            else f"{number} (not a demo customer: the pop shows an unknown caller)"
        )
        return number, who
    customer = next((c for c in DEMO_CUSTOMERS if c.language == language), DEMO_CUSTOMERS[0])
    return customer.phone, f"{customer.name} ({customer.tier}, {customer.phone})"


def demo_call(
    settings: Settings,
    *,
    language: str = "en",
    choice: str = "1",
    number: str | None = None,
    talk_s: float = 45.0,
) -> int:
    """Place the demo call and report it as it goes; 0 when it was answered and ended well."""
    try:
        flow = load_flow(settings.ivr_flow or DEFAULT_FLOW)
        keys = plan_keys(flow, language=language, choice=choice)
        caller_number, who = caller_for(language, number)
    except (FlowError, PlanError) as exc:
        print(f"hotline demo call: {exc}", file=sys.stderr)
        return 2
    if talk_s <= 0:
        print("hotline demo call: --talk-s must be positive", file=sys.stderr)
        return 2
    if shutil.which("sipp") is None:
        print(
            "hotline demo call: sipp is not installed (apt-get install sip-tester)", file=sys.stderr
        )
        return 1
    host, port = settings.sip_host, settings.sip_port
    if host in ("127.0.0.1", "localhost") and udp_free("127.0.0.1", port):
        print(
            f"hotline demo call: nothing listens on SIP {host}:{port}: start the demo "
            "first (./dev demo)",
            file=sys.stderr,
        )
        return 1
    presses = ", ".join(f"{k.digit} ({k.what})" for k in keys if k.what != "PIN")
    if any(k.what == "PIN" for k in keys):
        presses += ", the PIN"
    print(
        f"{who} calls the hotline at {host}:{port}; presses {presses}, about "
        f"{PROMPT_DELAY_S:g} s into each prompt; then stays on the line {talk_s:g} s "
        "(in line, then with the agent) and hangs up.",
        flush=True,
    )
    scenario = caller_scenario(
        [(k.digit, k.pause_after_s) for k in keys], first_delay_s=PROMPT_DELAY_S, talk_s=talk_s
    )
    planned_s = PROMPT_DELAY_S + sum(k.pause_after_s + 0.2 for k in keys) + talk_s
    with tempfile.TemporaryDirectory(prefix="hotline-demo-call-") as work:
        workdir = Path(work)
        (workdir / "scenario.xml").write_text(scenario, encoding="utf-8")
        log_path, error_path = workdir / "messages.log", workdir / "errors.log"
        command = sipp_command(
            workdir / "scenario.xml",
            log_path,
            error_path,
            caller_args(
                sip_host=host,
                sip_port=port,
                caller_number=caller_number,
                timeout_s=planned_s + 60,
            ),
        )
        return _run(command, workdir, log_path, error_path, keys)


def _run(
    command: list[str], workdir: Path, log_path: Path, error_path: Path, keys: list[Key]
) -> int:
    """Run sipp, printing the call's progress from its event log."""
    started = time.monotonic()
    shown = 0
    answered = completed = False
    pressed = 0

    def report() -> None:
        nonlocal shown, answered, completed, pressed
        try:
            lines = log_path.read_text("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return
        for line in lines[shown:]:
            event = line.split(" ", 1)[0]
            at = f"{time.monotonic() - started:5.1f} s"
            if event == "ANSWERED":
                answered = True
                print(f"{at}  the hotline answered", flush=True)
            elif event == "DTMF" and pressed < len(keys):
                print(f"{at}  pressed {keys[pressed].digit} ({keys[pressed].what})", flush=True)
                pressed += 1
            elif event == "LOCAL_BYE":
                print(f"{at}  the caller hung up", flush=True)
            elif event == "REMOTE_BYE":
                print(f"{at}  the hotline hung up", flush=True)
            elif event == "COMPLETED":
                completed = True
        shown = len(lines)

    with open(workdir / "screen.txt", "wb") as screen:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=screen,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    try:
        while proc.poll() is None:
            report()
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("interrupted: hanging up", file=sys.stderr)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    report()
    if proc.returncode == 0 and answered and completed:
        print(f"call ended after {time.monotonic() - started:.1f} s", flush=True)
        return 0
    errors = error_path.read_text("utf-8", "replace").strip() if error_path.exists() else ""
    state = "was not answered" if not answered else "did not end cleanly"
    print(
        f"hotline demo call: the call {state} (sipp exit {proc.returncode})"
        + (f":\n{errors[-2000:]}" if errors else ""),
        file=sys.stderr,
    )
    return 1
