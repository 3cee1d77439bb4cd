import json

import pyarrow.parquet as pq

from _traj_helpers import make_record
from webagent import protocol as P
from webagent.trajectories.export import export, initial_messages
from webagent.trajectories.records import read_jsonl
from webagent.trajectories.select import RFTConfig, select_rft, split_sets


def _records():
    return [make_record(), make_record(qa="q2", question="Who chairs TAGARD 2024?", answer="Bo Wen", gold="Bo Wen")]


def test_webdancer_export_follows_the_released_schema(tmp_path):
    (path,) = export(_records(), "webdancer", tmp_path / "wd.jsonl")
    rows = read_jsonl(path)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"type", "task", "messages", "functions", "tool_calls", "answer", "tag"}
        assert row["type"] == "chatml" and row["task"] == "agent/multiturn_search" and row["tool_calls"] == []
        roles = [m["role"] for m in row["messages"]]
        assert roles[0] == "system" and roles[-1] == "assistant"
        assert all(r == ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(roles[1:]))
        assert all("<tool_response>" in m["content"] for m in row["messages"][3::2])  # observations are user turns
        assert isinstance(row["answer"], list) and isinstance(row["answer"][0], list) and isinstance(row["answer"][0][0], str)
        assert [f["name_for_model"] for f in row["functions"]] == ["search", "visit"]
        assert all(set(f) == {"name_for_human", "name_for_model", "description_for_model", "parameters"} for f in row["functions"])
        assert row["tag"] == "crawlqa"
    assert rows[1]["answer"] == [["Bo Wen"]]


def test_sharegpt_export_and_its_dataset_info_entry(tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "o.json"}}))
    paths = export(_records(), "sharegpt", tmp_path / "sft.json", name="mine")
    data = json.loads(paths[0].read_text())
    assert isinstance(data, list) and len(data) == 2
    for row in data:
        assert set(row) == {"system", "conversations"} and row["system"].startswith("You are")
        froms = [t["from"] for t in row["conversations"]]
        assert froms[0] == "human" and froms[-1] == "gpt" and len(froms) % 2 == 0
        assert all(f == ("human" if i % 2 == 0 else "gpt") for i, f in enumerate(froms))
        assert P.parse_reply(row["conversations"][-1]["value"]).answer is not None
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["other"] == {"file_name": "o.json"}  # existing entries survive
    entry = info["mine"]
    assert entry["file_name"] == "sft.json" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system"}
    assert entry["tags"]["user_tag"] == "human" and entry["tags"]["assistant_tag"] == "gpt"


def test_trl_export_is_conversational(tmp_path):
    (path,) = export(_records(), "trl", tmp_path / "trl.jsonl")
    rows = read_jsonl(path)
    assert all(set(r) == {"messages"} for r in rows)
    assert rows[0]["messages"] == [{"role": m["role"], "content": m["content"]} for m in _records()[0]["messages"]]
    # A detour turn marked "loss": false keeps its mark in trl (ms-swift reads it); the released schema has no such field.
    marked = _records()
    marked[0]["messages"][2]["loss"] = False
    (path,) = export(marked, "trl", tmp_path / "trl2.jsonl")
    assert [m.get("loss") for m in read_jsonl(path)[0]["messages"]][:4] == [None, None, False, None]
    (path,) = export(marked, "webdancer", tmp_path / "wd2.jsonl")
    assert all("loss" not in m for m in read_jsonl(path)[0]["messages"])


def test_verl_parquet_has_the_expected_columns(tmp_path):
    qas = [{"id": "q1", "question": "Who chairs NORIA 2025?", "answer": "Ada Lin", "aliases": ["A. Lin"], "tag": "crawlqa"},
           {"id": "q2", "question": "When was X founded?", "answer": "1990", "tag": "e2hqa"}]
    (path,) = export([], "verl", tmp_path / "rl.parquet", qas=qas, date="2025-01-01")
    table = pq.read_table(path)
    assert table.column_names == ["data_source", "prompt", "ability", "reward_model", "agent_name", "extra_info"]
    rows = table.to_pylist()
    assert rows[0]["data_source"] == "webagent/crawlqa" and rows[1]["data_source"] == "webagent/e2hqa"
    assert rows[0]["reward_model"] == {"style": "rule", "ground_truth": "Ada Lin"}
    assert rows[0]["prompt"] == initial_messages("Who chairs NORIA 2025?", date="2025-01-01")
    assert rows[0]["prompt"][1]["content"].endswith("User: Who chairs NORIA 2025?") and "<tools>" in rows[0]["prompt"][1]["content"]
    assert rows[0]["extra_info"]["aliases"] == ["A. Lin"] and rows[1]["extra_info"]["index"] == 1


def _tiny_tokenizer(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "ada": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    return str(tmp_path / "tok")


def test_rft_rules_with_a_real_tokenizer(tmp_path):
    six = [("Step.", [("search", {"query": [f"q{i}"]})]) for i in range(6)]
    long_ok = make_record(qa="a", turns=six)
    five = make_record(qa="b", turns=six[:5])
    wrong = {**make_record(qa="c", turns=six), "correct": False}
    recs = [{**long_ok, "correct": True}, {**five, "correct": True}, wrong]
    tok = _tiny_tokenizer(tmp_path)
    kept, removed = select_rft(recs, RFTConfig(tokenizer=tok))
    assert [r["qa_id"] for r in kept] == ["a"]
    assert removed == {"fewer than 6 tool calls": 1, "incorrect answer": 1}
    assert kept[0]["rft"]["tool_calls"] == 6 and kept[0]["rft"]["counter"] == f"tokenizer:{tok}"
    n = kept[0]["rft"]["tokens"]
    kept2, removed2 = select_rft(recs[:1], RFTConfig(tokenizer=tok, max_tokens=n - 1))
    assert kept2 == [] and removed2 == {f"longer than {n - 1} tokens": 1}
    assert select_rft(recs[:1], RFTConfig(tokenizer=tok, max_tokens=n))[0]  # the bound is inclusive
    assert len(select_rft(recs, RFTConfig(min_tool_calls=None, require_correct=False))[0]) == 3


def test_rl_pool_is_every_qa_without_a_surviving_trajectory():
    qas = [{"id": i, "question": f"question {i}?", "answer": "x"} for i in ("q1", "q2", "q3")]
    splits = split_sets(qas, [make_record(qa="q2")])
    assert [q["id"] for q in splits.rl_pool] == ["q1", "q3"]
    assert [d["id"] for d in splits.dupo_input] == ["q1", "q3"]
    assert splits.dupo_input[0]["dupo"] == {"group_size": 8, "drop_all_wrong": False}
