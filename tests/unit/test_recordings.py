from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from recordings.catalogue import RecordingPathError, audio_level, host_path


def test_asterisk_path_maps_into_recordings_dir(tmp_path: Path) -> None:
    path = host_path(tmp_path, "/var/spool/asterisk/monitor/hotline/1700.1.wav")
    assert path == tmp_path.resolve() / "1700.1.wav"


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "/etc/passwd",
        "/var/spool/asterisk/monitor/hotline/../../../../etc/shadow",
        "..",
        "a/b.wav",
        "x\x00.wav",
        "",
    ],
)
def test_path_tricks_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RecordingPathError):
        host_path(tmp_path, bad)


def test_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "link.wav").symlink_to(tmp_path / "secret.wav")
    with pytest.raises(RecordingPathError):
        host_path(tmp_path / "rec", "link.wav")


def write_wav(path: Path, samples: list[int]) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def test_audio_level_tells_tone_from_silence(tmp_path: Path) -> None:
    tone = [int(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(8000)]
    write_wav(tmp_path / "tone.wav", tone)
    write_wav(tmp_path / "silence.wav", [0] * 8000)
    level = audio_level(tmp_path / "tone.wav")
    assert level.seconds == pytest.approx(1.0)
    assert not level.silent
    assert audio_level(tmp_path / "silence.wav").silent


def test_broken_audio_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    with pytest.raises(ValueError, match="not a readable WAV"):
        audio_level(tmp_path / "junk.wav")


def test_voicemail_paths_map_into_the_voicemail_folder(tmp_path: Path) -> None:
    path = host_path(
        tmp_path, "/var/spool/asterisk/monitor/hotline/voicemail/1700.1.wav", "voicemail"
    )
    assert path == tmp_path.resolve() / "voicemail" / "1700.1.wav"
    with pytest.raises(RecordingPathError):  # a call recording is not a voicemail
        host_path(tmp_path, "/var/spool/asterisk/monitor/hotline/1700.1.wav", "voicemail")
    with pytest.raises(RecordingPathError):  # nor the other way round
        host_path(tmp_path, "/var/spool/asterisk/monitor/hotline/voicemail/1700.1.wav")
    with pytest.raises(RecordingPathError):
        host_path(tmp_path, "/var/spool/asterisk/monitor/hotline/../1700.1.wav", "..")
