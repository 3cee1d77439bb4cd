"""The mask contract: one function from a trajectory to ``(input_ids, loss_mask)``.

SFT and RL both train on exactly what :func:`encode_trajectory` returns:

- ``loss_mask`` is 1 exactly on tokens the assistant generated: the content of every assistant
  turn and the ``<|im_end|>`` that closes it (the model must learn to stop);
- an assistant turn marked ``"loss": false`` (ms-swift's per-message field) is context too: a
  teacher's deliberate detour the model should see and recover from, not learn to make;
- it is 0 on everything else: the system prompt, user turns, tool output (whether it arrives as a
  ``user`` turn wrapped in ``<tool_response>``, as in WebDancer's released data, or as a ``tool``
  turn), the ChatML header ``<|im_start|>assistant\\n`` and the ``\\n`` after each ``<|im_end|>``
  (the runtime writes those, never the model).

The chat is encoded turn by turn, segment by segment (header, content, ``<|im_end|>``, ``\\n``), so
every token knows which turn it came from. With the project tokenizer (``tokenizer.py``) the
concatenation equals the encoding of the fully rendered chat template, token for token; tests
check it, and :func:`template_mismatch` checks it for any other tokenizer.

History is never re-tokenized when the model's own ids are known: a trajectory step that carries
``token_ids`` (RL rollouts, or any backend that returns them) contributes those ids verbatim. Then
the closing ``<|im_end|>`` counts as generated only if the model actually sampled it; when the turn
was cut at a stop string the runtime inserts it, so it is context (mask 0), and when the turn ran
out of tokens (``finish_reason == "length"``) no end marker is invented at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webagent import protocol as P

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ASSISTANT = "assistant"


@dataclass
class Encoded:
    """One tokenized chat: ids, the loss mask and where each turn starts."""

    input_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    turn_starts: list[int] = field(default_factory=list)
    """Index in ``input_ids`` where each message's tokens begin."""

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(self.loss_mask)


@dataclass
class Turn:
    """One chat message ready to encode; ``ids`` replaces ``content`` when the model's ids are known."""

    role: str
    content: str
    ids: list[int] | None = None
    finish_reason: str = "stop"
    trained: bool = True
    """False for an assistant turn marked ``"loss": false``: shown, not learnt."""


def _message_text(m: dict[str, Any]) -> str:
    content = m.get("content")
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    content = content or ""
    calls = m.get("tool_calls") or []
    if calls and P.TOOL_CALL not in content:  # native function calling: write the protocol form
        rendered = []
        for c in calls:
            fn = c.get("function", c)
            args = fn.get("arguments") or {}
            if isinstance(args, str):  # function-calling APIs send arguments as a JSON string
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    args = {"raw": args}
            rendered.append(P.format_tool_call(fn.get("name", ""), args))
        content = "\n".join([content, *rendered]) if content else "\n".join(rendered)
    if m.get("role") == "tool" and P.TOOL_RESPONSE not in content:
        content = P.format_tool_response(content)  # a tool turn is tool output, wrapped like one
    return content


def to_turns(source: Any) -> list[Turn]:
    """Messages of a Trajectory, a ``{"messages": [...]}`` record or a message list, as turns.

    For a :class:`~webagent.trajectory.Trajectory` the agent's steps are paired with its assistant
    turns, in order, so that recorded ``token_ids`` are used instead of the text.
    """
    steps = None
    if hasattr(source, "messages") and hasattr(source, "steps"):
        steps = [s for s in source.steps if getattr(s, "role", "agent") == "agent"]
        messages = source.messages
    elif isinstance(source, dict):
        messages = source.get("messages")
        if messages is None:
            raise ValueError("a chat record needs a 'messages' list")
    else:
        messages = source
    if not isinstance(messages, Sequence) or not messages:
        raise ValueError("a trajectory needs at least one message")
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise ValueError(f"message {i} is not a {{'role', 'content'}} object")
        turns.append(Turn(str(m["role"]), _message_text(m), trained=m.get("loss") is not False))
    assistants = [t for t in turns if t.role == ASSISTANT]
    if steps is not None and len(steps) == len(assistants):
        for turn, step in zip(assistants, steps, strict=True):
            turn.finish_reason = step.finish_reason or "stop"
            if step.token_ids:
                turn.ids = list(step.token_ids)
    return turns


