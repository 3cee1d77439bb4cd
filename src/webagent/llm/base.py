"""The ``ChatModel`` seam every agent, extractor and judge talks to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class Completion:
    """One model reply."""

    text: str
    finish_reason: str = "stop"
    """``stop`` (natural end or a stop string), ``length`` (max_tokens reached) or ``error``."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str | None = None
    """Separate reasoning content of reasoning models (``reasoning_content``), when returned."""
    token_ids: list[int] | None = None
    """Generated token ids, when the backend exposes them (RL needs them)."""
    logprobs: list[float] | None = None
    """Log-probability of each generated token, aligned with ``token_ids``."""
    prompt_token_ids: list[int] | None = None
    """Prompt token ids as the backend tokenized them, when exposed."""
    token_masks: list[bytes | None] | None = None
    """Constrained decoding (a local model with grounding): the tokens each step allowed, as a bit
    mask over the vocabulary packed with ``numpy.packbits``, None where nothing was constrained.
    ``logprobs`` are then those of the constrained distribution, so RL can score the same policy."""
    tool_calls: list[dict[str, Any]] | None = None
    """Native function-calling output: ``[{"id", "name", "arguments"}]`` (arguments as a JSON string)."""
    meta: dict[str, Any] = field(default_factory=dict)


class ContextOverflowError(Exception):
    """The conversation no longer fits the model's context window (the server said so).

    Agents treat it as the end of the road for new observations: the ReAct agent asks for its
    forced final answer instead of failing the episode."""


@runtime_checkable
class ChatModel(Protocol):
    """Anything that turns chat messages into a ``Completion``."""

    async def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> Completion: ...
