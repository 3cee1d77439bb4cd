"""Training-data exports of trajectories and RL prompts.

| format | file | for |
|---|---|---|
| ``jsonl`` | our records, unchanged | this project (``webagent train``) |
| ``webdancer`` | the released WebDancer trajectory schema (R-WD-29) | comparison with the released samples |
| ``sharegpt`` | a JSON list + a ``dataset_info.json`` entry | LLaMA-Factory SFT |
| ``trl`` | ``{"messages": [...]}`` per line | TRL ``SFTTrainer`` (conversational) |
| ``verl`` | parquet: ``data_source, prompt, ability, reward_model{style, ground_truth}, agent_name, extra_info{..., tools_kwargs, judge}`` | verl RL (the RL pool; :mod:`webagent.integrations.verl`) |

All SFT formats carry the chat exactly as the agent saw it: tool output stays in **user** turns
holding ``<tool_response>`` blocks, as in WebDancer's data (R-WD-30), so a trainer's "train on
assistant turns" masks observations.

An assistant turn marked ``"loss": false`` (a teacher's deliberate detour, shown but not to be
learnt; ms-swift's per-message field) keeps the mark in ``jsonl`` and ``trl``; ShareGPT and the
WebDancer schema have no such field, so a trainer reading those trains on the turn.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from webagent import protocol as P
from webagent.jsonl import dumps_line
from webagent.trajectories.records import write_jsonl

FORMATS = ("jsonl", "webdancer", "sharegpt", "trl", "verl")


def _chat(record: dict[str, Any], keep_loss: bool = False) -> list[dict[str, Any]]:
    """The record's messages as plain ``{role, content}`` turns, checked to alternate properly
    (``keep_loss``: with each turn's ``"loss": false`` mark)."""
    msgs = [{"role": str(m["role"]), "content": str(m.get("content") or ""),
             **({"loss": False} if keep_loss and m.get("loss") is False else {})} for m in record.get("messages", [])]
    if len(msgs) < 3 or msgs[0]["role"] != "system" or msgs[-1]["role"] != "assistant":
        raise ValueError(f"trajectory {record.get('task_id')}: expected system, user, …, assistant turns")
    for i, m in enumerate(msgs[1:]):
        if m["role"] != ("user" if i % 2 == 0 else "assistant"):
            raise ValueError(f"trajectory {record.get('task_id')}: turns do not alternate user/assistant at {i + 1}")
    return msgs


def tool_schemas(record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The function schemas the model saw (read from the ``<tools>`` block of the first user turn,
    one JSON object per line or pretty-printed as in the released prompt), else the schemas of
    our search and visit tools."""
    if record:
        from webagent.trajectories.released import parse_tools_block

        first = next((str(m.get("content") or "") for m in record.get("messages", []) if m.get("role") == "user"), "")
        found = parse_tools_block(first)
        if found:
            return found
    from webagent.tools.search import SearchTool
    from webagent.tools.visit import VisitTool

    return [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in (SearchTool, VisitTool)]


# --- SFT formats ---------------------------------------------------------------------------------

def to_webdancer(record: dict[str, Any]) -> dict[str, Any]:
    """One record in the released WebDancer schema (R-WD-29): ``answer`` holds the gold answer.

    A record imported from the released files (``webagent traj import``) is written back exactly
    as it was read: its own ``functions``, ``tool_calls``, ``answer``, ``tag`` and key order."""
    from webagent.trajectories.released import webdancer_fields

    kept = webdancer_fields(record)
    if kept is not None:
        return {k: (_chat(record) if k == "messages" else v) for k, v in kept.items()}
    functions = [{"name_for_human": f["name"], "name_for_model": f["name"],
                  "description_for_model": f.get("description", ""), "parameters": f.get("parameters", {})}
                 for f in tool_schemas(record)]
    qa = record.get("qa") or {}
    gold = qa.get("answer", record.get("gold"))
    golds = [str(g) for g in gold] if isinstance(gold, list) else [str(gold if gold is not None else "")]
    return {"type": "chatml", "task": "agent/multiturn_search", "messages": _chat(record), "functions": functions,
            "tool_calls": [], "answer": [golds], "tag": qa.get("tag") or ""}


def to_sharegpt(record: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT layout: ``system`` plus alternating ``human`` / ``gpt`` turns."""
    msgs = _chat(record)
    roles = {"user": "human", "assistant": "gpt"}
    return {"system": msgs[0]["content"],
            "conversations": [{"from": roles[m["role"]], "value": m["content"]} for m in msgs[1:]]}


def sharegpt_dataset_info(name: str, file_name: str) -> dict[str, Any]:
    """The ``dataset_info.json`` entry that tells LLaMA-Factory how to read :func:`to_sharegpt` files."""
    return {name: {"file_name": file_name, "formatting": "sharegpt",
                   "columns": {"messages": "conversations", "system": "system"},
                   "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}}}


def to_trl(record: dict[str, Any]) -> dict[str, Any]:
    """TRL's conversational format (ms-swift reads it too, ``loss`` marks included)."""
    return {"messages": _chat(record, keep_loss=True)}


# --- RL prompts ----------------------------------------------------------------------------------

def initial_messages(question: str, *, date: str | None = None, prompt_file: str | None = None) -> list[dict[str, str]]:
    """The system and first user turn of an episode, exactly as :class:`ReactAgent` builds them."""
    from webagent.prompts import load_prompts

    prompts = load_prompts("react", prompt_file)
    schemas = [{"type": "function", "function": f} for f in tool_schemas()]
    return [{"role": "system", "content": prompts["system"].format(date=date or _dt.date.today().isoformat())},
            {"role": "user", "content": prompts["user"].format(tools=P.tools_block(schemas), question=question)}]


def to_verl(qa: dict[str, Any], index: int, *, split: str = "train", date: str | None = None,
            prompt_file: str | None = None, judge: dict[str, Any] | None = None) -> dict[str, Any]:
    """One verl RL row: the prompt the policy starts from, the ground truth its reward needs, what
    verl's tool agent loop hands our tools (``tools_kwargs``) and the judge the reward uses
    (``extra_info.judge``: ``name`` rule or llm:<preset>, ``model``, ``base_url``, ``api_key_env``;
    never a key)."""
    answer = qa.get("answer")
    gold = [str(a) for a in answer] if isinstance(answer, list) else [str(answer or "")]
    qa_id = str(qa.get("id", ""))
    judge = {"name": "rule", "model": "", "base_url": "", "api_key_env": "", **(judge or {})}
    return {"data_source": f"webagent/{qa.get('tag') or 'qa'}",
            "prompt": initial_messages(str(qa["question"]), date=date, prompt_file=prompt_file),
            "ability": "web-search",
            "reward_model": {"style": "rule", "ground_truth": gold[0]},
            "agent_name": "tool_agent",
            "extra_info": {"index": index, "split": split, "qa_id": qa_id, "question": str(qa["question"]),
                           "aliases": [*gold[1:], *map(str, qa.get("aliases") or [])],
                           "need_tools_kwargs": True,
                           "tools_kwargs": {name: {"create_kwargs": {"qa_id": qa_id}} for name in ("search", "visit")},
                           "judge": {k: str(judge.get(k) or "") for k in ("name", "model", "base_url", "api_key_env")}}}


def write_verl(qas: list[dict[str, Any]], path: str | Path, **kw: Any) -> Path:
    """Write the RL pool as a verl parquet file (needs pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("the verl export needs pyarrow: pip install 'webagent[train]'") from e
    rows = [to_verl(q, i, **kw) for i, q in enumerate(qas)]
    create = pa.struct([("create_kwargs", pa.struct([("qa_id", pa.string())]))])
    schema = pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("agent_name", pa.string()),
        ("extra_info", pa.struct([("index", pa.int64()), ("split", pa.string()), ("qa_id", pa.string()),
                                  ("question", pa.string()), ("aliases", pa.list_(pa.string())),
                                  ("need_tools_kwargs", pa.bool_()),
                                  ("tools_kwargs", pa.struct([("search", create), ("visit", create)])),
                                  ("judge", pa.struct([(k, pa.string()) for k in ("name", "model", "base_url",
                                                                                   "api_key_env")]))])),
    ])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


# --- writing -------------------------------------------------------------------------------------

def export(records: list[dict[str, Any]], fmt: str, out: str | Path, *, name: str = "webagent_sft",
           qas: list[dict[str, Any]] | None = None, **kw: Any) -> list[Path]:
    """Write ``records`` (or, for ``verl``, the QA items ``qas``) in format ``fmt`` under ``out``
    (a file for one-file formats; ShareGPT writes ``out`` and ``dataset_info.json`` beside it).
    Returns the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (have: {', '.join(FORMATS)})")
    out = Path(out)
    if fmt == "verl":
        if qas is None:
            raise ValueError("the verl export writes QA items (the RL pool): pass qas")
        return [write_verl(qas, out, **kw)]
    if fmt == "jsonl":
        return [write_jsonl(out, records)]
    if fmt == "webdancer":
        return [write_jsonl(out, (to_webdancer(r) for r in records))]
    if fmt == "trl":
        return [write_jsonl(out, (to_trl(r) for r in records))]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps_line([to_sharegpt(r) for r in records], indent=1), encoding="utf-8")
    info_path = out.parent / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info.update(sharegpt_dataset_info(name, out.name))  # other datasets' entries are kept
    info_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [out, info_path]

