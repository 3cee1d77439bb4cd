"""The trajectory record: one dataclass for every agent, with a lossless JSON round-trip.

A :class:`Trajectory` keeps both views of an episode:

- ``messages``: the chat exactly as the model saw it (system, user, assistant, tool-response user
  turns), which is what SFT data and the trace viewer need;
- ``steps``: one :class:`Step` per model call with the parsed thought, actions, observation,
  timings and token counts, which is what filters, metrics and RL need.

Generated token ids and logprobs are stored per step as the backend returned them. They are never
re-derived from text: re-tokenizing a decoded history does not give back the sampled ids.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

# Termination reasons. The first four are the labels of the WebSailor reference loop (R-T-11).
ANSWER = "answer"
TOKEN_LIMIT = "generate an answer as token limit reached"
LLM_CALLS = "exceed available llm calls"
NOT_FOUND = "answer not found"
TOOL_CALLS = "exceed available tool calls"
TIMEOUT = "wall-clock limit reached"
LLM_ERROR = "llm error"
MAX_STEPS = "exceeding maximum steps"  # WebWalker's over-budget error type (R-WW-34)
EPISODE_ERROR = "episode error"  # the episode raised; recorded so that a resume does not retry it

TERMINATIONS = (ANSWER, TOKEN_LIMIT, LLM_CALLS, NOT_FOUND, TOOL_CALLS, TIMEOUT, LLM_ERROR, MAX_STEPS, EPISODE_ERROR)


@dataclass
class Action:
    """One tool call made in a step, with what came back."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    observation: str = ""
    error: str | None = None
    """Why the call was rejected before running (bad JSON, unknown tool), if it was."""
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(**{k: v for k, v in d.items() if k in _names(cls)})


@dataclass
class Step:
    """One model call and the actions it triggered."""

    index: int
    text: str = ""
    """The raw assistant turn (after cutting at stop strings)."""
    thought: str = ""
    actions: list[Action] = field(default_factory=list)
    observation: str = ""
    """Everything returned to the model after this step (the user turn's content)."""
    answer: str | None = None
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    reasoning: str | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    role: str = "agent"
    """Who made the call: ``agent``; WebWalker also records ``critic`` steps."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        d = {k: v for k, v in d.items() if k in _names(cls)}
        d["actions"] = [Action.from_dict(a) for a in d.get("actions", [])]
        return cls(**d)


@dataclass
class Trajectory:
    """Everything one episode produced."""

    question: str
    agent: str = "react"
    model: str = ""
    policy: str = ""
    """What produced the replies, in words (e.g. ``rule-based baseline``); shown to users."""
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    termination: str = ""
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    gold: Any = None
    memory: list[str] = field(default_factory=list)
    """WebWalker critic memory; empty for ReAct."""
    meta: dict[str, Any] = field(default_factory=dict)

    # --- derived statistics -----------------------------------------------------------------
    @property
    def llm_calls(self) -> int:
        return len(self.steps)

    @property
    def tool_calls(self) -> int:
        return sum(len(s.actions) for s in self.steps)

    def tool_stats(self) -> dict[str, dict[str, float]]:
        """Per tool: calls, errors and seconds spent."""
        stats: dict[str, dict[str, float]] = {}
        for s in self.steps:
            for a in s.actions:
                st = stats.setdefault(a.name or "<invalid>", {"calls": 0, "errors": 0, "seconds": 0.0})
                st["calls"] += 1
                st["errors"] += int(a.error is not None or "Error:" in a.observation[:200])
                st["seconds"] += a.seconds
        return stats

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": sum(s.prompt_tokens for s in self.steps),
            "completion_tokens": sum(s.completion_tokens for s in self.steps),
        }

    # --- JSON round-trip ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = _plain(self)
        # Derived figures are written for readers of the JSONL; from_dict ignores them.
        d["stats"] = {"llm_calls": self.llm_calls, "tool_calls": self.tool_calls, "tools": self.tool_stats(), **self.usage()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        if "question" not in d:
            hint = " (a released WebDancer record: read it with `webagent traj import`)" if d.get("type") == "chatml" else ""
            raise ValueError(f"a trajectory record needs a 'question'{hint}")
        d = {k: v for k, v in d.items() if k in _names(cls)}
        d["steps"] = [Step.from_dict(s) for s in d.get("steps", [])]
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Trajectory:
        return cls.from_dict(json.loads(text))


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """What ``dataclasses.asdict`` returns (dataclasses as dicts, containers copied), without its
    generic deep copy of every leaf: on a finished episode that copy took longer than the episode's
    own bookkeeping, at every one of thousands of episodes."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return kind(_plain(v) for v in value)
    return copy.deepcopy(value)
