"""The QA record every generator writes, the quality checks every item passes, and the JSONL file
they go to.

One record type serves all four generators. Its first fields are the released ones
(``question``, ``answer``, ``tag``; for WebWalkerQA-style items the lowercase Hugging Face schema
``root_url`` and ``info``); the rest is our metadata (evidence pages, depth, hops, difficulty ...).
Evaluation and trajectory sampling read these files, so the field names are part of the API.

Quality checks (:class:`QualityGate`) are shared too: an item is written only when its answer is
grounded in its evidence pages, the answer does not appear in the question, and the question is
not a duplicate. Every rejection is counted under a named reason in the run's summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from webagent.jsonl import dumps_line, read_jsonl, split_lines
from webagent.world.graph import Fact, KnowledgeGraph
from webagent.world.phrasing import surface_forms

GENERATORS = ("webwalkerqa", "crawlqa", "e2hqa", "sailorfog")
YES_NO = {"yes", "no", "是", "否"}


@dataclass
class QARecord:
    """One synthesized question with its answer, provenance and difficulty metadata."""

    question: str
    answer: str
    tag: str
    """Generator name, as in the released files: ``webwalkerqa``, ``crawlqa``, ``e2hqa``, ``sailorfog``."""
    root_url: str | None = None
    """WebWalkerQA: the official site the question is about (where a click-only agent starts)."""
    info: dict[str, Any] | None = None
    """WebWalkerQA (HF schema): ``type``, ``difficulty_level``, ``domain``, ``lang``,
    ``source_website``, ``golden_path``."""
    # -- our metadata ---------------------------------------------------------------------------
    id: str = ""
    """Stable for a given seed and generator configuration (a hash of generator, question, answer)."""
    generator: str = ""
    mode: str = "offline"
    """``offline`` (templates over graph facts) or ``llm`` (a model wrote the text)."""
    qtype: str = ""
    """Question type: ``single_source``/``multi_source`` (WebWalkerQA), ``count``/``multihop``/
    ``intersection``/... (CrawlQA), ``e2h`` (E2HQA), the subgraph shape (SailorFog)."""
    lang: str = "en"
    difficulty: str = ""
    """``easy``/``medium``/``hard`` (WebWalkerQA), ``n=<iterations>`` (E2HQA), or a level name."""
    depth: int | None = None
    """WebWalkerQA: depth of the answer page (single) or the sum of depths (multi); root = 1."""
    hops: int = 1
    """Facts that must be chained or combined to answer."""
    evidence_urls: list[str] = field(default_factory=list)
    """Pages that together state every fact the answer rests on."""
    facts: list[str] = field(default_factory=list)
    """Ids of the graph facts used (offline mode)."""
    seed: int = 0
    oracle_tool_calls: int = 0
    """Tool calls a privileged oracle needs (see :func:`oracle_tool_calls`)."""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["root_url"] is None:
            del d["root_url"]
        if d["info"] is None:
            del d["info"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QARecord:
        """Read our records and the released WebWalkerQA schemas (lowercase HF and capitalised)."""
        if "Question" in d and "question" not in d:
            d = _from_capitalised(d)
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw.setdefault("tag", d.get("tag") or ("webwalkerqa" if "info" in d else ""))
        return cls(**kw)


def _from_capitalised(d: dict[str, Any]) -> dict[str, Any]:
    from webagent.eval.benchmarks import normalize_lang

    info = d.get("Info") or {}
    hop = str(info.get("Hop", "")).replace("-", "_")
    return {
        "question": d["Question"], "answer": d.get("Answer", ""), "root_url": d.get("Root_Url"),
        "tag": "webwalkerqa",
        "info": {"type": hop, "difficulty_level": str(info.get("Difficulty_Level", "")).lower(),
                 "domain": str(info.get("Domain", "")).lower(), "lang": normalize_lang(info.get("Language", "")),
                 "source_website": info.get("Source_Website", []), "golden_path": info.get("Golden_Path", [])},
    }


def record_id(generator: str, seed: int, question: str, answer: str) -> str:
    h = hashlib.sha1(f"{generator}\x00{seed}\x00{question}\x00{answer}".encode()).hexdigest()[:12]
    return f"{generator}-{seed}-{h}"


# -- difficulty ------------------------------------------------------------------------------------


@dataclass
class DifficultyMap:
    """WebWalkerQA difficulty by depth (R-WW-13). The paper's multi-source bands (2-4 / 4-6 / 6-8)
    overlap at 4 and 6; our default gives each boundary to the lower band: 2-4 easy, 5-6 medium,
    7-8 hard. The paper's one worked example (depths 2 + 3 = 5, labelled medium) fits either
    resolution, and two distinct subpages sum to at least 2 + 2 = 4: with "2-3 easy" an easy
    multi-source item would have to use the root page itself, which rarely states a fact."""

    single: dict[int, str] = field(default_factory=lambda: {2: "easy", 3: "medium", 4: "hard"})
    multi: list[tuple[int, int, str]] = field(
        default_factory=lambda: [(2, 4, "easy"), (5, 6, "medium"), (7, 8, "hard")])

    def level(self, kind: str, depth: int) -> str:
        """``kind``: ``single_source`` (depth of the page) or ``multi_source`` (sum of depths)."""
        if kind == "single_source":
            if depth not in self.single:
                raise ValueError(f"single-source depth {depth} outside {sorted(self.single)}")
            return self.single[depth]
        for lo, hi, name in self.multi:
            if lo <= depth <= hi:
                return name
        raise ValueError(f"multi-source depth sum {depth} outside the configured bands {self.multi}")


def oracle_tool_calls(evidence_depths: list[int], *, click_only: bool = False) -> int:
    """Tool calls a privileged oracle (one that knows the evidence pages) needs: our estimate.

    With search and visit (CrawlQA, E2HQA, SailorFog), one search to surface each evidence page
    and one visit to read it: ``2 * pages``. Click-only from the root (WebWalkerQA): the clicks
    down to each page, ``depth - 1`` each, the root being depth 1 and already shown. Pages that
    share a path prefix are counted separately (the oracle walks back to the root), so this is the
    cost of the golden paths as written, an upper bound on a clever walker.
    """
    if click_only:
        return sum(max(0, d - 1) for d in evidence_depths)
    return 2 * len(evidence_depths)


# -- text helpers --------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lowercase, NFKC, punctuation to spaces, whitespace collapsed (for leak and duplicate checks)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def contains_phrase(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` as whole words (after :func:`normalize_text`); CJK text,
    which has no spaces, matches as a plain substring."""
    h, n = normalize_text(haystack), normalize_text(needle)
    if not n:
        return False
    if re.search(r"[\u3400-\u9fff]", n):
        return n in h
    return re.search(rf"(?<!\w){re.escape(n)}(?!\w)", h) is not None


