"""Known audio for sipp's ``play_pcap_audio``: a WAV file as a pcap of G.711 A-law RTP.

sipp plays the RTP packets of a capture at the capture's own timing. The WAV
(8 kHz mono, e.g. espeak-ng speech placed on a track with
:func:`tests.support.speech.track`) is encoded to A-law by sox and cut into
20 ms packets (payload type 8, PCMA, as the test phones offer) with rising
sequence numbers and timestamps, each in an Ethernet/IPv4/UDP frame of a
classic little-endian pcap file. The whole file is sent, silence included:
a party whose RTP stops makes Asterisk's MixMonitor stop writing the call.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

RATE = 8000
PACKET_MS = 20
SAMPLES_PER_PACKET = RATE * PACKET_MS // 1000
PCMA = 8
_SSRC = 0x484F544C
# any addresses: sipp rewrites the ports and sends to the call's media address
_SRC_IP, _DST_IP = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
_SRC_PORT, _DST_PORT = 16000, 6000


def alaw_bytes(wav: Path) -> bytes:
    """The WAV's audio as 8 kHz mono G.711 A-law (sox, no dither)."""
    return subprocess.run(
        ["sox", "-D", str(wav), "-t", "al", "-r", str(RATE), "-c", "1", "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(rtp: bytes, ident: int) -> bytes:
    udp = struct.pack("!HHHH", _SRC_PORT, _DST_PORT, 8 + len(rtp), 0) + rtp
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, 17, 0, _SRC_IP, _DST_IP
    )
    header = header[:10] + struct.pack("!H", _ipv4_checksum(header)) + header[12:]
    ethernet = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00"
    return ethernet + header + udp


def pcap_from_alaw(audio: bytes, pcap: Path) -> Path:
    """Write ``audio`` (A-law bytes at 8 kHz) as RTP packets of 20 ms to ``pcap``."""
    if not audio:
        raise ValueError("no audio to send")
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for index, first in enumerate(range(0, len(audio), SAMPLES_PER_PACKET)):
        payload = audio[first : first + SAMPLES_PER_PACKET]
        payload += b"\xd5" * (SAMPLES_PER_PACKET - len(payload))  # A-law silence
        marker = 0x80 if index == 0 else 0
        rtp = struct.pack("!BBHII", 0x80, marker | PCMA, index & 0xFFFF, first & 0xFFFFFFFF, _SSRC)
        frame = _frame(rtp + payload, index)
        micros = index * PACKET_MS * 1000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        out += frame
    pcap.write_bytes(bytes(out))
    return pcap


def pcap_from_wav(wav: Path, pcap: Path) -> Path:
    """``wav`` as a pcap of A-law RTP that sipp plays with ``play_pcap_audio``."""
    return pcap_from_alaw(alaw_bytes(wav), pcap)
