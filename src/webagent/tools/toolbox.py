"""One place that builds the agent tools from a ``WebConfig``: the CLI, the agents, evaluation and
trajectory sampling all get their ``search``/``visit``/``click`` tools here, so that a run on the
offline web and a run on the live web differ only in configuration.

>>> async with Toolbox(WebConfig()) as tb:           # the default offline world, in-process
...     print(await tb.search({"query": ["LOVARA 2024 general chair"]}))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from webagent.tools.base import Tool
from webagent.tools.cache import CachedTool, ToolCache
from webagent.tools.click import ClickSession, ClickTool
from webagent.tools.search import LocalSearch, SearchTool, SearxngSearch, SerperSearch
from webagent.tools.visit import VisitTool
from webagent.tools.workers import ToolWorkers
from webagent.web.fetch import FetchConfig, Fetcher


@dataclass
class WebConfig:
    """Which web the tools reach and how."""

    web: str = "offline"
    """``offline`` (the fictional web) or ``live`` (the internet; ``.test`` URLs still go local)."""
    world: str | None = None
    """Offline world directory; None = the default world, built on first use."""
    search: str = "auto"
    """``auto`` (``local`` offline, ``serper`` live), ``local``, ``serper`` or ``searxng``."""
    search_url: str | None = None
    """Endpoint for serper/searxng; e.g. a ``webagent web serve`` URL for Serper's API offline."""
    web_url: str | None = None
    """Read ``.test`` pages through this running server instead of in-process."""
    k: int = 10
    """Results per query."""
    max_queries: int | None = None
    """Cap on queries per search call (WebDancer's demo used 3); None = no cap."""
    cache_dir: str | None = None
    """Record/replay cache directory for tool observations; None = no cache."""
    cache_mode: str = "auto"
    allow_hosts: tuple[str, ...] = ()
    """Live hosts (names, IPs, CIDR ranges) the SSRF guard lets through."""
    tool_workers: int = 0
    """Processes that do the tools' CPU work (visit's page conversion and lexical extraction,
    searches of the offline index), so that other cores do it; 0 = on the event loop. Pays with
    many episodes in flight and fast tools (docs/benchmarks.md)."""
    fetch: FetchConfig = field(default_factory=FetchConfig)


class Toolbox:
    """The tools of one configuration, sharing one fetcher and one world. Use it as an async
    context manager (or call ``aclose``) so that HTTP connections are released."""

    def __init__(self, config: WebConfig | None = None, *, world: Any = None, extractor: Any = None):
        self.config = config = config or WebConfig()
        self.world = world
        self._own_world = self.world is None and config.web == "offline" and not config.web_url
        if self._own_world:
            from webagent.world import open_world

            self.world = open_world(config.world)
        fetch_cfg = config.fetch
        if config.web_url or config.allow_hosts:
            fetch_cfg = replace(fetch_cfg, web_url=config.web_url or fetch_cfg.web_url,
                                allow_hosts=tuple(config.allow_hosts) or fetch_cfg.allow_hosts)
        self.fetcher = Fetcher(fetch_cfg, store=self.world)
        self.cache = ToolCache(config.cache_dir, config.cache_mode) if config.cache_dir else None
        self.workers = ToolWorkers(config.tool_workers) if config.tool_workers else None
        self.visit = self._cached(VisitTool(self.fetcher, extractor, workers=self.workers))
        self._search: Tool | None = None

    @property
    def search(self) -> Tool:
        """The ``search`` tool, built on first use (a visit-only run needs no search key)."""
        if self._search is None:
            engine = self._engine()
            self._search = self._cached(SearchTool(engine, k=self.config.k, max_queries=self.config.max_queries))
        return self._search

    def _engine(self):
        c = self.config
        kind = c.search if c.search != "auto" else ("local" if c.web == "offline" else "serper")
        if kind == "local":
            if self.world is not None:
                return LocalSearch.from_world(self.world, workers=self.workers)
            if c.web_url:  # the offline web over HTTP: its Serper-compatible endpoint
                return SerperSearch(api_key="local", base_url=c.web_url)
            raise ValueError("local search needs an offline world or a web_url")
        if kind == "serper":
            return SerperSearch(base_url=c.search_url)
        if kind == "searxng":
            return SearxngSearch(c.search_url or os.environ.get("SEARXNG_URL"))
        raise ValueError(f"unknown search backend {kind!r} (local, serper, searxng)")

    def _cached(self, tool: Tool) -> Tool:
        return CachedTool(tool, self.cache) if self.cache else tool

    @property
    def react_tools(self) -> list[Tool]:
        """The ReAct agent's tools: ``search`` and ``visit``."""
        return [self.search, self.visit]

    def click_tool(self, root_url: str) -> Tool:
        """A fresh WebWalker ``visit_page`` tool for one episode starting at ``root_url``."""
        return self._cached(ClickTool(ClickSession(root_url, self.fetcher)))

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        if self.workers is not None:
            await self.workers.aclose()
        engine = getattr(getattr(self._search, "tool", self._search), "engine", None)
        if hasattr(engine, "aclose"):
            await engine.aclose()
        if self._own_world and hasattr(self.world, "close"):  # a world it opened itself, not one it was lent
            self.world.close()

    async def __aenter__(self) -> Toolbox:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
