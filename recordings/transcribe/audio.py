"""Reading a recording for the engines, with a clear reason when it cannot be read.

Recordings are 16-bit PCM WAV (what MixMonitor writes), mono or multi-channel.
A missing, empty, truncated or non-audio file raises :class:`AudioError`
naming the file and the problem; its job fails with that reason.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: A recording shorter than this holds no speech worth a job.
MIN_AUDIO_S = 0.1


class AudioError(ValueError):
    """A recording that cannot be transcribed; the message is the job's failure reason."""


@dataclass(frozen=True, slots=True)
class Audio:
    """One channel of a recording: 16-bit samples at ``rate``."""

    samples: npt.NDArray[np.int16]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def resampled_float(self, rate: int = 16000) -> npt.NDArray[np.float32]:
        """Float samples in [-1, 1] at ``rate`` (band-limited interpolation by FFT)."""
        data = self.samples.astype(np.float32) / 32768.0
        if self.rate == rate or len(data) == 0:
            return data
        count = round(len(data) * rate / self.rate)
        spectrum = np.fft.rfft(data)
        wanted = count // 2 + 1
        if wanted > len(spectrum):
            spectrum = np.concatenate([spectrum, np.zeros(wanted - len(spectrum), spectrum.dtype)])
        else:
            spectrum = spectrum[:wanted]
        out = np.fft.irfft(spectrum, n=count) * (count / len(data))
        return out.astype(np.float32)


@dataclass(frozen=True, slots=True)
class WavInfo:
    channels: int
    rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


def wav_info(path: str | Path) -> WavInfo:
    """Check a recording and read its header (no samples); AudioError says why not."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioError(f"missing file: {path}") from None
    except OSError as exc:
        raise AudioError(f"cannot read {path}: {exc.strerror}") from None
    if not path.is_file():
        raise AudioError(f"not a file: {path}")
    if size == 0:
        raise AudioError(f"empty file: {path}")
    with path.open("rb") as handle:
        head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioError(f"not a WAV recording: {path}")
    if size < 44:  # the smallest PCM WAV header
        raise AudioError(f"truncated file (no audio data): {path}")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            rate, frames = wav.getframerate(), wav.getnframes()
    except wave.Error as exc:
        raise AudioError(f"not a readable WAV recording ({exc}): {path}") from None
    except (EOFError, struct.error):
        raise AudioError(f"truncated file (no audio data): {path}") from None
    if width != 2:
        raise AudioError(f"{8 * width}-bit audio, expected 16-bit PCM: {path}")
    if channels < 1 or rate < 4000:
        raise AudioError(f"bad WAV header ({channels} channels at {rate} Hz): {path}")
    if frames == 0 and size > 1024:
        raise AudioError(
            f"unfinished WAV header (no audio declared, {size} bytes in the file): {path}"
        )
    return WavInfo(channels, rate, frames)


def read_channel(path: str | Path, channel: int | None = None) -> Audio:
    """The samples of one channel (None: all channels averaged)."""
    info = wav_info(path)
    if channel is not None and channel >= info.channels:
        raise AudioError(f"no channel {channel} in a {info.channels}-channel recording: {path}")
    with wave.open(str(path), "rb") as wav:
        raw = wav.readframes(info.frames)
    frame_bytes = 2 * info.channels
    got = len(raw) // frame_bytes
    if got < info.frames:
        raise AudioError(
            f"truncated file: the header promises {info.seconds:.1f} s, "
            f"the file holds {got / info.rate:.1f} s: {path}"
        )
    if got / info.rate < MIN_AUDIO_S:
        raise AudioError(f"empty recording ({got / info.rate:.2f} s of audio): {path}")
    samples = np.frombuffer(raw[: got * frame_bytes], dtype="<i2").reshape(-1, info.channels)
    if channel is not None:
        mono = samples[:, channel]
    elif info.channels == 1:
        mono = samples[:, 0]
    else:
        mono = samples.mean(axis=1).astype(np.int16)
    return Audio(np.ascontiguousarray(mono, dtype=np.int16), info.rate)


def audio_seconds(path: str | Path) -> float:
    """A recording's length from its header; 0 when it cannot be read."""
    try:
        return wav_info(path).seconds
    except AudioError:
        return 0.0
