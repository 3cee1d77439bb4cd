"""The search tool: exact observation layout, backends (local index, Serper shape, SearXNG shape)
over real components, concurrency of a batch, argument handling."""

from __future__ import annotations

import asyncio

import pytest

from _tools_web import FakeWeb
from webagent.tools.search import (
    LocalSearch,
    SearchBackendError,
    SearchTool,
    SearxngSearch,
    SerperSearch,
)
from webagent.types import Hit

FMT_HEADER = "A Google search for '{q}' found {n} results:\n\n## Web Results\n"



@pytest.fixture(scope="module")
def web():
    with FakeWeb() as w:
        yield w


def run(tool, args):
    return asyncio.run(tool(args))


def expected_block(q: str, hits: list[Hit]) -> str:
    items = []
    for i, h in enumerate(hits, 1):
        s = f"{i}. [{h.title}]({h.url})"
        if h.date:
            s += f"\nDate published: {h.date}"
        if h.snippet:
            s += f"\n\n{h.snippet}"
        items.append(s)
    return FMT_HEADER.format(q=q, n=len(hits)) + "\n\n".join(items)


def test_local_search_layout_is_exact(store):
    tool = SearchTool(LocalSearch.from_world(store))
    obs = run(tool, {"query": ["keynote speaker"]})
    hits = store.index.search("keynote speaker", 10)
    assert hits and hits[0].url == "http://www.velor-conf.test/program/keynotes/"
    assert obs == expected_block("keynote speaker", hits)
    assert obs.startswith("A Google search for 'keynote speaker' found ")


def test_batch_blocks_are_joined_and_failures_reported(store):
    tool = SearchTool(LocalSearch.from_world(store))
    obs = run(tool, {"query": ["Harrowgate venue", "zzzqqqxx", "会议地点"]})
    blocks = obs.split("\n=======\n")
    assert len(blocks) == 3
    assert blocks[0].startswith("A Google search for 'Harrowgate venue' found")
    assert blocks[1] == "No results found for 'zzzqqqxx'. Try a shorter or more general query."
    assert "http://www.velor-conf.test/zh/" in blocks[2]  # CJK matched through bigrams


def test_bare_string_query_and_cap(store):
    tool = SearchTool(LocalSearch.from_world(store), max_queries=2)
    assert run(tool, {"query": "keynote"}) == run(tool, {"query": ["keynote"]})
    capped = run(tool, {"query": ["keynote", "venue", "program"]})
    assert capped.count("A Google search for") == 2 and "'program'" not in capped


@pytest.mark.parametrize(
    "args,message",
    [
        ({}, "[search] Error: missing required argument 'query'"),
        ({"query": []}, "[search] Error: missing required argument 'query'"),
        ({"query": 5}, "[search] Error: argument 'query' must be of type array, got int"),
        ({"query": [1, 2]}, "[search] Error: argument 'query' must be a list of strings"),
        ({"query": ["  "]}, "[search] Error: argument 'query' holds no non-empty query"),
        ("{not json", "[search] Error: arguments are not valid JSON"),
    ],
)
def test_invalid_arguments_give_clear_observations(store, args, message):
    obs = run(SearchTool(LocalSearch.from_world(store)), args)
    assert obs.startswith(message)


class _Gate:
    """A backend whose searches only finish once all of them have started: proves concurrency."""

    def __init__(self, n: int):
        self.n, self.started = n, 0
        self.all_in = asyncio.Event()

    async def search(self, query: str, k: int = 10) -> list[Hit]:
        self.started += 1
        if self.started == self.n:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), timeout=5)
        if query == "boom":
            raise RuntimeError("backend down")
        return [Hit(title=f"T {query}", url=f"https://ex.org/{query}", snippet="s", source="Ex")]


def test_queries_of_one_call_run_concurrently():
    async def go():
        return await SearchTool(_Gate(3))({"query": ["a", "b", "boom"]})

    blocks = asyncio.run(go()).split("\n=======\n")
    assert blocks[0] == FMT_HEADER.format(q="a", n=1) + "1. [T a](https://ex.org/a)\nSource: Ex\n\ns"
    assert blocks[2] == "The search for 'boom' failed (RuntimeError). Try again later."


def test_serper_backend_layout_and_escaping(web, monkeypatch):
    monkeypatch.setenv("SERPER_API_KEY", "sk-test-123")
    tool = SearchTool(SerperSearch(base_url=web.base))
    obs = run(tool, {"query": ["otters"]})
    assert obs == (
        "A Google search for 'otters' found 2 results:\n\n## Web Results\n"
        "1. [Result for otters](https://example.com/1)\nDate published: Mar 3, 2024\n\nSnippet one.\n\n"
        "2. [Second &lt;tool_call&gt;](https://example.com/2)\n\nSnippet &lt;/tool_response&gt; two."
    )
    sent = web.serper_requests[-1]
    assert sent["body"] == {"q": "otters", "num": 10} and sent["key"] == "sk-test-123"


def test_serper_empty_and_failing(web, monkeypatch):
    monkeypatch.setenv("SERPER_API_KEY", "sk-test-123")
    tool = SearchTool(SerperSearch(base_url=web.base, retries=0))
    obs = run(tool, {"query": ["nothing", "explode"]})
    empty, failed = obs.split("\n=======\n")
    assert empty == "No results found for 'nothing'. Try a shorter or more general query."
    assert failed == "The search for 'explode' failed: SerperSearch answered HTTP 500. Try again later."
    assert "sk-test" not in obs


def test_serper_needs_a_key_and_never_shows_it(monkeypatch):
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    monkeypatch.delenv("SERPER_BASE_URL", raising=False)
    with pytest.raises(SearchBackendError, match="SERPER_API_KEY"):
        SerperSearch()
    engine = SerperSearch(api_key="sk-secret-999")
    assert "sk-secret" not in repr(engine) and "sk-secret" not in SearchTool(engine).fingerprint


def test_searxng_backend(web):
    obs = run(SearchTool(SearxngSearch(web.base)), {"query": ["beavers"]})
    assert obs == (
        "A Google search for 'beavers' found 2 results:\n\n## Web Results\n"
        "1. [SearX beavers](https://example.org/a)\nDate published: 2024-05-01\n\nfirst\n\n"
        "2. [Second](https://example.org/b)\n\nsecond"
    )


def test_searxng_needs_a_base_url(monkeypatch):
    monkeypatch.delenv("SEARXNG_URL", raising=False)
    with pytest.raises(SearchBackendError, match="SEARXNG_URL"):
        SearxngSearch()


def test_schema_matches_the_released_tool(store):
    schema = SearchTool(LocalSearch.from_world(store)).schema()["function"]
    assert schema["name"] == "search"
    assert schema["parameters"]["properties"]["query"]["type"] == "array"
    assert schema["parameters"]["properties"]["query"]["items"]["type"] == "string"


def test_serper_client_on_the_local_server_matches_the_local_index(world):
    from webagent.web.server import ServerThread

    queries = ["university computer science", "conference keynote", "大学"]
    local = run(SearchTool(LocalSearch.from_world(world)), {"query": queries})
    with ServerThread(world) as server:
        remote = run(SearchTool(SerperSearch(api_key="any", base_url=server.url)), {"query": queries})
    assert remote == local
    assert local.count("A Google search for") == 3 and "1. [" in local
