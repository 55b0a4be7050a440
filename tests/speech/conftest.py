"""Speech tests: real engines and models (from the speech extra) on audio made with
espeak-ng and sox. Each engine is loaded once per test session, as a worker does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recordings.transcribe.engines import Engine, load_engine


@pytest.fixture(scope="session")
def whisper_en() -> Engine:
    return load_engine("whisper-tiny.en")


@pytest.fixture(scope="session")
def vosk_ko() -> Engine:
    return load_engine("vosk", language="ko")


@pytest.fixture(scope="session")
def whisper_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("whisper-cache")


@pytest.fixture(scope="session")
def whisper_zh(whisper_cache: Path) -> Engine:
    return load_engine("whisper-base", whisper_cache_dir=whisper_cache, language="zh")
