"""Grounded decoding: keep a local model's replies to the protocol and its values to what the
conversation actually contains.

A small model that has learnt the protocol but copies unreliably writes URLs that were never shown
to it, search queries with invented names, answers that appear nowhere, and tool calls whose JSON
breaks half-way: one wrong token and the rest is its own. Grounded decoding restricts the tokens it
may sample, the way vLLM's guided decoding keeps a reply to a grammar. Five rules, each on request:

- ``format``: the reply is one protocol turn, written the way :func:`webagent.protocol.format_assistant`
  writes it: an optional ``<think>`` block, then either one ``<tool_call>`` whose body is
  ``{"name": ..., "arguments": {...}}`` with string or list-of-strings arguments, or one
  ``<answer>``; then the reply ends. The tool name and argument names must be words of the
  conversation (the prompt lists the tools), and every string stays valid JSON;
- ``url``: the ``url`` argument of a tool call must be one of the URLs that appear in the
  conversation (a search result, a link of a visited page, a URL in the question), whole;
- ``query``: every word of the ``query`` argument must occur, as a whole word, in the
  conversation or in the thought written before the call (which may name the attribute wanted);
  a query ends by :data:`MAX_VALUE_BYTES`, once its last words repeat the ones before them, or
  when the reply is about to run out of tokens (:data:`CLOSING_TOKENS`);
- ``answer``: the text inside ``<answer>`` must occur in the conversation as one piece that starts
  and ends at word boundaries (any character boundary in CJK text);
- ``thought``: every run of non-ASCII text in a thought (a Chinese name or attribute) must be a
  piece of the conversation; ASCII text stays free. A small model copies CJK text byte by byte
  and garbles it ("加坏" for 制作人), and the query, goal and answer then copy the garbled word
  from the thought; English words it copies whole, and reasons in.

The conversation here is the question, the tool output and the calls made so far, not the model's
earlier thoughts: those are free text, and a name it once garbled there must not become a value.
Goals stay free; under ``format`` a free argument (a goal) also ends by :data:`MAX_VALUE_BYTES`
or with :data:`CLOSING_TOKENS` left, since a small model that starts repeating itself would
otherwise run into its ``max_tokens`` and lose the whole call, and free text closes only at a whole
character. Walker-style agents get the same guarantee by construction (they
choose among the page's links); this gives it to a ReAct agent's free text. It changes what a model
can say, so reports name it; it is off unless asked for. The ``answer`` rule suits extractive
questions only: an answer computed from the evidence (a sum, a difference, a yes/no) is not in the
text, so leave ``answer`` out for such benchmarks.

A local model reports the logprobs of this constrained distribution, with each step's allowed
tokens, so RL on grounded rollouts scores the same policy it sampled from.

Everything works on bytes, so byte-level BPE pieces (half a CJK character, say) are handled like
any other token. Per step the cost is a parse of the reply so far and one walk of a trie of the
vocabulary per place the text could continue from, which is small next to a forward pass.
"""

from __future__ import annotations

import re
from typing import Any

GROUNDABLE = ("format", "url", "query", "answer", "thought")

_URL = re.compile(rb"https?://[^\s\"'<>()\[\]|`]+")
_THINK_OPEN, _THINK_CLOSE = b"<think>", b"</think>"
_ANSWER_OPEN, _ANSWER_CLOSE = b"<answer>", b"</answer>"
_CALL_OPEN, _CALL_CLOSE = b"<tool_call>", b"</tool_call>"
_STR = rb'"(?:[^"\\]|\\.)*"'
# An unfinished string value of "url" or "query", alone or after earlier items of a list, at the end.
_FIELD = re.compile(rb'"(url|query)"\s*:\s*(?:\[\s*(?:' + _STR + rb'\s*,\s*)*)?"((?:[^"\\]|\\.)*)\Z')
_JSON_UNSAFE = re.compile(rb'["\\\x00-\x1f]')
_RULES = {"arg:url": "url", "arg:query": "query", "answer": "answer"}
"""The grounding rule of each kind of value that has one."""
_IDENT = re.compile(rb"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*")
_THOUGHT = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
MAX_VALUE_BYTES = 96
"""Longest query or free argument string under grounding: 32 CJK characters or about 16 English
words, beyond the longest the training data writes (87 bytes)."""
CLOSING_TOKENS = 16
"""Tokens left in a reply at which an argument value closes at its next chance: enough to finish
the word and write ``"]}}`` and ``</tool_call>``. A CJK query costs 2-3 tokens a character in a
small English vocabulary, so it can hit ``max_tokens`` well before :data:`MAX_VALUE_BYTES`."""


