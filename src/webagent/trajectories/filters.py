"""The WebDancer filter funnel (R-WD-23…26), plus de-duplication.

Four stages, in order; each one reports how many trajectories it removed and why:

1. **validity**: the trajectory keeps the protocol: every assistant turn has a ``<think>`` (when
   required) and exactly one kind of action (tool calls or the answer), every tool call is a JSON
   object naming a known tool, tags are balanced, every call got its ``<tool_response>``, and the
   episode ended with an answer.
2. **correctness**: the final answer is judged correct (:mod:`webagent.eval.judges`: rule-based
   by default, an LLM judge when configured). A sampling-time verdict of the same judge and
   version is reused.
3. **quality**: the action-count rule (R-WD-25: read as "at least two actions", i.e. a tool call
   before answering; both bounds configurable), no n-gram (n = 10) of the model's text more than
   4 times, no fabricated observation (the model writing a tool result itself, which long-CoT
   models do), and, when a model is given, an LLM check of non-redundancy, goal alignment and
   sound reasoning (R-WD-26).
4. **dedup**: one trajectory per (question, action sequence); optionally at most ``max_per_qa``
   per QA item.

A removed record gets ``filters = {"stage": ..., "reason": ...}``; kept ones get
``filters = {"passed": [...]}``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from webagent import aio
from webagent import protocol as P
from webagent.prompts import load_prompts
from webagent.trajectories.records import actions, assistant_texts, gold_of, qa_id
from webagent.trajectory import ANSWER

STAGES = ("validity", "correctness", "quality", "dedup")
# Whitespace-separated words; each CJK character is a word of its own (Chinese has no spaces).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef\u3000-\u303f"
_TOKEN = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_TAGS = ("think", "tool_call", "answer")
# What a tool result looks like: the model writing one of these has invented an observation.
_FABRICATED = [
    re.compile(r"<\s*/?\s*tool_response\s*>", re.I),
    re.compile(r"^\s*Observation\s*:", re.M),
    re.compile(r"A Google search for '.{1,300}' found \d+ results"),
    re.compile(r"The useful information in \S+ for user goal"),
    re.compile(r"^## Web Results\s*$", re.M),
]


@dataclass
class FilterConfig:
    """Thresholds of every stage; each rule can be switched off."""

    # --- validity -----------------------------------------------------------------------------
    require_think: bool = True
    tools: tuple[str, ...] = ("search", "visit")
    """Tool names a trajectory may call."""
    # --- correctness --------------------------------------------------------------------------
    judge: str = "rule"
    """``rule`` or ``llm:<preset>``; ``none`` skips the stage."""
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    # --- quality ------------------------------------------------------------------------------
    min_actions: int | None = 2
    """Fewest actions (tool calls + answer). The paper's "more than two actions" is read as
    requiring at least two (R-WD-25); set ``max_actions=2, min_actions=None`` for the literal reading."""
    max_actions: int | None = None
    ngram: int = 10
    max_ngram_repeats: int = 4
    """An n-gram may occur at most this many times."""
    repetition_scope: str = "thoughts"
    """Text the rule reads: ``thoughts`` (the free text the model writes: thoughts and answer),
    ``assistant`` (whole model turns, tool-call JSON included) or ``all`` (observations too).
    The default leaves tool calls out: their JSON repeats its keys and, legitimately, the same
    ``goal`` on every visit, which is not the degenerate looping the rule is after."""
    check_fabrication: bool = True
    llm_check: bool = True
    """Run the LLM quality check when a quality model is given."""
    max_observation_chars: int = 2000
    """Observation text shown to the LLM quality check, per tool response."""
    concurrency: int = 16
    # --- dedup --------------------------------------------------------------------------------
    dedup: bool = True
    max_per_qa: int | None = None

    def validate(self) -> None:
        if self.repetition_scope not in ("thoughts", "assistant", "all"):
            raise ValueError("repetition_scope must be 'thoughts', 'assistant' or 'all'")
        if self.ngram < 1 or self.max_ngram_repeats < 1:
            raise ValueError("ngram and max_ngram_repeats must be at least 1")


@dataclass
class StageReport:
    """How one stage changed the set."""

    stage: str
    input: int = 0
    kept: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        return self.input - self.kept

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "removed": self.removed}


@dataclass
class FilterResult:
    kept: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    stages: list[StageReport]

    def report(self) -> dict[str, Any]:
        return {"stages": [s.as_dict() for s in self.stages], "kept": len(self.kept), "rejected": len(self.rejected)}


# --- stage 1: validity --------------------------------------------------------------------------

def validity_reason(record: dict[str, Any], cfg: FilterConfig | None = None) -> str | None:
    """Why the trajectory breaks the protocol, or ``None`` when it is valid."""
    cfg = cfg or FilterConfig()
    turns = assistant_texts(record)
    if not turns:
        return "no assistant turn"
    if record.get("termination") != ANSWER or record.get("answer") is None:
        return f"no final answer ({record.get('termination') or 'unfinished'})"
    messages = record.get("messages", [])
    for i, text in enumerate(turns):
        for tag in _TAGS:
            if len(re.findall(rf"<\s*{tag}\s*>", text)) != len(re.findall(rf"<\s*/\s*{tag}\s*>", text)):
                return f"unbalanced <{tag}> tags"
        reply = P.parse_reply(text)
        if cfg.require_think and not reply.think:
            return "turn without <think>"
        if reply.errors:
            return "invalid tool call JSON"
        if any(c.name not in cfg.tools for c in reply.tool_calls):
            return "unknown tool"
        last = i == len(turns) - 1
        if reply.answer is not None and reply.tool_calls:
            return "tool call and answer in one turn"
        if last and reply.answer is None:
            return "last turn has no <answer>"
        if not last and not reply.tool_calls:
            return "turn without an action"
    # Every tool-calling turn is followed by a user turn with one <tool_response> per call.
    for i, m in enumerate(messages):
        if m.get("role") == "assistant" and (calls := len(P.parse_reply(str(m.get("content") or "")).tool_calls)):
            nxt = messages[i + 1] if i + 1 < len(messages) else {}
            got = str(nxt.get("content") or "").count("<tool_response>") if nxt.get("role") == "user" else 0
            if got != calls:
                return "tool call without its <tool_response>"
    if any(a.get("error") for s in record.get("steps", []) for a in s.get("actions", [])):
        return "rejected tool call"
    return None


# --- stage 3: quality rules ----------------------------------------------------------------------

def max_ngram_count(text: str, n: int = 10) -> int:
    """How often the most frequent n-gram of ``text`` occurs (whitespace words; each CJK character is one)."""
    toks = _TOKEN.findall(text)
    if len(toks) < n:
        return 0
    counts = Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    return max(counts.values())


def fabricated_observation(record: dict[str, Any]) -> bool:
    """True when a model turn (thought included) contains what only a tool can return."""
    for text in assistant_texts(record):
        if any(p.search(text) for p in _FABRICATED):
            return True
    return any(s.get("reasoning") and any(p.search(s["reasoning"]) for p in _FABRICATED)
               for s in record.get("steps", []))


def quality_reason(record: dict[str, Any], cfg: FilterConfig | None = None) -> str | None:
    """The rule-based quality check (R-WD-25); ``None`` when the trajectory passes."""
    cfg = cfg or FilterConfig()
    n = actions(record)
    if cfg.min_actions is not None and n < cfg.min_actions:
        return f"fewer than {cfg.min_actions} actions"
    if cfg.max_actions is not None and n > cfg.max_actions:
        return f"more than {cfg.max_actions} actions"
    if cfg.check_fabrication and fabricated_observation(record):
        return "fabricated observation"
    if cfg.repetition_scope == "thoughts":
        replies = [P.parse_reply(t) for t in assistant_texts(record)]
        text = "\n".join(f"{r.think}\n{r.answer or ''}" for r in replies)
    elif cfg.repetition_scope == "assistant":
        text = "\n".join(assistant_texts(record))
    else:
        text = "\n".join(str(m.get("content") or "") for m in record.get("messages", [])[2:])
    if max_ngram_count(text, cfg.ngram) > cfg.max_ngram_repeats:
        return f"a {cfg.ngram}-gram repeated more than {cfg.max_ngram_repeats} times"
    return None


def render_for_review(record: dict[str, Any], max_observation_chars: int = 2000) -> str:
    """The trajectory as plain text for an LLM reviewer (observations shortened)."""
    lines = []
    for m in record.get("messages", [])[2:]:
        content = str(m.get("content") or "")
        if m.get("role") == "user" and len(content) > max_observation_chars:
            content = content[:max_observation_chars] + " [...]"
        lines.append(f"[{m.get('role')}]\n{content}")
    return "\n\n".join(lines)


_JSON_OBJ = re.compile(r"\{.*\}", re.DOTALL)
QUALITY_KEYS = ("non_redundancy", "goal_alignment", "logical_reasoning")


def parse_quality(text: str) -> dict[str, Any] | None:
    """The reviewer's JSON verdict, or ``None`` when the reply holds no readable one."""
    m = _JSON_OBJ.search(text.split("</think>")[-1])
    if not m:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), bool) for k in QUALITY_KEYS):
        return None
    return obj


