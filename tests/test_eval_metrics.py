import itertools
import random

import pytest

from webagent.eval.metrics import accuracy_metrics, behaviour, breakdowns, pass_at_k


def brute_force_pass_at_k(outcomes: list[bool], k: int) -> float:
    subsets = list(itertools.combinations(range(len(outcomes)), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_matches_enumeration():
    rng = random.Random(0)
    for n in range(1, 9):
        for c in range(n + 1):
            outcomes = [True] * c + [False] * (n - c)
            rng.shuffle(outcomes)
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(outcomes, k), abs=1e-12)


def test_pass_at_k_rejects_bad_arguments():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def rec(tid, run, correct, answer="x", **info):
    return {"task_id": tid, "run": run, "correct": correct, "answer": answer, "info": info,
            "stats": {"llm_calls": 3, "tool_calls": 2 if correct else 4,
                      "tools": {"search": {"calls": 1, "errors": 0}, "visit": {"calls": 1, "errors": int(not correct)}}},
            "termination": "answer"}


def test_accuracy_metrics_are_labelled_and_correct():
    records = [rec("a", 1, True), rec("a", 2, True), rec("a", 3, False, "y"),
               rec("b", 1, False, "p"), rec("b", 2, False, "q"), rec("b", 3, True, "r"),
               rec("c", 1, False), rec("c", 2, False), rec("c", 3, False)]
    m = accuracy_metrics(records, n_questions=4)  # question d never ran: counts as wrong
    assert m["questions"] == 4 and m["runs"] == 3
    assert [v["pass@1"] for v in m["per_run"].values()] == [0.25, 0.25, 0.25]
    assert m["mean_pass@1"] == pytest.approx(0.25) and m["best_pass@1"] == 0.25
    assert m["pass@3"] == pytest.approx(0.5)  # a and b
    assert m["pass@k"]["1"] == pytest.approx((2 / 3 + 1 / 3) / 4)
    assert m["cons@3"] == pytest.approx((2 / 3 + 1 / 3) / 4)
    assert m["maj@3"] == pytest.approx(0.25)  # a: "x" twice, correct; b: tie -> run 1 "p", wrong
    assert m["per_run"]["1"]["missing"] == 1 and m["complete"] is False


def test_best_differs_from_mean_and_breakdowns():
    records = [rec("a", 1, True, type="single_source", difficulty_level="easy"),
               rec("a", 2, False, type="single_source", difficulty_level="easy"),
               rec("b", 1, True, type="multi_source", difficulty_level="hard"),
               rec("b", 2, True, type="multi_source", difficulty_level="hard")]
    m = accuracy_metrics(records)
    assert m["best_pass@1"] == 1.0 and m["mean_pass@1"] == 0.75
    b = breakdowns(records)
    assert b["type×difficulty"]["single_source/easy"]["mean_pass@1"] == 0.5
    assert b["type×difficulty"]["multi_source/hard"]["pass@k"] == 1.0
    assert "domain" not in b  # no such labels in these records


def test_behaviour_statistics():
    records = [rec("a", 1, True), rec("b", 1, False)]
    records[1]["answer"] = None
    records[1]["termination"] = "exceed available llm calls"
    bh = behaviour(records)
    assert bh["mean_tool_calls"] == 3 and bh["action_count_correct"] == 2
    assert bh["tool_failure_rate"] == pytest.approx(1 / 4)
    assert bh["no_answer"] == 1 and bh["terminations"] == {"answer": 1, "exceed available llm calls": 1}
    assert bh["tool_call_histogram"] == {2: 1, 4: 1}


def test_plots_order_difficulty_show_zero_bars_and_give_counts_integer_axes(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from webagent.eval.report import ordered_categories, write_plots

    assert ordered_categories(["x/hard", "x/easy", "x/medium"]) == ["x/easy", "x/medium", "x/hard"]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    cell = lambda acc: {"questions": 2, "mean_pass@1": acc, "pass@k": acc}  # noqa: E731
    report = {"labels": {"policy": "p", "judge": "rule", "runs": 1},
              "breakdowns": {"type×difficulty": {"single/hard": cell(0.0), "single/easy": cell(0.5),
                                                 "single/medium": cell(0.25)}},
              "behaviour": {"tool_call_histogram": {"2": 7}}}
    assert write_plots(report, tmp_path) == ["plots/accuracy_by_type_x_difficulty.png", "plots/tool_calls.png"]
    bars, hist = (f.axes[0] for f in figures)
    assert [t.get_text() for t in bars.get_xticklabels()] == ["single/easy", "single/medium", "single/hard"]
    assert [t.get_text() for t in bars.texts] == ["50", "25", "0"]  # the zero bar is labelled
    lo, hi = hist.get_xlim()
    assert lo <= 1 and hi >= 3  # not 1.6–2.4 around the one value
    ticks = [t for t in hist.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)
    for f in figures:
        f.clf()
