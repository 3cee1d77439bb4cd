"""Record/replay cache for tool calls: rerun an episode, an evaluation or a data-generation job
and get the same observations, bit for bit, without touching a search API or the web.

Entries are content-addressed files: the key is the SHA-256 of the tool name, its arguments as
canonical JSON (after validation, so ``"q"`` and ``["q"]`` are one call) and a backend fingerprint
(which engine, which extractor, which world), stored as ``{root}/{key[:2]}/{key}.json``. Writes go
to a temporary file renamed into place, so concurrent writers (coroutines, processes, machines on
a shared disk) never leave a torn entry.

Modes:

* ``off``: pass-through;
* ``record``: always call the tool and store the observation (refreshes entries);
* ``replay``: only read; a miss returns a clear observation and never calls the tool;
* ``auto``: read, and on a miss call the tool and store the result.

A stateful tool (``stateful = True``, like WebWalker's click) answers according to the calls
before it, so its key also holds the arguments of the earlier calls through the same wrapper.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from webagent.jsonl import dumps_line
from webagent.tools.base import Tool, ToolError

MODES = ("off", "record", "replay", "auto")
CACHE_FORMAT = 1


class ToolCache:
    """A directory of recorded tool observations."""

    def __init__(self, root: str | os.PathLike, mode: str = "auto", *, fingerprint: str = ""):
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {MODES}, got {mode!r}")
        self.root = Path(root)
        self.mode = mode
        self.fingerprint = fingerprint
        """Mixed into every key, e.g. a world's content hash or an experiment name."""

    def key(self, tool: str, args: dict[str, Any], backend: str = "") -> str:
        payload = json.dumps(
            {"format": CACHE_FORMAT, "tool": tool, "args": args, "backend": backend, "cache": self.fingerprint},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The stored observation for ``key``, or None (a corrupt entry counts as missing)."""
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
            return entry["observation"] if isinstance(entry.get("observation"), str) else None
        except (OSError, ValueError, AttributeError):
            return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` (must hold ``observation``) atomically."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = dumps_line(entry, sort_keys=True, indent=1)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{key[:8]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("??/*.json")) if self.root.exists() else 0


class CachedTool(Tool):
    """``tool`` behind a ``ToolCache``; same name, description and schema as the tool."""

    def __init__(self, tool: Tool, cache: ToolCache):
        self.tool = tool
        self.cache = cache
        self.name = tool.name
        self.description = tool.description
        self.parameters = tool.parameters
        self._history: list[dict[str, Any]] = []
        self._locks: dict[str, asyncio.Lock] = {}

    def schema(self) -> dict[str, Any]:
        return self.tool.schema()

    def __getattr__(self, name: str) -> Any:
        # Anything else (a click tool's session, a search tool's engine) is the wrapped tool's.
        if name == "tool":
            raise AttributeError(name)
        return getattr(self.tool, name)

    async def __call__(self, args: dict[str, Any] | str | None) -> str:
        if self.cache.mode == "off":
            return await self.tool(args)
        try:
            clean = self.tool.validate(args)
        except ToolError as e:
            return f"[{self.name}] Error: {e}"  # invalid arguments never reach the cache
        return await self._cached({"args": clean}, lambda: self.tool(clean))

    async def root_observation(self) -> str:
        """A click tool's first observation (the root page), cached like a call."""
        if self.cache.mode == "off":
            return await self.tool.root_observation()
        return await self._cached({"root_observation": True}, self.tool.root_observation)

    async def _cached(self, call: dict[str, Any], live: Callable[[], Awaitable[str]]) -> str:
        key_args = dict(call)
        if getattr(self.tool, "stateful", False):
            key_args["before"] = list(self._history)
            self._history.append(call)
        backend = str(getattr(self.tool, "fingerprint", "") or "")
        key = self.cache.key(self.name, key_args, backend)
        # One live call per key at a time: a concurrent duplicate waits and then reads the entry.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if self.cache.mode in ("replay", "auto"):
                hit = self.cache.get(key)
                if hit is not None:
                    return hit
            if self.cache.mode == "replay":
                return (
                    f"[{self.name}] Error: no recorded observation for this call (the cache is in "
                    f"replay mode and has no entry for these arguments)."
                )
            observation = await live()
            entry = {"tool": self.name, "args": key_args, "backend": backend, "observation": observation}
            self.cache.put(key, entry)
            return observation

    async def call(self, **args: Any) -> str:  # pragma: no cover - __call__ is the entry point
        return await self.tool.call(**args)
