"""Tool workers: the same observations as in-process, from real child processes, and no loss when
a worker dies."""

from __future__ import annotations

import asyncio
import logging

import pytest

from webagent.tools.toolbox import Toolbox, WebConfig
from webagent.tools.workers import ToolWorkers, WorkerUnavailable, read_page
from webagent.web.fetch import FetchResult


def _pages(world, n: int) -> list:
    return [p for p in world.iter_pages() if p.kind == "site"][:n]


def test_workers_read_pages_as_the_process_does(world):
    pages = _pages(world, 24)
    results = [FetchResult(p.url, 200, "text/html", p.html) for p in pages]
    goals = [f"what does {p.title} say about its history" for p in pages]

    async def go():
        workers = ToolWorkers(2)
        try:
            out = await asyncio.gather(*(workers.run("read_page", r, g, 50_000, 600, 200) for r, g in zip(results, goals, strict=True)))
            return out, workers._procs
        finally:
            await workers.aclose()

    out, procs = asyncio.run(go())
    assert out == [read_page(r, g, 50_000, 600, 200) for r, g in zip(results, goals, strict=True)]
    assert all(o and o[0] for o in out)  # real evidence came back for every page
    assert len(procs) == 2 and all(p.returncode is not None for p in procs)  # aclose reaped both
    # A page with no text is None from a worker too.
    async def empty():
        workers = ToolWorkers(1)
        try:
            return await workers.run("read_page", FetchResult("http://x.test/", 200, "text/html", "<html></html>"), "g", 100, 10, 10)
        finally:
            await workers.aclose()

    assert asyncio.run(empty()) is None


def test_toolbox_with_workers_gives_the_same_observations(world_dir, world):
    pages = _pages(world, 6)

    async def use_all(n: int) -> tuple[list[str], list[str], int]:
        async with Toolbox(WebConfig(world=str(world_dir), tool_workers=n)) as tb:
            visits = [await tb.visit({"url": p.url, "goal": "who founded it and when"}) for p in pages]
            searches = [await tb.search({"query": [p.title, f"{p.title} history"]}) for p in pages]
            served = next(tb.workers._ids) if tb.workers else 0
            return visits, searches, served

    visits, searches, served = asyncio.run(use_all(1))
    assert served == 6 + 12  # every page and every query went to the worker
    assert all("Evidence in page" in v for v in visits) and all("## Web Results" in s and "1. [" in s for s in searches)
    assert (visits, searches) == asyncio.run(use_all(0))[:2]


def test_a_dead_worker_costs_no_page(world_dir, world, caplog):
    pages = _pages(world, 1)
    url = pages[0].url

    async def go():
        async with Toolbox(WebConfig(world=str(world_dir), tool_workers=1)) as tb:
            first = await tb.visit({"url": url, "goal": "history"})
            found = await tb.search({"query": [pages[0].title]})
            tb.workers._procs[0].kill()
            await tb.workers._procs[0].wait()
            with caplog.at_level(logging.WARNING, logger="webagent.tools.workers"):
                after = [await tb.visit({"url": url, "goal": "history"}) for _ in range(3)]
                found_after = await tb.search({"query": [pages[0].title]})
            return first, after, found, found_after

    first, after, found, found_after = asyncio.run(go())
    assert "Evidence in page" in first and after == [first] * 3  # read in-process, same text
    assert "1. [" in found and found_after == found
    warnings = [r for r in caplog.records if r.name == "webagent.tools.workers"]
    assert len(warnings) == 1 and "done in-process" in warnings[0].getMessage()


def test_a_failing_request_leaves_the_worker_serving():
    async def go():
        workers = ToolWorkers(1)
        try:
            with pytest.raises(RuntimeError, match="AttributeError"):
                await workers.run("read_page", "not a fetch result", "goal", 100, 10, 10)  # type: ignore[arg-type]
            page = FetchResult("http://x.test/", 200, "text/html", "<p>The museum opened in 1901.</p>")
            return await workers.run("read_page", page, "when did the museum open", 1000, 200, 200)
        finally:
            await workers.aclose()

    evidence, summary = asyncio.run(go())
    assert "1901" in evidence and "1901" in summary


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="at least 1"):
        ToolWorkers(0)


def test_eval_with_tool_workers_reads_the_same_pages(world_dir, tmp_path):
    import json

    from webagent.cli import main

    def observations(out):
        recs = [json.loads(line) for line in (out / "run-1.jsonl").read_text().splitlines()]
        return {r["task_id"]: [m["content"] for m in r["messages"][2:] if m["role"] == "user"] for r in recs}

    outs = {}
    for n in (0, 1):
        outs[n] = tmp_path / f"w{n}"
        assert main(["eval", "--benchmark", "synth:crawlqa", "--llm", "baseline", "--runs", "1", "--limit", "4",
                     "--world", str(world_dir), "--tool-workers", str(n), "--out", str(outs[n]), "--quiet"]) == 0
    seen = observations(outs[1])
    assert len(seen) == 4 and any("Evidence in page" in o for obs in seen.values() for o in obs)
    assert seen == observations(outs[0])
    # The number of workers is not part of a run's identity: a resume may change it.
    assert main(["eval", "--benchmark", "synth:crawlqa", "--llm", "baseline", "--runs", "1", "--limit", "4",
                 "--world", str(world_dir), "--tool-workers", "0", "--out", str(outs[1]), "--quiet"]) == 0


def test_workers_of_a_finished_loop_are_not_used(caplog):
    page = FetchResult("http://x.test/", 200, "text/html", "<p>The bridge was built in 1877.</p>")
    workers = ToolWorkers(1)

    async def first():
        return await workers.run("read_page", page, "when was the bridge built", 1000, 200, 200)

    async def second():
        try:
            return await workers.run("read_page", page, "when was the bridge built", 1000, 200, 200)
        finally:
            await workers.aclose()

    assert "1877" in asyncio.run(first())[0]
    with caplog.at_level(logging.WARNING, logger="webagent.tools.workers"):
        with pytest.raises(WorkerUnavailable):
            asyncio.run(second())
    assert "another event loop" in caplog.text
