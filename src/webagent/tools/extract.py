"""Goal-directed extraction: turn a page's markdown into the ``evidence`` and ``summary`` that the
``visit`` observation reports.

Two extractors behind one small interface (``async extract(content, goal) -> Extraction``):

* ``LexicalExtractor`` (default, no model): splits the page into passages, ranks them by BM25
  overlap with the goal (CJK text is matched by character bigrams), and quotes the best ones in
  page order. Deterministic, instant, and never invents anything.
* ``LLMExtractor``: asks a summary model for JSON ``{"rational", "evidence", "summary"}`` (what
  WebDancer and WebSailor do with Qwen-2.5-72B-Instruct), with their retry rule for too-short
  summaries, and falls back to the lexical extractor when the model fails.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from webagent.llm.base import ChatModel
from webagent.prompts import load_prompts
from webagent.web.fetch import off_loop
from webagent.web.index import analyze, query_terms

WEBCONTENT_MAXLENGTH = 150_000  # WebSailor's cap on page text sent to the summary model
MIN_SUMMARY_CHARS = 10
SHORT_RETRY_CHARS = 25_000


@dataclass
class Extraction:
    evidence: str
    summary: str
    rational: str = ""


class Extractor(Protocol):
    fingerprint: str

    async def extract(self, content: str, goal: str) -> Extraction: ...


# -- lexical ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def split_passages(markdown: str, max_chars: int = 600) -> list[str]:
    """Paragraph-sized passages: blocks between blank lines, long blocks cut at line or sentence
    boundaries so one huge table or paragraph cannot fill the whole evidence budget."""
    passages = []
    for block in re.split(r"\n\s*\n", markdown):
        block = block.strip()
        if not block:
            continue
        if len(block) <= max_chars:
            passages.append(block)
            continue
        pieces = block.split("\n") if "\n" in block else _SENTENCE_END.split(block)
        pieces = [cut for piece in pieces for cut in _hard_split(piece, max_chars)]
        current = ""
        for piece in pieces:
            sep = "\n" if "\n" in block else " "
            if current and len(current) + len(piece) + 1 > max_chars:
                passages.append(current)
                current = piece
            else:
                current = f"{current}{sep}{piece}" if current else piece
        if current:
            passages.append(current)
    return passages


def _hard_split(text: str, max_chars: int) -> list[str]:
    """``text`` in pieces of at most ``max_chars``, cut at a space where there is one: a line or
    sentence with no boundary of its own (an endless paragraph) must not become one passage."""
    out = []
    while len(text) > max_chars:
        cut = text.rfind(" ", max_chars // 2, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        out.append(text[:cut])
        text = text[cut:].lstrip(" ")
    return [*out, text] if text else out


def bm25_scores(passages: list[str], query: str, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 score of every passage for ``query``, the passages themselves being the corpus."""
    terms = query_terms(query)
    if not terms or not passages:
        return [0.0] * len(passages)
    tokens = [analyze(p) for p in passages]
    lengths = [len(t) for t in tokens]
    avg_len = sum(lengths) / len(lengths) or 1.0
    n = len(passages)
    # Only the query's terms matter: count those, and each term's document frequency once (not
    # once per passage, which made a long page quadratic in its number of passages).
    wanted = set(terms)
    docs = [Counter(w for w in t if w in wanted) for t in tokens]
    idf = {}
    for t in terms:
        df = sum(1 for d in docs if t in d)
        idf[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for t in terms:
            tf = doc.get(t, 0)
            if tf:
                score += idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_len))
        scores.append(score)
    return scores


