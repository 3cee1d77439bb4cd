"""Reports of an evaluation directory: ``report.json``, ``report.md``, PNG plots, and a side-by-side
comparison of two directories.

Every number is printed with its label: the policy, the judge (name, version, model), the number
of runs, and whether it is a per-run value, a mean over runs or a best-of-k.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from webagent.eval.metrics import summarize
from webagent.jsonl import dumps_line, read_jsonl

DEFINITIONS = {
    "pass@1 (run i)": "share of questions answered correctly in run i",
    "mean pass@1": "mean of the per-run Pass@1 values over the k runs (Tongyi's 'Avg. Pass@k')",
    "best pass@1": "the highest per-run Pass@1 (best-of-k runs; optimistic)",
    "pass@k": "share of questions answered correctly in at least one of k runs (unbiased estimator when n > k)",
    "cons@k": "mean over questions of (correct runs / runs)",
    "maj@k": "share of questions whose most frequent answer across the k runs is correct",
}


def load_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """All result records of a directory (``run-*.jsonl``), a torn last line ignored."""
    records = []
    for path in sorted(Path(out_dir).glob("run-*.jsonl")):
        # skip_bad: a torn write from a killed run; the next resume repairs it
        records += read_jsonl(path, skip_bad=True)
    return records


def build_report(out_dir: str | Path) -> dict[str, Any]:
    out = Path(out_dir)
    meta = _read_json(out / "benchmark.json")
    config = _read_json(out / "config.json")
    records = load_records(out)
    report = {"benchmark": meta, "config": config, **summarize(records, n_questions=meta.get("questions"))}
    report["labels"] = {"policy": meta.get("policy", "?"), "judge": meta.get("judge", "?"),
                        "agent": meta.get("agent", "?"), "setting": meta.get("run_setting", "?"),
                        "runs": report["accuracy"].get("runs", 0)}
    report["definitions"] = DEFINITIONS
    pairs = [(bool(r.get("correct")), bool(r["rejudged_from"].get("correct"))) for r in records if r.get("rejudged_from")]
    if pairs:  # a rejudged directory (webagent eval rejudge): how the two judges compare
        report["agreement"] = {"original_judge": meta.get("original_judge", "?"), "records": len(pairs),
                               "agree": round(sum(a == b for a, b in pairs) / len(pairs), 4),
                               "flipped_to_correct": sum(a and not b for a, b in pairs),
                               "flipped_to_wrong": sum(b and not a for a, b in pairs)}
    return report


def write_report(out_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Compute the report of ``out_dir`` and write ``report.json``, ``report.md`` and plots."""
    out = Path(out_dir)
    report = build_report(out)
    report["plots"] = write_plots(report, out / "plots") if plots else []
    (out / "report.json").write_text(dumps_line(report, indent=2))
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"{path.parent} is not an evaluation directory (no {path.name})")
    return json.loads(path.read_text())


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    b, lab, acc = report["benchmark"], report["labels"], report["accuracy"]
    k = acc.get("runs", 0)
    lines = [f"# Evaluation: {b.get('name')}", "",
             f"- **policy**: {lab['policy']}" + (" — *privileged: knows the gold evidence; an upper bound, not a model score*"
                                                 if "oracle" in lab["policy"] else ""),
             f"- **agent / setting**: {lab['agent']} ({lab['setting']}); the benchmark's published setting: {b.get('setting')}",
             f"- **judge**: {lab['judge']}",
             f"- **questions**: {acc.get('questions')} · **runs**: {k} · **records**: {acc.get('records')}"
             + ("" if acc.get("complete", True) else " · **incomplete** (missing records count as wrong)"),
             f"- **source**: {b.get('source')}"]
    lines += [f"- note: {n}" for n in b.get("notes", [])]
    if ag := report.get("agreement"):
        lines.append(f"- **rejudged** from {b.get('rejudged_from')} (judge {ag['original_judge']}): the judges agree on "
                     f"{_pct(ag['agree'])} % of {ag['records']} records; {ag['flipped_to_correct']} now correct, "
                     f"{ag['flipped_to_wrong']} now wrong")
    if "per_run" not in acc:
        return "\n".join(lines + ["", "No results yet."]) + "\n"
    rows = [[f"Pass@1 (run {r})", _pct(v["pass@1"]), f"{v['correct']} correct, {v['missing']} missing"]
            for r, v in acc["per_run"].items()]
    rows += [[f"Mean Pass@1 over {k} runs", _pct(acc["mean_pass@1"]), f"± {_pct(acc['std_pass@1'])} (std over runs)"],
             [f"Best Pass@1 (best of {k})", _pct(acc["best_pass@1"]), "optimistic"],
             *[[f"Pass@{kk}", _pct(v), "unbiased estimator" if int(kk) < k else f"any of {k} runs"] for kk, v in acc["pass@k"].items()],
             [f"Cons@{k}", _pct(acc[f"cons@{k}"]), DEFINITIONS["cons@k"]],
             [f"Maj@{k}", _pct(acc[f"maj@{k}"]), DEFINITIONS["maj@k"]]]
    lines += ["", "## Accuracy (%)", "", _table(["metric", "value", "note"], rows)]
    for name, table in report["breakdowns"].items():
        lines += ["", f"## By {name} (%)", "",
                  _table([name, "questions", f"mean Pass@1 ({k} runs)", f"Pass@{k}"],
                         [[c, table[c]["questions"], _pct(table[c]["mean_pass@1"]), _pct(table[c]["pass@k"])]
                          for c in ordered_categories(table)])]
    bh = report["behaviour"]
    rows = [["mean model calls", _f(bh.get("mean_llm_calls"))], ["mean tool calls", _f(bh.get("mean_tool_calls"))],
            *[[f"mean {t} calls", _f(v)] for t, v in bh.get("mean_tool_calls_by_tool", {}).items()],
            ["tool failure rate", _pct(bh.get("tool_failure_rate")) + " %"],
            ["action count of correct runs (A.C.)", _f(bh.get("action_count_correct"))],
            ["mean prompt tokens", _f(bh.get("mean_prompt_tokens"))],
            ["mean completion tokens", _f(bh.get("mean_completion_tokens"))],
            ["episodes without an answer", bh.get("no_answer")],
            ["mean seconds per episode", _f(bh.get("mean_seconds"), 3)]]
    lines += ["", "## Behaviour (all runs)", "", _table(["statistic", "value"], rows),
              "", "Terminations: " + ", ".join(f"{t}: {n}" for t, n in bh.get("terminations", {}).items())]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in report["plots"]]
    lines += ["", "## Definitions", ""] + [f"- **{k_}**: {v}" for k_, v in report["definitions"].items()]
    return "\n".join(lines) + "\n"


