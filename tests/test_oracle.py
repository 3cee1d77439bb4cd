import asyncio

from webagent import protocol as P
from webagent.agents.oracle import LABEL, OracleConfig, OracleModel, realistic_query, site_links
from webagent.agents.react import ReactAgent
from webagent.agents.walker import WalkerAgent
from webagent.eval.suites import build_suite
from webagent.tools.extract import plain_text
from webagent.tools.toolbox import Toolbox, WebConfig


def run_react(world, task, cfg):
    async def go():
        async with Toolbox(WebConfig(), world=world) as tb:
            return await ReactAgent(OracleModel(task, cfg), tb.react_tools).run(task["question"])
    return asyncio.run(go())


def run_walker(world, task, cfg):
    async def go():
        async with Toolbox(WebConfig(), world=world) as tb:
            oracle = OracleModel(task, cfg, world=world)
            return await WalkerAgent(oracle, tb.click_tool, policy=oracle.name).run(task["question"], task["root_url"])
    return asyncio.run(go())


def visited(traj):
    return [u for s in traj.steps for a in s.actions if a.name == "visit" for u in a.arguments["url"]]


def test_react_oracle_searches_realistically_visits_evidence_and_answers(world):
    task = build_suite(world, "webwalker", split="all")[0]
    traj = run_react(world, task, OracleConfig(p_wrong_page=0, p_reformulate=0))
    assert traj.answer == task["answer"] and traj.termination == "answer"
    assert traj.model == LABEL
    queries = [q for s in traj.steps for a in s.actions if a.name == "search" for q in a.arguments["query"]]
    assert queries and all(task["answer"] not in q for q in queries)
    assert visited(traj) == task["evidence_urls"]
    for s in traj.steps:  # protocol-exact replies
        reply = P.parse_reply(s.text)
        assert reply.think and not reply.errors
    evidence_text = "\n".join(a.observation for s in traj.steps for a in s.actions if a.name == "visit")
    assert any(x in evidence_text for x in [task["answer"], *task["aliases"]])


def test_exploration_is_deterministic_per_seed_and_recovers(world):
    tasks = build_suite(world, "crawlqa", split="all")[:12]
    cfg = OracleConfig(seed=3, p_wrong_page=1.0, p_reformulate=1.0)
    for task in tasks[:4]:
        a, b = run_react(world, task, cfg), run_react(world, task, cfg)
        assert [s.text for s in a.steps] == [s.text for s in b.steps]
        searches = [s for s in a.steps if s.actions and s.actions[0].name == "search"]
        assert len(searches) == 2  # vague query, then reformulated
        urls = visited(a)
        assert urls[-1] in task["evidence_urls"] and urls[0] not in task["evidence_urls"]  # wrong page first
        assert a.answer == task["answer"]
    plans = {tuple(OracleModel(t, OracleConfig(seed=0))._plan()) for t in tasks}
    assert len(plans) > 1  # default exploration varies between tasks


def test_stepwise_oracle_searches_before_each_visit_and_stays_on_screen(world):
    from webagent.train.pipeline import grounding_problem

    tasks = [t for t in build_suite(world, "webwalker", split="all") if len(t["evidence_urls"]) == 2][:4]
    assert tasks
    for task in tasks:
        traj = run_react(world, task, OracleConfig(p_wrong_page=0, p_reformulate=0, stepwise=True))
        names = [a.name for s in traj.steps for a in s.actions]
        assert names == ["search", "visit", "search", "visit"] and traj.answer == task["answer"]
        assert visited(traj) == task["evidence_urls"]
        assert not any("http" in P.parse_reply(s.text).think for s in traj.steps)  # short thoughts, no URLs
        # Every visited URL was in an earlier search result: the whole episode can be learnt by copying.
        assert grounding_problem({"messages": traj.messages, "answer": task["answer"]}) is None


