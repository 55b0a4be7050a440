"""Where recordings live, and safe access to them.

Asterisk writes ``/var/spool/asterisk/monitor/hotline/<uniqueid>.wav``; that
directory is the host's ``recordings_dir``. Voicemail left in the IVR goes
to its ``voicemail/`` folder. Only plain file names inside these folders
are ever served: a path that escapes them is refused.
"""

from __future__ import annotations

import array
import math
import sys
import wave
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cti.dialplan import RECORDINGS_DIR as ASTERISK_RECORDINGS_DIR
from cti.dialplan import VOICEMAIL_FOLDER

__all__ = ["ASTERISK_RECORDINGS_DIR", "VOICEMAIL_FOLDER", "RecordingPathError", "host_path"]


class RecordingPathError(ValueError):
    """A recording path that is not a file directly inside the recordings directory."""


def host_path(recordings_dir: Path, asterisk_path: str, folder: str = "") -> Path:
    """Map a path as Asterisk wrote it (or a bare file name) to the host file.

    ``folder``: a sub-folder of the recordings directory (``VOICEMAIL_FOLDER``).
    """
    expected = ASTERISK_RECORDINGS_DIR / folder if folder else ASTERISK_RECORDINGS_DIR
    pure = PurePosixPath(asterisk_path)
    if pure.is_absolute():
        if pure.parent != expected:
            raise RecordingPathError(f"{asterisk_path!r} is not in {expected}")
        name = pure.name
    else:
        name = asterisk_path
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise RecordingPathError(f"bad recording name {asterisk_path!r}")
    root = recordings_dir.resolve()
    if folder:
        root = (root / folder).resolve()
        if root.parent != recordings_dir.resolve():
            raise RecordingPathError(f"bad recordings folder {folder!r}")
    candidate = (root / name).resolve()
    if candidate.parent != root:
        raise RecordingPathError(f"{asterisk_path!r} escapes the recordings directory")
    return candidate


@dataclass(frozen=True, slots=True)
class AudioLevel:
    seconds: float
    rms_dbfs: float  # -inf for digital silence
    peak: int

    @property
    def silent(self) -> bool:
        return self.rms_dbfs < -55.0


def audio_level(path: Path) -> AudioLevel:
    """Duration and loudness of a 16-bit PCM WAV (what MixMonitor writes)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit PCM is measured")
            frames = wav.readframes(wav.getnframes())
            rate, channels = wav.getframerate(), wav.getnchannels()
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from exc
    samples = array.array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return AudioLevel(0.0, float("-inf"), 0)
    power = sum(s * s for s in samples) / len(samples)
    rms = math.sqrt(power)
    dbfs = 20 * math.log10(rms / 32768) if rms > 0 else float("-inf")
    return AudioLevel(len(samples) / channels / rate, dbfs, max(abs(s) for s in samples))
