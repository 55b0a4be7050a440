"""The dialplan contract: every name the CTI, the IVR and ``asterisk-conf/extensions.conf`` share.

Each channel variable is declared with the section of ``extensions.conf`` it
belongs to (where the dialplan sets or reads it); variables the IVR sets over
FastAGI and the CTI reads from ``VarSet`` events, without the dialplan touching
them, are declared with :data:`FASTAGI_ONLY`. ``tests/unit/test_dialplan_contract.py``
reads ``extensions.conf`` and fails when it and this module disagree.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

#: Where a variable lives when no dialplan section uses it (IVR -> CTI only).
FASTAGI_ONLY: Final = "(FastAGI)"

#: variable name -> the extensions.conf section it belongs to
SECTIONS: dict[str, str] = {}


def _var(name: str, section: str) -> str:
    SECTIONS[name] = section
    return name


# --------------------------------------------------------------- contexts
INBOUND_CONTEXT: Final = "from-pstn"  # [from-pstn]: calls from the PSTN trunk
HOTLINE_CONTEXT: Final = "hotline"  # [hotline]: the IVR (FastAGI), then waiting
#: [hotline-wait]: waiting for the router; a blind transfer to a queue starts
#: here too, so the recording already running is not started twice
WAIT_CONTEXT: Final = "hotline-wait"
#: [hotline-wait] extension: back from an unanswered offer, keeping the place
REQUEUE_EXTEN: Final = "requeue"
CTI_ALIVE_CONTEXT: Final = "hotline-cti-alive"  # [hotline-cti-alive]
OFFER_CONTEXT: Final = "hotline-offer"  # [hotline-offer]: the router's offer to one agent
CALLBACK_CONTEXT: Final = "hotline-callback"  # [hotline-callback]: agent first
#: [hotline-callback-customer]: call-back, customer first
CALLBACK_CUSTOMER_CONTEXT: Final = "hotline-callback-customer"
AFTER_CONTEXT: Final = "hotline-after"  # [hotline-after]: the agent hung up first
AGENTS_CONTEXT: Final = "agents"  # [agents]: an agent's own extension (1XXX)
TEST_CONTEXT: Final = "hotline-test"  # [hotline-test]: diagnostics
TRANSFER_CONTEXT: Final = "hotline-transfer"  # [hotline-transfer]: the IVR's transfer node
SURVEY_CONTEXT: Final = "hotline-survey"  # [hotline-survey]: post-call survey
#: [hotline-spy]: a supervisor's phone, originated at the mode's extension
#: (listen, whisper, barge), ChanSpy on the agent's channel
SPY_CONTEXT: Final = "hotline-spy"
SPY_CHECK_CONTEXT: Final = "hotline-spy-check"  # [hotline-spy-check]: the target checked

#: Contexts a caller's call starts in (the CTI follows calls seen there).
INBOUND_CONTEXTS: Final = frozenset({INBOUND_CONTEXT, HOTLINE_CONTEXT})
#: Contexts of a hotline call's legs in Asterisk's CDRs (CDR recovery).
CDR_CONTEXTS: Final = frozenset(
    {
        HOTLINE_CONTEXT,
        INBOUND_CONTEXT,
        WAIT_CONTEXT,
        OFFER_CONTEXT,
        AFTER_CONTEXT,
        SURVEY_CONTEXT,
        TRANSFER_CONTEXT,
    }
)
#: Every context of extensions.conf the Python code names.
CONTEXTS: Final = frozenset(
    {
        INBOUND_CONTEXT,
        HOTLINE_CONTEXT,
        WAIT_CONTEXT,
        CTI_ALIVE_CONTEXT,
        OFFER_CONTEXT,
        CALLBACK_CONTEXT,
        CALLBACK_CUSTOMER_CONTEXT,
        AFTER_CONTEXT,
        AGENTS_CONTEXT,
        TEST_CONTEXT,
        TRANSFER_CONTEXT,
        SURVEY_CONTEXT,
        SPY_CONTEXT,
        SPY_CHECK_CONTEXT,
    }
)

#: Prefix of the channel id the CTI gives a call-back's first leg (Originate).
CALLBACK_CHANNEL_PREFIX: Final = "hotline-callback~"

# --------------------------------------------------------------- [globals]
# written by cti.pbx.runtime into extensions_globals.conf from the settings
AGI_HOST = _var("HOTLINE_AGI_HOST", "globals")
AGI_PORT = _var("HOTLINE_AGI_PORT", "globals")
#: first part of every FastAGI URL path, only Asterisk knows it (ivr.guard): set
#: only by the generated globals (no default in the repository), used from [hotline]
AGI_SECRET = _var("HOTLINE_AGI_SECRET", "hotline")
REC_DIR = _var("HOTLINE_REC_DIR", "globals")
TRUNK_HOST = _var("HOTLINE_TRUNK_HOST", "globals")
QUEUE_TIMEOUT = _var("HOTLINE_QUEUE_TIMEOUT", "globals")
WAIT_SLICE = _var("HOTLINE_WAIT_SLICE", "globals")
CTI_GRACE = _var("HOTLINE_CTI_GRACE", "globals")
#: seconds before the first place-in-line announcement (the CTI sets it at resync)
ANNOUNCE_FIRST = _var("HOTLINE_ANNOUNCE_FIRST", "globals")
ANNOUNCE_EVERY = _var("HOTLINE_ANNOUNCE_EVERY", "globals")
#: global written by the CTI's heartbeat (epoch seconds), read in [hotline-cti-alive]
CTI_ALIVE = _var("HOTLINE_CTI_ALIVE", "hotline-cti-alive")

#: Where Asterisk writes recordings (``HOTLINE_REC_DIR``): the host's
#: ``settings.recordings_dir`` is mounted there.
RECORDINGS_DIR: Final = PurePosixPath("/var/spool/asterisk/monitor/hotline")
#: Sub-folder of the recordings directory with the IVR's voicemail messages.
VOICEMAIL_FOLDER: Final = "voicemail"
#: Each party's own file beside a call's mixed recording ``<id>.wav``
#: (MixMonitor r()/t() in [hotline] and the call-back contexts): ``<id>-caller.wav``
#: what the caller says, ``<id>-agent.wav`` what the agent says.
RECORDING_PARTY_SUFFIXES: Final = {"caller": "-caller", "agent": "-agent"}

# --------------------------------------------------------------- [from-pstn]
DNIS = _var("HOTLINE_DNIS", "from-pstn")

# --------------------------------------------------------------- [hotline]
QUEUE = _var("HOTLINE_QUEUE", "hotline")  # queue chosen by the IVR
IVR_PATH = _var("HOTLINE_IVR_PATH", "hotline")  # the IVR's path; CDR(userfield)
RECORDING = _var("HOTLINE_RECORDING", "hotline")  # MixMonitor file (Asterisk's path)
TRANSFER = _var("HOTLINE_TRANSFER", "hotline")  # number of the IVR's transfer node

# --------------------------------------------------------------- [hotline-wait]
# routing attributes set by the IVR (optional), read into HOTLINE_ROUTING
LANGUAGE = _var("HOTLINE_LANGUAGE", "hotline-wait")
URGENCY = _var("HOTLINE_URGENCY", "hotline-wait")
PRODUCT = _var("HOTLINE_PRODUCT", "hotline-wait")
WAIT_SINCE = _var("HOTLINE_WAIT_SINCE", "hotline-wait")  # epoch the caller began waiting
#: "queue|language|urgency|product": the caller waits for the CTI's router
ROUTING = _var("HOTLINE_ROUTING", "hotline-wait")
ROUTING_MODE = _var("HOTLINE_ROUTING_MODE", "hotline-wait")  # "queue": given to app_queue

# --------------------------------------------------------------- [hotline-offer]
OFFER = _var("HOTLINE_OFFER", "hotline-offer")  # "agent id|interface|ring seconds"
TALK_ENDED = _var("HOTLINE_TALK_ENDED", "hotline-offer")  # agent id: the agent hung up first

# --------------------------------------------------------------- call-backs
CALLBACK_STATE = _var("HOTLINE_CALLBACK_STATE", "hotline-callback")  # "call|agent|state"
CALLBACK_OF = _var("HOTLINE_CALLBACK_OF", "hotline-callback")  # Originate variables:
CALLBACK_AGENT = _var("HOTLINE_CALLBACK_AGENT", "hotline-callback")
CALLBACK_NUMBER = _var("HOTLINE_CALLBACK_NUMBER", "hotline-callback")
CALLBACK_INTERFACE = _var("HOTLINE_CALLBACK_INTERFACE", "hotline-callback-customer")
CALLBACK_RING = _var("HOTLINE_CALLBACK_RING", "hotline-callback-customer")
CALLBACK_LANGUAGE = _var("HOTLINE_CALLBACK_LANGUAGE", "hotline-callback-customer")

# --------------------------------------------------------------- [hotline-survey]
SURVEY_STARTED = _var("HOTLINE_SURVEY_STARTED", "hotline-survey")  # the talk is over

# --------------------------------------------------------------- [hotline-spy]
#: the agent's channel a supervisor's ChanSpy joins (Originate variable, set by the CTI)
SPY_TARGET = _var("HOTLINE_SPY_TARGET", "hotline-spy")

# --------------------------------------------------------------- [hotline-test]
TEST_SECONDS = _var("HOTLINE_TEST_SECONDS", "hotline-test")
TEST_DIGITS = _var("HOTLINE_TEST_DIGITS", "hotline-test")

# --------------------------------------------------------------- set by the IVR only
ACCOUNT = _var("HOTLINE_ACCOUNT", FASTAGI_ONLY)  # account number the caller keyed in
VERIFIED = _var("HOTLINE_VERIFIED", FASTAGI_ONLY)  # "1": account + PIN checked
VOICEMAIL = _var("HOTLINE_VOICEMAIL", FASTAGI_ONLY)  # voicemail file (Asterisk's path)
SURVEY = _var("HOTLINE_SURVEY", FASTAGI_ONLY)  # the caller's score, 1-5
NPS = _var("HOTLINE_NPS", FASTAGI_ONLY)  # the caller's 0-10 "recommend us" answer
CALLBACK = _var("HOTLINE_CALLBACK", FASTAGI_ONLY)  # number to call the waiting caller back on
QUEUE_POSITION = _var("HOTLINE_QUEUE_POSITION", FASTAGI_ONLY)  # after each announcement