def test_stepwise_first_thought_states_the_whole_plan_and_the_last_quotes_the_page(world):
    """A small model back from the first page reads from its own first thought whether a second hop
    is left; its last thought ends on the page's line with the answer, which the answer copies."""
    from webagent.agents.oracle import _quote

    tasks = build_suite(world, "webwalker", split="all")
    single = [t for t in tasks if len(t["evidence_urls"]) == 1][:3]
    bridges = [t for t in tasks if len(t["evidence_urls"]) == 2 and len(t["hints"]["attributes"]) > 1][:3]
    assert single and bridges
    for task in single + bridges:
        traj = run_react(world, task, OracleConfig(p_wrong_page=0, p_reformulate=0, stepwise=True, plans=True))
        thoughts = [P.parse_reply(s.text).think for s in traj.steps]
        first, second_hop = thoughts[0], task["hints"]["attributes"][-1]
        if task in bridges:  # said first, and again before the first page is read
            assert first.endswith(f", then its {second_hop}.") and thoughts[1].endswith(f" Then its {second_hop}.")
        else:
            assert ", then" not in first and "Then" not in thoughts[1]
        page_line = thoughts[-1].removeprefix("The page says: ")
        assert page_line != thoughts[-1] and task["answer"] in page_line and traj.answer == task["answer"]
        last_page = [a.observation for s in traj.steps for a in s.actions if a.name == "visit"][-1]
        assert page_line.rstrip("…") in " ".join(plain_text(line) for line in last_page.splitlines())
        plain = run_react(world, task, OracleConfig(p_wrong_page=0, p_reformulate=0, stepwise=True))
        assert [P.parse_reply(s.text).think for s in plain.steps][-1].startswith("The evidence gives the")
    # Whole words only, the sentence that holds it, cut around it; nothing for an answer no page states.
    obs = [{"role": "user", "content": "<tool_response>\n- **semester**: 2025\n- **credits**: 2 credits\n</tool_response>"}]
    assert _quote(obs, "2") == "credits: 2 credits"
    assert _quote(obs, "7") == ""
    long = [{"role": "user", "content": "关于机器人学基础，开课学期：2025年夏季。关于机器人学基础，学分：3学分。机器人学基础的上课地点为岩芸中心165室。"}]
    assert _quote(long, "岩芸中心165室") == "机器人学基础的上课地点为岩芸中心165室。"
    wide = [{"role": "user", "content": "The course " + "x" * 80 + " is taught in Kanor Hall 159 by Dr. Wu and others every week"}]
    cut = _quote(wide, "Kanor Hall 159")
    assert "Kanor Hall 159" in cut and len(cut) <= 48 and cut.split()[0] in wide[0]["content"].split()


def test_stepwise_detour_is_shown_but_not_trained(world):
    """A wrong page opened on purpose: the recovery says so, and the pipeline marks the detour turn
    ``loss: false`` so SFT learns the recovery without learning to open wrong pages."""
    from webagent.train.pipeline import grounding_problem, mark_detours

    tasks = [t for t in build_suite(world, "webwalker", split="all") if len(t["evidence_urls"]) == 1][:6]
    marked = 0
    for task in tasks:
        traj = run_react(world, task, OracleConfig(p_wrong_page=1.0, p_reformulate=0, stepwise=True))
        record = {"messages": traj.messages, "answer": task["answer"], "qa": task}
        urls = visited(traj)
        if len(urls) < 2:  # no distractor among the hits: went straight on
            continue
        assert urls[0] not in task["evidence_urls"] and urls[-1] in task["evidence_urls"]
        assert grounding_problem(record) is None and mark_detours(record) == 1
        detour, *rest = [m for m in record["messages"] if m["role"] == "assistant" and "visit" in m["content"]]
        assert detour["loss"] is False and all("loss" not in m for m in rest)
        assert "That page does not state it." in rest[0]["content"]
        marked += 1
    assert marked


def test_realistic_query_never_leaks_the_answer():
    task = {"question": "Who is the general chair of Velor 2024?", "answer": "Velor",
            "hints": {"entities": ["Velor 2024"], "attributes": ["general chair"]}}
    assert "velor" not in realistic_query(task).lower()
    assert realistic_query({"question": "What is the capital of Quarnby?", "answer": "x"}) == "capital Quarnby"


def test_walker_oracle_clicks_from_the_root_to_the_evidence(world):
    tasks = [t for t in build_suite(world, "webwalker", split="all") if t["info"]["type"] == "multi_source"][:2]
    tasks += [t for t in build_suite(world, "webwalker", split="all") if t["info"]["type"] == "single_source"][:2]
    for task in tasks:
        traj = run_walker(world, task, OracleConfig(p_wrong_page=1.0))
        assert traj.answer == task["answer"] and traj.termination == "answer", traj.meta
        clicks = [s for s in traj.steps if s.role == "agent"]
        assert all(P.parse_react(s.text).action == "visit_page" for s in clicks)
        assert all("cannot be clicked" not in s.observation for s in clicks)
        site = site_links(world, task["root_url"])
        assert site.path(site.root, task["evidence_urls"][0]) is not None
        assert len(traj.memory) == len(task["evidence_urls"])