def word_count(text: str) -> int:
    """Words, counting each CJK character as one (a fair unit for Chinese questions)."""
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    return cjk + len(re.sub(r"[\u3400-\u9fff]", " ", text).split())


# -- quality gate --------------------------------------------------------------------------------


@dataclass
class QualityConfig:
    max_answer_words: int = 12
    """Answers must be short entities or values (R-WW-18); SailorFog may raise this."""
    min_question_words: int = 5
    max_question_words: int = 160
    require_grounding: bool = True


@dataclass
class Draft:
    """A candidate item before the quality gate: the record plus what it rests on."""

    record: QARecord
    support: list[Fact] = field(default_factory=list)
    """Graph facts the answer depends on; each must be shown on an evidence page."""
    answer_kind: str = "span"
    """``span`` (the answer text is on an evidence page), ``count`` (the number of supporting
    items), ``yesno``, ``derived`` (computed from supporting values) or ``fact`` (the value of
    ``answer_fact`` in any of its surface forms; the fact must be shown on an evidence page)."""
    answer_fact: Fact | None = None
    """The fact whose object is the answer, when there is one (every form of it is a leak)."""
    material: dict[str, Any] = field(default_factory=dict)
    """Inputs for the LLM mode's prompts (page texts, subgraph, ...)."""


class QualityGate:
    """Groundedness, leak, length and duplicate checks shared by every generator."""

    def __init__(self, graph: KnowledgeGraph | None, page_text, config: QualityConfig | None = None):
        self.graph = graph
        self.page_text = page_text
        """``page_text(url) -> str | None``: the text a page shows (the world's stored text)."""
        self.config = config or QualityConfig()
        self.seen: set[str] = set()

    def reject_reason(self, draft: Draft) -> str | None:
        """None when ``draft`` passes, else a short reason name (``leak``, ``ungrounded`` ...)."""
        rec, cfg = draft.record, self.config
        if not rec.question.strip() or not rec.answer.strip():
            return "empty"
        if word_count(rec.answer) > cfg.max_answer_words:
            return "answer_too_long"
        qwords = word_count(rec.question)
        if qwords < cfg.min_question_words or qwords > cfg.max_question_words:
            return "question_length"
        if self.leaks(draft):
            return "leak"
        if cfg.require_grounding and not self.grounded(draft):
            return "ungrounded"
        key = normalize_text(rec.question)
        if key in self.seen:
            return "duplicate"
        return None

    def accept(self, draft: Draft) -> str | None:
        """:meth:`reject_reason`, remembering accepted questions for the duplicate check."""
        reason = self.reject_reason(draft)
        if reason is None:
            self.seen.add(normalize_text(draft.record.question))
        return reason

    def leaks(self, draft: Draft) -> bool:
        """The answer (in any of its surface forms) appears in the question."""
        rec = draft.record
        if draft.answer_kind == "yesno" or rec.answer.strip().lower() in YES_NO:
            return False
        forms = [rec.answer]
        if draft.answer_fact is not None and self.graph is not None:
            forms += surface_forms(draft.answer_fact, self.graph)
        return any(contains_phrase(rec.question, f) for f in forms if normalize_text(f))

    def grounded(self, draft: Draft) -> bool:
        """Every supporting fact is shown on an evidence page, and a span answer appears on one."""
        rec = draft.record
        texts = [self.page_text(u) for u in rec.evidence_urls]
        if not texts or any(t is None for t in texts):
            return False
        if self.graph is not None:
            for f in draft.support:
                forms = surface_forms(f, self.graph)
                if not any(any(s and s in t for s in forms) for t in texts):
                    return False
        if draft.answer_kind == "span":
            return any(rec.answer in t for t in texts)
        if draft.answer_kind == "count":
            return rec.answer.isdigit() and int(rec.answer) == len(draft.support)
        return True


# -- JSONL output with resume ------------------------------------------------------------------


class JsonlWriter:
    """Append-only JSONL of records. Reopening a file repairs a torn last line (a crash mid-write)
    and remembers the ids and questions already there, so a re-run skips them."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ids: set[str] = set()
        self.questions: set[str] = set()
        self.repaired = False
        if self.path.exists():
            self._load()
        self.loaded_ids: set[str] = set(self.ids)
        """Ids that were in the file when it was opened (a resume skips each of them once)."""
        self._fh = open(self.path, "a", encoding="utf-8")

    def _load(self) -> None:
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):  # a torn last line: drop the partial record, keep every complete one
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)
            self.repaired = True
        for line in split_lines(data[:cut].decode("utf-8")):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{self.path}: a line is not JSON ({e}); fix or move the file") from None
            self.ids.add(d.get("id", ""))
            self.questions.add(normalize_text(d.get("question", "")))

    def __len__(self) -> int:
        return len(self.ids)

    def write(self, rec: QARecord) -> None:
        self._fh.write(dumps_line(rec.to_dict()))
        self._fh.flush()
        self.ids.add(rec.id)
        self.questions.add(normalize_text(rec.question))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_records(path: str | os.PathLike) -> list[QARecord]:
    """Every complete record of a JSONL file (ours or a released WebWalkerQA/WebDancer file)."""
    return [QARecord.from_dict(d) for d in read_jsonl(path, skip_bad=True)]  # skip_bad: a torn last line


# -- run summary -------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What one synthesis run did, written next to the output as ``<out>.summary.json``."""

    generator: str
    mode: str = "offline"
    requested: int = 0
    kept: int = 0
    resumed: int = 0
    """Items already in the output file from an earlier run (counted towards ``requested``)."""
    attempts: int = 0
    rejected: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    records: list[QARecord] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        recs = self.records
        return {
            "generator": self.generator, "mode": self.mode, "requested": self.requested,
            "kept": self.kept, "resumed": self.resumed, "attempts": self.attempts,
            "rejected": dict(sorted(self.rejected.items())), "seconds": round(self.seconds, 3),
            "qas_per_second": round(self.kept / self.seconds, 1) if self.seconds > 0 else None,
            "profile": difficulty_profile(recs),
        }


def difficulty_profile(records: list[QARecord]) -> dict[str, Any]:
    """Hops, pages, oracle tool calls and question length: means, maxima and distributions."""
    if not records:
        return {}

    def stats(values: list[float]) -> dict[str, float]:
        vs = sorted(values)
        return {"mean": round(sum(vs) / len(vs), 2), "median": vs[len(vs) // 2], "max": vs[-1]}

    calls = [r.oracle_tool_calls for r in records]
    counted = [r.meta["candidates"] for r in records if isinstance(r.meta.get("candidates"), int)]
    extra = {"unique_rate": round(sum(c == 1 for c in counted) / len(counted), 3)} if counted else {}
    return {
        "items": len(records),
        "hops": stats([r.hops for r in records]),
        "pages": stats([len(r.evidence_urls) for r in records]),
        "oracle_tool_calls": stats(calls),
        "oracle_tool_calls_over_5": round(sum(c > 5 for c in calls) / len(calls), 3),
        "question_words": stats([word_count(r.question) for r in records]),
        "by_type": dict(sorted(Counter(r.qtype for r in records).items())),
        "by_difficulty": dict(sorted(Counter(r.difficulty for r in records).items())),
        "by_lang": dict(sorted(Counter(r.lang for r in records).items())),
        **extra,
    }
