"""Live episodes for the UI: start an agent in the server's event loop and keep its events so that
any number of browser streams (Server-Sent Events) can follow it, and reconnect, from any point.

The agents report through ``on_event`` (a plain callback); a :class:`LiveSession` appends each
event to a list and wakes the streams waiting on it. Nothing here renders HTML: events go to the
browser as JSON and the page shows them with ``textContent``, so no text can become markup.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent.agents.react import Event
from webagent.trajectory import Trajectory

ModelFactory = Callable[["LiveRequest"], Any]
"""Builds the ``ChatModel`` (or policy) of one live request."""


@dataclass
class LiveRequest:
    """What the Live form sends."""

    question: str
    agent: str = "react"
    """``react`` (search + visit) or ``walker`` (click-only from ``root_url``)."""
    root_url: str = ""
    llm: str = "baseline"
    model: str = ""
    base_url: str = ""
    web: str = "offline"
    max_llm_calls: int = 20
    max_actions: int = 15

    @classmethod
    def from_dict(cls, d: dict[str, Any], llms: list[str]) -> LiveRequest:
        """Validate a form; every problem is a ``ValueError`` with a message for the page."""
        q = str(d.get("question") or "").strip()
        if not q:
            raise ValueError("ask a question first")
        if len(q) > 4000:
            raise ValueError("the question is too long (4000 characters at most)")
        req = cls(question=q, agent=str(d.get("agent") or "react"), root_url=str(d.get("root_url") or "").strip(),
                  llm=str(d.get("llm") or "baseline"), model=str(d.get("model") or "").strip(),
                  base_url=str(d.get("base_url") or "").strip(), web=str(d.get("web") or "offline"))
        if req.agent not in ("react", "walker"):
            raise ValueError(f"unknown agent {req.agent!r} (react or walker)")
        if req.agent == "walker" and not req.root_url.startswith(("http://", "https://")):
            raise ValueError("WebWalker needs a root URL (http://… or https://…)")
        if req.llm not in llms:
            raise ValueError(f"unknown model choice {req.llm!r} (have: {', '.join(llms)})")
        if req.web not in ("offline", "live"):
            raise ValueError(f"unknown web {req.web!r} (offline or live)")
        for name, lo, hi in (("max_llm_calls", 1, 100), ("max_actions", 1, 50)):
            if d.get(name) not in (None, ""):
                try:
                    value = int(d[name])
                except (TypeError, ValueError):
                    raise ValueError(f"{name} must be a whole number") from None
                setattr(req, name, max(lo, min(hi, value)))
        return req


@dataclass
class LiveSession:
    """One episode's events, kept for replay, and its trajectory once done."""

    request: LiveRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    events: list[dict[str, Any]] = field(default_factory=list)
    trajectory: Trajectory | None = None
    error: str | None = None
    done: bool = False
    started: float = field(default_factory=time.time)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    def push(self, kind: str, text: str, step: int = 0, data: dict[str, Any] | None = None) -> None:
        self.events.append({"seq": len(self.events), "kind": kind, "text": text, "step": step, "data": data or {}})
        self._changed.set()

    def on_event(self, event: Event) -> None:
        # Tool-call data holds the parsed arguments; keep only JSON-safe parts.
        data = {k: v for k, v in (event.data or {}).items() if k in ("name", "arguments", "error")}
        self.push(event.kind, event.text, event.step, json.loads(json.dumps(data, default=str)))

    def finish(self, traj: Trajectory | None, error: str | None = None) -> None:
        self.trajectory, self.error = traj, error
        if traj is not None:
            self.push("done", traj.answer if traj.answer is not None else "", len(traj.steps), {
                "answer": traj.answer, "termination": traj.termination, "llm_calls": traj.llm_calls,
                "tool_calls": traj.tool_calls, "seconds": round(traj.seconds, 2), "policy": traj.policy})
        else:
            self.push("failed", error or "the episode failed")
        self.done = True

    async def stream(self, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Events from ``start`` on, waiting for new ones until the episode is done."""
        i = start
        while True:
            while i < len(self.events):
                yield self.events[i]
                i += 1
            if self.done:
                return
            self._changed.clear()
            if i < len(self.events):
                continue
            await self._changed.wait()


class LiveSessions:
    """The UI's episodes: started here, looked up by id, the oldest finished ones forgotten."""

    def __init__(self, run_episode: Callable[[LiveSession], Any], keep: int = 50, max_running: int = 4):
        self.run_episode = run_episode
        self.keep, self.max_running = keep, max_running
        self.sessions: OrderedDict[str, LiveSession] = OrderedDict()
        self._counter = itertools.count()

    def running(self) -> int:
        return sum(not s.done for s in self.sessions.values())

    def start(self, request: LiveRequest) -> LiveSession:
        if self.running() >= self.max_running:
            raise ValueError(f"{self.max_running} episodes are already running; wait for one to finish")
        session = LiveSession(request)
        self.sessions[session.id] = session
        self._forget_old()
        session._task = asyncio.get_running_loop().create_task(self._run(session))
        return session

    async def _run(self, session: LiveSession) -> None:
        try:
            traj = await self.run_episode(session)
        except asyncio.CancelledError:
            session.finish(None, "cancelled")
            raise
        except Exception as e:  # a bad configuration (no API key, no world) shows on the page
            session.finish(None, f"{type(e).__name__}: {e}")
            return
        session.finish(traj)

    def get(self, session_id: str) -> LiveSession | None:
        return self.sessions.get(session_id)

    def _forget_old(self) -> None:
        for sid in [k for k, s in self.sessions.items() if s.done][: max(0, len(self.sessions) - self.keep)]:
            del self.sessions[sid]

    async def aclose(self) -> None:
        tasks = [s._task for s in self.sessions.values() if s._task and not s._task.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def sse(event: dict[str, Any]) -> str:
    """One Server-Sent Event; the id lets a reconnecting browser resume after it."""
    return f"id: {event['seq']}\nevent: {event['kind']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"


# --- models --------------------------------------------------------------------------------------

def default_models() -> dict[str, tuple[str, ModelFactory]]:
    """The model choices of the Live form: label and factory."""
    return {
        "baseline": ("rule-based baseline (no model)", _baseline),
        "local": ("local model directory (default: the shipped nano checkpoint)", _local),
        "openai": ("OpenAI-compatible server", _openai),
    }


def _baseline(req: LiveRequest) -> Any:
    from webagent.agents.baseline import BaselinePolicy
    from webagent.agents.walker_baseline import WalkerBaselinePolicy

    return WalkerBaselinePolicy() if req.agent == "walker" else BaselinePolicy()


def _local(req: LiveRequest) -> Any:
    """A Hugging Face model directory on this machine, run in its own runtime when it has one
    (``webagent_agent.json``: the prompt, search hits and evidence budget it was trained with)."""
    from webagent.checkpoints import default_policy, load_runtime, runtime_grounding
    from webagent.llm.factory import make_model

    path = req.model
    if not path:
        default, why = default_policy()
        if default is None:
            raise ValueError(f"name a model directory (the shipped policy is not available: {why})")
        path = str(default)
    if not Path(path).is_dir():
        raise ValueError(f"no model directory at {path}")
    runtime = load_runtime(path)
    model = make_model("local", path, grounding=runtime_grounding(path, req.agent))  # as it was measured
    model.runtime = runtime  # read by run_agent
    return model


def _openai(req: LiveRequest) -> Any:
    from webagent.llm.factory import make_model

    if not req.model:
        raise ValueError("name the model served at the base URL")
    # The API key is read from $OPENAI_API_KEY on the server, never sent by the browser.
    return make_model("openai", req.model, base_url=req.base_url or None)


async def run_agent(session: LiveSession, model: Any, toolbox: Any) -> Trajectory:
    """Run the requested agent with ``model`` on ``toolbox``'s tools, reporting to ``session``."""
    req = session.request
    policy = getattr(model, "name", "") or type(model).__name__
    try:
        if req.agent == "walker":
            from webagent.agents.walker import WalkerAgent, WalkerConfig

            agent = WalkerAgent(model, toolbox.click_tool, config=WalkerConfig(max_actions=req.max_actions),
                                policy=policy, on_event=session.on_event)
            return await agent.run(req.question, req.root_url)
        from webagent.agents.react import ReactAgent, ReactConfig

        runtime = getattr(model, "runtime", None)  # a trained checkpoint's own runtime (see _local)
        if runtime is None:
            agent = ReactAgent(model, toolbox.react_tools, ReactConfig(max_llm_calls=req.max_llm_calls),
                               policy=policy, on_event=session.on_event)
            return await agent.run(req.question)
        from webagent.checkpoints import ANSWER_TEMPERATURE

        config = runtime.react_config(max_llm_calls=min(req.max_llm_calls, runtime.max_llm_calls),
                                      temperature=ANSWER_TEMPERATURE)  # one answer: greedy, as in the demo
        async with runtime.toolbox(toolbox.config, world=toolbox.world) as tools:
            agent = ReactAgent(model, tools.react_tools, config, policy=policy, on_event=session.on_event)
            return await agent.run(req.question)
    finally:
        if hasattr(model, "aclose"):
            await model.aclose()
