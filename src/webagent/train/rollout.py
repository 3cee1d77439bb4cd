"""RL rollouts on the agent runtime: the ReAct agent, a local policy, real tools, token-exact rows.

A rollout is one episode of :class:`~webagent.agents.react.ReactAgent` whose model is the policy
being trained (a :class:`~webagent.llm.local.LocalModel` sharing its weights) and whose tools are
the real ``search``/``visit`` tools of a :class:`~webagent.tools.toolbox.Toolbox`. Every model call
is recorded with the ids the policy was actually fed, the ids it sampled and their logprobs.

Training rows are built from those records only, never by re-tokenizing the chat (token-in,
token-out): a row starts with a call's prompt ids (mask 0), then its sampled ids (mask 1, with the
sampling logprobs as ``old_logprobs``). When the next call's prompt extends the row exactly, only
the new tokens are appended (the tool observation, mask 0) and its sampled ids follow; otherwise
(the model's ids were not the canonical tokenization of its text, or it stopped on a stop string
that the runtime replaced by ``<|im_end|>``) a new row starts from that prompt. So every trained
token sits in exactly the context it was sampled in, and is trained once. For a policy that ends
its turns with ``<|im_end|>`` in canonical tokens, the one row is the mask contract's
:func:`~webagent.train.masking.encode_trajectory` of the episode, token for token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from webagent import trajectory as T
from webagent.llm.base import Completion
from webagent.train.grpo import Group
from webagent.train.reward import RewardConfig, RewardParts, score


@dataclass
class Row:
    """One training sequence: ids, the loss mask and the behaviour logprob of each trained token
    (with grounded decoding, also the tokens each sampled one was chosen among)."""

    input_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    old_logprobs: list[float] = field(default_factory=list)
    token_masks: list[bytes | None] = field(default_factory=list)
    """Packed allowed-token masks (``Completion.token_masks``); None where unconstrained."""

    def __len__(self) -> int:
        return len(self.input_ids)

    def extend(self, ids: Sequence[int], mask: int, logprobs: Sequence[float] | None = None,
               token_masks: Sequence[bytes | None] | None = None) -> None:
        self.input_ids += ids
        self.loss_mask += [mask] * len(ids)
        self.old_logprobs += list(logprobs) if logprobs is not None else [0.0] * len(ids)
        self.token_masks += list(token_masks) if token_masks is not None else [None] * len(ids)


@dataclass
class Rollout:
    """One finished episode, ready to train on."""

    task: dict[str, Any]
    trajectory: T.Trajectory
    rows: list[Row]
    reward: RewardParts

    @property
    def generated_tokens(self) -> int:
        return sum(sum(r.loss_mask) for r in self.rows)

    @property
    def truncated(self) -> bool:
        """Cut by a limit: a turn hit ``max_tokens`` or the episode ran out of budget."""
        cut_turn = any(s.finish_reason == "length" for s in self.trajectory.steps)
        return cut_turn or self.trajectory.termination not in (T.ANSWER, T.NOT_FOUND)


class RecordingModel:
    """A ``ChatModel`` wrapper that keeps every completion of one episode (ids and logprobs)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.calls: list[Completion] = []

    async def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> Completion:
        c = await self.inner.generate(messages, **kwargs)
        self.calls.append(c)
        return c


def build_rows(calls: Sequence[Completion]) -> list[Row]:
    """Token-exact training rows from an episode's completions (see the module docstring)."""
    rows: list[Row] = []
    for i, c in enumerate(calls):
        if c.prompt_token_ids is None or c.token_ids is None or c.logprobs is None:
            raise ValueError(f"call {i}: the backend returned no token ids/logprobs; RL needs a local backend")
        if len(c.token_ids) != len(c.logprobs):
            raise ValueError(f"call {i}: {len(c.token_ids)} token ids but {len(c.logprobs)} logprobs")
        prompt = list(c.prompt_token_ids)
        row = rows[-1] if rows else None
        if row is not None and len(prompt) >= len(row) and prompt[:len(row)] == row.input_ids:
            row.extend(prompt[len(row):], 0)
        else:
            row = Row()
            rows.append(row)
            row.extend(prompt, 0)
        row.extend(c.token_ids, 1, c.logprobs, c.token_masks)
    return rows


