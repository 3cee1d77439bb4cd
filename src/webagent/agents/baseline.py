"""A rule-based baseline policy: a ``ChatModel`` that writes protocol-exact ReAct replies.

It is not a language model and is always labelled ``rule-based baseline``. It searches the
question, visits the top hits, and answers with the span of the best-matching evidence sentence
that the question does not already contain. It reads English and Chinese alike: Chinese words are
character bigrams, and a Chinese sentence's answer is what it says beyond the question. It lets the
whole runtime (prompts, parsing, tools,
budgets, trajectories) run end to end with no model, and gives a floor for evaluations.
"""

from __future__ import annotations

import re
from typing import Any

from webagent.llm.base import Completion
from webagent.protocol import ToolCall, format_assistant

LABEL = "rule-based baseline"
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
# Words: Latin/digit runs, or CJK runs (Chinese has no spaces; those are read as character bigrams).
_WORD = re.compile(f"[{_CJK}]+|[^\\W{_CJK}_]+", re.UNICODE)
_URL = re.compile(r"\]\((https?://[^)\s]+)\)")
# Candidate answers of an English sentence: runs of capitalised words, numbers and dates.
_SPAN = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2} [A-Z][a-z]+ \d{4}|\d[\d,.]*\d|\d"
                   r"|[A-Z][\w'’-]*(?:\s+(?:(?:of|de|the|and)\s+)?[A-Z0-9][\w'’-]*)*|[\u4e00-\u9fff]+")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_BOILERPLATE = ("The useful information in", "A Google search", "Evidence in page", "Summary:", "<", "---")
_STOP = {"the", "a", "an", "of", "in", "on", "for", "to", "is", "was", "who", "what", "which", "when", "where",
         "how", "many", "did", "does", "and", "by", "with", "at", "from", "as"}
# Question words of Chinese, as bigrams: they name no fact and should not pull sentences.
_STOP_ZH = {"什么", "是谁", "多少", "哪个", "哪些", "哪里", "哪一", "哪位", "哪家", "几个", "何时", "哪年"}
# Function characters: a bigram holding one ("会的", "席是") says how, not what, and is no evidence.
_FUNC_ZH = set("的是为了在由于和与及或吗呢")
# Chinese dates and ISO dates are one value each (the year inside must not be read as the question's year).
_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}")
# Where a Chinese sentence's values end: punctuation, and spaces except between Latin letters or
# digits ("CS 479" is one value).
_ZH_BREAK = re.compile(r"[，。：:、；;！？!?,()（）\[\]|/《》“”\"]+|(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")
# Function words and common verbs that glue a Chinese statement together; stripped from both ends
# of a value ("由X开发" -> X). Longest first, so that 出生于 goes before 于.
_GLUE_ZH = sorted({"关于", "担任", "举行", "开发", "配音", "讲授", "领导", "赢得了", "赢得", "曾获", "出生于", "生于",
                   "任职于", "创建于", "成立于", "位于", "作者是", "的", "是", "为", "由", "在", "于", "了", "和",
                   "与", "及", "共", "约", "有", "被", "将", "已"}, key=len, reverse=True)


def _words(text: str) -> set[str]:
    """Content terms: lower-cased Latin/digit words, and character bigrams of Chinese runs."""
    out: set[str] = set()
    for w in _WORD.findall(text.lower()):
        if _HAS_CJK.match(w):
            grams = {w[i:i + 2] for i in range(len(w) - 1)} if len(w) > 1 else {w}
            out.update(g for g in grams if g not in _STOP_ZH and not _FUNC_ZH & set(g))
        elif w not in _STOP:
            out.add(w)
    return out


class BaselinePolicy:
    """search → visit the top ``n_visit`` hits → answer; see the module docstring."""

    name = LABEL

    def __init__(self, n_visit: int = 3):
        self.n_visit = n_visit

    async def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> Completion:
        question = self._question(messages)
        last = str(messages[-1].get("content") or "") if messages[-1]["role"] == "user" else ""
        turns = sum(m["role"] == "assistant" for m in messages)
        if turns == 0:
            text = format_assistant(f"I will search the web for: {question}", [ToolCall("search", {"query": [question]})])
        elif turns == 1 and (urls := _URL.findall(last)[: self.n_visit]):
            text = format_assistant("I will read the top results.", [ToolCall("visit", {"url": urls, "goal": question})])
        else:
            evidence = "\n".join(str(m.get("content") or "") for m in messages[2:] if m["role"] == "user")
            text = format_assistant("I answer from the best-matching evidence.", None, best_span(question, evidence))
        return Completion(text=text)

    @staticmethod
    def _question(messages: list[dict[str, Any]]) -> str:
        first = next((str(m.get("content") or "") for m in messages if m["role"] == "user"), "")
        return first.rsplit("User:", 1)[-1].strip() if "User:" in first else first.strip()


