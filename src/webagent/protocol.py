"""The text protocol of the released WebDancer/WebSailor models: the one source of truth for tags.

Thoughts go in ``<think>``, tool calls in ``<tool_call>`` with a JSON ``{"name", "arguments"}`` body,
tool output comes back in a user turn wrapped in ``<tool_response>``, and the final answer goes in
``<answer>``. Observation text passes through :func:`escape_observation` so that a page can never
forge one of these tags.

WebWalker's explorer speaks the older Qwen-Agent format instead::

    Thought: ...
    Action: visit_page
    Action Input: {"button": "..."}
    Observation: ...

Parsing is forgiving where models are sloppy (whitespace, code fences, trailing text, several calls
in one turn) and strict where it matters: a call whose body is not a JSON object with a ``name`` is
reported as an error, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

THINK = "think"
TOOL_CALL = "tool_call"
TOOL_RESPONSE = "tool_response"
ANSWER = "answer"
TOOLS = "tools"
BUTTON = "button"  # WebWalker wraps each clickable label in <button>...<button>

PROTOCOL_TAGS = (THINK, TOOL_CALL, TOOL_RESPONSE, ANSWER, TOOLS, BUTTON)

# Rollout stop strings (R-T-10): the model must never write the tool's reply itself.
STOP = ["\n<tool_response>", "<tool_response>"]
# WebWalker explorer stop word (R-WW-30).
REACT_STOP = ["Observation:", "\nObservation:"]

# Any opening or closing protocol tag, with optional whitespace and attributes, in any case.
_TAG_RE = re.compile(r"<\s*(/?)\s*(" + "|".join(PROTOCOL_TAGS) + r")\b([^<>]*)>", re.IGNORECASE)


# Chat-template special tokens: the ``<|...|>`` family (ChatML's <|im_start|>/<|im_end|>, Llama 3's
# <|eot_id|>, Phi's <|end|>, ...), DeepSeek's full-width ``<｜...｜>``, and the other common ones. A
# page holding one would otherwise open a fake system or assistant turn once the conversation is
# rendered with the model's template (and poison SFT data made from the trajectory).
_SPECIAL_RE = re.compile(
    r"<\s*[|｜][^<>\n]{0,80}?[|｜]\s*>"
    r"|</?s>|<(?:/?start_of_turn|/?end_of_turn|bos|eos|pad|unk|/?BOS|/?EOS)>"
    r"|\[/?(?:INST|SYS)\]|<</?SYS>>",
    re.IGNORECASE,
)
_extra_special: set[str] = set()


def register_special_tokens(tokens: Iterable[str]) -> None:
    """Add a tokenizer's special tokens to those :func:`escape_observation` neutralises (a local
    model's agent registers its own; the generic families above are always covered)."""
    for t in tokens or ():
        if isinstance(t, str) and len(t) >= 3 and not t.isalnum():
            _extra_special.add(t)


def _defuse(token: str) -> str:
    """The token as text no tokenizer maps to a special token: its brackets as entities."""
    return token.replace("<", "&lt;").replace(">", "&gt;").replace("[", "&#91;").replace("]", "&#93;")


def escape_observation(text: str) -> str:
    """Neutralise protocol tags and chat-template special tokens inside untrusted text (page
    content, search snippets, error messages).

    ``<tool_response>`` becomes ``&lt;tool_response&gt;`` and ``<|im_end|>`` becomes
    ``&lt;|im_end|&gt;``: still readable, but no tokenizer or parser will ever see a real tag or a
    turn boundary. Other angle brackets are left alone.
    """
    text = _TAG_RE.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}{m.group(3)}&gt;", text)
    text = _SPECIAL_RE.sub(lambda m: _defuse(m.group(0)), text)
    for token in _extra_special:
        if token in text:
            text = text.replace(token, _defuse(token) if _defuse(token) != token else token[0] + "\u200b" + token[1:])
    return text


# ---------------------------------------------------------------------------------------------
# Tool calls


@dataclass
class ToolCall:
    """One parsed tool call. ``error`` is set (and ``name`` may be empty) when the call is invalid."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    """The text between the tags, exactly as the model wrote it."""
    error: str | None = None
    id: str | None = None
    """Provider call id in native function-calling mode."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "raw": self.raw, "error": self.error, "id": self.id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCall:
        return cls(d.get("name", ""), d.get("arguments") or {}, d.get("raw", ""), d.get("error"), d.get("id"))


