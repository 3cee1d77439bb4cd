"""``--protocol released``: the released agents' exact interface.

The replay test runs the released-protocol agent on the hand-written released fixture (the
scripted model replays the fixture's assistant turns, the search engine returns the results the
fixture shows, the summary model is a fixed extractor) and gets every message back byte for byte:
system and first user turn (through a prompt file holding the fixture's prose), each
``<tool_response>`` turn (search layout, visit layout stripped, failure and no-result texts).
"""

import asyncio
import json
from pathlib import Path

import pytest

from webagent import trajectory as T
from webagent.agents.react import ReactConfig
from webagent.agents.released import (
    ReleasedReactAgent,
    ReleasedSearchTool,
    ReleasedTexts,
    ReleasedVisitTool,
    first_tool_call,
    loads_tolerant,
    make_react_agent,
    pretty_tools_block,
    render_search,
)
from webagent.llm.scripted import ScriptedModel
from webagent.tools.extract import Extraction
from webagent.trajectories.records import read_jsonl
from webagent.trajectories.released import parse_tools_block, question_of
from webagent.types import Hit, Page
from webagent.web.fetch import FetchConfig, Fetcher
from webagent.world.store import WorldStore, write_pages

FIXTURE = Path(__file__).parent / "data" / "released" / "webdancer_sample_traj.jsonl"

# What the search backend returned for each query of the fixture (the Serper "organic" fields).
HITS = {
    "Velor Conference on Tidal Energy 2019": [
        Hit("Velor Conference 2019 - Home", "https://www.velor-conf.test/2019/",
            "The 2019 Velor Conference on Tidal Energy took place in Marrow Bay from 4 to 6 June.", date="Mar 2, 2019"),
        Hit("Tidal energy meetings | Ocean Wiki", "https://wiki.ocean.test/Tidal_meetings",
            "A list of tidal energy conferences by year, with host cities.", source="Ocean Wiki")],
    "Noria Institute workshop 2021": [
        Hit("Workshops - Noria Institute", "https://noria.test/events/workshops/",
            "Our 2021 workshop on coastal sensing brought together 80 researchers.")],
    "Noria 2021 programme committee chair": [
        Hit("Coastal Sensing Workshop 2021", "https://noria.test/events/cs2021/", "Programme committee and call for papers.",
            date="2021-05-01", source="noria.test")],
}
# What the summary model extracted from the one page the fixture reads successfully.
EXTRACTED = {"https://noria.test/events/cs2021/committee": Extraction(
    evidence="Programme Committee\nChair: Dr. Ilse Varga (Noria Institute)\nMembers: Tomas Reed, Ana Sol",
    summary="The committee page of the Coastal Sensing Workshop 2021 names Dr. Ilse Varga as the programme committee chair.")}


class FixedEngine:
    fingerprint = "fixed"

    async def search(self, query, k=10):
        return HITS.get(query, [])[:k]


class FixedExtractor:
    """Stands in for the summary model: the evidence and summary it wrote for the one page."""

    fingerprint = "fixed"

    async def extract(self, content, goal):
        return EXTRACTED["https://noria.test/events/cs2021/committee"]


@pytest.fixture(scope="module")
def noria_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("released-world")
    page = Page(url="https://noria.test/events/cs2021/committee", title="committee",
                html="<html><body><main><p>committee page of the workshop</p></main></body></html>",
                text="committee page of the workshop", depth=3, site="https://noria.test/")
    digest = write_pages(root / "pages.db", [page])
    (root / "manifest.json").write_text(json.dumps({"seed": 0, "size": 1, "sha256": {"pages": digest}}))
    s = WorldStore(root)
    yield s
    s.close()


def _prompt_file(tmp_path, record) -> Path:
    """A prompt file holding the fixture's own prose: what a user writes to match a checkpoint."""
    system, user = record["messages"][0]["content"], record["messages"][1]["content"]
    date = system.rsplit("Current date: ", 1)[1]
    question = question_of(record["messages"])
    path = tmp_path / "prompt.toml"
    path.write_text(f"system = {json.dumps(system.replace(date, '{date}'))}\n"
                    f"user = {json.dumps(user.replace(question, '{question}'))}\n", encoding="utf-8")
    return path


