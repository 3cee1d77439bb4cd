"""The event loop of every long run: uvloop where it is installed, asyncio's own otherwise.

uvloop comes with ``uvicorn[standard]`` (a dependency) on Linux and macOS. Episodes spend much of
their client CPU in the loop and its sockets (callbacks, timers, aiohttp's transports), which
uvloop runs in C; docs/benchmarks.md has the figures. ``WEBAGENT_EVENT_LOOP=asyncio`` picks the
standard loop (to rule the loop out when debugging), ``uvloop`` requires uvloop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "WEBAGENT_EVENT_LOOP"


def loop_name() -> str:
    """``"uvloop"`` or ``"asyncio"``: the loop :func:`run` uses now."""
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"{ENV}={choice!r}: use auto, uvloop or asyncio")
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise ValueError(f"{ENV}=uvloop but uvloop is not installed (pip install uvloop)") from None
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_name` picks."""
    try:
        name = loop_name()
    except ValueError:
        main.close()  # never awaited: close it rather than leave a warning behind the error
        raise
    if name == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
