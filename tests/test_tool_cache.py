"""Record/replay cache: replay with the backends gone gives identical observations; modes, keys,
stateful tools, concurrency and atomic entries."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from _tools_web import ROOT, FakeWeb
from webagent.tools.cache import CachedTool, ToolCache
from webagent.tools.click import ClickSession, ClickTool
from webagent.tools.search import LocalSearch, SearchTool, SerperSearch
from webagent.tools.visit import VisitTool
from webagent.web.fetch import FetchConfig, Fetcher

CALLS = [
    ("search", {"query": ["otters", "nothing"]}),
    ("search", {"query": "beavers"}),
    ("visit", {"url": [ROOT + "program/keynotes/", ROOT + "venue/"], "goal": "keynote speaker"}),
    ("visit", {"url": ROOT + "missing/", "goal": "anything"}),
]



def live_tools(base: str) -> dict:
    """Tools whose every backend is the loopback server at ``base``."""
    fetcher = Fetcher(FetchConfig(web_url=base, retries=0, timeout=2.0))
    return {
        "search": SearchTool(SerperSearch(api_key="k", base_url=base, retries=0, timeout=2.0)),
        "visit": VisitTool(fetcher),
    }


def run_calls(tools: dict, cache: ToolCache) -> list[str]:
    wrapped = {name: CachedTool(tool, cache) for name, tool in tools.items()}

    async def go():
        return [await wrapped[name](args) for name, args in CALLS]

    return asyncio.run(go())


def test_record_then_replay_without_backends_is_identical(store, tmp_path):
    with FakeWeb(store) as web:
        base = web.base
        recorded = run_calls(live_tools(base), ToolCache(tmp_path, "record"))
        live_hits = sum(web.hits.values())
    assert "Dr. Ilsa Marrow" in recorded[2] and "Result for otters" in recorded[0]
    # The server is gone: a live call would now fail, a replay must not notice.
    replayed = run_calls(live_tools(base), ToolCache(tmp_path, "replay"))
    assert replayed == recorded
    assert live_hits >= 4
    failing = asyncio.run(live_tools(base)["search"]({"query": ["otters"]}))
    assert "failed" in failing  # proof the backend really is unavailable


def test_replay_miss_is_an_observation_not_a_live_call(store, tmp_path):
    with FakeWeb(store) as web:
        tool = CachedTool(live_tools(web.base)["search"], ToolCache(tmp_path, "replay"))
        obs = asyncio.run(tool({"query": ["otters"]}))
        assert obs.startswith("[search] Error: no recorded observation for this call")
        assert sum(web.hits.values()) == 0
    assert len(ToolCache(tmp_path)) == 0


def test_auto_mode_reads_then_records(store, tmp_path):
    with FakeWeb(store) as web:
        tool = CachedTool(live_tools(web.base)["search"], ToolCache(tmp_path, "auto"))
        first = asyncio.run(tool({"query": "otters"}))
        second = asyncio.run(tool({"query": ["otters"]}))  # same call after validation
        assert first == second and web.hits["/search"] == 1
        record = CachedTool(live_tools(web.base)["search"], ToolCache(tmp_path, "record"))
        asyncio.run(record({"query": ["otters"]}))
        assert web.hits["/search"] == 2  # record always calls the tool
        off = CachedTool(live_tools(web.base)["search"], ToolCache(tmp_path, "off"))
        asyncio.run(off({"query": ["otters"]}))
        assert web.hits["/search"] == 3
    assert len(ToolCache(tmp_path)) == 1


def test_concurrent_duplicates_make_one_live_call(store, tmp_path):
    with FakeWeb(store) as web:
        tool = CachedTool(live_tools(web.base)["search"], ToolCache(tmp_path, "auto"))

        async def go():
            return await asyncio.gather(*(tool({"query": ["otters"]}) for _ in range(10)))

        results = asyncio.run(go())
        assert len(set(results)) == 1 and web.hits["/search"] == 1


def test_invalid_arguments_are_answered_but_not_cached(store, tmp_path):
    cache = ToolCache(tmp_path, "replay")
    tool = CachedTool(SearchTool(LocalSearch.from_world(store)), cache)
    assert asyncio.run(tool({"query": 5})) == "[search] Error: argument 'query' must be of type array, got int"
    assert len(cache) == 0


def test_keys_depend_on_tool_args_and_backend(store, tmp_path):
    cache = ToolCache(tmp_path)
    k = cache.key("search", {"query": ["a"]}, "local:1")
    assert k == cache.key("search", {"query": ["a"]}, "local:1")
    assert len({k, cache.key("search", {"query": ["b"]}, "local:1"), cache.key("search", {"query": ["a"]}, "local:2"),
                cache.key("visit", {"query": ["a"]}, "local:1"), ToolCache(tmp_path, fingerprint="x").key("search", {"query": ["a"]}, "local:1")}) == 5
    # a different world (another content hash) must not replay this world's observations
    other = LocalSearch(store.index, name="local:other-world")
    assert SearchTool(other).fingerprint != SearchTool(LocalSearch.from_world(store)).fingerprint


def test_stateful_click_replays_bit_for_bit(store, tmp_path):
    clicks = ["Program", "Keynotes", "Nope", "News"]

    def episode(fetcher: Fetcher, mode: str) -> list[str]:
        tool = CachedTool(ClickTool(ClickSession(ROOT, fetcher)), ToolCache(tmp_path, mode))

        async def go():
            return [await tool.root_observation()] + [await tool({"button": b}) for b in clicks]

        return asyncio.run(go())

    recorded = episode(Fetcher(store=store), "record")
    assert "Harrowgate from June 3" in recorded[0] and "Dr. Ilsa Marrow" in recorded[2]
    assert "Registration opens" in recorded[4]
    # No store and no local server: the session itself could not open a single page now.
    assert episode(Fetcher(), "replay") == recorded
    # The same button after a different history is a different call.
    other = CachedTool(ClickTool(ClickSession(ROOT, Fetcher())), ToolCache(tmp_path, "replay"))
    assert "Harrowgate" in asyncio.run(other.root_observation())
    assert asyncio.run(other({"button": "Keynotes"})).startswith("[visit_page] Error: no recorded observation")


def test_entries_are_atomic_and_deterministic(tmp_path):
    cache = ToolCache(tmp_path)
    key = cache.key("search", {"query": ["x"]})
    entry = {"tool": "search", "args": {"query": ["x"]}, "backend": "", "observation": "obs " * 10_000}
    errors = []

    def writer():
        try:
            for _ in range(20):
                cache.put(key, entry)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    reads = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        got = cache.get(key)
        if got is not None:
            reads.append(got)
    for t in threads:
        t.join()
    assert not errors and all(r == entry["observation"] for r in reads)
    first = cache.path(key).read_bytes()
    cache.put(key, entry)
    assert cache.path(key).read_bytes() == first  # same entry, same bytes
    assert list(cache.path(key).parent.glob("*.tmp")) == []
    assert json.loads(first)["observation"] == entry["observation"]


def test_corrupt_entry_counts_as_missing(tmp_path):
    cache = ToolCache(tmp_path)
    key = cache.key("search", {"query": ["x"]})
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text("{truncated")
    assert cache.get(key) is None


def test_wrapper_keeps_name_and_schema(store, tmp_path):
    inner = SearchTool(LocalSearch.from_world(store))
    tool = CachedTool(inner, ToolCache(tmp_path))
    assert tool.name == "search" and tool.schema() == inner.schema()
    with pytest.raises(ValueError, match="cache mode"):
        ToolCache(tmp_path, "sometimes")
