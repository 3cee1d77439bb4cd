"""One JSONL reader for the package: records end at "\n" only. Model output and pages contain
U+2028, U+2029, U+0085 and other characters that str.splitlines treats as line breaks; written raw
with ensure_ascii=False, they must not cut a record in two anywhere the package reads JSONL."""

from __future__ import annotations

import json

import pytest

from webagent.jsonl import iter_jsonl, iter_text, read_jsonl, split_lines

BREAKERS = "\u2028\u2029\u0085\x1c\x1d\x1e\x0b\x0c"
TEXT = f"a{BREAKERS}b"


def _write(path, records, torn: str = ""):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + torn, encoding="utf-8")
    return path


def test_reader_splits_at_newline_only(tmp_path):
    recs = [{"task_id": "1", "answer": TEXT, "correct": True}, {"task_id": "2", "answer": "x", "correct": False}]
    path = _write(tmp_path / "r.jsonl", recs, torn='{"task_id": "3", "ans')
    assert read_jsonl(path) == recs  # the torn last line is skipped
    assert [n for n, _ in iter_jsonl(path)] == [1, 2]
    assert split_lines(path.read_text(encoding="utf-8")) == path.read_text(encoding="utf-8").split("\n")
    with pytest.raises(ValueError, match=r"r.jsonl:3: not valid JSON"):
        read_jsonl(path, torn_ok=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        read_jsonl(bad)
    assert read_jsonl(bad, skip_bad=True) == [{"a": 1}, {"a": 2}]
    assert [r for _, r in iter_text(bad.read_text(), skip_bad=True)] == [{"a": 1}, {"a": 2}]
    assert read_jsonl(tmp_path / "missing.jsonl", missing_ok=True) == []
    import gzip

    gz = tmp_path / "r.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_jsonl(gz) == recs


def test_every_package_reader_keeps_records_with_line_separators_whole(tmp_path):
    from webagent.agents.runner import completed_ids, read_tasks
    from webagent.eval.benchmarks import read_rows
    from webagent.eval.report import load_records
    from webagent.synth.qa import read_records
    from webagent.train.data import read_jsonl as read_training
    from webagent.trajectories.export import tool_schemas
    from webagent.trajectories.records import read_jsonl as read_records_file
    from webagent.trajectories.sample import _solved
    from webagent.ui.files import read_jsonl as ui_read

    rec = {"task_id": "q1", "id": "q1", "question": TEXT, "answer": TEXT, "correct": True,
           "messages": [{"role": "user", "content": TEXT}]}
    path = _write(tmp_path / "run-1.jsonl", [rec, {**rec, "task_id": "q2", "id": "q2"}])
    assert [r["task_id"] for r in read_tasks(path)] == ["q1", "q2"]
    assert completed_ids(path) == {"q1", "q2"}
    assert [r["answer"] for r in read_rows(path)] == [TEXT, TEXT]
    assert [r["answer"] for r in load_records(tmp_path)] == [TEXT, TEXT]
    assert [r.question for r in read_records(path)] == [TEXT, TEXT]
    assert [r["question"] for _, r in read_training(path)] == [TEXT, TEXT]
    assert len(read_records_file(path)) == 2
    assert _solved(path)
    ui = ui_read(path)
    assert len(ui.rows) == 2 and ui.skipped == 0
    schema = {"type": "function", "function": {"name": "search", "description": TEXT}}
    prompt = {"messages": [{"role": "user", "content": f"<tools>\n{json.dumps(schema, ensure_ascii=False)}\n</tools>"}]}
    assert tool_schemas(prompt) == [schema["function"]]


def test_training_logs_and_pipeline_reports_read_whole_records(tmp_path):
    pytest.importorskip("torch")
    from webagent.train.pipeline import _read_jsonl
    from webagent.train.rl import metrics_summary

    log = _write(tmp_path / "rl_log.jsonl", [{"step": 1, "reward": 0.5, "note": TEXT}, {"step": 2, "reward": 1.0}])
    assert metrics_summary(log)["reward"] == 0.75
    assert [r["step"] for r in _read_jsonl(log)] == [1, 2]


def test_truncate_steps_keeps_the_log_up_to_the_checkpoint(tmp_path):
    from webagent.jsonl import truncate_steps

    log = tmp_path / "train_log.jsonl"
    assert truncate_steps(log, 3) == 0 and not log.exists()
    rows = [{"step": s, "note": "a\u2028b"} for s in (1, 2, 3, 4, 5)]
    log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + '{"step": 6, "lo')
    assert truncate_steps(log, 3) == 3  # steps 4 and 5, and the torn step 6
    assert [r["step"] for r in read_jsonl(log)] == [1, 2, 3]
    assert read_jsonl(log)[0]["note"] == "a\u2028b"
    assert truncate_steps(log, 3) == 0
    assert truncate_steps(log, 0) == 3 and log.read_text() == ""  # a fresh run starts a fresh log
