"""A scripted ``ChatModel``: canned replies in order, for tests and for trying agents without a model.

Example::

    model = ScriptedModel([
        '<think>look it up</think>\\n<tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>',
        "<think>found it</think>\\n<answer>42</answer>",
    ])

A reply may also be a :class:`Completion` (to script token ids, usage or finish reasons), an
exception instance (raised when its turn comes, to script backend failures) or a callable
``fn(messages) -> str | Completion`` (to react to what the agent sent). Every call is recorded in
``calls`` so tests can check what the agent showed the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from webagent.llm.base import Completion
from webagent.protocol import cut_at_stop

Reply = str | Completion | BaseException | Callable[[list[dict[str, Any]]], "str | Completion"]


class ScriptExhausted(RuntimeError):
    """The agent asked for more replies than the script holds."""


class ScriptedModel:
    """Returns scripted replies in order; see the module docstring."""

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None, name: str = "scripted"):
        self.replies: list[Reply] = list(replies)
        self.default = default
        """Reply used once the script is exhausted (``None``: raise :class:`ScriptExhausted`)."""
        self.name = name
        self.calls: list[dict[str, Any]] = []
        self._next = 0

    async def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> Completion:
        self.calls.append({"messages": [dict(m) for m in messages], "stop": stop, "temperature": temperature, **kwargs})
        if self._next < len(self.replies):
            reply = self.replies[self._next]
            self._next += 1
        elif self.default is not None:
            reply = self.default
        else:
            raise ScriptExhausted(f"script of {len(self.replies)} replies exhausted")
        await asyncio.sleep(0)  # yield like a real backend so concurrency is exercised
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            reply = reply(messages)
        if isinstance(reply, Completion):
            return reply
        text = cut_at_stop(reply, stop)  # a real server stops at the stop strings too
        prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4
        return Completion(text=text, prompt_tokens=prompt, completion_tokens=len(text) // 4)

    @property
    def remaining(self) -> int:
        return max(0, len(self.replies) - self._next)
