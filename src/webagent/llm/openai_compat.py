"""``ChatModel`` over any OpenAI-compatible chat API: vLLM, SGLang, OpenAI, DashScope, OpenRouter.

Example (a WebSailor checkpoint served by vLLM)::

    model = OpenAICompatModel(OpenAIConfig(base_url="http://localhost:8000/v1", model="WebSailor-7B"))
    completion = await model.generate(messages, stop=["\\n<tool_response>", "<tool_response>"])

The SDK's own retries are switched off: this module retries 429, 5xx, timeouts and connection
errors itself, with exponential backoff (honouring ``Retry-After``), so the policy is explicit and
counted in ``usage``. A semaphore bounds concurrent requests per model object. The API key is read
from the environment variable named in the config and is never logged or stored in trajectories.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
from dataclasses import dataclass, field
from typing import Any

from webagent.llm.base import Completion, ContextOverflowError
from webagent.secrets import register_secret

log = logging.getLogger(__name__)


DEFAULT_MAX_TOKENS = 2048
"""Tokens per reply unless asked otherwise: a ReAct turn is a thought and one call (or an answer);
reasoning models that think at length may need more (``--max-tokens``)."""

# How llama.cpp, vLLM, SGLang and OpenAI word "the prompt (plus max_tokens) does not fit".
_OVERFLOW = re.compile(
    r"context[ _](length|size|window)|maximum context|context_length_exceeded|exceed_context_size"
    r"|too many tokens|too long to fit|longer than the model|maximum model length|prompt is too long"
    r"|input is too large to process",
    re.IGNORECASE)


def is_context_overflow(status: int | None, message: str) -> bool:
    """Whether an error reply says the request does not fit the model's context window."""
    return status in (400, 413, 422) and bool(_OVERFLOW.search(message or ""))


@dataclass
class OpenAIConfig:
    """Where the server is and how to sample from it."""

    model: str = "default"
    base_url: str | None = None
    """``None``: ``$OPENAI_BASE_URL``, else the OpenAI API."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (``EMPTY`` is sent when unset, as vLLM expects)."""
    timeout: float = 600.0
    """Seconds per request."""
    max_retries: int = 5
    backoff: float = 1.0
    """First retry delay in seconds; doubles each retry (with jitter), capped at ``max_backoff``."""
    max_backoff: float = 60.0
    concurrency: int = 64
    """Requests in flight at once through this model object."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    """Per-reply cap sent with every request that gives none (``None``: send none, the server's
    own limit applies; a small model without one can repeat itself until the context is full)."""
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    """Not an OpenAI parameter; sent in ``extra_body`` (vLLM and SGLang accept it)."""
    logprobs: bool = False
    """Ask for per-token logprobs of the reply."""
    return_token_ids: bool = False
    """Ask vLLM for the prompt and generated token ids (``return_token_ids``); RL needs them."""
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Passed through verbatim, e.g. ``{"chat_template_kwargs": {"enable_thinking": False}}``."""

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env) or "EMPTY"


