"""verl ``BaseTool`` classes that run our ``search`` and ``visit`` for verl's multi-turn rollout.

verl builds them from a tool-config YAML (:mod:`.config` writes one)::

    tools:
      - class_name: webagent.integrations.verl.tools.SearchTool
        config: {type: native, web_url: "http://127.0.0.1:8700"}
        tool_schema: {type: function, function: {name: search, ...}}

``config`` keys: ``web_url`` (a running ``webagent web serve``: its pages and its
Serper-compatible search), or ``web: live`` with ``search: serper|searxng`` and ``search_url``;
``k``, ``max_queries``, ``cache_dir``; ``protocol: released`` for the released observation texts.
The observation text is exactly what our agent sees (the same tool code), so a policy trained on
verl runs unchanged under ``webagent eval``.

Each tool keeps one :class:`~webagent.tools.toolbox.Toolbox` per event loop (HTTP clients belong
to the loop that made them); ``create``/``release`` are cheap, per-call bookkeeping.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

try:
    from verl.tools.base_tool import BaseTool
    from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse
except ImportError as e:  # pragma: no cover - exercised where verl is absent
    raise ImportError("webagent.integrations.verl.tools needs verl (pip install 'webagent[verl]' on the "
                      "training nodes); the reward and the parquet export work without it") from e


class _WebTool(BaseTool):
    tool_name = ""

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None = None):
        self._toolboxes: dict[int, Any] = {}
        super().__init__(config or {}, tool_schema or self.default_schema())

    @classmethod
    def default_schema(cls) -> OpenAIFunctionToolSchema:
        """Our tool's own schema, as verl's schema model reads it."""
        from webagent.tools.search import SearchTool as Search
        from webagent.tools.visit import VisitTool as Visit

        ours = {"search": Search, "visit": Visit}[cls.tool_name]
        return OpenAIFunctionToolSchema.model_validate({"type": "function", "function": {
            "name": ours.name, "description": ours.description, "parameters": ours.parameters}})

    def _toolbox(self) -> Any:
        from webagent.tools.toolbox import Toolbox, WebConfig

        loop = id(asyncio.get_running_loop())
        if loop not in self._toolboxes:
            c = self.config
            web = c.get("web") or ("offline" if c.get("web_url") else "live")
            self._toolboxes[loop] = Toolbox(WebConfig(
                web=web, web_url=c.get("web_url"), world=c.get("world"), search=c.get("search", "auto"),
                search_url=c.get("search_url"), k=int(c.get("k", 10)), max_queries=c.get("max_queries"),
                cache_dir=c.get("cache_dir"), cache_mode=c.get("cache_mode", "auto")))
        return self._toolboxes[loop]

    def _tool(self) -> Any:
        tb = self._toolbox()
        if self.config.get("protocol") == "released":
            from webagent.agents.released import ReleasedTexts, released_tools

            texts = ReleasedTexts.load(self.config.get("prompt_file"))
            search, visit = released_tools(tb.search, tb.visit, texts)
            return search if self.tool_name == "search" else visit
        return tb.search if self.tool_name == "search" else tb.visit

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, ToolResponse]:
        return instance_id or str(uuid4()), ToolResponse()

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any) -> tuple[ToolResponse, float, dict]:
        """Run the call; the observation comes back as text (a failure is an observation too)."""
        observation = await self._tool()(parameters)
        return ToolResponse(text=observation), 0.0, {"chars": len(observation)}

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        return None

    async def aclose(self) -> None:
        """Close this loop's HTTP clients (verl never calls it; tests and scripts may)."""
        tb = self._toolboxes.pop(id(asyncio.get_running_loop()), None)
        if tb is not None:
            await tb.aclose()


class SearchTool(_WebTool):
    """``search``: a batch of queries, the top results of each (R-T-04 layout)."""

    tool_name = "search"


class VisitTool(_WebTool):
    """``visit``: pages and a goal, the evidence and a summary (R-T-07 layout)."""

    tool_name = "visit"
