"""The released WebDancer/WebShaper files in and out: import, exact round trip, QA loaders.

The fixtures in tests/data/released/ are written by hand in the released schemas (R-WD-05,
R-WD-29, WebShaper's ``id, question, answer, formalization, urls``), with fictional content.
"""

import json
from pathlib import Path

import pytest

from _traj_helpers import make_record
from webagent.cli import main
from webagent.eval.benchmarks import load_benchmark, load_qa_file, normalize_lang, strip_quotes
from webagent.synth.qa import QARecord
from webagent.trajectories.export import export, to_webdancer, tool_schemas
from webagent.trajectories.filters import validity_reason
from webagent.trajectories.records import read_jsonl
from webagent.trajectories.released import import_record, import_records, parse_tools_block, question_of
from webagent.trajectory import Trajectory

DATA = Path(__file__).parent / "data" / "released"
TRAJ = DATA / "webdancer_sample_traj.jsonl"


def _released():
    return read_jsonl(TRAJ)


def test_import_reads_question_steps_observations_and_both_answers():
    rec = import_record(_released()[1], 1)
    assert rec["question"].startswith("Who chaired the programme committee") and rec["question"].endswith("2021?")
    assert rec["answer"] == "Ilse Varga"  # the model's <answer>
    assert rec["qa"]["answer"] == "Dr. Ilse Varga" and rec["gold"] == "Dr. Ilse Varga"  # the released gold
    assert rec["qa"]["tag"] == "e2hqa" and rec["termination"] == "answer"
    assert [len(s["actions"]) for s in rec["steps"]] == [1, 1, 0]
    search = rec["steps"][0]["actions"][0]
    assert search["name"] == "search" and search["arguments"] == {"query": ["Noria Institute workshop 2021",
                                                                           "Noria 2021 programme committee chair"]}
    assert search["observation"].startswith("A Google search for 'Noria Institute workshop 2021'")
    assert search["observation"].endswith("Programme committee and call for papers.")  # wrapper newlines dropped
    visit = rec["steps"][1]["actions"][0]
    assert visit["observation"].endswith("names Dr. Ilse Varga as the programme committee chair.")
    traj = Trajectory.from_dict(rec)
    assert traj.tool_calls == 2 and traj.llm_calls == 3


def test_export_writes_an_imported_record_back_byte_for_byte(tmp_path):
    imported, bad = import_records(_released())
    assert bad == [] and len(imported) == 3
    path = tmp_path / "imported.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in imported))
    (out,) = export(read_jsonl(path), "webdancer", tmp_path / "back.jsonl")
    assert out.read_text(encoding="utf-8") == TRAJ.read_text(encoding="utf-8")


def test_export_answer_is_the_gold_answer_not_the_prediction():
    rec = make_record(answer="Ada Lynn", gold="Ada Lin")
    assert to_webdancer(rec)["answer"] == [["Ada Lin"]]


def test_pretty_printed_released_tools_block_is_parsed():
    first_user = _released()[0]["messages"][1]["content"]
    schemas = parse_tools_block(first_user)
    assert [s["name"] for s in schemas] == ["search", "visit"]
    assert schemas[1]["parameters"]["required"] == ["url", "goal"]
    # the export reads the schemas the model saw, not our own tools' schemas
    rec = make_record()
    rec["messages"][1] = {"role": "user", "content": first_user}
    functions = to_webdancer(rec)["functions"]
    assert functions[0]["description_for_model"].startswith("Run web searches: give an array")
    assert tool_schemas({"messages": [{"role": "user", "content": "<tools>\n{broken\n</tools>"}]})[0]["name"] == "search"


def test_question_without_tools_block_or_marker():
    assert question_of([{"role": "user", "content": "Just a question?"}]) == "Just a question?"
    assert question_of([{"role": "user", "content": "<tools>\n{}\n</tools>\nUser: Q?"}]) == "Q?"


def test_broken_records_are_reported_not_lost():
    good = _released()[0]
    out, bad = import_records([good, {"type": "chatml", "messages": [{"role": "user", "content": "x"}]}, {"foo": 1}])
    assert len(out) == 1
    assert [line for line, _ in bad] == [2, 3]
    with pytest.raises(ValueError, match="traj import"):
        Trajectory.from_dict(good)


