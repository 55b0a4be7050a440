"""Reading recordings: a missing, empty, truncated or non-audio file is refused
with a reason that names the problem and the file."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recordings.transcribe.audio import AudioError, audio_seconds, read_channel
from recordings.transcribe.sources import recording_sources


def write(path: Path, frames: np.ndarray, channels: int = 1, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames.astype("<i2").tobytes())
    return path


def test_a_stereo_recording_gives_each_channel_and_its_length(tmp_path: Path) -> None:
    left, right = np.full(8000, 1000), np.full(8000, -2000)
    path = write(tmp_path / "call.wav", np.stack([left, right], axis=1), channels=2)
    assert read_channel(path, 0).samples[:3].tolist() == [1000] * 3
    assert read_channel(path, 1).samples[:3].tolist() == [-2000] * 3
    assert read_channel(path).samples[0] == -500
    assert audio_seconds(path) == 1.0
    with pytest.raises(AudioError, match="no channel 2 in a 2-channel recording"):
        read_channel(path, 2)


def test_resampling_to_16k_keeps_the_length_and_the_tone(tmp_path: Path) -> None:
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.int16)
    audio = read_channel(write(tmp_path / "tone.wav", tone))
    upsampled = audio.resampled_float(16000)
    assert len(upsampled) == 16000
    peak = np.argmax(np.abs(np.fft.rfft(upsampled)))
    assert peak == 440  # 1 Hz bins over one second


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "missing file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio\n" * 10), "not a WAV recording"),
        (lambda p: write(p, np.zeros(0)), "empty recording"),
        (lambda p: write(p, np.zeros(400)), "empty recording (0.05 s of audio)"),
        (
            lambda p: p.write_bytes(write(p, np.ones(16000)).read_bytes()[: 44 + 16000]),
            "truncated file: the header promises 2.0 s, the file holds 1.0 s",
        ),
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVE"), "truncated file (no audio data)"),
        (
            lambda p: p.write_bytes(
                b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
                + b"\x07" * 16
                + b"data\x08\x00\x00\x00"
                + b"\x00" * 8
            ),
            "not a readable WAV recording",
        ),
    ],
)
def test_an_unusable_recording_is_refused_with_its_reason(
    make: Callable[[Path], object], reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "1764000000.9.wav"
    make(path)
    with pytest.raises(AudioError) as caught:
        read_channel(path)
    assert str(caught.value).startswith(reason)
    assert str(path) in str(caught.value)


def test_an_8_bit_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "eight.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * 8000)
    with pytest.raises(AudioError, match="8-bit audio, expected 16-bit PCM"):
        read_channel(path)


def test_a_recording_whose_header_was_never_finished_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "open.wav", np.ones(16000))
    data = bytearray(path.read_bytes())
    data[40:44] = b"\x00\x00\x00\x00"  # data chunk size still 0: the writer died
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="unfinished WAV header"):
        read_channel(path)


def test_the_sources_of_a_call_are_its_party_files_or_its_channels(tmp_path: Path) -> None:
    mono = write(tmp_path / "a.wav", np.zeros(800))
    assert [(s.party, s.channel) for s in recording_sources(str(mono))] == [("mixed", None)]
    stereo = write(tmp_path / "b.wav", np.zeros((800, 2)), channels=2)
    assert [(s.party, s.channel) for s in recording_sources(str(stereo))] == [
        ("caller", 0),
        ("agent", 1),
    ]
    for party in ("caller", "agent"):
        write(tmp_path / f"a-{party}.wav", np.zeros(800))
    assert [(s.party, Path(s.path).name) for s in recording_sources(str(mono))] == [
        ("caller", "a-caller.wav"),
        ("agent", "a-agent.wav"),
    ]
    missing = recording_sources(str(tmp_path / "gone.wav"))
    assert [(s.party, s.path) for s in missing] == [("mixed", str(tmp_path / "gone.wav"))]
