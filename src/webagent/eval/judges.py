"""Judges: decide whether a predicted answer matches the gold answer.

- :class:`RuleJudge` (offline default, no model): normalisation, aliases, dates in any format,
  numbers with a tolerance, containment of a short gold answer, and a token-F1 threshold.
- :class:`LLMJudge` with presets that mirror the published graders (``gaia``, ``browsecomp``,
  ``xbench``, ``webwalker``); the prompt prose is ours (``prompts/judge_*.toml``). Verdicts are
  parsed JSON first, then with per-preset patterns written to avoid the known pitfalls (a
  case-sensitive ``correct:`` regex, ``incorrect: yes`` inside the reasoning matching first).
- :class:`VerdictCache`: verdicts keyed by judge id, question, gold and prediction, so a re-run
  or a report never pays twice (and never gets a different verdict) for the same triple.

Every verdict records the judge's name, version and model, so reports can say which judge made
each number.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from webagent.jsonl import dumps_line, read_jsonl
from webagent.llm.base import ChatModel
from webagent.prompts import load_prompts

RULE_VERSION = "rule-v1"


@dataclass
class Verdict:
    """One judgement."""

    correct: bool
    judge: str
    """Judge id, e.g. ``rule`` or ``llm:gaia``."""
    version: str = ""
    """Judge version: rule set version, or prompt hash for LLM judges."""
    model: str = ""
    """The judge model, for LLM judges."""
    reason: str = ""
    """Which rule fired, or the judge's rationale."""
    extracted: str | None = None
    """The final answer the judge extracted from the prediction, when it reports one."""
    parse_error: bool = False
    """True when no verdict could be read from the judge's reply (counted as not correct)."""
    raw: str = ""
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Judge(Protocol):
    """Anything with ``name`` and ``async judge(question, gold, prediction, aliases) -> Verdict``."""

    name: str

    async def judge(self, question: str, gold: Any, prediction: str | None, aliases: list[str] | None = None) -> Verdict: ...


# --- normalisation --------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ARTICLES = {"a", "an", "the"}
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}
_MONTH_RE = "(" + "|".join(list(_MONTHS) + [m[:3] for m in _MONTHS] + ["sept"]) + r")\.?"
_DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"), ("y", "m", "d")),
    (re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b{_MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), ("M", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE},?\s+(\d{{4}})\b", re.I), ("d", "M", "y")),
]
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\d])")


def normalize(text: Any) -> str:
    """Lower-case, NFKC, punctuation to spaces, articles dropped, whitespace collapsed."""
    s = unicodedata.normalize("NFKC", str(text or "")).lower()
    s = re.sub(r"[^\w\s]", " ", s)
    return " ".join(w for w in s.split() if w not in _ARTICLES)


def tokens(text: Any) -> list[str]:
    """Words of the normalised text; every CJK character is its own token."""
    out = []
    for w in normalize(text).split():
        if _CJK.search(w):
            out.extend(ch for ch in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]|[^\u3400-\u9fff\uf900-\ufaff]+", w))
        else:
            out.append(w)
    return out


def token_f1(prediction: Any, gold: Any) -> float:
    p, g = tokens(prediction), tokens(gold)
    if not p or not g:
        return 0.0
    common = sum(min(p.count(t), g.count(t)) for t in set(p) & set(g))
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def find_dates(text: str) -> set[str]:
    """Every date written in ``text`` (ISO, 2024年5月17日, May 17, 2024, 17 May 2024, ...) as ISO."""
    found = set()
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups(), strict=True))
            month = int(parts["m"]) if "m" in parts else _MONTHS.get(parts["M"].lower().rstrip("."), 0) or \
                next((i for name, i in _MONTHS.items() if name.startswith(parts["M"].lower()[:3])), 0)
            y, d = int(parts["y"]), int(parts["d"])
            if 1 <= month <= 12 and 1 <= d <= 31:
                found.add(f"{y:04d}-{month:02d}-{d:02d}")
    return found


