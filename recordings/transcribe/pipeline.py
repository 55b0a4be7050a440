"""One call from its recordings to what is stored: transcribe each party, redact,
analyse, tag. The raw words never leave this function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings.transcribe.analytics import analyse
from recordings.transcribe.audio import read_channel
from recordings.transcribe.engines import Engine
from recordings.transcribe.redact import redact
from recordings.transcribe.sentiment import DEFAULT_ZH_LEXICON, scorer_for
from recordings.transcribe.tags import TagRules, apply_rules
from recordings.transcribe.turns import build_turns
from recordings.transcribe.types import AudioSource, Party, TagMatch, TranscriptData, Word


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    min_pii_digits: int = 6
    pii_window_s: float = 15.0
    zh_lexicon: Path = DEFAULT_ZH_LEXICON


def transcribe_call(
    engine: Engine,
    call_id: str,
    sources: Sequence[AudioSource],
    language: str | None,
    rules: TagRules,
    options: PipelineOptions | None = None,
) -> tuple[TranscriptData, list[TagMatch]]:
    """Raises ``AudioError`` (bad recording) before any engine work is wasted on the rest."""
    options = options or PipelineOptions()
    audio = [(source, read_channel(source.path, source.channel)) for source in sources]
    words: dict[Party, list[Word]] = {}
    for source, samples in audio:
        words.setdefault(source.party, []).extend(engine.transcribe(samples, language))
    out_language = engine.output_language(language)
    duration = max(samples.seconds for _, samples in audio)
    turns = build_turns(words)
    redactions = redact(turns, out_language, options.min_pii_digits, options.pii_window_s)
    analytics = analyse(turns, duration, out_language, scorer_for(out_language, options.zh_lexicon))
    analytics["redactions"] = [r.as_json() for r in redactions]
    tags = apply_rules(rules, turns, analytics, out_language)
    stored = [turn.as_json(out_language) for turn in turns]
    transcript = TranscriptData(
        call_id=call_id,
        engine=engine.name,
        language=out_language,
        duration_s=round(duration, 2),
        turns=stored,
        analytics=analytics,
        text="\n".join(f"{t['party']}: {t['text']}" for t in stored),
    )
    return transcript, tags