class OpenAICompatModel:
    """``ChatModel`` for an OpenAI-compatible endpoint; see the module docstring."""

    def __init__(self, config: OpenAIConfig | None = None, *, http_client: Any = None):
        try:
            import openai
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("the OpenAI-compatible backend needs the 'openai' package: pip install 'webagent[llm]'") from e
        self.config = cfg = config or OpenAIConfig()
        self.name = cfg.model
        register_secret(cfg.api_key())  # error texts may echo it: never store or print it
        self._openai = openai
        self.client = openai.AsyncOpenAI(
            api_key=cfg.api_key(), base_url=cfg.base_url or os.environ.get("OPENAI_BASE_URL") or None,
            timeout=cfg.timeout, max_retries=0, http_client=http_client)
        self._semaphore = asyncio.Semaphore(cfg.concurrency)
        self.usage = {"requests": 0, "retries": 0, "failures": 0, "prompt_tokens": 0, "completion_tokens": 0}

    async def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> Completion:
        """One chat completion, retried on transient failures; raises the last error when out of retries."""
        request = self._request(messages, stop, max_tokens, temperature, kwargs)
        async with self._semaphore:
            response = await self._with_retries(request)
        return self._completion(response)

    def _request(self, messages, stop, max_tokens, temperature, kwargs: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        extra = dict(cfg.extra_body)
        if cfg.repetition_penalty is not None:
            extra["repetition_penalty"] = cfg.repetition_penalty
        if cfg.return_token_ids:
            extra["return_token_ids"] = True
        extra.update(kwargs.pop("extra_body", None) or {})
        req: dict[str, Any] = {"model": cfg.model, "messages": messages}
        top_p = kwargs.pop("top_p", None)
        optional = {
            "stop": stop or None,
            "max_tokens": max_tokens if max_tokens is not None else cfg.max_tokens,
            "temperature": temperature if temperature is not None else cfg.temperature,
            "top_p": top_p if top_p is not None else cfg.top_p,
            "presence_penalty": cfg.presence_penalty,
            "tools": kwargs.pop("tools", None) or None,
            "logprobs": True if cfg.logprobs else None,
        }
        req.update({k: v for k, v in optional.items() if v is not None})
        req.update({k: v for k, v in kwargs.items() if v is not None})
        if extra:
            req["extra_body"] = extra
        return req

    async def _with_retries(self, request: dict[str, Any]) -> Any:
        oa = self._openai
        retryable = (oa.RateLimitError, oa.InternalServerError, oa.APITimeoutError, oa.APIConnectionError)
        delay = self.config.backoff
        for attempt in range(self.config.max_retries + 1):
            self.usage["requests"] += 1
            try:
                return await self.client.chat.completions.create(**request)
            except retryable as e:
                if attempt >= self.config.max_retries:
                    self.usage["failures"] += 1
                    raise
                wait = _retry_after(e)
                wait = min(self.config.max_backoff, wait if wait is not None else delay * (1 + random.random() / 2))
                log.info("LLM request failed (%s); retry %d in %.2fs", type(e).__name__, attempt + 1, wait)
                self.usage["retries"] += 1
                await asyncio.sleep(wait)
                delay *= 2
            except oa.APIStatusError as e:
                self.usage["failures"] += 1
                if is_context_overflow(e.status_code, _error_text(e)):
                    raise ContextOverflowError(_error_text(e)) from e
                raise
        raise AssertionError("unreachable")

    def _completion(self, response: Any) -> Completion:
        choice = response.choices[0]
        msg = choice.message
        extra = {**(getattr(response, "model_extra", None) or {})}
        reasoning = getattr(msg, "reasoning_content", None) or getattr(msg, "reasoning", None)
        if reasoning is None and getattr(msg, "model_extra", None):
            reasoning = msg.model_extra.get("reasoning_content") or msg.model_extra.get("reasoning")
        usage = response.usage
        c = Completion(
            text=msg.content or "",
            finish_reason=_finish(choice.finish_reason),
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            reasoning=reasoning or None,
            meta={"id": getattr(response, "id", None), "model": getattr(response, "model", None)},
        )
        choice_extra = getattr(choice, "model_extra", None) or {}
        if choice_extra.get("token_ids") is not None:
            c.token_ids = list(choice_extra["token_ids"])
        if extra.get("prompt_token_ids") is not None:
            c.prompt_token_ids = list(extra["prompt_token_ids"])
        if choice.logprobs is not None and choice.logprobs.content:
            c.logprobs = [t.logprob for t in choice.logprobs.content]
        if msg.tool_calls:
            c.tool_calls = [{"id": t.id, "name": t.function.name, "arguments": t.function.arguments} for t in msg.tool_calls]
        self.usage["prompt_tokens"] += c.prompt_tokens
        self.usage["completion_tokens"] += c.completion_tokens
        return c

    async def aclose(self) -> None:
        await self.client.close()


def _finish(reason: str | None) -> str:
    return {"length": "length", "tool_calls": "stop", "stop": "stop", None: "stop"}.get(reason, reason or "stop")


def _error_text(error: Any) -> str:
    """The server's error message (``{"error": {"message": ...}}`` or the SDK's own text)."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if not isinstance(inner, dict):
            return str(inner)
        kind = inner.get("code") or inner.get("type")  # e.g. context_length_exceeded, exceed_context_size_error
        if inner.get("message"):
            return str(inner["message"]) + (f" ({kind})" if isinstance(kind, str) else "")
    return str(getattr(error, "message", "") or error)


def _retry_after(error: Any) -> float | None:
    """Seconds from a ``Retry-After`` header, when the server sent one."""
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