async def llm_quality_reason(record: dict[str, Any], model: Any, cfg: FilterConfig, retries: int = 1) -> str | None:
    """The LLM check of R-WD-26: ``None`` when the reviewer finds all three properties."""
    gold, _ = gold_of(record)
    prompt = load_prompts("traj_quality")["prompt"].format(
        question=record.get("question", ""), answer=record.get("answer", ""),
        trajectory=render_for_review(record, cfg.max_observation_chars))
    for _ in range(retries + 1):
        try:
            c = await model.generate([{"role": "user", "content": prompt}], temperature=0.0)
        except Exception as e:  # a reviewer outage must not pass a trajectory unchecked
            return f"quality check failed ({type(e).__name__})"
        verdict = parse_quality(c.text)
        if verdict is not None:
            failed = [k for k in QUALITY_KEYS if not verdict[k]]
            return f"llm check: {', '.join(failed)}" if failed else None
    return "llm check unreadable"


# --- stage 4: dedup ------------------------------------------------------------------------------

def action_key(record: dict[str, Any]) -> str:
    """The question and the ordered tool calls: two trajectories with the same key are duplicates."""
    calls = [(a.get("name"), a.get("arguments")) for s in record.get("steps", []) for a in s.get("actions", [])]
    question = " ".join(str(record.get("question", "")).lower().split())
    return json.dumps([question, calls, str(record.get("answer", "")).strip().lower()], ensure_ascii=False, sort_keys=True)


