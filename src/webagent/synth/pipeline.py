"""The one pipeline every generator runs through, offline or with an LLM.

A generator yields :class:`~webagent.synth.qa.Draft` items, deterministically for its seed. In
LLM mode a realizer (``webagent.synth.llm_mode``) rewrites each draft's text with the model, or
rejects it with a reason. Every draft then meets the generator's own verification (the strict
judge rules) and the shared :class:`~webagent.synth.qa.QualityGate`; survivors get a stable id and
are appended to the JSONL output. Rejections are counted by reason in the :class:`RunSummary`.

Resuming: the same arguments regenerate the same drafts; ids already in the output file are
skipped (and count towards ``n``), so a re-run after a crash only writes what is missing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from webagent import aio
from webagent.synth.crawl import CrawlConfig, CrawlResult, crawl
from webagent.synth.qa import Draft, JsonlWriter, QualityConfig, QualityGate, RunSummary, record_id
from webagent.world.graph import KnowledgeGraph


class Generator(Protocol):
    name: str
    seed: int
    quality: QualityConfig

    def drafts(self) -> Iterator[Draft]: ...

    def verify(self, draft: Draft) -> str | None:
        """The generator's own checks (None = pass, else a reason)."""
        ...


class SynthContext:
    """What every generator reads: the world's graph, page texts and site crawls (cached)."""

    def __init__(self, world: Any, crawl_config: CrawlConfig | None = None):
        self.world = world
        self.graph: KnowledgeGraph = world.graph
        self.crawl_config = crawl_config or CrawlConfig()
        self._texts: dict[str, str | None] = {}
        self._crawls: dict[str, CrawlResult] = {}

    def page_text(self, url: str) -> str | None:
        """A page's main text (cached; None when the world has no such page)."""
        if url not in self._texts:
            page = self.world.get(url)
            self._texts[url] = page.text if page is not None else None
        return self._texts[url]

    def remember_text(self, url: str, text: str) -> None:
        """Text read from a page outside the world (live exploration), for the grounding checks;
        the world's own stored text always wins."""
        if self.page_text(url) is None:
            self._texts[url] = text

    def crawl_sites(self, roots: list[str]) -> dict[str, CrawlResult]:
        """Crawl each root once (offline, through the fetch layer), concurrently across sites."""
        todo = [r for r in roots if r not in self._crawls]
        if todo:
            from webagent.web.fetch import Fetcher

            async def go():
                async with Fetcher(store=self.world) as fetcher:
                    return await asyncio.gather(*(crawl(r, fetcher, self.crawl_config) for r in todo))

            for root, res in zip(todo, _run_coroutine(go), strict=True):
                self._crawls[root] = res
                for page in res.pages.values():
                    self._texts.setdefault(page.url, page.text)
        return {r: self._crawls[r] for r in roots}