def find_numbers(text: str) -> list[float]:
    out = []
    for m in _NUMBER.finditer(str(text)):
        try:
            out.append(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    return out


def _as_number(text: str) -> float | None:
    """The value of a gold answer that is a number (units and separators allowed), else None."""
    nums = find_numbers(text)
    if len(nums) != 1:
        return None
    rest = _NUMBER.sub(" ", str(text))
    return nums[0] if len(tokens(rest)) <= 2 else None  # "1,250 students", "USD 300", "42"


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


@dataclass
class RuleJudge:
    """Offline rule-based judge; see the module docstring. Deterministic and free."""

    f1_threshold: float = 0.8
    rel_tol: float = 0.01
    """Relative tolerance for non-integer numeric answers (integers must match exactly)."""
    max_extra_words: int = 8
    """Containment only counts when the prediction is at most this many words longer than gold
    (so listing every candidate does not pass)."""
    name: str = "rule"
    version: str = RULE_VERSION

    async def judge(self, question: str, gold: Any, prediction: str | None, aliases: list[str] | None = None) -> Verdict:
        return self.judge_sync(question, gold, prediction, aliases)

    def judge_sync(self, question: str, gold: Any, prediction: str | None, aliases: list[str] | None = None) -> Verdict:
        golds = [str(g) for g in ([*gold] if isinstance(gold, list | tuple) else [gold]) if g not in (None, "")]
        golds += [str(a) for a in aliases or [] if a]
        if prediction is None or not str(prediction).strip():
            return self._v(False, "no answer")
        if not golds:
            return self._v(False, "no gold answer")
        for g in golds:
            reason = self._match(str(prediction), g)
            if reason:
                return self._v(True, f"{reason} ({g!r})")
        best = max(token_f1(prediction, g) for g in golds)
        return self._v(False, f"no rule matched (best token F1 {best:.2f})")

    def _match(self, pred: str, gold: str) -> str | None:
        p, g = tokens(pred), tokens(gold)
        if p and p == g:
            return "exact after normalisation"
        gold_dates = find_dates(gold)
        if gold_dates:
            return "same date" if gold_dates & find_dates(pred) else None
        value = _as_number(gold)
        if value is not None:
            nums = find_numbers(pred)
            # Counts and years must match exactly; measured values (with decimals) get the tolerance.
            tol = self.rel_tol if value != int(value) else 0.0
            if any(math.isclose(x, value, rel_tol=tol, abs_tol=1e-9) for x in nums) and len(nums) <= 2:
                return "number within tolerance"
            return None
        if g and _contains(p, g) and len(p) <= len(g) + self.max_extra_words:
            return "gold contained in a short prediction"
        if token_f1(pred, gold) >= self.f1_threshold:
            return f"token F1 >= {self.f1_threshold}"
        return None

    def _v(self, correct: bool, reason: str) -> Verdict:
        return Verdict(correct, self.name, self.version, reason=reason)


# --- LLM judges -------------------------------------------------------------------------------------

_TRUE = {"yes", "true", "correct", "正确", "是", "a"}
_FALSE = {"no", "false", "incorrect", "错误", "否", "wrong", "b"}
_VERDICT_KEYS = ("correct", "结论", "judgement", "judgment", "verdict", "grade", "is_correct", "result")


def _json_objects(text: str) -> list[dict[str, Any]]:
    text = re.sub(r"```[a-zA-Z]*", "", text)
    out, start = [], text.find("{")
    while start >= 0:
        try:
            value, end = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(value, dict):
                out.append(value)
                start = text.find("{", start + end)
                continue
        except json.JSONDecodeError:
            pass
        start = text.find("{", start + 1)
    return out


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = re.sub(r"[^\w\u4e00-\u9fff]", " ", str(value)).strip().lower().split()
    if not word:
        return None
    return True if word[0] in _TRUE else False if word[0] in _FALSE else None


def _from_json(text: str) -> tuple[bool | None, dict[str, Any]]:
    for obj in _json_objects(text):
        lower = {str(k).strip().lower(): v for k, v in obj.items()}
        for key in _VERDICT_KEYS:
            if key in lower and (t := _truth(lower[key])) is not None:
                return t, obj
    return None, {}


_MD = r"[\s*_#>`-]*"
_BC_RE = re.compile(rf"^{_MD}correct{_MD}:{_MD}(yes|no)\b", re.I | re.M)
_WW_RE = re.compile(rf"grade{_MD}:{_MD}(correct|incorrect)\b", re.I)
_XB_RE = re.compile(r"结论\s*[*_]*\s*[:：]\s*[*_]*\s*(正确|错误)")
_XB_ANSWER_RE = re.compile(r"最终答案\s*[:：]\s*(.+)")


def _parse_browsecomp(text: str) -> bool | None:
    # Anchored at the start of a line: "incorrect: yes" in the reasoning, or "**Correct:** yes"
    # in markdown, are handled; the last field line wins (the field comes after the reasoning).
    m = _BC_RE.findall(text)
    return m[-1].lower() == "yes" if m else None


def _parse_gaia(text: str) -> bool | None:
    words = re.sub(r"[^a-z]", " ", text.lower()).split()
    if not words:
        return None
    for w in (words[0], words[-1]):  # the one-word verdict, possibly after a short preamble
        if w in ("correct", "incorrect"):
            return w == "correct"
    if "incorrect" in words or "not correct" in " ".join(words):
        return False
    return True if "correct" in words else None


def _parse_webwalker(text: str) -> bool | None:
    m = _WW_RE.findall(text)
    if m:
        return m[-1].lower() == "correct"
    words = re.sub(r"[^a-z]", " ", text.lower()).split()
    for w in (words[-1:] + words[:1]) if words else []:  # cot_qa's last-word / first-word fallback
        if w in ("correct", "incorrect"):
            return w == "correct"
    return None


def _parse_xbench(text: str) -> bool | None:
    m = _XB_RE.findall(text)
    if m:
        return m[-1] == "正确"
    if "正确" in text and "错误" not in text and "不正确" not in text:
        return True
    return False if "错误" in text or "不正确" in text else None


@dataclass(frozen=True)
class Preset:
    """A published grading convention: prompt file, verdict parser, reference judge model."""

    name: str
    parse: Any
    reference_model: str
    """The judge model the published numbers used (record it when reproducing them)."""
    max_tokens: int = 1024


PRESETS: dict[str, Preset] = {
    "gaia": Preset("gaia", _parse_gaia, "Qwen2.5-72B-Instruct", 64),
    "browsecomp": Preset("browsecomp", _parse_browsecomp, "gpt-4o-2024-08-06"),
    "xbench": Preset("xbench", _parse_xbench, "gemini-2.0-flash"),
    "webwalker": Preset("webwalker", _parse_webwalker, "gpt-4 (temperature 0, seed 42)"),
}


def parse_verdict(text: str, preset: str) -> tuple[bool | None, dict[str, Any]]:
    """Read a verdict from a judge reply: JSON first, then the preset's text patterns.

    Returns ``(verdict or None, the JSON object it came from or {})``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown judge preset {preset!r} (have: {', '.join(PRESETS)})")
    verdict, obj = _from_json(text)
    if verdict is not None:
        return verdict, obj
    return PRESETS[preset].parse(text), {}


class LLMJudge:
    """A judge that asks a ``ChatModel``, with one of the :data:`PRESETS`.

    ``model_name`` is recorded in every verdict (pin a dated version, e.g. ``gpt-4o-2024-08-06``).
    Unparseable replies are retried up to ``retries`` times, then counted as not correct with
    ``parse_error`` set.
    """

    def __init__(self, model: ChatModel, preset: str = "gaia", *, model_name: str | None = None,
                 prompt_file: str | None = None, retries: int = 2):
        if preset not in PRESETS:
            raise ValueError(f"unknown judge preset {preset!r} (have: {', '.join(PRESETS)})")
        self.model, self.preset, self.retries = model, PRESETS[preset], retries
        self.template = load_prompts(f"judge_{preset}", prompt_file)["prompt"]
        self.name = f"llm:{preset}"
        self.model_name = model_name or getattr(model, "name", type(model).__name__)
        self.version = "prompt-" + hashlib.sha256(self.template.encode()).hexdigest()[:10]

    async def judge(self, question: str, gold: Any, prediction: str | None, aliases: list[str] | None = None) -> Verdict:
        gold_text = " | ".join(map(str, gold)) if isinstance(gold, list | tuple) else str(gold)
        if aliases:
            gold_text += " (also accepted: " + "; ".join(aliases) + ")"
        if prediction is None or not str(prediction).strip():
            return self._v(False, "no answer", None, "")
        if self.preset.name == "xbench" and (m := _XB_ANSWER_RE.search(prediction)) and m.group(1).strip() == gold_text:
            return self._v(True, "final-answer line equals the gold answer (judge skipped)", m.group(1).strip(), "")
        prompt = self.template.format(question=question, gold=gold_text, prediction=prediction)
        raw = ""
        for _ in range(self.retries + 1):
            c = await self.model.generate([{"role": "user", "content": prompt}], temperature=0.0,
                                          max_tokens=self.preset.max_tokens)
            raw = c.text
            verdict, obj = parse_verdict(raw, self.preset.name)
            if verdict is not None:
                reason = str(obj.get("reasoning") or obj.get("解释") or raw.strip()[-300:])
                extracted = obj.get("extracted_final_answer", obj.get("最终答案"))
                return self._v(verdict, reason, None if extracted is None else str(extracted), raw)
        v = self._v(False, "could not read a verdict from the judge reply", None, raw)
        v.parse_error = True
        return v

    def _v(self, correct: bool, reason: str, extracted: str | None, raw: str) -> Verdict:
        return Verdict(correct, self.name, self.version, self.model_name, reason, extracted, raw=raw)


# --- cache ------------------------------------------------------------------------------------------

@dataclass
class VerdictCache:
    """Append-only JSONL cache of verdicts (``path=None``: in memory only)."""

    path: str | os.PathLike | None = None
    _data: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if self.path and Path(self.path).exists():
            # A torn last line from a killed run: that verdict is simply redone.
            for row in read_jsonl(self.path, skip_bad=True):
                try:
                    self._data[row["key"]] = row["verdict"]
                except (KeyError, TypeError):
                    continue

    @staticmethod
    def key(judge_id: str, question: str, gold: Any, prediction: Any, aliases: Any = None) -> str:
        blob = json.dumps([judge_id, question, gold, prediction, aliases or []], ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> Verdict | None:
        d = self._data.get(key)
        return Verdict.from_dict({**d, "cached": True}) if d else None

    def put(self, key: str, verdict: Verdict) -> None:
        d = verdict.to_dict()
        with self._lock:
            self._data[key] = d
            if self.path:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(dumps_line({"key": key, "verdict": d}))

    def __len__(self) -> int:
        return len(self._data)


class CachedJudge:
    """Wrap a judge with a :class:`VerdictCache` (concurrent identical requests are judged once)."""

    def __init__(self, judge: Any, cache: VerdictCache):
        self.inner, self.cache, self.name = judge, cache, judge.name
        self._pending: dict[str, asyncio.Future] = {}

    @property
    def label(self) -> str:
        return judge_label(self.inner)

    async def judge(self, question: str, gold: Any, prediction: str | None, aliases: list[str] | None = None) -> Verdict:
        key = self.cache.key(judge_label(self.inner), question, gold, prediction, aliases)
        if (hit := self.cache.get(key)) is not None:
            return hit
        if key in self._pending:
            return await asyncio.shield(self._pending[key])
        fut = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            verdict = await self.inner.judge(question, gold, prediction, aliases)
            if not verdict.parse_error:  # a garbled reply is retried next time, not frozen
                self.cache.put(key, verdict)
            fut.set_result(verdict)
            return verdict
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        finally:
            del self._pending[key]


def judge_label(judge: Any) -> str:
    """``name version [model]`` of a judge: what a report prints next to every number."""
    inner = getattr(judge, "inner", judge)
    model = getattr(inner, "model_name", "")
    return f"{inner.name} {inner.version}" + (f" [{model}]" if model else "")
