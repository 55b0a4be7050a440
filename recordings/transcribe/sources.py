"""Which audio of a call holds which party's speech.

Per-party recordings (MixMonitor's ``r()``/``t()`` options) are written beside
the call's recording as ``<stem>-caller.wav`` and ``<stem>-agent.wav``; when
they exist each is one party. Otherwise the call's recording is used: a
stereo file is caller on channel 0 and agent on channel 1, a mono file is
both parties mixed. A recording that does not exist (yet) is still queued:
its job fails with the reason, where QA can see it.
"""

from __future__ import annotations

import wave
from pathlib import Path

from cti import dialplan
from recordings.transcribe.types import AudioSource

PARTY_SUFFIXES = dialplan.RECORDING_PARTY_SUFFIXES


def party_file(recording: Path, party: str) -> Path:
    """The per-party file of a call's recording (``<stem>-caller.wav``...)."""
    return recording.with_name(f"{recording.stem}{PARTY_SUFFIXES[party]}{recording.suffix}")


def recording_sources(recording_path: str) -> list[AudioSource]:
    recording = Path(recording_path)
    caller, agent = party_file(recording, "caller"), party_file(recording, "agent")
    if caller.is_file() and agent.is_file():
        return [AudioSource("caller", str(caller)), AudioSource("agent", str(agent))]
    try:
        with wave.open(str(recording), "rb") as wav:
            channels = wav.getnchannels()
    except (OSError, wave.Error, EOFError):
        channels = 1
    if channels >= 2:
        return [
            AudioSource("caller", str(recording), channel=0),
            AudioSource("agent", str(recording), channel=1),
        ]
    return [AudioSource("mixed", str(recording))]