def _tools(store, texts):
    fetcher = Fetcher(FetchConfig(), store=store)
    return [ReleasedSearchTool(FixedEngine(), texts), ReleasedVisitTool(fetcher, texts, FixedExtractor())]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_replaying_the_released_sample_gives_its_messages_byte_for_byte(tmp_path, noria_store, n):
    record = read_jsonl(FIXTURE)[n]
    prompt_file = _prompt_file(tmp_path, record)
    date = record["messages"][0]["content"].rsplit("Current date: ", 1)[1]
    texts = ReleasedTexts.load(str(prompt_file))
    replies = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
    cfg = ReactConfig(prompt_file=str(prompt_file), date=date)
    agent = ReleasedReactAgent(ScriptedModel(replies), _tools(noria_store, texts), cfg)
    traj = asyncio.run(agent.run(question_of(record["messages"])))
    assert traj.termination == T.ANSWER
    assert [m["role"] for m in traj.messages] == [m["role"] for m in record["messages"]]
    for got, want in zip(traj.messages, record["messages"], strict=True):
        assert got["content"] == want["content"]


def test_each_observation_renders_byte_identically(noria_store):
    """The observation texts alone, with the shipped protocol file (our prose, released layout)."""
    texts = ReleasedTexts.load()
    search, visit = _tools(noria_store, texts)
    want = [m["content"] for r in read_jsonl(FIXTURE) for m in r["messages"][2:] if m["role"] == "user"]
    got = []
    for r in read_jsonl(FIXTURE):
        for m in r["messages"][2:]:
            if m["role"] == "assistant" and "<tool_call>" in m["content"]:
                call = first_tool_call(m["content"])
                tool = search if call.name == "search" else visit
                got.append(texts.wrap(asyncio.run(tool(call.arguments))))
    assert got == want


def test_layout_of_the_shipped_prompts():
    texts = ReleasedTexts.load()
    agent = ReleasedReactAgent(ScriptedModel([]), [], ReactConfig(date="2025-01-02"))
    system, user = agent.initial_messages("Who?")
    assert system["content"].endswith("before you commit to an answer.\nCurrent date: 2025-01-02")  # one newline
    assert user["content"].endswith("\n\nUser: Who?")
    assert texts.wrap("x") == "<tool_response>\nx\n\n</tool_response>"
    schemas = [{"type": "function", "function": {"name": "search", "description": "d", "parameters": {"type": "object"}}},
               {"type": "function", "function": {"name": "visit", "description": "e", "parameters": {"type": "object"}}}]
    block = pretty_tools_block(schemas)
    assert block.startswith("<tools>\n{\n  \"name\": \"search\",") and "},\n{\n" in block
    assert [s["name"] for s in parse_tools_block(block)] == ["search", "visit"]


def test_render_search_keeps_text_as_is_but_escapes_tags():
    out = render_search("q", [Hit("T  <tool_response>", "https://a.test/", "line one", date="2020")])
    assert out == ("A Google search for 'q' found 1 results:\n\n## Web Results\n"
                   "1. [T  &lt;tool_response&gt;](https://a.test/)\nDate published: 2020\n\nline one")
    assert render_search("q", [Hit("T", "https://a.test/")]).endswith("1. [T](https://a.test/)\n")


def test_only_the_first_call_runs_and_arguments_parse_tolerantly():
    text = ("<think>x</think>\n<tool_call>\n{'name': 'search', 'arguments': {'query': ['a',],},}\n</tool_call>\n"
            "<tool_call>\n{\"name\": \"visit\", \"arguments\": {}}\n</tool_call>")
    call = first_tool_call(text)
    assert call.ok and call.name == "search" and call.arguments == {"query": ["a"]}
    assert loads_tolerant("{'b': true, 'c': None}") == {"b": True, "c": None}
    assert first_tool_call("<tool_call>{oops</tool_call>").error
    assert first_tool_call("<think><tool_call>{}</tool_call></think> no call") is None


def _calls(n):
    return [f'<think>step {i}</think>\n<tool_call>\n{{"name": "search", "arguments": {{"query": ["q{i}"]}}}}\n</tool_call>'
            for i in range(n)]


def _agent(replies, store, **kw):
    texts = ReleasedTexts.load()
    return ReleasedReactAgent(ScriptedModel(replies), _tools(store, texts), ReactConfig(**kw.pop("cfg", {})), **kw)


def test_llm_call_limit_replaces_the_last_message(noria_store):
    traj = asyncio.run(_agent(_calls(3), noria_store, cfg={"max_llm_calls": 2}).run("Q?"))
    assert traj.termination == T.LLM_CALLS and traj.answer is None
    assert traj.messages[-1] == {"role": "user", "content": "Sorry, the number of llm calls exceeds the limit."}
    assert len(traj.steps) == 2


