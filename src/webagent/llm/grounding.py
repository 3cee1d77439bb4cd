"""Grounded decoding: keep URLs, queries and answers to what the conversation actually contains.

A small model that has learnt the protocol but copies unreliably writes URLs that were never shown
to it, search queries with invented names and answers that appear nowhere: one wrong token and the
rest of the value is its own. Grounded decoding restricts the tokens it may sample *inside* three
values and leaves everything else (thoughts, tool names, goals) free:

- ``url``: the ``url`` argument of a tool call must be one of the URLs that appear in the
  conversation (a search result, a link of a visited page, a URL in the question), whole;
- ``query``: every word of the ``query`` argument must occur, as a whole word, in the
  conversation or in the thought written before the call (which may name the attribute wanted);
- ``answer``: the text inside ``<answer>`` must occur in the conversation as one piece that starts
  and ends at word boundaries (any character boundary in CJK text).

Walker-style agents get the same guarantee by construction (they choose among the page's links);
this gives it to a ReAct agent's free text, the way vLLM's guided decoding keeps a reply to a
grammar. It changes what a model can say, so reports name it; it is off unless asked for. The
``answer`` rule suits extractive questions only: an answer computed from the evidence (a sum, a
difference, a yes/no) is not in the text, so leave ``answer`` out for such benchmarks.

Everything works on bytes, so byte-level BPE pieces (half a CJK character, say) are handled like
any other token. Per step the cost is one walk of a trie of the vocabulary per place the value could
continue from, which is small next to a forward pass.
"""

from __future__ import annotations

import re
from typing import Any

GROUNDABLE = ("url", "query", "answer")

_URL = re.compile(rb"https?://[^\s\"'<>()\[\]|`]+")
_ANSWER_OPEN, _ANSWER_CLOSE = b"<answer>", b"</answer>"
_CALL_OPEN, _CALL_CLOSE = b"<tool_call>", b"</tool_call>"
_STR = rb'"(?:[^"\\]|\\.)*"'
# An unfinished string value of "url" or "query", alone or after earlier items of a list, at the end.
_FIELD = re.compile(rb'"(url|query)"\s*:\s*(?:\[\s*(?:' + _STR + rb'\s*,\s*)*)?"((?:[^"\\]|\\.)*)\Z')