def parse_grounding(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"url,query"`` or a list of names -> a checked tuple (``"all"``: every rule; ``"none"``:
    none)."""
    if not spec or spec == "none":
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
    """The vocabulary of one tokenizer as a byte trie; makes a :class:`RequestGrounding` per request.

    ``end_ids`` end a reply (the end-of-sequence ids; default: the tokenizer's ``eos_token_id``)."""

    def __init__(self, tokenizer: Any, fields: tuple[str, ...], end_ids: set[int] | None = None):
        self.fields = fields
        self.token_bytes = token_bytes(tokenizer)
        self.special = special_ids(tokenizer)
        self.end_ids = set(end_ids) if end_ids else {tokenizer.eos_token_id} - {None}
        self.window = max(map(len, self.token_bytes))
        """Bytes of source text worth looking at after a match: the longest vocabulary piece."""
        self.text_ids = {i for i, b in enumerate(self.token_bytes) if b and i not in self.special}
        """Tokens of free text: every ordinary piece."""
        self.json_ids = {i for i in self.text_ids if not _JSON_UNSAFE.search(self.token_bytes[i])}
        """Tokens of free text inside a JSON string: no quote, backslash or control byte."""
        self.ascii_ids = {i for i in self.text_ids if self.token_bytes[i].isascii()}
        """Tokens of ASCII text: free inside a grounded thought."""
        self.root = _Node()
        for i, b in enumerate(self.token_bytes):
            if not b:
                continue
            node = self.root
            for ch in b:
                node = node.children.setdefault(ch, _Node())
            node.ids.append(i)

    def allowed(self, continuations: list[tuple[bytes, bool, int]]) -> set[int]:
        """Tokens whose bytes are a prefix of some continuation ``(r, open, n)``, or, where ``open``
        is set, start with all of ``r`` (what follows it is free). The first ``n`` bytes of ``r``
        are protocol text: special tokens (``<think>``, say) may spell those, never a value."""
        out: set[int] = set()
        for r, open_end, n in continuations:
            node = self.root
            for depth, ch in enumerate(r, 1):
                node = node.children.get(ch)
                if node is None:
                    break
                out.update(node.ids if depth <= n else (i for i in node.ids if i not in self.special))
            else:
                if open_end:
                    out.update(node.below())
        return out

    def request(self, messages: list[dict[str, Any]]) -> RequestGrounding:
        """The sources of one request: the text of every message but the system prompt (values),
        and of every message (tool and argument names)."""
        texts = [(m.get("role"), str(m.get("content") or "")) for m in messages]
        source = "\n".join(_THOUGHT.sub("", t) if role == "assistant" else t for role, t in texts if role != "system")
        return RequestGrounding(self, source.encode("utf-8"), "\n".join(t for _, t in texts).encode("utf-8"))


class RequestGrounding:
    """Which tokens may come next in one reply, given the bytes generated so far."""

    def __init__(self, grounder: Grounder, source: bytes, prompt: bytes | None = None):
        self.g = grounder
        self.source = source
        self.prompt = source if prompt is None else prompt
        self.urls = sorted(set(_URL.findall(source)))
        self.format = "format" in grounder.fields
        self.closing = False
        self._run_starts: set[int] | None = None

    def allowed(self, reply: bytes, tokens_left: int | None = None) -> set[int] | None:
        """The allowed next tokens, or None where nothing constrains the reply here (or no token
        could continue it, which leaves the model free rather than stuck). ``tokens_left``: how
        many tokens the reply may still take; near the end an argument value closes."""
        self.closing = tokens_left is not None and tokens_left <= CLOSING_TOKENS
        free, conts = self._next(reply, self.g.window)
        if free is None and conts is None:
            return None
        return (free or set()) | self.g.allowed(conts) or None

    def _next(self, reply: bytes, budget: int) -> tuple[set[int] | None, list | None]:
        """What may follow ``reply``: token ids of free text, and continuations for
        :meth:`Grounder.allowed` looking at most ``budget`` bytes ahead; ``(None, None)``: anything."""
        state = _parse(reply) if self.format else _open_value(reply)
        if state is None:
            return None, None
        if state[0] == "end":
            return set(self.g.end_ids), []
        if state[0] == "literals":
            return None, [c for lit in state[1] for c in self._ahead(reply, lit, budget)]
        _, kind, value, closer = state
        rule = _RULES.get(kind)
        grounded = rule in self.g.fields
        partial = [k for k in range(1, len(closer)) if value.endswith(closer[:k])]
        # Where free text may close: after some text, and never half-way through a character.
        ends = [closer[k:] for k in partial] + [closer] if value.strip() and _whole_chars(value) else []
        if kind == "thought" and "thought" in self.g.fields:
            free, runs = self._thought(value)
            return free, runs + [c for end in ends for c in self._ahead(reply, end, budget)]
        if not grounded and not self.format:
            return None, None
        if grounded:  # half-way through "</answer>", where the value before it may end: the rest of it
            partial = [k for k in partial if (b"", True) in self._value(rule, value[:-k], reply[:-k])]
            if partial:
                return None, [c for k in partial for c in self._ahead(reply, closer[k:], budget)]
        if not grounded and kind not in ("name", "key"):  # free text: a thought, a goal, a free answer
            free = self.g.json_ids if kind.startswith("arg:") else self.g.text_ids
            if kind.startswith("arg:") and ends and self._full(value):
                free = None  # long enough: the string closes now
            return free, [c for end in ends for c in self._ahead(reply, end, budget)]
        values = self._value(rule or kind, value, reply)
        conts = [(v[:budget], False, 0) for v, _ in values]
        for v in {v for v, done in values if done and len(v) < budget}:  # it may end: then its closer
            conts += [(v + r, o, 0 if v else n) for r, o, n in self._ahead(reply + v, closer, budget - len(v))]
        return None, conts

    def _value(self, kind: str, value: bytes, reply: bytes) -> list[tuple[bytes, bool]]:
        """How a grounded value (``url``, ``query``, ``answer``, ``name``, ``key``) may go on:
        ``(bytes, done)``, ``done`` where it may end after them."""
        if kind == "url":
            return [(u[len(value):], True) for u in self.urls if u.startswith(value)]
        if kind == "query":
            *before, word = value.split(b" ")
            source = self.source + b"\n" + reply[:reply.rfind(_CALL_OPEN)]  # + the thought
            # A query is a JSON string: its words may not carry a quote or a line break along, and
            # a new word starts with a letter, not a second space.
            conts = [(_JSON_UNSAFE.split(c, 1)[0], False) for c in _continuations(word, source, self.g.window)
                     if word or not c.startswith(b" ")]
            if word and _ends_word(word, source):
                # Long enough, out of tokens, or repeating itself (a small model that starts a loop,
                # "工程大会 工程大会 ...", would go on to the end): it ends here.
                if self._full(value) or _repeats([*before, word]):
                    return [(b"", True)]
                conts += [(b" ", False), (b"", True)]
            return conts
        if kind in ("name", "key"):  # one identifier that the prompt spells out
            if not value:
                return [(m, False) for m in set(_IDENT.findall(self.prompt))]
            rests = re.findall(rb"(?<![A-Za-z0-9_])" + re.escape(value) + rb"([A-Za-z0-9_]*)", self.prompt)
            return [(r, False) for r in set(rests)] + [(b"", True)] * (b"" in rests)
        conts = [(c, False) for c in _continuations(value, self.source, self.g.window)]
        return conts + [(b"", True)] * bool(value.strip() and _ends_word(value, self.source))

    def _full(self, value: bytes) -> bool:
        """Whether an argument value should close at its next chance: long enough, or the reply is
        nearly out of tokens."""
        return len(value) >= MAX_VALUE_BYTES or self.closing

    def _thought(self, value: bytes) -> tuple[set[int], list[tuple[bytes, bool, int]]]:
        """Under ``thought``: free ASCII tokens where the thought may leave its non-ASCII run, and
        continuations that go on with the run, or start a new one, as the conversation does."""
        run = value[len(value.rstrip(bytes(range(128, 256)))):]  # the trailing non-ASCII bytes
        if not run:
            if self._run_starts is None:  # ASCII, or a token that begins a piece of the source's CJK text
                starts = [(_ascii_cut(p + self.source[i:i + self.g.window]), False, 0)
                          for i in range(len(self.source)) if self.source[i] >= 0xC0 for p in (b"", b" ")]
                self._run_starts = self.g.ascii_ids | self.g.allowed(starts)
            return self._run_starts, []
        conts = [(_ascii_cut(c), False, 0) for c in _continuations(run, self.source, self.g.window)]
        return (self.g.ascii_ids if _whole_chars(run) else set()), conts

    def _ahead(self, reply: bytes, literal: bytes, budget: int) -> list[tuple[bytes, bool, int]]:
        """Continuations that start with the protocol text ``literal``, extended by what the
        grammar then allows, so that one token may span both (``"]}}``, ``>Vetalen``)."""
        if not self.format:
            return [(literal, True, len(literal))]
        if len(literal) >= budget:
            return [(literal, False, len(literal))]
        free, conts = self._next(reply + literal, budget - len(literal))
        if conts is None or free:  # free text follows, or the end
            return [(literal, conts is None or not free <= self.g.end_ids, len(literal))]
        return [(literal + r, o, len(literal) + n) for r, o, n in conts]


class _Open(Exception):
    """The reply ends inside the grammar; ``state`` says where."""

    def __init__(self, state: tuple):
        self.state = state


class _Off(Exception):
    """The reply has left the grammar."""


class _Cursor:
    def __init__(self, reply: bytes):
        self.reply, self.i = reply, 0

    def choice(self, *literals: bytes) -> int:
        """Consume the literal the reply goes on with; the index of which."""
        rest = self.reply[self.i:]
        for k, lit in enumerate(literals):
            if rest.startswith(lit):
                self.i += len(lit)
                return k
        open_ = [lit[len(rest):] for lit in literals if lit.startswith(rest)]
        if open_:
            raise _Open(("literals", open_))
        raise _Off

    def text(self, kind: str, closer: bytes) -> bytes:
        """Consume free text up to ``closer``; its bytes."""
        j = self.reply.find(closer, self.i)
        if j < 0:
            raise _Open(("value", kind, self.reply[self.i:], closer))
        value, self.i = self.reply[self.i:j], j + len(closer)
        return value


def _parse(reply: bytes) -> tuple | None:
    """Where ``reply`` stands in the protocol's grammar: ``("literals", [protocol text that may
    come next])``, ``("value", kind, bytes so far, closer)`` inside free or grounded text (kind:
    ``thought``, ``answer``, ``name``, ``key`` or ``arg:`` + an argument's name), ``("end",)`` when complete,
    None once it has left the grammar."""
    p = _Cursor(reply)
    try:
        step = p.choice(_THINK_OPEN + b"\n", _CALL_OPEN + b"\n", _ANSWER_OPEN)
        if step == 0:
            p.text("thought", _THINK_CLOSE)
            step = 1 + p.choice(b"\n" + _CALL_OPEN + b"\n", b"\n" + _ANSWER_OPEN)
        if step == 2:
            p.text("answer", _ANSWER_CLOSE)
        else:
            p.choice(b'{"name": "')
            p.text("name", b'"')
            p.choice(b', "arguments": {')
            more = p.choice(b'"', b"}") == 0
            while more:
                key = p.text("key", b'"').decode("utf-8", "replace")
                if p.choice(b': "', b': ["') == 0:
                    p.text("arg:" + key, b'"')
                else:
                    start = p.i
                    p.text("arg:" + key, b'"')
                    # A list ends by MAX_VALUE_BYTES too, or a repeating model goes on item by item.
                    while p.i - start < MAX_VALUE_BYTES and p.choice(b', "', b"]") == 0:
                        p.text("arg:" + key, b'"')
                    if p.i - start >= MAX_VALUE_BYTES and p.reply[p.i - 1:p.i] != b"]":
                        p.choice(b"]")
                more = p.choice(b', "', b"}") == 0
            p.choice(b"}\n" + _CALL_CLOSE)
    except _Open as e:
        return e.state
    except _Off:
        return None
    return ("end",) if p.i == len(reply) else None


def _repeats(words: list[bytes]) -> bool:
    """Whether the last one, two or three words say again the ones just before them ("a b a b"),
    the start of a loop; a word that comes back later is fine ("University of X Department of Y")."""
    return any(len(words) >= 2 * k and words[-k:] == words[-2 * k:-k] for k in (1, 2, 3))


def _occurrences(piece: bytes, source: bytes):
    """Where ``piece`` occurs in ``source`` starting a word (not "zomar" inside "Mozomar")."""
    i = source.find(piece)
    while i >= 0:
        if _starts_word(source, i):
            yield i
        i = source.find(piece, i + 1)


def _continuations(piece: bytes, source: bytes, window: int) -> list[bytes]:
    """What follows each occurrence of ``piece`` in ``source`` (every word start when empty)."""
    if not piece:
        return [source[i:i + window] for i in range(len(source)) if _starts_word(source, i)]
    return [source[i + len(piece):i + len(piece) + window] for i in _occurrences(piece, source)]


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


def _ascii_cut(text: bytes) -> bytes:
    """``text`` up to its first ASCII byte after a non-ASCII one: where a CJK run ends."""
    m = re.search(rb"[\x80-\xff][\x00-\x7f]", text)
    return text[:m.start() + 1] if m else text


def _whole_chars(text: bytes) -> bool:
    """Whether ``text`` ends at a character boundary (not half-way through a CJK character)."""
    for back in range(1, min(4, len(text)) + 1):
        b = text[-back]
        if b < 0x80 or b >= 0xC0:  # an ASCII byte or the lead byte of the last character
            return back == (1 if b < 0x80 else 2 if b < 0xE0 else 3 if b < 0xF0 else 4)
    return True


def _alnum(b: int) -> bool:
    return b < 0x80 and chr(b).isalnum()


def _boundary(next_byte: bytes) -> bool:
    return not next_byte or not (next_byte.isalnum() or 0x80 <= next_byte[0] < 0xC0)


def _open_value(reply: bytes) -> tuple | None:
    """Without ``format``: the grounded value the reply is in the middle of, found by pattern
    (``("value", kind, bytes so far, closer)``), or None."""
    t = reply.rfind(_THINK_OPEN)
    if t >= 0 and reply.rfind(_THINK_CLOSE) < t:
        return ("value", "thought", reply[t + len(_THINK_OPEN):], _THINK_CLOSE)
    a = reply.rfind(_ANSWER_OPEN)
    if a >= 0 and reply.rfind(_ANSWER_CLOSE) < a:
        return ("value", "answer", reply[a + len(_ANSWER_OPEN):], _ANSWER_CLOSE)
    c = reply.rfind(_CALL_OPEN)
    if c >= 0 and reply.rfind(_CALL_CLOSE) < c:
        m = _FIELD.search(reply, c)
        if m:
            return ("value", "arg:" + m.group(1).decode(), m.group(2), b'"')
    return None


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
