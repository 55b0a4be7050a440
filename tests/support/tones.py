"""How much of a recording is a given tone: Goertzel per 100 ms frame of a WAV file."""

from __future__ import annotations

import array
import math
import sys
import wave
from pathlib import Path

FRAME_S = 0.1


def read_wav(path: Path) -> tuple[list[float], int]:
    """Mono 16-bit PCM samples (as floats) and the sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        rate = wav.getframerate()
        data = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        data.byteswap()
    return [float(x) for x in data], rate


def tone_share(samples: list[float], rate: int, freq: float) -> float:
    """Share of the frame's energy at ``freq`` (about 1 for a pure tone, 0 for silence)."""
    n = len(samples)
    energy = sum(x * x for x in samples)
    if n == 0 or energy < n * 100.0:  # silence (RMS under 10)
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * power / (n * energy)


def tone_frames(path: Path, freq: float, start_s: float, end_s: float) -> list[float]:
    """``tone_share`` of each 100 ms frame between ``start_s`` and ``end_s`` of the file."""
    samples, rate = read_wav(path)
    size = round(rate * FRAME_S)
    first, last = max(0, round(start_s * rate)), min(len(samples), round(end_s * rate))
    return [
        tone_share(samples[i : i + size], rate, freq) for i in range(first, last - size + 1, size)
    ]


def duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