# --- the funnel ----------------------------------------------------------------------------------

def _judge(cfg: FilterConfig) -> Any:
    from webagent.trajectories.sample import SampleConfig, make_judge

    return make_judge(SampleConfig(judge=cfg.judge, judge_model=cfg.judge_model, judge_base_url=cfg.judge_base_url,
                                   judge_api_key_env=cfg.judge_api_key_env))


async def _correctness(recs: list[dict[str, Any]], judge: Any, sem: asyncio.Semaphore) -> list[str | None]:
    version = getattr(getattr(judge, "inner", judge), "version", "")

    async def one(r: dict[str, Any]) -> str | None:
        old = r.get("judge") or {}
        if old.get("judge") == getattr(judge, "name", None) and old.get("version") == version and not old.get("parse_error"):
            return None if r.get("correct") else f"incorrect answer ({old.get('judge')})"
        gold, aliases = gold_of(r)
        async with sem:
            v = await judge.judge(r.get("question", ""), gold, r.get("answer"), aliases)
        r["correct"], r["judge"] = v.correct, v.to_dict()
        return None if v.correct else f"incorrect answer ({v.judge})"

    return await asyncio.gather(*(one(r) for r in recs))


async def afilter(records: list[dict[str, Any]], config: FilterConfig | None = None, *, judge: Any = None,
                  quality_model: Any = None) -> FilterResult:
    """Run the four stages over ``records`` (dicts of our JSONL); see the module docstring."""
    cfg = config or FilterConfig()
    cfg.validate()
    sem = asyncio.Semaphore(cfg.concurrency)
    current, rejected, reports = [dict(r) for r in records], [], []

    def apply(stage: str, reasons: list[str | None]) -> None:
        nonlocal current
        rep, kept = StageReport(stage, input=len(current)), []
        for r, why in zip(current, reasons, strict=True):
            if why is None:
                r.setdefault("filters", {"passed": []})["passed"].append(stage)
                kept.append(r)
            else:
                r["filters"] = {"stage": stage, "reason": why}
                rep.reasons[why] = rep.reasons.get(why, 0) + 1
                rejected.append(r)
        rep.kept, current = len(kept), kept
        reports.append(rep)

    for r in current:
        r.pop("filters", None)
    apply("validity", [validity_reason(r, cfg) for r in current])
    if cfg.judge != "none":
        apply("correctness", await _correctness(current, judge or _judge(cfg), sem))
    reasons = [quality_reason(r, cfg) for r in current]
    if quality_model is not None and cfg.llm_check:
        async def check(r: dict[str, Any], why: str | None) -> str | None:
            if why is not None:
                return why
            async with sem:
                return await llm_quality_reason(r, quality_model, cfg)

        reasons = await asyncio.gather(*(check(r, w) for r, w in zip(current, reasons, strict=True)))
    apply("quality", list(reasons))
    if cfg.dedup:
        apply("dedup", _dedup_reasons(current, cfg))
    return FilterResult(current, rejected, reports)


def filter_records(records: list[dict[str, Any]], config: FilterConfig | None = None, **kw: Any) -> FilterResult:
    """Synchronous :func:`afilter`."""
    return aio.run(afilter(records, config, **kw))


def _dedup_reasons(records: list[dict[str, Any]], cfg: FilterConfig) -> list[str | None]:
    seen: set[str] = set()
    per_qa: Counter[str] = Counter()
    # Among duplicates the earliest attempt stays.
    order = sorted(range(len(records)), key=lambda i: (records[i].get("attempt") or 0, i))
    verdict: dict[int, str | None] = {}
    for i in order:
        r, key = records[i], action_key(records[i])
        if key in seen:
            verdict[i] = "duplicate trajectory"
        elif cfg.max_per_qa is not None and per_qa[qa_id(r)] >= cfg.max_per_qa:
            verdict[i] = f"more than {cfg.max_per_qa} per QA item"
        else:
            seen.add(key)
            per_qa[qa_id(r)] += 1
            verdict[i] = None
    return [verdict[i] for i in range(len(records))]
