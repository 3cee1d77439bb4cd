"""The ``Tool`` seam: a name, a JSON schema and an async call that returns an observation string.

A tool never raises into the agent. Invalid arguments, unreachable pages and backend failures all
come back as a clear observation the model can read and recover from; ``Tool.__call__`` is the one
place that guarantees it.
"""

from __future__ import annotations

import logging
from typing import Any

from webagent.protocol import loads_safe

log = logging.getLogger(__name__)

_JSON_TYPES = {"string": str, "array": list, "integer": int, "number": (int, float), "boolean": bool, "object": dict}


class ToolError(Exception):
    """A failure whose message is meant for the model (bad arguments, page not found, ...)."""


class Tool:
    """Base class for agent tools.

    Subclasses set ``name``, ``description`` and ``parameters`` (a JSON schema of the arguments)
    and implement ``call(**args)``. Agents call the instance: ``await tool({"query": [...]})``.
    """

    name: str = ""
    description: str = ""
    parameters: dict[str, Any] = {"type": "object", "properties": {}, "required": []}

    async def call(self, **args: Any) -> str:
        raise NotImplementedError

    async def __call__(self, args: dict[str, Any] | str | None) -> str:
        try:
            return await self.call(**self.validate(args))
        except ToolError as e:
            return f"[{self.name}] Error: {e}"
        except Exception as e:  # a tool must never kill an episode
            log.warning("tool %s failed: %r", self.name, e, exc_info=True)
            return f"[{self.name}] Error: the tool failed unexpectedly ({type(e).__name__}: {e})"

    def validate(self, args: dict[str, Any] | str | None) -> dict[str, Any]:
        """Check ``args`` against ``parameters``; raise ``ToolError`` with a readable reason."""
        if args is None:
            args = {}
        if isinstance(args, str):
            try:
                args = loads_safe(args) if args.strip() else {}
            except ValueError as e:
                raise ToolError(f"arguments are not valid JSON ({e})") from None
        if not isinstance(args, dict):
            raise ToolError(f"arguments must be a JSON object, got {type(args).__name__}")
        props = self.parameters.get("properties", {})
        for key in self.parameters.get("required", []):
            if key not in args or args[key] in (None, "", []):
                raise ToolError(f"missing required argument '{key}'")
        clean = {}
        for key, value in args.items():
            if key not in props:
                continue  # models add stray fields; ignoring them is kinder than failing
            types = props[key].get("type")
            allowed = tuple(_JSON_TYPES[t] for t in (types if isinstance(types, list) else [types]) if t)
            if allowed and not isinstance(value, allowed):
                raise ToolError(f"argument '{key}' must be of type {types}, got {type(value).__name__}")
            clean[key] = value
        return clean

    def schema(self) -> dict[str, Any]:
        """OpenAI function-calling schema of this tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }
