"""Test audio: known speech made with espeak-ng and sox, placed at known times,
and the error rates a transcript is judged by."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

RATE = 8000


def say(text: str, voice: str, path: Path, rate: int = RATE, speed: int = 150) -> Path:
    """Synthesise ``text`` into a mono 16-bit WAV at ``rate`` (repeatable: no dither)."""
    speech = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        ["sox", "-D", "-t", "wav", "-", "-r", str(rate), "-c", "1", "-b", "16",
         "-e", "signed-integer", str(path), "norm", "-3"],
        input=speech,
        check=True,
        capture_output=True,
    )  # fmt: skip
    return path


def read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data, rate


def seconds(path: Path) -> float:
    data, rate = read(path)
    return len(data) / rate


def write(path: Path, channels: Sequence[np.ndarray], rate: int = RATE) -> Path:
    frames = np.stack(channels, axis=1) if len(channels) > 1 else channels[0][:, None]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.astype("<i2").tobytes())
    return path


def track(
    segments: Sequence[tuple[float, Path]], total_s: float, rate: int = RATE, noise: int = 20
) -> np.ndarray:
    """One party's channel: each clip placed at its start time, faint noise elsewhere
    (a telephone line is never digitally silent)."""
    generator = np.random.default_rng(7)
    out = generator.normal(0, noise, int(total_s * rate)).astype(np.int32)
    for start, clip in segments:
        data, clip_rate = read(clip)
        assert clip_rate == rate
        first = int(start * rate)
        end = min(len(out), first + len(data))
        out[first:end] += data[: end - first]
    return np.clip(out, -32768, 32767).astype(np.int16)


def _edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def _words(text: str) -> list[str]:
    return "".join(ch.lower() if ch.isalnum() or ch == "'" else " " for ch in text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = _words(reference)
    return _edit_distance(ref, _words(hypothesis)) / max(1, len(ref))


def char_error_rate(reference: str, hypothesis: str) -> float:
    ref = [ch for ch in reference if ch.isalnum()]
    hyp = [ch for ch in hypothesis if ch.isalnum()]
    return _edit_distance(ref, hyp) / max(1, len(ref))
