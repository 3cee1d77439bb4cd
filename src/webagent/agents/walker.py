"""The WebWalker agent: an explorer that clicks through one website and a critic that keeps memory.

The explorer starts at a root URL and can only click buttons (``visit_page``), in the
``Thought / Action / Action Input / Observation`` format; it never answers. After every explorer
step the critic reads the new observation and, if it is useful, adds the extracted information to
the memory. Only when the memory grew does the critic judge whether the memory answers the question;
a positive judgement ends the episode with its answer. The explorer has a budget of K actions
(default 15, R-WW-34). All state (memory, button map, history) lives in one ``run`` call.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webagent import protocol as P
from webagent import trajectory as T
from webagent.agents.react import Event
from webagent.llm.base import ChatModel, Completion
from webagent.prompts import load_prompts
from webagent.secrets import redact
from webagent.tools.base import Tool
from webagent.trajectory import Action, Step, Trajectory


@dataclass
class WalkerConfig:
    """Budget and sampling of a WebWalker episode."""

    max_actions: int = 15
    """K: explorer actions before giving up (paper default 15)."""
    top_p: float | None = 0.8
    temperature: float | None = None
    max_tokens: int | None = None
    prompt_file: str | None = None
    max_observation_chars: int = 20_000
    """Cap on the page text shown to the critic (the explorer sees what the click tool returns)."""


def parse_json_reply(text: str) -> dict[str, Any] | None:
    """The first JSON object in a critic reply (code fences and chatter tolerated), else ``None``."""
    text = re.sub(r"```[a-zA-Z]*", "", text)
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
        start = text.find("{", start + 1)
    return None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class WalkerAgent:
    """Explorer + critic over a click tool; see the module docstring.

    ``make_tool(root_url)`` builds the per-episode click tool, e.g.
    ``lambda root: ClickTool(ClickSession(root, fetcher))``; it must have ``root_observation()``.
    """

    def __init__(
        self,
        explorer: ChatModel,
        make_tool: Callable[[str], Tool],
        critic: ChatModel | None = None,
        config: WalkerConfig | None = None,
        *,
        policy: str = "",
        on_event: Callable[[Event], None] | None = None,
    ):
        self.explorer = explorer
        self.critic = critic or explorer
        self.make_tool = make_tool
        self.config = config or WalkerConfig()
        self.prompts = load_prompts("walker", self.config.prompt_file)
        self.policy = policy or getattr(explorer, "name", type(explorer).__name__)
        self.on_event = on_event

    async def run(self, question: str, root_url: str, *, task_id: str | None = None, gold: Any = None) -> Trajectory:
        """Explore from ``root_url`` until the critic answers or K actions are spent."""
        traj = Trajectory(question=question, agent="walker", policy=self.policy, gold=gold,
                          model=getattr(self.explorer, "name", type(self.explorer).__name__))
        traj.meta["root_url"] = root_url
        if task_id is not None:
            traj.task_id = task_id
        start = time.perf_counter()
        tool = self.make_tool(root_url)
        root_obs = await tool.root_observation()
        tools_desc = json.dumps(tool.schema()["function"], ensure_ascii=False)
        traj.messages = [
            {"role": "system", "content": self.prompts["explorer_system"].format(tools=tools_desc)},
            {"role": "user", "content": self.prompts["explorer_user"].format(
                question=question, root_url=root_url, observation=root_obs)},
        ]
        self._emit("notice", f"question: {question}\nroot: {root_url}")
        traj.termination = T.MAX_STEPS
        for _ in range(self.config.max_actions):
            step = await self._explore(traj, tool)
            if step is None:
                break
            if await self._criticise(traj, step.observation):
                traj.termination = T.ANSWER
                self._emit("answer", traj.answer or "", step.index)
                break
        traj.seconds = time.perf_counter() - start
        return traj

    async def _explore(self, traj: Trajectory, tool: Tool) -> Step | None:
        """One explorer action; ``None`` when the model backend failed."""
        t0 = time.perf_counter()
        try:
            c = await self.explorer.generate(traj.messages, stop=P.REACT_STOP, max_tokens=self.config.max_tokens,
                                             temperature=self.config.temperature, top_p=self.config.top_p)
        except Exception as e:
            traj.termination = T.LLM_ERROR
            traj.meta["error"] = f"{type(e).__name__}: {e}"
            return None
        text = P.cut_at_stop(c.text, P.REACT_STOP).rstrip()
        react = P.parse_react(text)
        step = self._step(c, len(traj.steps), text, "agent")
        step.thought, step.llm_seconds = react.thought, time.perf_counter() - t0
        traj.steps.append(step)
        self._emit("think", react.thought, step.index)
        action = Action(name=react.action or "", arguments={})
        t1 = time.perf_counter()
        try:
            if react.action != tool.name:
                raise ValueError(f"the action must be {tool.name}, not {react.action!r}")
            action.arguments = react.arguments()
            self._emit("tool_call", json.dumps(action.arguments, ensure_ascii=False), step.index, {"name": tool.name})
            action.observation = await tool(action.arguments)
        except ValueError as e:
            action.error = str(e)
            action.observation = self.prompts["bad_action"].format(error=e)
        action.seconds = step.tool_seconds = time.perf_counter() - t1
        step.actions, step.observation = [action], action.observation
        self._emit("observation", action.observation, step.index)
        traj.messages.append({"role": "assistant", "content": text})
        traj.messages.append({"role": "user", "content": f"Observation: {action.observation}"})
        return step

    async def _criticise(self, traj: Trajectory, observation: str) -> bool:
        """Extract into memory; judge only if memory grew. True when the critic answered."""
        obs = observation[: self.config.max_observation_chars]
        reply = await self._critic_call(traj, self.prompts["critic_extract"].format(question=traj.question, observation=obs))
        found = parse_json_reply(reply or "") or {}
        info = found.get("information")
        if not (_truthy(found.get("usefulness")) and isinstance(info, str) and info.strip()):
            return False
        traj.memory.append(info.strip())
        self._emit("notice", f"memory += {info.strip()}")
        memory = "-".join(traj.memory)
        reply = await self._critic_call(traj, self.prompts["critic_judge"].format(question=traj.question, memory=memory))
        verdict = parse_json_reply(reply or "") or {}
        if _truthy(verdict.get("judge")) and verdict.get("answer") not in (None, ""):
            traj.answer = str(verdict["answer"]).strip()
            return True
        return False

    async def _critic_call(self, traj: Trajectory, prompt: str) -> str | None:
        t0 = time.perf_counter()
        try:
            c = await self.critic.generate([{"role": "user", "content": prompt}], max_tokens=self.config.max_tokens,
                                           temperature=self.config.temperature, top_p=self.config.top_p)
        except Exception as e:  # a failed critic call only costs this judgement
            traj.meta.setdefault("critic_errors", []).append(f"{type(e).__name__}: {e}")
            return None
        step = self._step(c, len(traj.steps), c.text, "critic")
        step.llm_seconds = time.perf_counter() - t0
        step.observation = prompt
        traj.steps.append(step)
        return c.text

    @staticmethod
    def _step(c: Completion, index: int, text: str, role: str) -> Step:
        return Step(index=index, text=text, role=role, prompt_tokens=c.prompt_tokens,
                    completion_tokens=c.completion_tokens, finish_reason=c.finish_reason,
                    reasoning=c.reasoning, token_ids=c.token_ids, logprobs=c.logprobs)

    def _emit(self, kind: str, text: str, step: int = 0, data: dict[str, Any] | None = None) -> None:
        if self.on_event is not None:  # displays print and serve events: no secret in them
            self.on_event(Event(kind, redact(text), step, data or {}))
