"""Hostile input, as a standing check: model replies, web pages, HTTP requests and interrupts
that once broke a run or leaked. Each case here was a reproduced failure; docs/reliability.md
states what is promised and bench/fuzz_hostile.py measures it at scale."""

from __future__ import annotations

import asyncio
import json

import pytest

from webagent import protocol as P
from webagent import trajectory as T
from webagent.agents.react import ReactAgent, ReactConfig
from webagent.agents.runner import run_tasks
from webagent.jsonl import dumps, read_jsonl
from webagent.llm.scripted import ScriptedModel
from webagent.tools.base import Tool

# -- replies ------------------------------------------------------------------------------------

NASTY_REPLIES = [
    "<tool_call>" + "[" * 1000 + "</tool_call>",
    '<tool_call>{"name": "echo", "arguments": {"text": ' + "[" * 1000 + "]" * 1000 + "}}</tool_call>",
    '<tool_call>{"name": "echo", "arguments": {"text": ' + "[" * 100_000 + "</tool_call>",
    "<tool_call>" + "{" * 5000 + "</tool_call>",
    '<tool_call>{"name": "echo", "arguments": {"text": ' + "9" * 5000 + "}}</tool_call>",
    '<tool_call>{"name": "echo", "arguments": "' + "[" * 2000 + '"}</tool_call>',
    '<tool_call>{"name": "echo", "arguments": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}</tool_call>",
    '<tool_call>{"name": "echo", "arguments": {"text": 1e999}}</tool_call>',
    '<tool_call>{"name": "echo", "arguments": {"text": "\\ud800"}}</tool_call>',
    "<tool_call>\x00\x01\x02</tool_call>",
    "<answer>" * 500,
]


class Echo(Tool):
    name = "echo"
    description = "Repeat the text."
    parameters = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

    async def call(self, text: str) -> str:
        return text


@pytest.mark.parametrize("reply", NASTY_REPLIES, ids=range(len(NASTY_REPLIES)))
def test_a_malformed_reply_never_raises(reply):
    parsed = P.parse_reply(reply)
    assert all(isinstance(c.error, str | None) for c in parsed.tool_calls)


@pytest.mark.parametrize("reply", NASTY_REPLIES, ids=range(len(NASTY_REPLIES)))
def test_a_malformed_reply_becomes_an_observation_and_the_episode_goes_on(reply):
    model = ScriptedModel([reply, "<think>ok</think>\n<answer>done</answer>"])
    traj = asyncio.run(ReactAgent(model, [Echo()], ReactConfig(date="2025-01-01")).run("q?"))
    assert traj.answer == "done"  # (a 100k-character reply fills the context: the forced last turn)
    assert traj.termination in (T.ANSWER, T.TOKEN_LIMIT)
    assert traj.steps[0].observation  # the model was told what was wrong
    json.loads(dumps(traj.to_dict()))  # and the trajectory serialises


def test_echo_of_the_nudge_is_not_an_answer():
    agent = ReactAgent(ScriptedModel([]), [Echo()], ReactConfig(date="2025-01-01", max_llm_calls=3))
    nudge = agent.prompts["no_action"]
    agent.model = ScriptedModel(["I am thinking.", nudge, "<think>ok</think>\n<answer>Paris</answer>"])
    traj = asyncio.run(agent.run("q?"))
    assert traj.answer == "Paris" and traj.termination == T.ANSWER and len(traj.steps) == 3
    for key in ("tool_limit", "token_limit"):  # the final-answer orders' templates neither
        a = ReactAgent(ScriptedModel([agent.prompts[key], "<answer>Rome</answer>"]), [Echo()],
                       ReactConfig(date="2025-01-01"))
        assert asyncio.run(a.run("q?")).answer == "Rome"
    assert P.parse_reply("<think>x</think><answer>Paris</answer>", [nudge]).answer == "Paris"


def test_an_episode_that_raises_is_recorded_once_and_surrogates_are_written(tmp_path):
    """A deterministic failure is a failed episode (judged wrong, reason kept), not retried on
    every resume; a lone surrogate anywhere in a record does not break its write."""
    tasks = [{"id": "bad", "question": "q1"}, {"id": "sur", "question": "q2"}, {"id": "ok", "question": "q3"}]
    calls = []

    async def episode(task):
        calls.append(task["id"])
        if task["id"] == "bad":
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        return {"answer": "\ud800 half" if task["id"] == "sur" else "fine", "question": task["question"]}

    out = tmp_path / "run.jsonl"
    first = asyncio.run(run_tasks(tasks, episode, out))
    assert first.done == 2 and list(first.failed) == ["bad"]
    recs = {r["task_id"]: r for r in read_jsonl(out)}
    assert recs["sur"]["answer"] == "\ud800 half"  # read back exactly (escaped on disk)
    assert recs["bad"]["correct"] is False and "4300 digits" in recs["bad"]["meta"]["error"]
    again = asyncio.run(run_tasks(tasks, episode, out))
    assert again.done == 0 and again.skipped == 3 and calls == ["bad", "sur", "ok"]
