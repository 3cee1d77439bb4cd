"""webagent on verl: the custom reward, the tool classes against a running `webagent web serve`,
the tool-config YAML and the parquet rows.

The reward and the export need no verl. The tool classes and the loaders are tested against the
real verl package (its ``BaseTool``, its YAML tool registry, its custom-reward loader); those
tests skip only where verl cannot be imported: verl pins ``transformers<5.11`` and needs
``tensordict``, so it is not in the dev install (``pip install --no-deps verl tensordict pyvers
cloudpickle omegaconf`` makes its tool and reward interfaces importable on CPU).
"""

import asyncio

import pyarrow.parquet as pq
import pytest

from webagent.integrations.verl.config import tool_config, tool_config_yaml, write_tool_config
from webagent.integrations.verl.reward import compute_score, compute_score_async, solution_trajectory
from webagent.trajectories.export import export

VERL_MISSING = "verl is not importable here (not in the dev install: it pins transformers<5.11)"

CALL = '<think>\nLook it up.\n</think>\n<tool_call>\n{"name": "search", "arguments": {"query": ["NORIA chair"]}}\n</tool_call>'
ANSWER = "<think>\nThe page names her.\n</think>\n<answer>Ada Lin</answer>"
OBS = "<tool_response>\nA Google search for 'NORIA chair' found 1 results: ...\n</tool_response>"


def _templated(*turns):
    """A decoded verl response with the chat template's markers (Qwen2.5 layout)."""
    out = []
    for i, t in enumerate(turns):
        out.append(t if i == 0 else f"<|im_start|>assistant\n{t}")
        if i < len(turns) - 1:
            out.append(f"<|im_end|>\n<|im_start|>user\n{OBS}<|im_end|>\n")
    return "".join(out) + "<|im_end|>"


def test_reward_is_point_one_format_plus_point_nine_answer():
    info = {"question": "Who chairs NORIA?", "aliases": ["A. Lin"]}
    good = compute_score("webagent/crawlqa", _templated(CALL, ANSWER), "Ada Lin", info)
    assert good["score"] == pytest.approx(1.0) and good["format"] == 1.0 and good["acc"] == 1.0 and good["pred"] == "Ada Lin"
    wrong = compute_score("webagent/crawlqa", _templated(CALL, ANSWER.replace("Ada Lin", "Bo Wen")), "Ada Lin", info)
    assert wrong["score"] == pytest.approx(0.1) and wrong["acc"] == 0.0
    sloppy = compute_score("webagent/crawlqa", _templated("I will search.\n" + CALL, ANSWER), "Ada Lin", info)
    assert sloppy["score"] == pytest.approx(0.9) and sloppy["format"] == 0.0
    alias = compute_score("webagent/crawlqa", _templated(CALL, ANSWER.replace("Ada Lin", "A. Lin")), "Ada Lin", info)
    assert alias["acc"] == 1.0
    unfinished = compute_score("webagent/crawlqa", _templated(CALL), "Ada Lin", info)
    assert unfinished["score"] == 0.0
    assert compute_score("webagent/e2hqa", _templated(CALL, ANSWER), "Ada Lin", info,
                         answer_only=True)["score"] == 1.0


def test_solution_split_with_special_tokens_skipped():
    text = f"{CALL}\nuser\n{OBS}\nassistant\n{ANSWER}"
    traj = solution_trajectory(text)
    assert [s.answer for s in traj.steps] == [None, "Ada Lin"] and traj.steps[0].text == CALL
    assert asyncio.run(compute_score_async("webagent/qa", text, ["Ada Lin"], None))["score"] == pytest.approx(1.0)


def test_compute_score_works_inside_a_running_loop():
    async def go():
        return compute_score("webagent/qa", _templated(CALL, ANSWER), "Ada Lin", {})

    assert asyncio.run(go())["score"] == pytest.approx(1.0)


