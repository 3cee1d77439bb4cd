"""The verl tool-config YAML for :mod:`.tools` (``actor_rollout_ref.rollout.multi_turn.tool_config_path``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def tool_config(web_url: str | None = "http://127.0.0.1:8700", *, protocol: str = "webagent",
                **extra: Any) -> dict[str, Any]:
    """The config as a dict: one entry per tool, with our schemas and where the web is."""
    from webagent.tools.search import SearchTool
    from webagent.tools.visit import VisitTool

    config = {"type": "native", **({"web_url": web_url} if web_url else {}), "protocol": protocol, **extra}
    return {"tools": [
        {"class_name": f"webagent.integrations.verl.tools.{cls}", "config": dict(config),
         "tool_schema": {"type": "function", "function": {"name": t.name, "description": t.description,
                                                          "parameters": t.parameters}}}
        for cls, t in (("SearchTool", SearchTool), ("VisitTool", VisitTool))]}


def tool_config_yaml(config: dict[str, Any]) -> str:
    """YAML text of :func:`tool_config` (block style at the top, JSON flow style for values: every
    JSON value is YAML, so no YAML library is needed to write it)."""
    lines = ["# verl multi-turn tool config for webagent (webagent.integrations.verl)", "tools:"]
    for tool in config["tools"]:
        lines.append(f"  - class_name: {tool['class_name']}")
        lines.append(f"    config: {json.dumps(tool['config'], ensure_ascii=False)}")
        lines.append(f"    tool_schema: {json.dumps(tool['tool_schema'], ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def write_tool_config(path: str | Path, web_url: str | None = "http://127.0.0.1:8700", **kw: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tool_config_yaml(tool_config(web_url, **kw)), encoding="utf-8")
    return path