def _f(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


_LEVELS = {"easy": 0, "medium": 1, "hard": 2}


def ordered_categories(cats: Any) -> list[str]:
    """Categories in reading order: difficulty as easy, medium, hard (not alphabetically), the
    rest alphabetically; ``single_source/hard`` sorts by type, then by level."""
    def key(c: str) -> tuple:
        parts = str(c).split("/")
        return tuple((_LEVELS.get(p, 3), p) if p in _LEVELS else (-1, p) for p in parts)
    return sorted(cats, key=key)


def write_plots(report: dict[str, Any], plot_dir: Path) -> list[str]:
    """Accuracy by category and a tool-call histogram, as PNG (empty when matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    lab = report["labels"]
    subtitle = f"{lab['policy']} · judge {lab['judge']} · {lab['runs']} runs"
    for name in ("type×difficulty", "domain", "lang", "level"):
        table = report["breakdowns"].get(name)
        if not table:
            continue
        cats = ordered_categories(table)
        fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(cats) + 2), 3.6))
        bars = ax.bar(cats, [100 * (table[c]["mean_pass@1"] or 0) for c in cats], color="#4c72b0")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)  # a zero bar has no height: its label shows it
        ax.set_ylabel("mean Pass@1 (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"Accuracy by {name}\n{subtitle}", fontsize=8)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        fig.tight_layout()
        path = plot_dir / f"accuracy_by_{name.replace('×', '_x_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(f"plots/{path.name}")
    hist = report["behaviour"].get("tool_call_histogram")
    if hist:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        from matplotlib.ticker import MaxNLocator

        xs = [int(x) for x in hist]
        ax.bar(xs, list(hist.values()), color="#dd8452", width=0.8)
        ax.set_xlim(min(xs) - 1, max(xs) + 1)  # one value gets a sane axis around it, not 1.6–2.4
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: integer ticks only
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("tool calls per episode")
        ax.set_ylabel("episodes")
        ax.set_title(f"Tool calls\n{subtitle}", fontsize=8)
        fig.tight_layout()
        path = plot_dir / "tool_calls.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(f"plots/{path.name}")
    return written


def compare(dirs: list[str | Path]) -> str:
    """A markdown table of two or more evaluation directories side by side."""
    reports = [build_report(d) for d in dirs]
    names = [Path(d).name or str(d) for d in dirs]
    lines = ["# Comparison", ""]
    warn = []
    for key in ("judge", "setting"):
        if len({r["labels"][key] for r in reports}) > 1:
            warn.append(f"different {key}s: numbers are not directly comparable")
    if len({r["benchmark"].get("name") for r in reports}) > 1:
        warn.append("different benchmarks")
    lines += [f"> warning: {w}" for w in warn] + ([""] if warn else [])
    rows = [["benchmark", *[r["benchmark"].get("name") for r in reports]],
            *[[k, *[r["labels"][k] for r in reports]] for k in ("policy", "agent", "setting", "judge", "runs")],
            ["questions", *[r["accuracy"].get("questions") for r in reports]]]
    for metric in ("mean_pass@1", "best_pass@1"):
        rows.append([metric.replace("_", " ").replace("pass", "Pass"), *[_pct(r["accuracy"].get(metric)) for r in reports]])
    rows.append(["Pass@k (k = runs)", *[_pct(r["accuracy"].get(f"pass@{r['accuracy'].get('runs')}")) for r in reports]])
    for stat in ("mean_tool_calls", "action_count_correct", "mean_llm_calls"):
        rows.append([stat.replace("_", " "), *[_f(r["behaviour"].get(stat)) for r in reports]])
    cats = ordered_categories({c for r in reports for c in r["breakdowns"].get("type×difficulty", {})})
    for c in cats:
        rows.append([f"mean Pass@1 · {c}", *[_pct(r["breakdowns"].get("type×difficulty", {}).get(c, {}).get("mean_pass@1"))
                                              for r in reports]])
    lines.append(_table(["", *names], rows))
    return "\n".join(lines) + "\n"