def test_parquet_rows_carry_tools_kwargs_and_judge(tmp_path):
    qas = [{"id": "q1", "question": "Who chairs NORIA?", "answer": "Ada Lin", "tag": "crawlqa"}]
    (path,) = export([], "verl", tmp_path / "rl.parquet", qas=qas, date="2025-01-01",
                     judge={"name": "llm:browsecomp", "model": "gpt-4o-2024-08-06", "api_key_env": "JUDGE_KEY"})
    row = pq.read_table(path).to_pylist()[0]
    assert row["agent_name"] == "tool_agent"
    info = row["extra_info"]
    assert info["need_tools_kwargs"] is True
    assert info["tools_kwargs"] == {"search": {"create_kwargs": {"qa_id": "q1"}}, "visit": {"create_kwargs": {"qa_id": "q1"}}}
    assert info["judge"] == {"name": "llm:browsecomp", "model": "gpt-4o-2024-08-06", "base_url": "", "api_key_env": "JUDGE_KEY"}


def test_tool_config_yaml_names_our_classes(tmp_path):
    cfg = tool_config("http://127.0.0.1:9999")
    assert [t["class_name"] for t in cfg["tools"]] == ["webagent.integrations.verl.tools.SearchTool",
                                                        "webagent.integrations.verl.tools.VisitTool"]
    text = tool_config_yaml(cfg)
    assert text.startswith("# verl") and '"web_url": "http://127.0.0.1:9999"' in text
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    assert yaml.safe_load(text) == cfg
    assert write_tool_config(tmp_path / "t.yaml").exists()


# --- against the real verl ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(world):
    from webagent.web.server import ServerThread

    with ServerThread(world) as srv:
        yield srv


def test_verl_loads_our_tools_from_the_yaml_and_they_answer_like_ours(tmp_path, served, world):
    registry = pytest.importorskip("verl.tools.tool_registry", reason=VERL_MISSING)
    from verl.tools.base_tool import BaseTool
    from verl.tools.schemas import ToolResponse

    from webagent.tools.toolbox import Toolbox, WebConfig

    path = write_tool_config(tmp_path / "tools.yaml", served.url)
    tools = {t.name: t for t in registry.initialize_tools_from_config(str(path))}
    assert set(tools) == {"search", "visit"} and all(isinstance(t, BaseTool) for t in tools.values())
    query = next(iter(world.iter_pages())).title
    url = next(iter(world.iter_pages())).url

    async def via_verl():
        out = []
        for name, args in (("search", {"query": [query]}), ("visit", {"url": [url], "goal": "what the page says"})):
            tool = tools[name]
            iid, _ = await tool.create(create_kwargs={"qa_id": "q1"})
            resp, reward, metrics = await tool.execute(iid, args)
            await tool.release(iid)
            assert isinstance(resp, ToolResponse) and reward == 0.0 and metrics["chars"] == len(resp.text)
            out.append(resp.text)
            await tool.aclose()
        return out

    async def via_ours():
        async with Toolbox(WebConfig(web="offline", web_url=served.url)) as tb:
            return [await tb.search({"query": [query]}), await tb.visit({"url": [url], "goal": "what the page says"})]

    got, want = asyncio.run(via_verl()), asyncio.run(via_ours())
    assert got == want and got[0].startswith(f"A Google search for '{query}'")


def test_released_protocol_tools_on_verl(served):
    pytest.importorskip("verl.tools.base_tool", reason=VERL_MISSING)
    from webagent.integrations.verl.tools import SearchTool

    tool = SearchTool({"type": "native", "web_url": served.url, "protocol": "released"})

    async def go():
        resp, _, _ = await tool.execute("i", {"query": ["zzzz-nothing-matches-this"]})
        await tool.aclose()
        return resp.text

    assert asyncio.run(go()).startswith("No results found for 'zzzz-nothing-matches-this'. Try with a more general query")


def test_verl_custom_reward_loader_calls_compute_score():
    pytest.importorskip("verl.trainer.ppo.reward", reason=VERL_MISSING)
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import webagent.integrations.verl.reward as module

    cfg = OmegaConf.create({"reward": {"custom_reward_function": {"path": module.__file__, "name": "compute_score",
                                                                 "reward_kwargs": {}}}})
    fn = get_custom_reward_fn(cfg)
    result = fn(data_source="webagent/crawlqa", solution_str=_templated(CALL, ANSWER), ground_truth="Ada Lin",
                extra_info={"question": "Who chairs NORIA?"})
    assert result["score"] == pytest.approx(1.0)