def test_traj_filter_and_select_take_released_files(tmp_path, capsys):
    """Before the importer, filter dropped every released record as "no final answer (unfinished)"."""
    out = tmp_path / "filtered.jsonl"
    assert main(["traj", "filter", str(TRAJ), "--out", str(out), "--rejected", str(tmp_path / "rej.jsonl")]) == 0
    kept = read_jsonl(out)
    rejected = read_jsonl(tmp_path / "rej.jsonl")
    assert {r["question"][:20] for r in kept} >= {"Which city hosted th"}
    assert not any("unfinished" in json.dumps(r.get("filters")) for r in rejected)
    assert all(validity_reason(r) is None for r in import_records(_released())[0])
    # import, then the same file goes to select and back to the released schema
    imported = tmp_path / "imported.jsonl"
    assert main(["traj", "import", str(TRAJ), "--out", str(imported)]) == 0
    assert "imported 3 of 3" in capsys.readouterr().out
    sel = tmp_path / "sel.jsonl"
    assert main(["traj", "select", str(imported), "--out", str(sel), "--min-tool-calls", "1", "--allow-incorrect"]) == 0
    assert len(read_jsonl(sel)) == 3


def test_imported_records_train_with_observations_masked():
    from webagent.train.data import normalize_record
    from webagent.train.masking import to_turns

    turns = to_turns(normalize_record(import_record(_released()[1], 1)))
    roles = [t.role for t in turns]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert all("<tool_response>" in t.content for t in turns[3::2])


# --- QA loaders ----------------------------------------------------------------------------------

def test_sample_qa_keeps_tag():
    qas = load_qa_file(DATA / "webdancer_sample_qa.jsonl")
    assert [q["tag"] for q in qas] == ["crawlqa", "crawlqa", "e2hqa"]
    assert "id" not in qas[0]  # sampling gives it a stable id from the question
    assert load_benchmark(str(DATA / "webdancer_sample_qa.jsonl")).tasks[2]["tag"] == "e2hqa"


def test_webshaper_keeps_urls_formalization_and_strips_wrapping_quotes():
    qas = load_qa_file(DATA / "webshaper_sample.jsonl")
    assert qas[0]["question"].startswith("Which observatory") and qas[0]["question"].endswith("record?")
    assert qas[0]["evidence_urls"] == ["https://kell.test/people/navigator", "https://observatories.test/varga"]
    assert qas[0]["formalization"][1] == ["V@Y", "born_in", "C@Kell Island"]
    assert qas[1]["question"] == 'Which ship, named "Grey Tern" by its builder, first sailed in what year?'
    assert qas[2]["question"] == '"Grey Tern" and "Ossel": which is older?'  # quotes of titles stay


@pytest.mark.parametrize("text,want", [
    ('"Who?"', "Who?"), ('"Who is "X"?"', 'Who is "X"?'), ('"A" or "B"', '"A" or "B"'), ("plain", "plain"),
    ('"', '"'),
])
def test_strip_quotes(text, want):
    assert strip_quotes(text) == want


def test_language_labels_are_normalised(tmp_path):
    assert normalize_lang("English") == "en" and normalize_lang("Chinese") == "zh" and normalize_lang("fr") == "fr"
    row = {"Question": "Q?", "Answer": "A", "Root_Url": "https://a.test/",
           "Info": {"Hop": "single-source", "Domain": "Conference", "Language": "English", "Difficulty_Level": "Easy"}}
    assert QARecord.from_dict(row).info["lang"] == "en"
    path = tmp_path / "ww.json"
    path.write_text(json.dumps([row]))
    assert load_benchmark(str(path)).tasks[0]["info"]["lang"] == "en"


def test_traj_qa_accepts_a_json_array_file(tmp_path):
    from argparse import Namespace

    from webagent.trajectories.cli import _load_qas

    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"question": "Q1?", "answer": "A1", "tag": "crawlqa"},
                                {"question": "Q2?", "answer": "A2"}], indent=2))
    qas = _load_qas(Namespace(qa=str(path), limit=None, split="train", world=None))
    assert [q["question"] for q in qas] == ["Q1?", "Q2?"] and qas[0]["tag"] == "crawlqa"


def test_xlsx_error_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_openpyxl(name, *a, **k):
        if name == "openpyxl":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    path = tmp_path / "b.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"webagent\[xlsx\]"):
        load_benchmark(str(path))


def test_the_ui_lists_imported_records(tmp_path):
    from webagent.ui.files import file_kind, trajectory_row
    from webagent.ui.files import read_jsonl as ui_read

    path = tmp_path / "imported.jsonl"
    assert main(["traj", "import", str(TRAJ), "--out", str(path)]) == 0
    rows = ui_read(path)
    rows = getattr(rows, "rows", rows)
    assert file_kind(rows) == "trajectories"
    row = trajectory_row(rows[1], 1)
    assert row["gold"] == "Dr. Ilse Varga" and row["answer"] == "Ilse Varga" and row["tool_calls"] == 2
    assert row["policy"] == "released WebDancer data"
