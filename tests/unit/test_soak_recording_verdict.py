"""The soak tells a lost recording from a call whose bridge lasted milliseconds."""

from __future__ import annotations

from pathlib import Path

from benchmarks.soak import recording_files, recording_verdict

HEADER = 44


def write(path: Path, size: int) -> None:
    path.write_bytes(b"\0" * size)


def test_three_files_with_audio_are_a_recording(tmp_path: Path) -> None:
    mixed = tmp_path / "1.2.wav"
    for path in (mixed, tmp_path / "1.2-caller.wav", tmp_path / "1.2-agent.wav"):
        write(path, 364)
    sizes = recording_files(str(mixed))
    assert sizes == {"mixed": 364, "caller": 364, "agent": 364}
    assert recording_verdict(sizes, 0.02) == "ok"


def test_an_absent_file_is_missing_however_short_the_talk(tmp_path: Path) -> None:
    mixed = tmp_path / "1.2.wav"
    write(mixed, 364)
    write(tmp_path / "1.2-caller.wav", 364)
    sizes = recording_files(str(mixed))
    assert sizes["agent"] is None
    assert recording_verdict(sizes, 0.0) == "missing"
    assert recording_verdict(recording_files(None), 30.0) == "missing"


def test_bare_headers_after_a_bridge_of_milliseconds_are_told_apart(tmp_path: Path) -> None:
    mixed = tmp_path / "1.2.wav"
    for path in (mixed, tmp_path / "1.2-caller.wav", tmp_path / "1.2-agent.wav"):
        write(path, HEADER)
    sizes = recording_files(str(mixed))
    assert recording_verdict(sizes, 0.03) == "empty_short_bridge"
    # the same files after a talk of a second or more: audio was lost
    assert recording_verdict(sizes, 1.0) == "missing"