@dataclass
class Reply:
    """An assistant turn split into its protocol parts."""

    text: str
    think: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    answer: str | None = None
    """Content of ``<answer>``; ``None`` when the turn holds no complete answer."""

    @property
    def errors(self) -> list[str]:
        return [c.error for c in self.tool_calls if c.error]


_FENCE_RE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def _block_re(tag: str) -> re.Pattern[str]:
    return re.compile(rf"<\s*{tag}\s*>(.*?)<\s*/\s*{tag}\s*>", re.DOTALL | re.IGNORECASE)


_THINK_RE, _CALL_RE, _ANSWER_RE = _block_re(THINK), _block_re(TOOL_CALL), _block_re(ANSWER)
_OPEN_CALL_RE = re.compile(r"<\s*tool_call\s*>(.*)$", re.DOTALL | re.IGNORECASE)


def _strip_fence(body: str) -> str:
    m = _FENCE_RE.match(body)
    return m.group(1) if m else body.strip()


MAX_JSON_DEPTH = 32
"""Deepest nesting of lists and objects accepted in a tool call: real arguments are two or three
levels deep, and a reply of a thousand brackets must become an error, not a RecursionError."""


def json_depth_ok(value: Any) -> bool:
    """Whether ``value`` nests at most :data:`MAX_JSON_DEPTH` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > MAX_JSON_DEPTH:
                return False
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return True


def loads_safe(text: str, *, raw: bool = False) -> Any:
    """``json.loads`` for text a model wrote: every failure is a ``ValueError`` with a readable
    message (also deep nesting, which the decoder reports as RecursionError, and integers too long
    to convert). ``raw``: decode the first value and ignore what follows it."""
    try:
        value = json.JSONDecoder().raw_decode(text)[0] if raw else json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(e.msg) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise ValueError(str(e).split(";")[0]) from None
    if not json_depth_ok(value):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _first_json_object(body: str) -> Any:
    """Decode the first JSON value in ``body``, ignoring text after it (models trail notes)."""
    body = _strip_fence(body)
    start = body.find("{")
    if start < 0:
        raise ValueError("no JSON object found")
    return loads_safe(body[start:], raw=True)


def parse_tool_call(body: str) -> ToolCall:
    """Parse the body of one ``<tool_call>`` into a :class:`ToolCall` (never raises).

    Accepts ``{"name": ..., "arguments": {...}}``; ``arguments`` may also be a JSON string (as some
    function-calling APIs return it). Anything else yields a call with ``error`` set.
    """
    try:
        value = _first_json_object(body)
    except ValueError as e:
        return ToolCall("", {}, body, f"the tool call is not valid JSON ({e})")
    if not isinstance(value, dict):
        return ToolCall("", {}, body, "the tool call must be a JSON object")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return ToolCall("", {}, body, 'the tool call has no "name"')
    args = value.get("arguments", value.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = loads_safe(args) if args.strip() else {}
        except ValueError as e:
            return ToolCall(name.strip(), {}, body, f'"arguments" is not valid JSON ({e})')
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return ToolCall(name.strip(), {}, body, '"arguments" must be a JSON object')
    return ToolCall(name.strip(), args, body)


def strip_echoes(text: str, echoes: Sequence[str] = ()) -> str:
    """``text`` without verbatim copies of ``echoes`` (the agent's own instructions): a model that
    repeats a nudge such as "give the final answer inside <answer></answer>" has not answered."""
    for echo in echoes:
        if echo and echo.strip():
            text = text.replace(echo.strip(), "")
    return text


def parse_reply(text: str, echoes: Sequence[str] = ()) -> Reply:
    """Split an assistant turn into think / tool calls / answer.

    Several ``<tool_call>`` blocks in one turn are all returned. A ``<tool_call>`` left open at the
    end of the turn (the model was cut by a stop string or max_tokens) is parsed too. ``echoes``:
    instruction texts the model was shown; copies of them in the reply count for nothing (their
    tags are examples, not calls or answers). ``Reply.text`` stays the reply as written.
    """
    reply = Reply(text=text)
    text = strip_echoes(text, echoes)
    thinks = _THINK_RE.findall(text)
    if thinks:
        reply.think = "\n".join(t.strip() for t in thinks)
    elif "</think>" in text:  # chat templates often open <think> in the prompt, not the reply
        reply.think = text.split("</think>", 1)[0].strip()
    # Calls inside <think> are the model musing, not acting: only look after the reasoning.
    rest = text.rsplit("</think>", 1)[-1] if "</think>" in text else text
    bodies = _CALL_RE.findall(rest)
    tail = _CALL_RE.sub("", rest)
    open_call = _OPEN_CALL_RE.search(tail)
    if open_call and open_call.group(1).strip():
        bodies.append(open_call.group(1))
    reply.tool_calls = [parse_tool_call(b) for b in bodies]
    answers = _ANSWER_RE.findall(rest)
    if answers:
        reply.answer = answers[-1].strip()
    return reply


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """The canonical text of one tool call, as the released models write it."""
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<{TOOL_CALL}>\n{body}\n</{TOOL_CALL}>"


def format_assistant(think: str = "", tool_calls: list[ToolCall] | None = None, answer: str | None = None) -> str:
    """Rebuild a protocol-exact assistant turn (used by native function calling and policies)."""
    parts = [f"<{THINK}>\n{think.strip()}\n</{THINK}>"] if think.strip() else []
    parts += [format_tool_call(c.name, c.arguments) for c in tool_calls or []]
    if answer is not None:
        parts.append(f"<{ANSWER}>{answer}</{ANSWER}>")
    return "\n".join(parts)


def format_tool_response(observation: str) -> str:
    """Wrap (escaped) tool output for the user turn that carries it back to the model."""
    return f"<{TOOL_RESPONSE}>\n{escape_observation(observation)}\n</{TOOL_RESPONSE}>"


def cut_at_stop(text: str, stop: list[str] | None = STOP) -> str:
    """Cut ``text`` at the first stop string: anything after ``<tool_response>`` is hallucinated."""
    cut = len(text)
    for s in stop or []:
        i = text.find(s)
        if i >= 0:
            cut = min(cut, i)
    return text[:cut]


def tools_block(schemas: list[dict[str, Any]]) -> str:
    """The ``<tools>`` block of the first user turn: one JSON function schema per line."""
    lines = [json.dumps(s.get("function", s), ensure_ascii=False) for s in schemas]
    return f"<{TOOLS}>\n" + "\n".join(lines) + f"\n</{TOOLS}>"


# ---------------------------------------------------------------------------------------------
# WebWalker's Thought / Action / Action Input / Observation format


@dataclass
class ReactStep:
    """One explorer turn in the Qwen-Agent ReAct text format."""

    thought: str = ""
    action: str | None = None
    action_input: str | None = None
    final_answer: str | None = None

    def arguments(self) -> dict[str, Any]:
        """Decode ``Action Input`` strictly; raise ``ValueError`` with a readable reason."""
        if self.action_input is None:
            raise ValueError("no Action Input")
        try:
            value = _first_json_object(self.action_input)
        except ValueError as e:
            raise ValueError(f"Action Input is not valid JSON ({e})") from None
        if not isinstance(value, dict):
            raise ValueError("Action Input must be a JSON object")
        return value


_REACT_FIELD_RE = re.compile(r"^\s*(Thought|Action Input|Action|Observation|Final Answer)\s*:", re.MULTILINE)


def parse_react(text: str) -> ReactStep:
    """Parse ``Thought/Action/Action Input`` (or ``Final Answer``) from an explorer turn.

    Only the first Action counts; anything from an ``Observation:`` the model wrote itself is cut.
    """
    text = cut_at_stop(text, REACT_STOP)
    step = ReactStep()
    marks = list(_REACT_FIELD_RE.finditer(text))
    if marks and marks[0].start() > 0:
        step.thought = text[: marks[0].start()].strip()  # prose before the first label is a thought
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = text[m.end() : end].strip()
        label = m.group(1)
        if label == "Thought" and not step.thought:
            step.thought = value
        elif label == "Action" and step.action is None:
            step.action = value.splitlines()[0].strip() if value else ""
        elif label == "Action Input" and step.action_input is None:
            step.action_input = _strip_fence(value)
        elif label == "Final Answer" and step.final_answer is None:
            step.final_answer = value
    if not marks:
        step.thought = text.strip()
    return step


def format_react(thought: str, action: str, action_input: dict[str, Any]) -> str:
    """The canonical explorer turn text."""
    return f"Thought: {thought}\nAction: {action}\nAction Input: {json.dumps(action_input, ensure_ascii=False)}\n"


def format_buttons(labels: list[str]) -> str:
    """WebWalker's clickable list: each label wrapped as ``<button>label<button>``."""
    return "\n".join(f"<{BUTTON}>{escape_observation(label)}<{BUTTON}>" for label in labels)
