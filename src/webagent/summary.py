"""How commands print what they did: a short aligned table, the full JSON on request.

A command's summary can hold dozens of nested numbers (a synthesis profile, a world's manifest,
training metrics). The console gets a few aligned lines; ``--json`` prints the whole record, and a
command with an output directory also writes it there as a file::

    kept        5 (0 resumed, 6 attempts, 2.2 per second)
    rejected    answer_too_long 1
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def add_json_arg(p: argparse.ArgumentParser, what: str = "the full summary") -> None:
    """``--json``: print ``what`` as JSON instead of the short table."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON instead of a short table")


def value_text(value: Any) -> str:
    """One value in words: numbers rounded, a mapping as ``key value, …``, a list comma-separated."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{k} {value_text(v) if not isinstance(v, dict) else '(' + value_text(v) + ')'}"
                         for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value) or "none"
    return str(value)


def table(rows: Iterable[tuple[str, Any]]) -> str:
    """Rows of ``(label, value)`` as aligned lines (values through :func:`value_text`)."""
    rows = [(label, value if isinstance(value, str) else value_text(value)) for label, value in rows]
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def emit(data: dict[str, Any], rows: Iterable[tuple[str, Any]], *, as_json: bool = False,
         path: str | Path | None = None) -> None:
    """Print ``rows`` as a table, or ``data`` as JSON when ``as_json``; write ``data`` to ``path``
    too when given (and say where)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    if as_json:
        print(text)
        return
    print(table(rows))
    if path is not None:
        print(f"full summary: {path}")
