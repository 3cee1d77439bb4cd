"""verl's custom reward for webagent rollouts: ``R = 0.1 * format + 0.9 * answer`` with our judges.

Point verl at this file::

    reward.custom_reward_function.path=$(python -c "import webagent.integrations.verl.reward as m; print(m.__file__)")
    reward.custom_reward_function.name=compute_score

verl passes the decoded response of a multi-turn rollout as ``solution_str``: the assistant turns
with the tool turns between them (``<tool_response>`` blocks, with or without the chat template's
role markers). :func:`solution_trajectory` splits it back into assistant turns, the format part is
:func:`webagent.train.reward.format_problem` (the rule our own RL uses) and the answer part is the
verdict of the judge named in ``extra_info["judge"]`` (the offline rule judge when absent; an LLM
judge as ``{"name": "llm:browsecomp", "model": ..., "base_url": ..., "api_key_env": ...}``,
whose key is read from the environment, never from the data).
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

from webagent import aio
from webagent import protocol as P
from webagent import trajectory as T
from webagent.trajectory import Step, Trajectory

_SPECIAL_RE = re.compile(r"<\|[^|<>]{1,40}\|>")
_TURN_SPLIT_RE = re.compile(r"\s*(?:\buser\s*\n)?\s*<tool_response>.*?</tool_response>\s*(?:\bassistant\s*\n)?",
                            re.DOTALL)
_judges: dict[tuple, Any] = {}
_lock = threading.Lock()


def solution_trajectory(solution_str: str, question: str = "") -> Trajectory:
    """The assistant turns of a decoded multi-turn response as a trajectory (no observations)."""
    text = _SPECIAL_RE.sub("", solution_str)
    parts = [p.strip() for p in _TURN_SPLIT_RE.split(text)]
    parts = [p[len("assistant"):].lstrip() if p.startswith("assistant\n") else p for p in parts]
    parts = [p for p in parts if p]
    traj = Trajectory(question=question, agent="react", policy="verl rollout", started_at=0.0)
    for i, part in enumerate(parts):
        reply = P.parse_reply(part)
        traj.steps.append(Step(index=i, text=part, thought=reply.think, answer=reply.answer))
    last = traj.steps[-1] if traj.steps else None
    if last is not None and last.answer is not None:
        traj.answer, traj.termination = last.answer, T.ANSWER
    else:
        traj.termination = T.NOT_FOUND
    return traj


def judge_for(settings: dict[str, Any] | None) -> Any:
    """The judge a row names. The rule judge is shared; an LLM judge is made per call, because its
    HTTP client belongs to the event loop of the call that made it."""
    from webagent.eval.runner import EvalConfig, make_judge

    settings = dict(settings or {})
    name = settings.get("name") or "rule"
    key = (name, settings.get("model") or None, settings.get("base_url") or None, settings.get("api_key_env") or None)
    make = lambda: make_judge(EvalConfig(benchmark="-", judge=name, judge_model=key[1], judge_base_url=key[2],  # noqa: E731
                                         judge_api_key_env=key[3] or "OPENAI_API_KEY"))
    if name != "rule":
        return make()
    with _lock:
        if key not in _judges:
            _judges[key] = make()
        return _judges[key]


async def compute_score_async(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                              **kwargs: Any) -> dict[str, Any]:
    """As :func:`compute_score`, for verl's async reward loop."""
    from webagent.train.reward import RewardConfig, score

    info = dict(extra_info or {})
    cfg = RewardConfig(format_weight=float(kwargs.get("format_weight", 0.1)),
                       answer_weight=float(kwargs.get("answer_weight", 0.9)),
                       answer_only=bool(kwargs.get("answer_only", False)))
    traj = solution_trajectory(solution_str, str(info.get("question") or ""))
    gold = list(ground_truth) if isinstance(ground_truth, list | tuple) else ground_truth
    task = {"question": traj.question, "answer": gold, "aliases": list(info.get("aliases") or [])}
    tools = set(info.get("tool_names") or ["search", "visit"])
    parts = await score(traj, task, judge_for(info.get("judge")), cfg, tool_names=tools, generated_tokens=0)
    return {"score": parts.total, "format": parts.format, "answer": parts.answer, "acc": float(parts.correct),
            "pred": traj.answer or ""}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """verl's custom-reward entry point: ``{"score", "format", "answer", "acc", "pred"}``.

    ``score`` is ``0.1 * format + 0.9 * answer`` (weights overridable through verl's
    ``reward_kwargs``: ``format_weight``, ``answer_weight``, ``answer_only``); ``acc`` is the 0/1
    verdict that DAPO's group filter (``filter_groups.metric=acc``) reads."""
    coro = compute_score_async(data_source, solution_str, ground_truth, extra_info, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return aio.run(coro)
    # Called from inside a running loop (a synchronous caller in an async worker): use a thread.
    result: dict[str, Any] = {}

    def run() -> None:
        result.update(aio.run(coro))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return result
