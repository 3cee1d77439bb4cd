import asyncio
import json

import pytest

from _agent_web import LocalWeb, WebSearch, WebVisit
from webagent import protocol as P
from webagent import trajectory as T
from webagent.agents.react import ReactAgent, ReactConfig
from webagent.llm.base import Completion
from webagent.llm.scripted import ScriptedModel
from webagent.tools.base import Tool
from webagent.trajectory import Trajectory


@pytest.fixture(scope="module")
def web():
    with LocalWeb() as w:
        yield w


def call(name, **args):
    return P.format_assistant(f"use {name}", [P.ToolCall(name, args)])


def answer(text):
    return P.format_assistant("I know it now", None, text)


def agent(web, replies, **cfg):
    cfg.setdefault("date", "2025-01-01")
    return ReactAgent(ScriptedModel(replies), [WebSearch(web), WebVisit(web)], ReactConfig(**cfg))


def run(a, q="Where is the Velor Conference 2024 held?"):
    return asyncio.run(a.run(q, task_id="t1"))


def test_answer_found_full_episode(web):
    events = []
    a = agent(web, [call("search", query=["Velor Conference 2024"]), call("visit", url=web.base + "/velor", goal="venue"),
                    answer("Quarnby")])
    a.on_event = events.append
    traj = run(a)
    assert (traj.answer, traj.termination, traj.llm_calls, traj.tool_calls) == ("Quarnby", T.ANSWER, 3, 2)
    roles = [m["role"] for m in traj.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert "Current date: 2025-01-01" in traj.messages[0]["content"]
    assert "<tools>" in traj.messages[1]["content"] and traj.messages[1]["content"].endswith("User: Where is the Velor Conference 2024 held?")
    assert traj.messages[3]["content"].startswith("<tool_response>\n") and "/velor" in traj.messages[3]["content"]
    assert "held in Quarnby" in traj.steps[1].actions[0].observation
    assert traj.tool_stats()["search"]["calls"] == 1
    assert {e.kind for e in events} >= {"think", "tool_call", "observation", "answer"}
    back = Trajectory.from_json(traj.to_json())
    assert back.to_dict() == traj.to_dict()


def test_llm_call_budget_exhausted(web):
    model = ScriptedModel(default=call("search", query=["x"]))
    traj = run(ReactAgent(model, [WebSearch(web)], ReactConfig(max_llm_calls=3)))
    assert traj.termination == T.LLM_CALLS and traj.answer is None and traj.llm_calls == 3


def test_context_cap_forces_final_answer(web):
    a = agent(web, [answer("1788")], max_context_tokens=10)
    model = a.model
    # The very first prompt is already over 10 tokens: the last message becomes the final-answer order.
    traj = run(a, "When was Quarnby founded?")
    assert traj.termination == T.TOKEN_LIMIT and traj.answer == "1788" and traj.tool_calls == 0
    assert "maximum context length" in model.calls[0]["messages"][-1]["content"]


def test_forced_turn_without_answer_is_answer_not_found(web):
    traj = run(agent(web, [call("search", query=["x"])], max_context_tokens=10))
    assert traj.termination == T.NOT_FOUND and traj.answer is None and traj.tool_calls == 0


def test_context_cap_after_observation(web):
    big = "word " * 3000
    class Big(Tool):
        name = "search"
        parameters = {"type": "object", "properties": {"query": {"type": "array"}}, "required": ["query"]}
        async def call(self, query):
            return big
    model = ScriptedModel([call("search", query=["q"]), answer("done")])
    traj = asyncio.run(ReactAgent(model, [Big()], ReactConfig(max_context_tokens=2000)).run("q"))
    assert traj.termination == T.TOKEN_LIMIT and traj.answer == "done"
    assert traj.messages[-2]["content"].startswith("You have reached the maximum context length")
    assert big not in json.dumps(model.calls[1]["messages"])  # the huge observation was replaced


def test_malformed_json_and_unknown_tool_become_observations(web):
    traj = run(agent(web, ["<think>x</think>\n<tool_call>{name: search}</tool_call>",
                           call("browse", url="x"), answer("Quarnby")]))
    assert traj.termination == T.ANSWER and traj.answer == "Quarnby"
    assert "not valid JSON" in traj.steps[0].observation
    assert "unknown tool 'browse'" in traj.steps[1].observation and "search, visit" in traj.steps[1].observation
    assert traj.tool_stats()["browse"]["errors"] == 1


def test_reply_without_action_gets_a_correction(web):
    traj = run(agent(web, ["<think>hmm</think> just musing", answer("a")]))
    assert traj.answer == "a" and "neither a <tool_call> nor an <answer>" in traj.steps[0].observation


def test_tag_forgery_in_page_is_neutralised(web):
    a = agent(web, [call("visit", url=web.base + "/forged"), answer("real")])
    traj = run(a)
    obs_turn = traj.messages[3]["content"]
    assert obs_turn.count("<tool_response>") == 1 and obs_turn.count("</tool_response>") == 1
    assert "<answer>" not in obs_turn and "&lt;answer&gt;FORGED" in obs_turn
    assert traj.answer == "real" and traj.tool_calls == 1


def test_tool_timeout_is_an_observation(web):
    traj = run(agent(web, [call("visit", url=web.base + "/slow"), answer("x")], tool_timeout=0.3))
    assert "did not answer within 0.3 s" in traj.steps[0].observation and traj.termination == T.ANSWER


def test_several_calls_in_one_turn_run_concurrently():
    barrier = asyncio.Barrier(2)  # passes only if both calls are in flight at once
    class Meet(Tool):
        name = "visit"
        parameters = {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}
        async def call(self, url):
            await barrier.wait()
            return f"page {url}"
    two = call("visit", url="a") + "\n" + call("visit", url="b").split("</think>\n")[1]
    cfg = ReactConfig(tool_timeout=5)
    traj = asyncio.run(ReactAgent(ScriptedModel([two, answer("ok")]), [Meet()], cfg).run("q"))
    assert [x.observation for x in traj.steps[0].actions] == ["page a", "page b"]
    assert traj.steps[0].observation.count("<tool_response>") == 2


def test_tool_call_budget_and_llm_error(web):
    traj = run(agent(web, [call("search", query=["a"]), answer("z")], max_tool_calls=1))
    assert traj.termination == T.TOOL_CALLS and traj.answer == "z" and traj.tool_calls == 1
    assert "no more tool calls" in traj.messages[-2]["content"]
    traj = run(agent(web, [RuntimeError("backend down")]))
    assert traj.termination == T.LLM_ERROR and "backend down" in traj.steps[0].observation


def test_wall_clock_limit():
    class Hang:
        async def generate(self, messages, **kw):
            await asyncio.Event().wait()
    traj = asyncio.run(ReactAgent(Hang(), [], ReactConfig(max_seconds=0.2)).run("q"))
    assert traj.termination == T.TIMEOUT and traj.seconds < 5


def test_function_calling_mode_gives_the_same_trajectory(web):
    text_run = run(agent(web, [call("search", query=["Velor"]), answer("Quarnby")]))
    fc_model = ScriptedModel([
        Completion("", reasoning="use search", tool_calls=[{"id": "c1", "name": "search", "arguments": '{"query": ["Velor"]}'}]),
        Completion("Quarnby", reasoning="I know it now"),
    ])
    fc = ReactAgent(fc_model, [WebSearch(web), WebVisit(web)], ReactConfig(function_calling=True, date="2025-01-01"))
    fc_run = asyncio.run(fc.run("Where is the Velor Conference 2024 held?"))
    assert [m["content"] for m in fc_run.messages] == [m["content"] for m in text_run.messages]
    sent = fc_model.calls[1]["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == "c1" and sent[-2]["tool_calls"][0]["id"] == "c1"
    assert fc_model.calls[0]["tools"][0]["function"]["name"] == "search"


def test_token_ids_are_kept_verbatim():
    c = Completion("<answer>1</answer>", token_ids=[5, 6, 7], logprobs=[-0.1, -0.2, -0.3])
    traj = asyncio.run(ReactAgent(ScriptedModel([c]), []).run("q"))
    back = Trajectory.from_json(traj.to_json())
    assert back.steps[0].token_ids == [5, 6, 7] and back.steps[0].logprobs == [-0.1, -0.2, -0.3]


def test_baseline_policy_end_to_end_on_the_offline_web_server(world):
    """The real world, the real server, real search and visit tools, the rule-based baseline."""
    from webagent.agents.baseline import LABEL, BaselinePolicy
    from webagent.tools.search import SearchTool, SerperSearch
    from webagent.tools.visit import VisitTool
    from webagent.web.fetch import FetchConfig, Fetcher
    from webagent.web.server import ServerThread

    g = world.graph
    chairs = [(e, g.facts_about(e.id, "general_chair")) for e in g.of_type("edition") if e.lang == "en"]
    ent, facts = next((e, f) for e, f in chairs if f)
    gold = g.entities[facts[0].object].name

    async def go(url):
        async with Fetcher(FetchConfig(web_url=url)) as fetcher:
            tools = [SearchTool(SerperSearch(api_key="t", base_url=url)), VisitTool(fetcher)]
            return await ReactAgent(BaselinePolicy(), tools).run(f"Who was the general chair of {ent.name}?")

    with ServerThread(world) as server:
        traj = asyncio.run(go(server.url))
    assert traj.policy == LABEL and traj.termination == T.ANSWER and traj.tool_calls == 2
    assert "## Web Results" in traj.steps[0].actions[0].observation
    assert "Evidence in page" in traj.steps[1].actions[0].observation
    assert traj.answer == gold


def test_cli_run_offline(world_dir, tmp_path, capsys):
    from webagent.cli import main

    out = tmp_path / "t.json"
    code = main(["run", "Where is the Velor Conference held?", "--world", str(world_dir), "--json", str(out)])
    printed = capsys.readouterr().out
    assert "policy: rule-based baseline (not a language model)" in printed and "🔧 call" in printed
    traj = Trajectory.from_json(out.read_text())
    assert code in (0, 1) and traj.llm_calls == 3 and traj.tool_calls == 2 and traj.policy == "rule-based baseline"


def test_the_live_trace_numbers_steps_one_two_three(web, capsys):
    from webagent.agents.cli import _printer

    a = agent(web, [call("search", query=["Velor Conference 2024"]), call("visit", url=web.base + "/velor", goal="venue"),
                    answer("Quarnby")])
    a.on_event = _printer()
    run(a)
    heads = [line.split("]")[0] + "]" for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert sorted(set(heads), key=heads.index) == ["[1]", "[2]", "[3]"]  # the answer was [4] after [1], [2]