class LexicalExtractor:
    """Quote the passages that best match the goal; summarise with its best sentences."""

    def __init__(self, max_evidence_chars: int = 3000, max_summary_chars: int = 400):
        self.max_evidence_chars = max_evidence_chars
        self.max_summary_chars = max_summary_chars
        self.fingerprint = f"lexical:{max_evidence_chars}:{max_summary_chars}"

    async def extract(self, content: str, goal: str) -> Extraction:
        # A long page takes long enough to stall the event loop: off_loop moves it to a thread.
        return await off_loop(len(content), self.extract_sync, content, goal)

    def extract_sync(self, content: str, goal: str) -> Extraction:
        passages = split_passages(content)
        if not passages:
            return Extraction("The page has no readable text.", "The page is empty.")
        # A navigation bar names every section ("Studio", "People"), so it matches many goals
        # while saying nothing: a passage counts in proportion to its text outside links.
        scores = [s and s * (1 - link_density(p)) ** 2 for s, p in zip(bm25_scores(passages, goal), passages, strict=True)]
        ranked = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
        matched = [i for i in ranked if scores[i] > 0]
        if not matched:
            # Nothing overlaps the goal: show how the page begins, so the agent can judge it.
            chosen = self._fill(list(range(len(passages))), passages)
            evidence = "\n\n".join(passages[i] for i in chosen)
            prose = [passages[i] for i in chosen if not _is_heading(passages[i])] or [passages[chosen[0]]]
            first = split_sentences(plain_text(prose[0]))[0]
            summary = f"The page does not mention the goal's terms directly. It begins: {first}"
            return Extraction(_cut(evidence, self.max_evidence_chars), _cut(summary, self.max_summary_chars))
        # A passage longer than the whole budget (a layout table's cell) is quoted around its
        # first match, not from its beginning, where the match may be cut off.
        hit = set(matched)
        passages = [_window(p, goal, self.max_evidence_chars) if i in hit else p for i, p in enumerate(passages)]
        chosen = self._fill(matched, passages)
        evidence = "\n\n".join(passages[i] for i in sorted(chosen))
        # The budget holds whatever the passages look like (the first one is always kept).
        return Extraction(_cut(evidence, self.max_evidence_chars), self._summary(passages, chosen, goal))

    def _fill(self, order: list[int], passages: list[str]) -> list[int]:
        chosen, used = [], 0
        for i in order:
            if chosen and used + len(passages[i]) > self.max_evidence_chars:
                continue
            chosen.append(i)
            used += len(passages[i]) + 2
            if used >= self.max_evidence_chars:
                break
        return chosen

    def _summary(self, passages: list[str], chosen: list[int], goal: str) -> str:
        # Headings make poor summary sentences ("Keynote speakers The opening ..."): skip them.
        blocks = [passages[i] for i in sorted(chosen) if not _is_heading(passages[i])]
        blocks = blocks or [passages[i] for i in sorted(chosen)]
        sentences = [s for block in blocks for s in _units(block)]
        scores = bm25_scores(sentences, goal)
        best = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
        picked, used = [], 0
        for i in best:
            if scores[i] <= 0 or (picked and used + len(sentences[i]) > self.max_summary_chars):
                break
            picked.append(i)
            used += len(sentences[i]) + 1
        text = " ".join(_as_sentence(sentences[i]) for i in sorted(picked)) or sentences[0]
        return _cut(text, self.max_summary_chars)


_LABEL_LINE = re.compile(r"^[^.!?。！？:：]{1,40}[:：]\s*\S.{0,120}$")


def _units(block: str) -> list[str]:
    """Summary candidates of one passage: its sentences, with each table row as one unit
    ("venue: Quodell Expo Centre") so that a table does not read as one run-on sentence."""
    units, prose = [], []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            if _LABEL_LINE.match(plain_text(line)):  # "general chair: Lan Han" list items stand alone
                units.append(plain_text(line))
            else:
                prose.append(line)
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the |---|---| separator row
        row = [plain_text(c) for c in cells if c]
        if row:
            units.append(": ".join(row[:1]) + (": " + ", ".join(row[1:]) if len(row) > 1 else ""))
    if any(p.strip() for p in prose):
        units = split_sentences(plain_text("\n".join(prose))) + units
    return units


def _as_sentence(unit: str) -> str:
    """End a table row or label line with a full stop so joined units read as sentences."""
    unit = unit.strip(" *_")
    if not unit or unit[-1] in ".!?。！？…":
        return unit
    return unit + ("。" if _HAS_CJK.search(unit[-1]) else ".")


_HAS_CJK = re.compile("[\u3400-\u9fff]")


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def link_density(passage: str) -> float:
    """The share of a passage's letters and digits that are link text (a menu: close to 1)."""
    if "](" not in passage:
        return 0.0
    text = _letters(plain_text(passage))
    linked = sum(_letters(m.group(1)) for m in _LINK.finditer(passage))
    return min(1.0, linked / text) if text else 0.0


