"""Offline transcription of call recordings for QA: engines, the job queue in the
database, workers, per-call analytics, PII redaction and tag rules."""