@dataclass
class RolloutConfig:
    """Budgets and sampling of RL episodes."""

    group_size: int = 8
    max_tokens: int = 1024
    """Generation cap per assistant turn."""
    max_llm_calls: int = 12
    max_context_tokens: int | None = None
    """Context cap of the agent (default: the model's positions minus one turn's ``max_tokens``)."""
    temperature: float = 1.0
    top_p: float = 1.0
    concurrency: int = 64
    """Episodes in flight at once (their model calls are batched together)."""
    max_observation_chars: int | None = 4000
    tool_timeout: float = 60.0
    date: str = "2025-01-01"
    """Fixed date in the system prompt, so rollouts do not depend on the day."""
    prompt_file: str | None = None
    """Another ReAct prompt file (TOML), e.g. the one the policy was fine-tuned with."""


class RolloutRunner:
    """Runs groups of episodes of a policy on a toolbox and scores them."""

    def __init__(self, model: Any, tools: Sequence[Any] | Callable[[dict[str, Any]], Sequence[Any]], judge: Any,
                 config: RolloutConfig | None = None, reward: RewardConfig | None = None):
        """``tools``: the tools of every episode, or a function giving a task's own (each task on
        its own world)."""
        self.model, self.judge = model, judge
        self.tools_for = tools if callable(tools) else (lambda task, tools=list(tools): tools)
        self.config = config or RolloutConfig()
        self.reward = reward or RewardConfig()

    def _agent(self, recorder: RecordingModel, tools: Sequence[Any]):
        from webagent.agents.react import ReactAgent, ReactConfig

        cfg = self.config
        limit = cfg.max_context_tokens
        positions = getattr(self.model, "max_positions", None)
        if limit is None and positions:
            limit = max(1, positions - cfg.max_tokens - 8)
        rc = ReactConfig(max_llm_calls=cfg.max_llm_calls, max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                         top_p=cfg.top_p, max_observation_chars=cfg.max_observation_chars,
                         tool_timeout=cfg.tool_timeout, date=cfg.date, prompt_file=cfg.prompt_file, max_context_tokens=limit or 31 * 1024)
        counter = None
        if hasattr(self.model, "prompt_ids"):  # count with the policy's own tokenizer, not an estimate
            counter = lambda messages: len(self.model.prompt_ids(messages))  # noqa: E731
        return ReactAgent(recorder, tools, rc, policy="rl-policy", token_counter=counter)

    async def episode(self, task: dict[str, Any]) -> Rollout:
        recorder = RecordingModel(self.model)
        tools = list(self.tools_for(task))
        traj = await self._agent(recorder, tools).run(task["question"], task_id=str(task.get("id", "")), gold=task.get("answer"))
        rows = build_rows(recorder.calls)
        generated = sum(len(c.token_ids or []) for c in recorder.calls)
        parts = await score(traj, task, self.judge, self.reward, tool_names={t.name for t in tools},
                            generated_tokens=generated)
        return Rollout(task, traj, rows, parts)

    async def groups(self, tasks: Sequence[dict[str, Any]], group_size: int | None = None,
                     on_done: Any = None) -> list[Group]:
        """Run ``group_size`` episodes per task, at most ``concurrency`` at once, in task order."""
        g = group_size or self.config.group_size
        sem = asyncio.Semaphore(max(1, self.config.concurrency))

        async def one(task):
            async with sem:
                r = await self.episode(task)
            if on_done is not None:
                on_done(r)
            return r

        flat = await asyncio.gather(*(one(t) for t in tasks for _ in range(g)))
        out = []
        for k, task in enumerate(tasks):
            rs = list(flat[k * g:(k + 1) * g])
            out.append(Group(task, [r.reward.total for r in rs], [r.reward.correct for r in rs], rs))
        return out
