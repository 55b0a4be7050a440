"""sipp scenarios the project ships: a caller that dials the hotline and presses keys.

:func:`caller_scenario` renders ``caller.xml`` (one call: INVITE, answer,
RTP audio from a pcap, DTMF as SIP INFO with a pause after each digit, talk,
BYE; Asterisk's BYE accepted at any time); :func:`sipp_command` with
:func:`caller_args` is the sipp command line that places it. Used by
``hotline demo call`` and by the tests.
"""

from __future__ import annotations

import random
import re
import socket
import struct
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

CALLER_SCENARIO = Path(__file__).with_name("caller.xml")
#: G.711 A-law RTP capture shipped with sip-tester (about 6 s of speech-like audio).
AUDIO_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
#: Media ports for sipp: outside Asterisk's RTP range 20000-29999 and the agent
#: phones' SIP ports 51001-51010.
MEDIA_PORTS = range(40000, 49990, 4)

DTMF = re.compile(r"[0-9*#A-D]*")
NUMBER = re.compile(r"[0-9A-Za-z+*_.-]+")

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _fill(text: str, values: Mapping[str, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for {{{{{name}}}}} in sipp scenario")
        return str(values[name])

    return _PLACEHOLDER.sub(replace, text)


def render_scenario(
    template: Path,
    values: Mapping[str, object],
    blocks: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
) -> str:
    """Render a scenario template: repeat BEGIN/END blocks, fill ``{{...}}``."""
    text = template.read_text(encoding="utf-8")
    for block, items in (blocks or {}).items():
        pattern = re.compile(
            rf"[ \t]*<!-- BEGIN {block} -->\n(.*?)[ \t]*<!-- END {block} -->\n", re.S
        )
        match = pattern.search(text)
        if match is None:
            raise KeyError(f"no block {block!r} in {template.name}")
        body = "".join(_fill(match.group(1), {**values, **item}) for item in items)
        text = text[: match.start()] + body + text[match.end() :]
    return _fill(text, values)


@cache
def pcap_duration_ms(path: Path = AUDIO_PCAP) -> int:
    """Duration of the RTP in a pcap file (first to last packet + 20 ms)."""
    data = path.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    offset: int = 24
    first: float | None = None
    last = 0.0
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        stamp = float(sec) + float(frac) / (1e9 if nanos else 1e6)
        first = stamp if first is None else first
        last = stamp
        offset += 16 + int(caplen)
    if first is None:
        raise ValueError(f"{path} holds no packets")
    return round((last - first) * 1000) + 20


def caller_scenario(
    digits: Sequence[tuple[str, float]],
    *,
    first_delay_s: float,
    talk_s: float | None,
    audio: Path = AUDIO_PCAP,
) -> str:
    """The caller's scenario: ``digits`` are (digit, pause after it in s).

    The first digit goes ``first_delay_s`` after the answer; each digit waits
    for its 200 and then its pause (the last one's pause is ignored: the talk
    follows). ``talk_s`` after the digits the caller hangs up (None: never).
    """
    if not DTMF.fullmatch("".join(d for d, _ in digits)) or any(len(d) != 1 for d, _ in digits):
        raise ValueError(f"invalid DTMF digits {digits!r}")
    chunk = pcap_duration_ms(audio)
    if talk_s is None:
        chunks = [86_400_000]
    else:
        remaining = max(1, round(talk_s * 1000))
        chunks = []
        while remaining > 0:
            chunks.append(min(chunk, remaining))
            remaining -= chunks[-1]
    last = len(digits) - 1
    return render_scenario(
        CALLER_SCENARIO,
        {
            "audio_pcap": audio,
            "dtmf_delay_ms": max(1, round(first_delay_s * 1000)),
            "bye_cseq": 2 + len(digits),
        },
        {
            "dtmf": [
                {
                    "index": i,
                    "digit": digit,
                    "cseq": 2 + i,
                    "gap_ms": 1 if i == last else max(1, round(pause_s * 1000)),
                }
                for i, (digit, pause_s) in enumerate(digits)
            ],
            "talk": [{"index": i, "chunk_ms": ms} for i, ms in enumerate(chunks)],
        },
    )


def sipp_command(
    scenario_path: Path, log_path: Path, error_path: Path, args: Sequence[str]
) -> list[str]:
    """sipp running ``scenario_path``, its event log (``<log>`` lines) and errors in files."""
    return [
        "sipp",
        "-sf",
        str(scenario_path),
        "-trace_logs",
        "-log_file",
        str(log_path),
        "-trace_err",
        "-error_file",
        str(error_path),
        "-nostdin",
        *args,
    ]


def caller_args(
    *,
    sip_host: str,
    sip_port: int,
    caller_number: str,
    caller_name: str | None = None,
    exten: str = "4000",
    local_host: str = "127.0.0.1",
    local_port: int | None = None,
    timeout_s: float,
) -> list[str]:
    """sipp's arguments for one call of the caller scenario (see :func:`sipp_command`)."""
    if not NUMBER.fullmatch(caller_number) or not NUMBER.fullmatch(exten):
        raise ValueError(f"invalid caller number or extension: {caller_number!r}, {exten!r}")
    if caller_name is not None and any(c in caller_name for c in '"\r\n\\'):
        raise ValueError("caller_name may not contain quotes, backslashes or newlines")
    port = local_port if local_port is not None else free_udp_port(local_host)
    return [
        "-i",
        local_host,
        "-p",
        str(port),
        "-mi",
        local_host,
        "-mp",
        str(free_media_port(local_host)),
        "-m",
        "1",
        "-l",
        "1",
        "-aa",
        "-timeout",
        f"{max(1, round(timeout_s))}s",
        "-timeout_error",
        "-key",
        "caller_number",
        caller_number,
        "-key",
        "caller_display",
        f'"{caller_name}" ' if caller_name else "",
        "-key",
        "exten",
        exten,
        f"{sip_host}:{sip_port}",
    ]


def udp_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free right now (for a sipp UAC's SIP socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def free_media_port(host: str = "127.0.0.1") -> int:
    """The first of 4 free UDP ports for sipp's media (RTP, RTCP, video)."""
    candidates = list(MEDIA_PORTS)
    random.shuffle(candidates)
    for port in candidates:
        if all(udp_free(host, p) for p in range(port, port + 4)):
            return port
    raise OSError("no free UDP port block for sipp media")