_NOT_ALNUM = re.compile(r"[\W_]+")


def _letters(text: str) -> int:
    """How many letters and digits ``text`` has (``str.isalnum``'s, in C rather than per character)."""
    return len(_NOT_ALNUM.sub("", text))


def _window(passage: str, goal: str, limit: int) -> str:
    """``passage`` cut to ``limit`` characters around the first place a term of ``goal`` occurs
    (from a word start, a third of the way in), or whole when it fits or nothing matches."""
    if len(passage) <= limit:
        return passage
    low = passage.lower()
    hits = [i for i in (low.find(t) for t in query_terms(goal)) if i >= 0]
    if not hits or min(hits) < limit // 2:
        return passage
    start = passage.find(" ", min(hits) - limit // 3) + 1 or min(hits)
    text = passage[start:start + limit - 1]
    if start + limit - 1 < len(passage) and " " in text:
        text = text[:text.rfind(" ")]  # end at a word too (not inside a link's target)
    return "…" + text


def _is_heading(passage: str) -> bool:
    return passage.lstrip().startswith("#") and "\n" not in passage.strip()


def plain_text(markdown: str) -> str:
    """Markdown as one line of plain text: link texts without their targets, no list, quote,
    heading or table marks, no bold."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"^[#>*\-\s|]+", "", text, flags=re.MULTILINE)
    text = text.replace("**", "")  # bold labels ("- **employer**: ...") are not text
    return " ".join(text.replace("|", " ").split())


_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Prof|Mr|Mrs|Ms|St|Mt|No|Vol|vs|etc|e\.g|i\.e|Inc|Ltd|Jr|Sr)|\b[A-Z])\.$")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; a period after a title or an initial ("Dr.", "J.") does not end one."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out or [text.strip()]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- LLM ----------------------------------------------------------------------------------------


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model reply, tolerating code fences and surrounding prose."""
    text = re.sub(r"```(?:json)?", "", text or "")
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


class LLMExtractor:
    """Ask a summary model for ``{"rational", "evidence", "summary"}`` about the goal.

    Content is cut to ``max_content`` (150,000) characters. A summary shorter than 10 characters
    is retried with the content cut to 70% (up to ``retries`` times), then once more with 25,000
    characters; if all of that fails, ``fallback`` (lexical by default) answers instead.
    """

    def __init__(
        self,
        model: ChatModel,
        *,
        prompt_path: str | None = None,
        max_content: int = WEBCONTENT_MAXLENGTH,
        retries: int = 3,
        max_tokens: int = 4096,
        fallback: Any = None,
    ):
        self.model = model
        self.template = load_prompts("visit", prompt_path)["extractor"]
        self.max_content = max_content
        self.retries = retries
        self.max_tokens = max_tokens
        self.fallback = fallback or LexicalExtractor()
        name = getattr(model, "name", None) or getattr(model, "model", None) or type(model).__name__
        self.fingerprint = f"llm:{name}"

    async def extract(self, content: str, goal: str) -> Extraction:
        text = content[: self.max_content]
        lengths = [len(text)]
        for _ in range(self.retries):
            lengths.append(int(lengths[-1] * 0.7))
        lengths.append(min(len(text), SHORT_RETRY_CHARS))
        for n in lengths:
            result = await self._ask(text[:n], goal)
            if result is not None:
                return result
        return await self.fallback.extract(content, goal)

    async def _ask(self, content: str, goal: str) -> Extraction | None:
        prompt = self.template.format(webpage_content=content, goal=goal)
        try:
            reply = await self.model.generate(
                [{"role": "user", "content": prompt}], max_tokens=self.max_tokens, temperature=0.0
            )
        except Exception:
            return None  # a model outage is one more reason to retry, then fall back
        data = parse_json_object(reply.text)
        if not data:
            return None
        summary = _as_text(data.get("summary"))
        if len(summary.strip()) < MIN_SUMMARY_CHARS:
            return None
        return Extraction(_as_text(data.get("evidence")), summary, _as_text(data.get("rational")))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