def _special_id(tokenizer, token: str) -> int:
    ids = tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"the tokenizer has no single token for {token!r}: the mask contract needs a ChatML tokenizer")
    return ids[0]


def encode_turns(turns: Sequence[Turn], tokenizer) -> Encoded:
    """Encode turns segment by segment; see the module docstring for the mask rules."""
    im_end = _special_id(tokenizer, IM_END)
    # Batch every text segment through the (Rust) tokenizer in one call.
    texts: list[str] = []
    for t in turns:
        texts.append(f"{IM_START}{t.role}\n")
        texts.append("" if t.ids is not None else t.content)
    texts.append("\n")
    pieces = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    newline = pieces[-1]
    out = Encoded()
    for k, t in enumerate(turns):
        header, body = pieces[2 * k], (t.ids if t.ids is not None else pieces[2 * k + 1])
        out.turn_starts.append(len(out.input_ids))
        generated = t.role == ASSISTANT and t.trained
        out.input_ids += header
        out.loss_mask += [0] * len(header)
        if t.ids is not None and body and body[-1] == im_end:
            body, sampled_end = body[:-1], True  # the model closed its own turn
        else:
            sampled_end = t.ids is None  # text-only data: the closing marker is part of the target
        out.input_ids += body
        out.loss_mask += [int(generated)] * len(body)
        if t.role == ASSISTANT and t.finish_reason == "length" and t.ids is not None:
            break  # cut by max_tokens: nothing after it was ever seen by the model
        out.input_ids += [im_end, *newline]
        out.loss_mask += [int(generated and sampled_end)] + [0] * len(newline)
    return out


def encode_trajectory(source: Any, tokenizer) -> Encoded:
    """THE mask contract: a Trajectory, chat record or message list to ids and loss mask.

    >>> enc = encode_trajectory(traj, tok)          # doctest: +SKIP
    >>> enc.input_ids, enc.loss_mask                # same length; 1 only on assistant tokens
    """
    return encode_turns(to_turns(source), tokenizer)


def render_chat(source: Any) -> str:
    """The ChatML text :func:`encode_trajectory` encodes (for inspection and template checks)."""
    return "".join(f"{IM_START}{t.role}\n{t.content}{IM_END}\n" for t in to_turns(source))


def template_mismatch(source: Any, tokenizer) -> str | None:
    """Compare our per-turn encoding with ``tokenizer.apply_chat_template`` on the same chat.

    Returns ``None`` when they agree token for token, else a one-line description of the first
    difference. Use it before training with a tokenizer that is not ours: a mismatch means the
    tokenizer merges text across turn boundaries or its template adds text (e.g. a default system
    prompt), and the model would be trained on a layout it will not see at inference.
    """
    turns = to_turns(source)
    ours = encode_turns([Turn(t.role, t.content) for t in turns], tokenizer).input_ids
    messages = [{"role": t.role, "content": t.content} for t in turns]
    theirs = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=False)
    if hasattr(theirs, "keys"):
        theirs = theirs["input_ids"]
    theirs = list(theirs)
    if ours == theirs:
        return None
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))
    return (f"first difference at token {i}: ours {tokenizer.decode(ours[i:i + 8])!r} vs template "
            f"{tokenizer.decode(theirs[i:i + 8])!r} (lengths {len(ours)} and {len(theirs)})")


def observation_spans(encoded: Encoded, tokenizer) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` between ``<tool_response>`` and ``</tool_response>``."""
    open_id = _special_id(tokenizer, f"<{P.TOOL_RESPONSE}>")
    close_id = _special_id(tokenizer, f"</{P.TOOL_RESPONSE}>")
    spans, start = [], None
    for i, t in enumerate(encoded.input_ids):
        if t == open_id:
            start = i
        elif t == close_id and start is not None:
            spans.append((start, i + 1))
            start = None
    return spans
