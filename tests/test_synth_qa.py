"""The QA record, difficulty mapping, quality gate and resumable JSONL writer."""

from __future__ import annotations

import json

import pytest

from webagent.synth.qa import (
    DifficultyMap,
    Draft,
    JsonlWriter,
    QARecord,
    QualityGate,
    contains_phrase,
    oracle_tool_calls,
    read_records,
)
from webagent.world.graph import Entity, Fact, KnowledgeGraph


def test_record_round_trip_keeps_released_fields_first():
    rec = QARecord("Who chairs X?", "Ada", "webwalkerqa", root_url="http://a.test/",
                   info={"type": "single_source", "difficulty_level": "easy"}, id="w-1", hops=1)
    d = rec.to_dict()
    assert list(d)[:5] == ["question", "answer", "tag", "root_url", "info"]
    assert QARecord.from_dict(json.loads(json.dumps(d))) == rec
    plain = QARecord("q?", "a", "e2hqa").to_dict()
    assert "root_url" not in plain and "info" not in plain


def test_record_reads_the_capitalised_webwalkerqa_schema():
    rec = QARecord.from_dict({"Question": "Q?", "Answer": "A", "Root_Url": "http://r.test/",
                              "Info": {"Hop": "multi-source", "Difficulty_Level": "Hard", "Domain": "Game",
                                       "Language": "zh", "Source_Website": ["u"], "Golden_Path": ["root->x"]}})
    assert rec.tag == "webwalkerqa" and rec.root_url == "http://r.test/"
    assert rec.info["type"] == "multi_source" and rec.info["difficulty_level"] == "hard"


def test_difficulty_map_defaults_and_overrides():
    m = DifficultyMap()
    assert [m.level("single_source", d) for d in (2, 3, 4)] == ["easy", "medium", "hard"]
    # Overlapping paper bands (2-4 / 4-6 / 6-8) resolved towards the lower band.
    assert [m.level("multi_source", d) for d in (2, 4, 5, 6, 7, 8)] == ["easy", "easy", "medium", "medium", "hard", "hard"]
    with pytest.raises(ValueError):
        m.level("single_source", 5)
    other = DifficultyMap(multi=[(2, 3, "easy"), (4, 5, "medium"), (6, 8, "hard")])
    assert other.level("multi_source", 4) == "medium"


def test_oracle_tool_calls_estimate():
    assert oracle_tool_calls([3, 4], click_only=True) == 5
    assert oracle_tool_calls([0, 0, 0]) == 6


def test_contains_phrase_is_word_bounded_and_cjk_aware():
    assert contains_phrase("Who won in 2024?", "2024")
    assert not contains_phrase("Room 2024B", "2024")
    assert not contains_phrase("ST 522 course", "52")
    assert contains_phrase("辰沐大学的校长是谁？", "辰沐大学")


def _tiny_graph():
    g = KnowledgeGraph([Entity("person/ada", "person", "Ada Velor", "艾达"), Entity("city/rome", "city", "Romara", "罗马拉")])
    f = Fact("person/ada#born_in", "person/ada", "born_in", "city/rome", pages=["http://w.test/ada"])
    g.add_fact(f)
    return g, f


def test_quality_gate_rejects_leaks_ungrounded_and_duplicates():
    g, f = _tiny_graph()
    pages = {"http://w.test/ada": "Ada Velor was born in Romara.", "http://w.test/other": "Nothing here."}
    gate = QualityGate(g, pages.get)

    def draft(q, a, urls, **kw):
        return Draft(QARecord(q, a, "crawlqa", evidence_urls=urls), support=[f], answer_fact=f, **kw)

    assert gate.accept(draft("Where was Ada Velor born, in which city?", "Romara", ["http://w.test/ada"])) is None
    assert gate.accept(draft("Where was Ada Velor born, in which city?", "Romara", ["http://w.test/ada"])) == "duplicate"
    # the Chinese name of the answer is a leak too
    assert gate.accept(draft("Ada Velor 出生在罗马拉吗 which city?", "Romara", ["http://w.test/ada"])) == "leak"
    assert gate.accept(draft("In which city was the person Ada Velor born?", "Romara", ["http://w.test/other"])) == "ungrounded"
    assert gate.accept(draft("In which city was that person Ada Velor born?", "Romara", ["http://w.test/missing"])) == "ungrounded"
    yes = Draft(QARecord("Was Ada Velor born in Romara, yes or no?", "Yes", "crawlqa", evidence_urls=["http://w.test/ada"]),
                support=[f], answer_kind="yesno")
    assert gate.accept(yes) is None
    count = Draft(QARecord("How many cities are the birthplace of Ada Velor?", "2", "crawlqa",
                           evidence_urls=["http://w.test/ada"]), support=[f], answer_kind="count")
    assert gate.accept(count) == "ungrounded"  # one supporting fact cannot make a count of 2


def test_writer_repairs_a_torn_line_and_remembers_ids(tmp_path):
    out = tmp_path / "qa.jsonl"
    with JsonlWriter(out) as w:
        w.write(QARecord("First question here?", "a", "e2hqa", id="e-1"))
        w.write(QARecord("Second question here?", "b", "e2hqa", id="e-2"))
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"question": "torn')
    w = JsonlWriter(out)
    assert w.repaired and w.ids == {"e-1", "e-2"}
    w.write(QARecord("Third question here?", "c", "e2hqa", id="e-3"))
    w.close()
    assert [r.id for r in read_records(out)] == ["e-1", "e-2", "e-3"]
    assert out.read_text().endswith("\n")


def test_writer_refuses_a_corrupt_middle_line(tmp_path):
    out = tmp_path / "bad.jsonl"
    out.write_text('not json\n{"id": "x", "question": "q"}\n')
    with pytest.raises(ValueError, match="not JSON"):
        JsonlWriter(out)
    assert out.read_text().startswith("not json")  # nothing lost


def test_webwalker_and_webwalkerqa_name_the_same_generator_and_suite(world):
    from webagent.cli import build_parser
    from webagent.eval.benchmarks import load_benchmark

    for name in ("webwalker", "webwalkerqa"):
        assert build_parser().parse_args(["synth", name, "--out", "x.jsonl"]).generator == "webwalkerqa"
    a = load_benchmark("synth:webwalker", world=world, split="test")
    b = load_benchmark("synth:webwalkerqa", world=world, split="test")
    assert [t["id"] for t in a.tasks] == [t["id"] for t in b.tasks] and a.tasks
