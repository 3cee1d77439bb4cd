"""The ReAct agent of WebDancer and WebSailor: think, call tools, read observations, answer.

One episode is one ``await agent.run(question)``: an async loop over model calls. Each assistant
turn is parsed with :mod:`webagent.protocol`; its tool calls run concurrently; their outputs come
back as one user turn of ``<tool_response>`` blocks. Nothing the model or a tool does can crash the
episode: a malformed call, an unknown tool, a tool failure or timeout all become observations the
model reads on its next turn. Budgets (LLM calls, tool calls, context tokens, wall clock) end the
episode with one of the termination labels of :mod:`webagent.trajectory`; past the context cap the
model gets one forced final-answer turn, as in the WebSailor reference loop (R-T-11).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from webagent import protocol as P
from webagent import trajectory as T
from webagent.llm.base import ChatModel, Completion, ContextOverflowError
from webagent.prompts import load_prompts
from webagent.secrets import redact
from webagent.tools.base import Tool
from webagent.trajectory import Action, Step, Trajectory


@dataclass
class ReactConfig:
    """Budgets and sampling of a ReAct episode (defaults follow the WebSailor reference code)."""

    max_llm_calls: int = 40
    max_tool_calls: int | None = None
    """``None``: only the LLM-call budget applies (the paper's ≤30 is then implicit)."""
    max_context_tokens: int = 31 * 1024 - 500
    max_seconds: float | None = None
    """Wall-clock limit of one episode."""
    tool_timeout: float | None = 120.0
    max_tokens: int | None = None
    """Per-reply generation cap passed to the model."""
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    stop: list[str] = field(default_factory=lambda: list(P.STOP))
    max_observation_chars: int | None = None
    """Truncate each tool output to this many characters (``None``: keep all)."""
    prompt_file: str | None = None
    date: str | None = None
    """``Current date`` in the system prompt; default today."""
    function_calling: bool = False
    """Use the API's native tool calling instead of ``<tool_call>`` text; same trajectory."""


@dataclass
class Event:
    """A live update for displays: ``kind`` is think, tool_call, observation, answer, notice."""

    kind: str
    text: str
    step: int = 0
    data: dict[str, Any] = field(default_factory=dict)


def approx_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """A cheap, tokenizer-free size estimate (about 3 characters per token, 4 per message)."""
    return sum(len(str(m.get("content") or "")) // 3 + 4 for m in messages)


class _Deadline(Exception):
    pass


OVERFLOW = "context overflow"
"""``finish_reason`` of a model call the server refused because the conversation no longer fits
its context window (:class:`ContextOverflowError`); such a call is not kept as a step."""


class ReactAgent:
    """WebDancer/WebSailor ReAct agent over any ``ChatModel`` and a list of tools."""

    def __init__(
        self,
        model: ChatModel,
        tools: Sequence[Tool] = (),
        config: ReactConfig | None = None,
        *,
        policy: str = "",
        token_counter: Callable[[list[dict[str, Any]]], int] | None = None,
        on_event: Callable[[Event], None] | None = None,
    ):
        self.model = model
        self.tools = {t.name: t for t in tools}
        self.config = config or ReactConfig()
        self.policy = policy or getattr(model, "name", type(model).__name__)
        self.count_tokens = token_counter or approx_tokens
        self.on_event = on_event
        self.prompts = load_prompts("react", self.config.prompt_file)
        # A local model's own special tokens are neutralised in observations too (beyond the
        # <|...|> family escape_observation always covers).
        P.register_special_tokens(getattr(getattr(model, "tokenizer", None), "all_special_tokens", None) or ())

    # --- prompts ------------------------------------------------------------------------------
    def initial_messages(self, question: str) -> list[dict[str, Any]]:
        date = self.config.date or _dt.date.today().isoformat()
        schemas = [t.schema() for t in self.tools.values()]
        return [
            {"role": "system", "content": self.prompts["system"].format(date=date)},
            {"role": "user", "content": self.prompts["user"].format(tools=P.tools_block(schemas), question=question)},
        ]

    # --- the episode --------------------------------------------------------------------------
    async def run(self, question: str, *, task_id: str | None = None, gold: Any = None) -> Trajectory:
        """Run one episode and return its trajectory (never raises for model or tool failures)."""
        traj = Trajectory(question=question, agent="react", policy=self.policy, gold=gold,
                          model=getattr(self.model, "name", type(self.model).__name__))
        if task_id is not None:
            traj.task_id = task_id
        traj.messages = self.initial_messages(question)
        start = time.perf_counter()
        self._emit("notice", f"question: {question}")
        try:
            await self._loop(traj, start)
        except _Deadline:
            traj.termination = T.TIMEOUT
        traj.seconds = time.perf_counter() - start
        if traj.termination == T.ANSWER or traj.answer is not None:
            self._emit("answer", traj.answer or "", traj.steps[-1].index if traj.steps else 0)  # the answering step
        return traj

    def _force_final(self, messages: list[dict], api_messages: list[dict], why: str) -> str:
        """Replace the last observation by the final-answer order; returns the termination label."""
        for msgs in (messages, api_messages):
            msgs[-1] = {"role": "user", "content": self.prompts["token_limit"]}
        self._emit("notice", f"{why}: asking for the final answer")
        return T.TOKEN_LIMIT

    async def _loop(self, traj: Trajectory, start: float) -> None:
        cfg, messages = self.config, traj.messages
        api_messages = [dict(m) for m in messages]  # differs from messages only in function-calling mode
        forced: str | None = None  # termination label if this is the forced final turn
        while True:
            if len(traj.steps) >= cfg.max_llm_calls:
                traj.termination = T.LLM_CALLS
                return
            if forced is None and self.count_tokens(messages) > cfg.max_context_tokens:
                forced = self._force_final(messages, api_messages, "context limit reached")
            step, calls = await self._call_model(api_messages, len(traj.steps), start)
            if step.finish_reason == OVERFLOW:
                # The server's window is smaller than the cap said: the forced final turn comes now,
                # unless this was it (or there is nothing to answer from yet).
                traj.meta["context_overflow"] = step.observation
                if forced is not None or not traj.steps:
                    traj.termination = T.NOT_FOUND
                    traj.meta["forced_final"] = forced or T.TOKEN_LIMIT
                    return
                forced = self._force_final(messages, api_messages, "the model's context is full")
                continue
            traj.steps.append(step)
            if step.finish_reason == "error":
                traj.termination = T.LLM_ERROR
                return
            messages.append({"role": "assistant", "content": step.text})
            api_messages.append(self._api_assistant(step, calls))
            if step.answer is not None:
                traj.answer, traj.termination = step.answer, forced or T.ANSWER
                return
            if forced:
                traj.termination = T.NOT_FOUND
                traj.meta["forced_final"] = forced
                return
            if not calls:
                step.observation = self.prompts["no_action"]
                self._emit("notice", "no tool call or answer in the reply")
                for msgs in (messages, api_messages):
                    msgs.append({"role": "user", "content": step.observation})
                continue
            await self._run_calls(step, calls, start)
            messages.append({"role": "user", "content": step.observation})
            api_messages.extend(self._api_observations(step, calls))
            if cfg.max_tool_calls is not None and traj.tool_calls >= cfg.max_tool_calls:
                forced = T.TOOL_CALLS
                note = {"role": "user", "content": self.prompts["tool_limit"]}
                messages.append(note)
                api_messages.append(dict(note))
                self._emit("notice", "tool-call budget used up: asking for the final answer")

    async def _call_model(self, messages: list[dict[str, Any]], index: int, start: float) -> tuple[Step, list[P.ToolCall]]:
        cfg = self.config
        kwargs: dict[str, Any] = {"stop": cfg.stop, "max_tokens": cfg.max_tokens, "temperature": cfg.temperature}
        if cfg.top_p is not None:
            kwargs["top_p"] = cfg.top_p
        if cfg.function_calling:
            kwargs["tools"] = [t.schema() for t in self.tools.values()]
        t0 = time.perf_counter()
        try:
            completion = await self._within_deadline(self.model.generate(messages, **kwargs), start)
        except _Deadline:
            raise
        except ContextOverflowError as e:
            step = Step(index=index, finish_reason=OVERFLOW, llm_seconds=time.perf_counter() - t0)
            step.observation = redact(str(e))
            return step, []
        except Exception as e:  # a backend failure ends the episode cleanly, with the reason recorded
            self._emit("notice", f"model call failed: {type(e).__name__}: {e}")
            step = Step(index=index, finish_reason="error", llm_seconds=time.perf_counter() - t0)
            step.observation = f"{type(e).__name__}: {e}"
            return step, []
        step, calls = self._parse(completion, index)
        step.llm_seconds = time.perf_counter() - t0
        if step.thought:
            self._emit("think", step.thought, index)
        return step, calls

    def _parse(self, c: Completion, index: int) -> tuple[Step, list[P.ToolCall]]:
        if self.config.function_calling and c.tool_calls:
            calls = [P.parse_tool_call(json.dumps({"name": tc.get("name", ""), "arguments": tc.get("arguments") or {}}))
                     for tc in c.tool_calls]
            for call, tc in zip(calls, c.tool_calls, strict=True):
                call.id = tc.get("id")
            think = c.reasoning or P.parse_reply(c.text).think or c.text.strip()
            text = P.format_assistant(think, calls)
        else:
            calls = None
            text = P.cut_at_stop(c.text, self.config.stop).strip()
            if self.config.function_calling and "<answer>" not in text and "<tool_call>" not in text and text:
                # A function-calling API answers in plain content; record it in protocol form.
                text = P.format_assistant(c.reasoning or "", None, P.parse_reply(text).answer or text.split("</think>")[-1].strip())
            elif c.reasoning and "<think>" not in text:
                text = P.format_assistant(c.reasoning) + ("\n" + text if text else "")
        reply = P.parse_reply(text, self._echoes())
        step = Step(index=index, text=text, thought=reply.think, answer=reply.answer,
                    prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                    finish_reason=c.finish_reason, reasoning=c.reasoning, token_ids=c.token_ids, logprobs=c.logprobs)
        return step, reply.tool_calls if calls is None else calls

    async def _run_calls(self, step: Step, calls: list[P.ToolCall], start: float) -> None:
        if self.on_event is not None:  # formatting the calls only for a listener
            for c in calls:
                self._emit("tool_call", P.format_tool_call(c.name, c.arguments) if c.ok else c.raw, step.index,
                           {"name": c.name, "arguments": c.arguments, "error": c.error})
        t0 = time.perf_counter()
        # One call (the usual case) is awaited directly: gather would wrap it in a task of its own.
        pending = self._run_one(calls[0]) if len(calls) == 1 else asyncio.gather(*(self._run_one(c) for c in calls))
        results = await self._within_deadline(pending, start)
        results = [results] if len(calls) == 1 else results
        step.tool_seconds = time.perf_counter() - t0
        step.actions = list(results)
        step.observation = "\n".join(P.format_tool_response(a.observation) for a in step.actions)
        for a in step.actions:
            self._emit("observation", a.observation, step.index, {"name": a.name})

    async def _run_one(self, call: P.ToolCall) -> Action:
        action = Action(name=call.name, arguments=call.arguments, error=call.error)
        t0 = time.perf_counter()
        if not call.ok:
            action.observation = (f"Error: {call.error}. Write each call as "
                                  '{"name": <tool name>, "arguments": {...}} inside <tool_call></tool_call>.')
        elif call.name not in self.tools:
            action.error = f"unknown tool {call.name!r}"
            action.observation = f"Error: unknown tool {call.name!r}. Available tools: {', '.join(self.tools)}."
        else:
            tool = self.tools[call.name]
            try:
                async with asyncio.timeout(self.config.tool_timeout):  # unlike wait_for, no extra task
                    action.observation = await tool(call.arguments)
            except TimeoutError:
                action.observation = f"[{call.name}] Error: the tool did not answer within {self.config.tool_timeout:g} s."
            except Exception as e:  # Tool.__call__ never raises, but third-party tools might
                action.observation = f"[{call.name}] Error: {type(e).__name__}: {e}"
        cap = self.config.max_observation_chars
        if cap is not None and len(action.observation) > cap:
            action.observation = action.observation[:cap] + "\n[... content truncated]"
        action.seconds = time.perf_counter() - t0
        return action

    # --- native function calling ------------------------------------------------------------
    def _api_assistant(self, step: Step, calls: list[P.ToolCall]) -> dict[str, Any]:
        if not (self.config.function_calling and calls and all(c.id for c in calls)):
            return {"role": "assistant", "content": step.text}
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}} for c in calls]}

    def _api_observations(self, step: Step, calls: list[P.ToolCall]) -> list[dict[str, Any]]:
        if not (self.config.function_calling and calls and all(c.id for c in calls)):
            return [{"role": "user", "content": step.observation}]
        return [{"role": "tool", "tool_call_id": c.id, "content": P.escape_observation(a.observation)}
                for c, a in zip(calls, step.actions, strict=True)]

    # --- helpers --------------------------------------------------------------------------------
    def _echoes(self) -> list[str]:
        """The agent's own instruction texts (nudges, final-answer orders, the system prompt): a
        reply that repeats one of them is not answering with it."""
        date = self.config.date or _dt.date.today().isoformat()
        texts = [v for k, v in self.prompts.items() if k not in ("system", "user") and isinstance(v, str)]
        try:
            texts.append(self.prompts["system"].format(date=date))
        except (KeyError, IndexError, ValueError):
            pass
        return [t for t in texts if len(t.strip()) >= 20]  # whole instructions, not a tag or a word

    async def _within_deadline(self, awaitable: Any, start: float) -> Any:
        if self.config.max_seconds is None:
            return await awaitable
        left = self.config.max_seconds - (time.perf_counter() - start)
        try:
            if left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):
                return await awaitable
        except TimeoutError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Deadline from None

    def _emit(self, kind: str, text: str, step: int = 0, data: dict[str, Any] | None = None) -> None:
        if self.on_event is not None:  # displays print and serve events: no secret in them
            self.on_event(Event(kind, redact(text), step, data or {}))