def parse_grounding(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"url,query"`` or a list of names -> a checked tuple (``"all"``: every groundable value)."""
    if not spec:
        return ()
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if names == ["all"]:
        return GROUNDABLE
    bad = [n for n in names if n not in GROUNDABLE]
    if bad:
        raise ValueError(f"unknown grounded value(s) {bad}: choose from {', '.join(GROUNDABLE)} (or all)")
    return tuple(dict.fromkeys(names))


class _Node:
    __slots__ = ("children", "ids", "_below")

    def __init__(self):
        self.children: dict[int, _Node] = {}
        self.ids: list[int] = []
        self._below: list[int] | None = None

    def below(self) -> list[int]:
        """Every token id in this subtree (cached)."""
        if self._below is None:
            out = list(self.ids)
            for child in self.children.values():
                out += child.below()
            self._below = out
        return self._below


class Grounder:
    """The vocabulary of one tokenizer as a byte trie; makes a :class:`RequestGrounding` per request."""

    def __init__(self, tokenizer: Any, fields: tuple[str, ...]):
        self.fields = fields
        self.token_bytes = token_bytes(tokenizer)
        self.special = special_ids(tokenizer)
        self.window = max(map(len, self.token_bytes))
        """Bytes of source text worth looking at after a match: the longest vocabulary piece."""
        self.root = _Node()
        for i, b in enumerate(self.token_bytes):
            if not b:
                continue
            node = self.root
            for ch in b:
                node = node.children.setdefault(ch, _Node())
            node.ids.append(i)

    def allowed(self, continuations: list[tuple[bytes, bool]]) -> set[int]:
        """Tokens whose bytes are a prefix of some continuation ``r``, or, where ``open`` is set,
        start with all of ``r`` (what follows it is free). Special tokens (``<think>``, say) only
        ever close a value, never make part of one."""
        inside: set[int] = set()
        closing: set[int] = set()
        for r, open_end in continuations:
            node = self.root
            for ch in r:
                node = node.children.get(ch)
                if node is None:
                    break
                inside.update(node.ids)
            else:
                if open_end:
                    closing.update(node.below())
        return (inside - self.special) | closing

    def request(self, messages: list[dict[str, Any]]) -> RequestGrounding:
        """The sources of one request: the text of every message but the system prompt."""
        text = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") != "system")
        return RequestGrounding(self, text.encode("utf-8"))


class RequestGrounding:
    """Which tokens may come next in one reply, given the bytes generated so far."""

    def __init__(self, grounder: Grounder, source: bytes):
        self.g = grounder
        self.source = source
        self.urls = sorted(set(_URL.findall(source)))

    def allowed(self, reply: bytes) -> set[int] | None:
        """The allowed next tokens, or None where the reply is not inside a grounded value (or no
        token could continue it, which leaves the model free rather than stuck)."""
        kind, value = _open_value(reply)
        if kind is None or kind not in self.g.fields:
            return None
        if kind == "url":
            conts = [(u[len(value):] + b'"', True) for u in self.urls if u.startswith(value)]
        elif kind == "query":
            word = value.rsplit(b" ", 1)[-1]
            source = self.source + b"\n" + reply[:reply.rfind(_CALL_OPEN)]  # + the thought
            conts = _continuations(word, source, self.g.window)
            if word and _ends_word(word, source):
                conts += [(b" ", False), (b'"', True)]
        else:
            closing = [k for k in range(1, len(_ANSWER_CLOSE)) if value.endswith(_ANSWER_CLOSE[:k])]
            if closing:  # half-way through "</answer>": only the rest of it
                conts = [(_ANSWER_CLOSE[k:], True) for k in closing]
            else:
                conts = _continuations(value, self.source, self.g.window)
                if value.strip() and _ends_word(value, self.source):
                    conts.append((_ANSWER_CLOSE, True))
        ids = self.g.allowed(conts) if conts else set()
        return ids or None


def _occurrences(piece: bytes, source: bytes):
    """Where ``piece`` occurs in ``source`` starting a word (not "zomar" inside "Mozomar")."""
    i = source.find(piece)
    while i >= 0:
        if _starts_word(source, i):
            yield i
        i = source.find(piece, i + 1)


def _continuations(piece: bytes, source: bytes, window: int) -> list[tuple[bytes, bool]]:
    """What follows each occurrence of ``piece`` in ``source`` (every word start when empty)."""
    if not piece:
        return [(source[i:i + window], False) for i in range(len(source)) if _starts_word(source, i)]
    return [(source[i + len(piece):i + len(piece) + window], False) for i in _occurrences(piece, source)]


def _ends_word(piece: bytes, source: bytes) -> bool:
    """Whether ``piece`` occurs as whole words: starting a word and ending where one does (not
    "Mozo" of "Mozomar", not half a character); a non-ASCII character counts as a boundary, since
    CJK text has no spaces."""
    return any(_boundary(source[i + len(piece):i + len(piece) + 1]) for i in _occurrences(piece, source))


def _starts_word(source: bytes, i: int) -> bool:
    """Whether a value may start at byte ``i``: at a character, and not inside an ASCII word."""
    b = source[i]
    if 0x80 <= b < 0xC0:
        return False
    return not _alnum(b) or i == 0 or not _alnum(source[i - 1])


def _alnum(b: int) -> bool:
    return b < 0x80 and chr(b).isalnum()


def _boundary(next_byte: bytes) -> bool:
    return not next_byte or not (next_byte.isalnum() or 0x80 <= next_byte[0] < 0xC0)


def _open_value(reply: bytes) -> tuple[str | None, bytes]:
    """The grounded value the reply is in the middle of: (``url``/``query``/``answer``, its bytes so far)."""
    a = reply.rfind(_ANSWER_OPEN)
    if a >= 0 and reply.rfind(_ANSWER_CLOSE) < a:
        return "answer", reply[a + len(_ANSWER_OPEN):]
    c = reply.rfind(_CALL_OPEN)
    if c >= 0 and reply.rfind(_CALL_CLOSE) < c:
        m = _FIELD.search(reply, c)
        if m:
            return m.group(1).decode(), m.group(2)
    return None, b""


def token_bytes(tokenizer: Any) -> list[bytes]:
    """The bytes each token id stands for (special tokens: their text)."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    special = special_ids(tokenizer)
    inverse = {c: b for b, c in _bytes_to_unicode().items()}
    byte_level = all(p is None or i in special or all(ch in inverse for ch in p) for i, p in enumerate(pieces))
    out = []
    for i, p in enumerate(pieces):
        if p is None:
            out.append(b"")
        elif i in special:
            out.append(p.encode("utf-8"))
        elif byte_level:
            out.append(bytes(inverse[ch] for ch in p))
        else:  # e.g. SentencePiece: "▁" marks a leading space
            out.append(p.replace("\u2581", " ").encode("utf-8"))
    return out


def special_ids(tokenizer: Any) -> set[int]:
    """Ids of the tokenizer's special and added tokens (``<|im_end|>``, the protocol tags)."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    return special | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: every byte as a printable character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars
