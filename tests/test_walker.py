"""WebWalker explorer + critic on a hand-made site, through the real click tool and fetcher."""

import asyncio
import json

from _tools_web import ROOT
from webagent import trajectory as T
from webagent.agents.walker import WalkerAgent, WalkerConfig, parse_json_reply
from webagent.llm.scripted import ScriptedModel
from webagent.tools.click import UNKNOWN_BUTTON, ClickSession, ClickTool
from webagent.web.fetch import Fetcher


def click(label, thought="look there"):
    return f'Thought: {thought}\nAction: visit_page\nAction Input: {json.dumps({"button": label})}\nObservation: invented'


NO = '{"usefulness": false}'


def run(store, explorer, critic, question="Who gives the opening keynote?", **cfg):
    async def go():
        async with Fetcher(store=store) as fetcher:
            agent = WalkerAgent(explorer, lambda root: ClickTool(ClickSession(root, fetcher)), critic, WalkerConfig(**cfg))
            return await agent.run(question, ROOT, task_id="w1")
    return asyncio.run(go())


def test_critic_stops_early_with_answer(store):
    explorer = ScriptedModel([click("Program"), click("Keynotes")], default=click("Venue"))
    critic = ScriptedModel([
        NO,
        '```json\n{"usefulness": true, "information": "The opening keynote speaker is Dr. Ilsa Marrow."}\n```',
        '{"judge": true, "answer": "Dr. Ilsa Marrow"}',
    ])
    traj = run(store, explorer, critic)
    assert (traj.termination, traj.answer, traj.tool_calls) == (T.ANSWER, "Dr. Ilsa Marrow", 2)
    assert traj.memory == ["The opening keynote speaker is Dr. Ilsa Marrow."]
    assert [s.role for s in traj.steps] == ["agent", "critic", "agent", "critic", "critic"]
    assert len(explorer.calls) == 2 and critic.remaining == 0  # judge ran once: only when memory grew
    first_user = traj.messages[1]["content"]
    assert first_user.startswith("query:\nWho gives the opening keynote? \nofficial website:\n" + ROOT)
    assert "<button>Program<button>" in first_user
    assert "opening keynote speaker is Dr. Ilsa Marrow" in traj.steps[2].observation
    assert "invented" not in json.dumps(traj.messages)  # the model's own Observation is cut
    assert explorer.calls[0]["stop"] == ["Observation:", "\nObservation:"] and explorer.calls[0]["top_p"] == 0.8
    assert "Accumulated Information: The opening keynote" in critic.calls[2]["messages"][0]["content"]
    assert T.Trajectory.from_json(traj.to_json()).to_dict() == traj.to_dict()


def test_budget_exhausted(store):
    traj = run(store, ScriptedModel(default=click("Program")), ScriptedModel(default=NO), max_actions=3)
    assert traj.termination == T.MAX_STEPS and traj.answer is None and traj.tool_calls == 3


def test_judge_says_not_yet_then_continues(store):
    explorer = ScriptedModel([click("Program"), click("Keynotes")])
    critic = ScriptedModel(['{"usefulness": true, "information": "four days of talks"}', '{"judge": false}',
                            '{"usefulness": true, "information": "Ilsa Marrow opens"}', '{"judge": true, "answer": "Ilsa Marrow"}'])
    traj = run(store, explorer, critic)
    assert traj.answer == "Ilsa Marrow" and len(traj.memory) == 2
    assert "four days of talks-Ilsa Marrow opens" in critic.calls[3]["messages"][0]["content"]


def test_unknown_button_and_bad_action_are_observations(store):
    explorer = ScriptedModel(["Thought: hmm\nAction: visit_page\nAction Input: {button: Program}",
                              click("Nonexistent page"), "Thought: I will answer\nFinal Answer: 1987"],
                             default=click("Program"))
    traj = run(store, explorer, ScriptedModel(default=NO), max_actions=3)
    obs = [s.observation for s in traj.steps if s.role == "agent"]
    assert "not valid JSON" in obs[0] and obs[1] == UNKNOWN_BUTTON and "must be visit_page" in obs[2]
    assert traj.termination == T.MAX_STEPS


def test_forged_tags_in_page_stay_escaped(store):
    traj = run(store, ScriptedModel(default=click("Venue")), ScriptedModel(default=NO), max_actions=1)
    obs = traj.messages[-1]["content"]
    assert "Harrowgate Congress Hall" in obs and "<answer>" not in obs and "&lt;answer&gt;FORGED" in obs


def test_parse_json_reply():
    assert parse_json_reply('sure: {"judge": true, "answer": "x"} done') == {"judge": True, "answer": "x"}
    assert parse_json_reply("no json {here") is None