def best_span(question: str, evidence: str) -> str:
    """The answer span of the evidence sentence that overlaps the question most (English or Chinese).

    Ties go to the sentence with the least text that is neither the question's nor the answer
    (the statement of exactly the asked fact), then to the shorter sentence."""
    q = _words(question)
    evidence = _LINK.sub(r"\1", evidence)  # [text](url) -> text
    # English sentences end at a stop and a space; Chinese ones at 。！？ with no space after.
    sentences = [f for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？；])|\n+", evidence) for f in _fields(s.strip(" |*#"))]
    scored = [(len(q & _words(s)), -extra, -len(s), span) for s in sentences
              if len(s) > 3 and not s.startswith(_BOILERPLATE) and not s.endswith(("...", "…"))  # cut snippets
              and (found := _answer(s, q, question)) for span, extra in [found]]
    return max(scored)[-1] if scored else "unknown"


def _fields(sentence: str) -> list[str]:
    """A Chinese line of several ``key：value`` fields (a table row or a snippet of one) as one
    statement per field, each led by the line's subject: "X 学分：6学分 授课教师：Y" -> "X 学分：6学分",
    "X 授课教师：Y". Any other sentence is returned as it is."""
    if not _HAS_CJK.search(sentence) or len(re.findall("[：:]", sentence)) < 2:
        return [sentence]
    head, *fields = re.split(r"\s+(?=[^\s：:]+[：:])", sentence)
    if "：" in head or ":" in head:
        head, fields = "", [head, *fields]
    return [f"{head} {f}".strip() for f in fields]


def _fresh_span(sentence: str, q: set[str], question: str = "") -> str | None:
    """The first candidate answer in ``sentence`` that the question does not already name."""
    found = _answer(sentence, q, question)
    return found[0] if found else None


def _answer(sentence: str, q: set[str], question: str) -> tuple[str, int] | None:
    """The candidate answer of ``sentence`` and how many characters of other new material it has."""
    if _HAS_CJK.search(sentence):
        spans = _fresh_spans_zh(sentence, q, question)
        return (spans[0], sum(map(len, spans[1:]))) if spans else None
    for m in _SPAN.finditer(sentence):
        span = re.sub(r"['’]s$", "", m.group(0).strip(" .,;:"))
        words = _words(span)
        if words and not words <= q:
            return span, 0
    return None


def _fresh_spans_zh(sentence: str, q: set[str], question: str) -> list[str]:
    """The stretches of a Chinese sentence that the question does not cover, in order.

    Every character inside a question bigram or question word is covered; dates the question does
    not contain are kept whole. What is left, cut at punctuation and stripped of glue words
    (的, 是, 由 … 开发), are the candidates; the first one is the answer."""
    covered = [False] * len(sentence)
    low = sentence.lower()
    for m in _WORD.finditer(low):
        w, start = m.group(0), m.start()
        if _HAS_CJK.match(w):
            for i in range(len(w) - 1):
                if w[i:i + 2] in q:
                    covered[start + i] = covered[start + i + 1] = True
        elif w in q:
            covered[start:m.end()] = [True] * len(w)
    for m in _DATE.finditer(sentence):
        if m.group(0) not in question:
            covered[m.start():m.end()] = [False] * (m.end() - m.start())
    text = "".join("，" if c else ch for ch, c in zip(sentence, covered, strict=True))
    spans = (_strip_glue(part.strip("·・-—")) for part in _ZH_BREAK.split(text))
    return [s for s in spans if s and _words(s) and not _words(s) <= q]


def _strip_glue(span: str) -> str:
    """``span`` without glue words at either end."""
    changed = True
    while changed and span:
        changed = False
        for g in _GLUE_ZH:
            if span.startswith(g):
                span, changed = span[len(g):], True
            if span.endswith(g):
                span, changed = span[: -len(g)], True
    return span
