"""The event loop of every long run: asyncio's own, or uvloop on request.

``WEBAGENT_EVENT_LOOP=uvloop`` runs every run's loop on uvloop (installed with
``uvicorn[standard]`` on Linux and macOS). On the agent benchmark it was no faster overall: ahead
at 256 episodes in flight, behind at 16, within the machine's swings (docs/benchmarks.md), so the
standard loop stays the default. One function picks the loop for every command, so a user whose
tools are network-bound can try uvloop everywhere at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "WEBAGENT_EVENT_LOOP"


def loop_name() -> str:
    """``"asyncio"`` (the default) or ``"uvloop"``: the loop :func:`run` uses now."""
    choice = os.environ.get(ENV, "").strip().lower() or "asyncio"
    if choice not in ("asyncio", "uvloop"):
        raise ValueError(f"{ENV}={choice!r}: use asyncio or uvloop")
    if choice == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise ValueError(f"{ENV}=uvloop but uvloop is not installed (pip install uvloop)") from None
    return choice


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