def test_token_limit_forces_one_final_answer(noria_store):
    sizes = iter([10, 10 ** 6])
    agent = _agent([*_calls(2), "<think>done</think>\n<answer>42</answer>"], noria_store,
                   token_counter=lambda m: next(sizes))
    traj = asyncio.run(agent.run("Q?"))
    assert traj.termination == T.TOKEN_LIMIT and traj.answer == "42"
    assert traj.messages[-2]["content"].startswith("You have now reached the maximum context length")
    assert traj.messages[-2]["role"] == "user"


def test_bad_calls_get_the_released_texts_and_a_silent_turn_gets_no_reply(noria_store):
    replies = ["<think>a</think>\n<tool_call>\n{not json\n</tool_call>",
               '<think>b</think>\n<tool_call>\n{"name": "browse", "arguments": {}}\n</tool_call>',
               '<think>c</think>\n<tool_call>\n{"name": "search", "arguments": {"q": 1}}\n</tool_call>',
               "<think>nothing to do</think>",
               "<think>d</think>\n<answer>A</answer>"]
    traj = asyncio.run(_agent(replies, noria_store).run("Q?"))
    user = [m["content"] for m in traj.messages[2:] if m["role"] == "user"]
    assert user == ['<tool_response>\nError: Tool call is not a valid JSON. Tool call must contain a valid "name" '
                    'and "arguments" field.\n\n</tool_response>',
                    "<tool_response>\nTool browse does not exists.\n\n</tool_response>",
                    "<tool_response>\n[Search] Invalid request format: Input must be a JSON object containing "
                    "'query' field\n\n</tool_response>"]
    roles = [m["role"] for m in traj.messages]
    assert roles[-2:] == ["assistant", "assistant"]  # no reply turn after the silent one
    assert traj.answer == "A"


def test_protocol_selection():
    with pytest.raises(ValueError, match="unknown protocol"):
        make_react_agent("qwen", ScriptedModel([]), [], ReactConfig())
    assert type(make_react_agent("webagent", ScriptedModel([]), [], ReactConfig())).__name__ == "ReactAgent"


def test_eval_with_the_released_protocol_on_the_offline_web(world_dir, tmp_path):
    from webagent.eval.runner import EvalConfig, run_eval

    cfg = EvalConfig(benchmark="synth:crawlqa", world=str(world_dir), limit=2, runs=1, llm="oracle", protocol="released")
    report = run_eval(cfg, tmp_path / "ev", progress=False)
    rec = read_jsonl(tmp_path / "ev" / "run-1.jsonl")[0]
    assert "\nCurrent date: " in rec["messages"][0]["content"] and "<tools>\n{\n" in rec["messages"][1]["content"]
    obs = [m["content"] for m in rec["messages"][2:] if m["role"] == "user"]
    assert obs and all(o.startswith("<tool_response>\n") and o.endswith("\n\n</tool_response>") for o in obs)
    assert report["accuracy"]["questions"] == 2


def test_tolerant_parsing_without_json5(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "json5", None)  # not installed: the Python-literal reader takes over
    assert loads_tolerant("{'query': ['a', 'b',], 'n': 3, 'ok': true, 'x': null,}") == {
        "query": ["a", "b"], "n": 3, "ok": True, "x": None}
    with pytest.raises(ValueError):
        loads_tolerant("{'a': __import__('os')}")
    with pytest.raises(ValueError):
        loads_tolerant("{oops")


def test_the_context_is_counted_with_the_served_tokenizer(tmp_path, world_dir, monkeypatch):
    """With --tokenizer every context check goes through the model's own tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    import webagent.trajectories.select as select
    from webagent.eval.runner import EvalConfig, run_eval

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    counted = []
    real = select.hf_token_counter

    def spy(path):
        count = real(path)
        return lambda messages: counted.append(count(messages)) or counted[-1]

    monkeypatch.setattr(select, "hf_token_counter", spy)
    cfg = EvalConfig(benchmark="synth:crawlqa", world=str(world_dir), limit=1, runs=1, llm="oracle",
                     protocol="released", tokenizer=str(tmp_path / "tok"))
    run_eval(cfg, tmp_path / "ev", progress=False)
    rec = read_jsonl(tmp_path / "ev" / "run-1.jsonl")[0]
    assert len(counted) == len(rec["steps"]) - 1  # once after every turn but the answer
    assert counted == sorted(counted) and counted[0] > 100  # the tokenizer's counts of a growing chat