def _run_coroutine(make: Callable[[], Any]) -> Any:
    """``aio.run(make())``, also from code already inside an event loop (an evaluation run
    building its suite): there the coroutine runs on a worker thread's own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return aio.run(make())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: aio.run(make())).result()


@dataclass
class RunOptions:
    n: int = 100
    out: str | Path | None = None
    max_attempts_factor: int = 50
    """Give up after ``n * factor`` drafts (a small world may not hold n distinct items)."""
    concurrency: int = 8
    """LLM mode: drafts realized concurrently (order of output stays deterministic)."""
    progress: bool = True
    on_record: Callable[[Any], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_synthesis(gen: Generator, ctx: SynthContext, options: RunOptions, *, model: Any = None,
                  realizer: Any = None) -> RunSummary:
    """Generate up to ``options.n`` items (counting those already in ``options.out``)."""
    summary = RunSummary(gen.name, mode="llm" if model is not None else "offline", requested=options.n)
    gate = QualityGate(ctx.graph, ctx.page_text, gen.quality)
    writer = JsonlWriter(options.out) if options.out else None
    if writer is not None:
        gate.seen |= writer.questions
    start = time.perf_counter()
    bar = _bar(options, gen.name, len(writer) if writer else 0)
    try:
        if model is None:
            _run_offline(gen, gate, writer, summary, options, bar)
        else:
            aio.run(_run_llm(gen, gate, writer, summary, options, bar, model, realizer))
    finally:
        summary.seconds = time.perf_counter() - start
        if writer is not None:
            writer.close()
            Path(str(options.out) + ".summary.json").write_text(
                json.dumps(summary.as_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if bar is not None:
            bar.close()
    return summary


def _run_offline(gen, gate, writer, summary, options, bar) -> None:
    limit = options.n * options.max_attempts_factor
    for draft in gen.drafts():
        if summary.kept + summary.resumed >= options.n or summary.attempts >= limit:
            break
        summary.attempts += 1
        _finish(gen, gate, writer, summary, options, bar, draft, gen.verify(draft))


async def _run_llm(gen, gate, writer, summary, options, bar, model, realizer) -> None:
    limit = options.n * options.max_attempts_factor
    toolbox = None
    if getattr(gen, "explores", False):  # SailorFog's graph growth by search + visit needs the tools
        from webagent.tools.toolbox import Toolbox, WebConfig

        toolbox = Toolbox(options.extra.get("web") or WebConfig(), world=getattr(gen.ctx, "world", None))
        drafts = gen.explored_drafts(model, toolbox)
    else:
        drafts = _aiter(gen.drafts())
    try:
        await _llm_loop(gen, gate, writer, summary, options, bar, model, realizer, drafts, limit)
    finally:
        if toolbox is not None:
            await toolbox.aclose()


async def _aiter(items):
    for item in items:
        yield item


async def _take(drafts, n: int) -> list[Draft]:
    batch: list[Draft] = []
    if n > 0:
        async for d in drafts:  # leaving the loop early keeps the generator open for the next batch
            batch.append(d)
            if len(batch) >= n:
                break
    return batch


async def _llm_loop(gen, gate, writer, summary, options, bar, model, realizer, drafts, limit) -> None:
    while summary.kept + summary.resumed < options.n and summary.attempts < limit:
        batch = await _take(drafts, max(1, options.concurrency))
        if not batch:
            break
        results = await asyncio.gather(*(realizer.realize(gen, d, model) for d in batch))
        for item in results:
            if summary.kept + summary.resumed >= options.n:
                break
            summary.attempts += 1
            draft, reason = item
            if reason is None:
                reason = gen.verify(draft)
            if reason is None:
                reason = await realizer.judge(gen, draft, model)
            _finish(gen, gate, writer, summary, options, bar, draft, reason)


def _finish(gen, gate, writer, summary, options, bar, draft: Draft, reason: str | None) -> None:
    rec = draft.record
    if reason is None:
        rec.id = record_id(gen.name, gen.seed, rec.question, rec.answer)
        if writer is not None and rec.id in writer.loaded_ids:
            writer.loaded_ids.discard(rec.id)  # a second draw of the same item is a duplicate
            summary.resumed += 1
            _tick(bar, summary)
            return
        reason = gate.accept(draft)
    if reason is not None:
        summary.rejected[reason] += 1
        _tick(bar, summary, advance=False)
        return
    summary.kept += 1
    summary.records.append(rec)
    if writer is not None:
        writer.write(rec)
    if options.on_record is not None:
        options.on_record(rec)
    _tick(bar, summary)


def _bar(options: RunOptions, name: str, already: int):
    if not options.progress:
        return None
    from webagent.progress import progress

    return progress(options.n, desc=f"synth {name}", unit="qa")


def _tick(bar, summary: RunSummary, advance: bool = True) -> None:
    if bar is None:
        return
    if advance:
        bar.update(1)
    if summary.attempts % 20 == 0 or advance:
        bar.set_postfix(kept=summary.kept, resumed=summary.resumed, rejected=sum(summary.rejected.values()),
                        refresh=False)
