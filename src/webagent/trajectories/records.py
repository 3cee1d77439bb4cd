"""Our trajectory JSONL: one sampled trajectory per line, and the helpers every stage shares.

A record is :meth:`webagent.trajectory.Trajectory.to_dict` plus the sampling context::

    task_id   "<qa id>#<attempt>"     the runner's resume key
    qa_id     the QA item's id        attempt   1..N
    qa        the QA item (question, answer, aliases, tag, evidence_urls, ...), as the task had it
    teacher   {label, kind, mode, model, privileged[, exploration]}
    correct   the sampling-time verdict     judge   that verdict in full

Later stages add their own keys (``filters``, ``meta.reconstructed``, ``rft``) and never remove
the ones above, so any stage's output is a valid input to the next and to the exports.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from webagent import protocol as P
from webagent.jsonl import dumps_line
from webagent.jsonl import read_jsonl as _read_jsonl
from webagent.trajectory import Trajectory


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record of a JSONL file; a torn last line (a crash mid-write) is skipped, a corrupt
    line elsewhere is an error naming the line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    return _read_jsonl(path)


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> Path:
    """Write ``records`` atomically (a temp file renamed into place): a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(dumps_line(r))
    os.replace(tmp, path)
    return path


def qa_id(record: dict[str, Any]) -> str:
    """The QA item a trajectory record belongs to."""
    if record.get("qa_id"):
        return str(record["qa_id"])
    tid = str(record.get("task_id") or "")
    return tid.rsplit("#", 1)[0] if "#" in tid else tid


def gold_of(record: dict[str, Any]) -> tuple[Any, list[str]]:
    """The gold answer and accepted aliases of a record."""
    qa = record.get("qa") or {}
    gold = qa.get("answer", record.get("gold"))
    return gold, list(qa.get("aliases") or [])


def trajectory(record: dict[str, Any]) -> Trajectory:
    return Trajectory.from_dict(record)


def assistant_texts(record: dict[str, Any]) -> list[str]:
    """The assistant turns of a record, as the model wrote them."""
    return [str(m.get("content") or "") for m in record.get("messages", []) if m.get("role") == "assistant"]


def thoughts(record: dict[str, Any]) -> list[str]:
    """The thought of every assistant turn (empty string where a turn has none)."""
    return [P.parse_reply(t).think for t in assistant_texts(record)]


def tool_calls(record: dict[str, Any]) -> int:
    return sum(len(s.get("actions") or []) for s in record.get("steps", []))


def actions(record: dict[str, Any]) -> int:
    """Actions as the WebDancer paper counts them: tool calls plus the final answer."""
    return tool_calls(record) + int(record.get("answer") is not None)
