"""The released WebDancer trajectory schema (``sample_traj.jsonl``), read into our records and back.

A released record (R-WD-29) is one chat and little else::

    {"type": "chatml", "task": "agent/multiturn_search",
     "messages": [system, user(<tools> + format + "User: " + question), assistant, user(<tool_response>), ...],
     "functions": [{"name_for_human", "name_for_model", "description_for_model", "parameters"}],
     "tool_calls": [], "answer": [["<gold answer>"]], "tag": "crawlqa" | "e2hqa"}

:func:`import_record` turns it into our trajectory record (``Trajectory.to_dict()`` plus the
sampling context of :mod:`webagent.trajectories.records`): the question is read from the first
user turn, each assistant turn becomes a step whose actions carry the matching
``<tool_response>`` bodies, ``answer`` is the model's ``<answer>`` and ``qa.answer`` the gold one.
The fields of the released record that have no place in ours are kept under ``meta.released``,
so :func:`webagent.trajectories.export.to_webdancer` writes the record back byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from webagent import protocol as P
from webagent import trajectory as T
from webagent.trajectory import Action, Step, Trajectory

SOURCE = "webdancer"
_RESPONSE_RE = re.compile(r"<tool_response>\n?(.*?)\n*</tool_response>", re.DOTALL)


def is_released(record: dict[str, Any]) -> bool:
    """Whether ``record`` is in the released WebDancer schema (and not one of ours)."""
    return record.get("type") == "chatml" and "messages" in record and "steps" not in record


def question_of(messages: list[dict[str, Any]]) -> str:
    """The question: the text after ``User:`` in the first user turn (after its ``<tools>`` block),
    or the whole turn when it has no such marker (as the released runner reads it)."""
    first = next((str(m.get("content") or "") for m in messages if m.get("role") == "user"), "")
    body = first.split("</tools>", 1)[1] if "</tools>" in first else first
    return body.split("User:", 1)[1].strip() if "User:" in body else first.strip()


def tool_responses(text: str) -> list[str]:
    """The bodies of the ``<tool_response>`` blocks of a user turn, without the wrapper's newlines."""
    return _RESPONSE_RE.findall(text)


def gold_answers(answer: Any) -> list[str]:
    """The released ``answer`` field (``[["gold"]]``, also ``["gold"]`` or a string) as a flat list."""
    if isinstance(answer, str):
        return [answer]
    out: list[str] = []
    for a in answer or []:
        out.extend(gold_answers(a) if isinstance(a, list) else [str(a)])
    return out


def record_id(question: str, index: int) -> str:
    """A stable id: the same question at the same line gives the same id on every import."""
    digest = hashlib.sha1(question.encode("utf-8")).hexdigest()[:10]
    return f"{SOURCE}-{index:05d}-{digest}"


def import_record(record: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """One released record as our trajectory record (raises ``ValueError`` on a broken chat)."""
    messages = [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in record.get("messages", [])]
    if not messages or messages[0]["role"] != "system" or not any(m["role"] == "assistant" for m in messages):
        raise ValueError("expected a system turn, a user turn and at least one assistant turn")
    question = question_of(messages)
    if not question:
        raise ValueError("no question in the first user turn")
    steps = _steps(messages)
    last = steps[-1] if steps else None
    answer = last.answer if last is not None else None
    golds = gold_answers(record.get("answer"))
    qid = record_id(question, index)
    traj = Trajectory(question=question, agent="react", model="", policy="released WebDancer data",
                      task_id=f"{qid}#1", messages=messages, steps=steps, answer=answer,
                      termination=T.ANSWER if answer is not None else T.NOT_FOUND, started_at=0.0,
                      gold=golds[0] if golds else None)
    # Every released field, in its order; the chat itself lives in ``messages`` (its slot is kept).
    traj.meta["released"] = {k: (None if k == "messages" else v) for k, v in record.items()}
    traj.meta["source"] = SOURCE
    out = traj.to_dict()
    out.update({"qa_id": qid, "attempt": 1,
                "qa": {"id": qid, "question": question, "answer": golds[0] if golds else "",
                       "aliases": golds[1:], "tag": str(record.get("tag") or "")},
                "teacher": {"label": "released WebDancer data", "kind": "released", "mode": "",
                            "model": "", "privileged": False}})
    return out


def _steps(messages: list[dict[str, str]]) -> list[Step]:
    steps: list[Step] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        reply = P.parse_reply(m["content"])
        nxt = messages[i + 1] if i + 1 < len(messages) and messages[i + 1]["role"] == "user" else None
        observation = nxt["content"] if nxt else ""
        bodies = tool_responses(observation)
        actions = [Action(name=c.name, arguments=c.arguments, error=c.error,
                          observation=bodies[j] if j < len(bodies) else "")
                   for j, c in enumerate(reply.tool_calls)]
        steps.append(Step(index=len(steps), text=m["content"], thought=reply.think, actions=actions,
                          observation=observation, answer=reply.answer))
    return steps


def import_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Import every record; returns the imported ones and ``(line, reason)`` for those that could not be."""
    out, bad = [], []
    for i, r in enumerate(records):
        if not is_released(r):
            bad.append((i + 1, "not in the released WebDancer schema (type 'chatml' with messages)"))
            continue
        try:
            out.append(import_record(r, i))
        except ValueError as e:
            bad.append((i + 1, str(e)))
    return out, bad


# --- the way back -----------------------------------------------------------------------------------

def parse_tools_block(text: str) -> list[dict[str, Any]] | None:
    """The function schemas of a ``<tools>`` block, whatever its layout: one JSON object per line
    (ours), or pretty-printed objects separated by commas and newlines (the released prompt).
    ``None`` when the text has no block or the block does not parse."""
    if "<tools>" not in text or "</tools>" not in text:
        return None
    body = text.split("<tools>", 1)[1].split("</tools>", 1)[0]
    decoder, out, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(body) and body[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(body):
            break
        try:
            value, pos = decoder.raw_decode(body, pos)
        except json.JSONDecodeError:
            return None
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, dict) for v in items):
            return None
        out.extend(v.get("function", v) for v in items)
    return out or None


def webdancer_fields(record: dict[str, Any]) -> dict[str, Any] | None:
    """The released fields kept by :func:`import_record` (``messages`` as ``None``, in its slot),
    if the record came from there."""
    kept = (record.get("meta") or {}).get("released")
    return dict(kept) if isinstance(kept, dict) else None

