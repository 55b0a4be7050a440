"""QA full-text search speed (cti.qa.fulltext): the index against a scan.

``--transcripts`` transcripts (default 20,000) of ``--words`` words each
(default 300: a few minutes of talk), Mandarin and English mixed, each with
its CDR, are stored through the models (so the index is filled the way the
workers fill it: SQLite's triggers, PostgreSQL's GIN index); a few words are
rare (in about 1 % of the calls). Then each search (an English word, a rare
two-character Chinese word, one character, an English phrase, and the rare
word with an agent filter) is timed through ``QaStore.search`` (limit 50,
the page's) as the median of ``--runs`` runs, against the same words found
by a scan of the stored text (``LIKE '%word%'``, what the search did before
the index), and the result counts are checked to agree where they must.

``--postgres`` does the same on a throw-away PostgreSQL cluster (Debian's
``postgresql``, as the tests start it) and prints whether the plan uses the
GIN index.

Usage: python benchmarks/qa_search.py [--transcripts 20000] [--words 300] [--runs 7] [--postgres]
Last line: one JSON object {"transcripts", "words", "sqlite": {...}, "postgres": {...}|null}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from cti.db.models import CallRecord, Transcript  # noqa: E402
from cti.db.repository import create_schema, make_engine  # noqa: E402
from cti.qa.store import CallFilter, QaStore  # noqa: E402
from cti.qa.words import index_text  # noqa: E402

ZH = [
    "您好",
    "请问",
    "账户",
    "信息",
    "银行",
    "服务",
    "电话",
    "我们",
    "已经",
    "处理",
    "问题",
    "时间",
    "需要",
    "帮助",
    "确认",
    "号码",
    "谢谢",
    "好的",
    "没有",
    "这个",
    "那个",
    "可以",
    "一下",
    "办理",
    "业务",
    "查询",
    "余额",
    "转账",
    "手续",
    "费用",
    "申请",
    "客户",
]
EN = [
    "hello",
    "thank",
    "you",
    "for",
    "calling",
    "my",
    "name",
    "is",
    "how",
    "can",
    "help",
    "account",
    "balance",
    "card",
    "payment",
    "transfer",
    "fee",
    "please",
    "wait",
    "moment",
    "check",
    "details",
    "confirm",
    "number",
    "address",
    "today",
    "problem",
]
RARE = {"zh": "退款", "en": "regulator"}  # each in about 1 % of the calls
AGENTS = [f"{2000 + i}" for i in range(40)]
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def transcript_text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words // 10):
        if rng.random() < 0.5:
            parts.append("".join(rng.choice(ZH) for _ in range(5)) + "。")
        else:
            parts.append(" ".join(rng.choice(EN) for _ in range(10)) + ".")
    if rng.random() < 0.01:
        parts.insert(rng.randrange(len(parts) + 1), f"我要{RARE['zh']}")
    if rng.random() < 0.01:
        parts.insert(rng.randrange(len(parts) + 1), f"I will go to the {RARE['en']}.")
    return "\n".join(parts)


async def fill(engine: AsyncEngine, count: int, words: int) -> float:
    """Store the calls and transcripts; the seconds it took (index upkeep included)."""
    rng = random.Random(7)
    store = QaStore(engine)
    started = time.perf_counter()
    batch = 1000
    for first in range(0, count, batch):
        cdrs, transcripts = [], []
        for i in range(first, min(count, first + batch)):
            at = T0 + timedelta(seconds=i * 60)
            call_id = f"{1_800_000_000 + i}.{i}"
            cdrs.append(
                {
                    "call_id": call_id,
                    "caller_number": f"1555{i:07d}",
                    "caller_name": "",
                    "ivr_path": "",
                    "queue": "billing",
                    "agent_id": AGENTS[i % len(AGENTS)],
                    "entered_at": at,
                    "ended_at": at + timedelta(minutes=4),
                    "wait_s": 10.0,
                    "talk_s": 230.0,
                    "disposition": "answered",
                    "agent_notes": "",
                    "recovered": False,
                    "verified": False,
                }
            )
            body = transcript_text(rng, words)
            transcripts.append(
                {
                    "call_id": call_id,
                    "engine": "whisper",
                    "language": "zh",
                    "created_at": at,
                    "duration_s": 230.0,
                    "turns": [],
                    "analytics": {},
                    "text": body,
                    "search_text": index_text(body),  # what the model sets with text
                }
            )
        async with store.sessions.begin() as session:
            await session.execute(insert(CallRecord), cdrs)
            await session.execute(insert(Transcript), transcripts)
    return time.perf_counter() - started


async def timed(runs: int, job: Any) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = await job()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2), found


async def measure(engine: AsyncEngine, runs: int) -> dict[str, Any]:
    store = QaStore(engine)
    searches = {
        "en_word": CallFilter(text="payment"),
        "zh_rare_2char": CallFilter(text=RARE["zh"]),
        "zh_1char": CallFilter(text="退"),
        "en_phrase": CallFilter(text='"go to the regulator"'),
        "zh_rare_agent": CallFilter(text=RARE["zh"], agent_id=AGENTS[3]),
    }
    scans = {
        "en_word": "payment",
        "zh_rare_2char": RARE["zh"],
        "zh_1char": "退",
        "en_phrase": "go to the regulator",
    }
    out: dict[str, Any] = {}
    for name, where in searches.items():

        async def search(where: CallFilter = where) -> int:
            return len(await store.search(where))

        index_ms, found = await timed(runs, search)
        out[name] = {"index_ms": index_ms, "found": found}
        if name in scans:

            async def scan(word: str = scans[name]) -> int:
                async with store.sessions() as session:
                    query = (
                        select(func.count())
                        .select_from(Transcript)
                        .where(Transcript.text.contains(word, autoescape=True))
                    )
                    return int(await session.scalar(query) or 0)

            scan_ms, scanned = await timed(runs, scan)
            out[name] |= {"scan_count_ms": scan_ms, "scan_found": scanned}
    # the rare word: the index finds what the scan finds (all fit in one page)
    rare = out["zh_rare_2char"]
    assert rare["found"] == rare["scan_found"] or rare["found"] == 50, rare
    return out


async def run_backend(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        fill_s = await fill(engine, args.transcripts, args.words)
        result: dict[str, Any] = {"fill_s": round(fill_s, 1)}
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execute(text("ANALYZE transcripts"))
                plan = await conn.execute(
                    text(
                        "EXPLAIN SELECT call_id FROM transcripts WHERE search_vector @@ "
                        "phraseto_tsquery('simple'::regconfig, '退 款')"
                    )
                )
                result["uses_gin_index"] = any("ix_transcripts_search" in row[0] for row in plan)
        result["searches"] = await measure(engine, args.runs)
        return result
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=20_000)
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"transcripts": args.transcripts, "words": args.words}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await run_backend(f"sqlite+aiosqlite:///{tmp}/bench.db", args)
    result["sqlite"] = sqlite
    print(f"sqlite: stored in {sqlite['fill_s']} s")
    for name, figures in sqlite["searches"].items():
        print(f"  {name}: {figures}")
    result["postgres"] = None
    if args.postgres:
        from tests.support.pg_cluster import start_postgres, stop_postgres

        server = start_postgres()
        try:
            postgres = await run_backend(server.create_database(), args)
        finally:
            stop_postgres(server)
        result["postgres"] = postgres
        print(
            f"postgres: stored in {postgres['fill_s']} s, GIN index used: "
            f"{postgres['uses_gin_index']}"
        )
        for name, figures in postgres["searches"].items():
            print(f"  {name}: {figures}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
