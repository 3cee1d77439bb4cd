"""The trajectory funnel end to end, and its report.

:func:`run_funnel` chains every stage over a set of QA items into one directory::

    DIR/sampled.jsonl            rejection sampling (resumable; + .summary.json, .judge_cache.jsonl)
    DIR/filtered.jsonl           survivors of validity → correctness → quality → dedup
    DIR/rejected.jsonl           every removed trajectory with its stage and reason
    DIR/reconstructed.jsonl      WebSailor thought reconstruction (unless switched off)
    DIR/sft.jsonl                the SFT set (after RFT selection, unless switched off)
    DIR/rl_pool.jsonl            QA items with no surviving trajectory
    DIR/dupo_input.jsonl         the RL pool as DUPO pre-filter rollout tasks
    DIR/export/                  webdancer / sharegpt (+ dataset_info.json) / trl / verl files
    DIR/funnel.md, funnel.json   the report; DIR/plots/*.png

The report gives, per stage, the trajectories and QA items left and why the rest went, and for
the sampled and final sets the statistics the papers report (R-WD-27): actions per trajectory,
tool calls (per tool), thought tokens per step and per trajectory, and total length.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webagent import aio
from webagent.jsonl import dumps_line
from webagent.trajectories.advice import empty_advice
from webagent.trajectories.filters import FilterConfig, afilter
from webagent.trajectories.reconstruct import ReconstructConfig, areconstruct
from webagent.trajectories.records import actions, qa_id, read_jsonl, thoughts, tool_calls, write_jsonl
from webagent.trajectories.sample import SampleConfig, asample, qa_tasks
from webagent.trajectories.select import RFTConfig, select_rft, split_sets, text_counter, token_counter
from webagent.trajectories.teachers import Teacher, TeacherConfig


@dataclass
class FunnelConfig:
    """Every stage's settings; a stage can be switched off."""

    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    reconstruct: bool = True
    reconstruction: ReconstructConfig = field(default_factory=ReconstructConfig)
    rft: bool = True
    selection: RFTConfig = field(default_factory=RFTConfig)
    exports: tuple[str, ...] = ("webdancer", "sharegpt", "trl", "verl")
    plots: bool = True


# --- statistics ----------------------------------------------------------------------------------

def _mean(xs: list[float]) -> float:
    return round(statistics.fmean(xs), 2) if xs else 0.0


def trajectory_stats(records: list[dict[str, Any]], count_text=None) -> dict[str, Any]:
    """The figures the papers report for a trajectory set (R-WD-27), plus tool and length detail."""
    count_text = count_text or text_counter(None)
    per_tool: Counter[str] = Counter()
    for r in records:
        for s in r.get("steps", []):
            per_tool.update(a.get("name") or "<invalid>" for a in s.get("actions", []))
    step_tokens = [count_text(t) for r in records for t in thoughts(r)]
    traj_tokens = [sum(count_text(t) for t in thoughts(r)) for r in records]
    calls = [tool_calls(r) for r in records]
    return {
        "trajectories": len(records),
        "qa_items": len({qa_id(r) for r in records}),
        "actions_mean": _mean([actions(r) for r in records]),
        "tool_calls_mean": _mean(calls),
        "tool_calls_max": max(calls, default=0),
        "tool_calls_over_5": sum(c > 5 for c in calls),
        "tool_calls_per_tool": {k: round(v / len(records), 2) for k, v in sorted(per_tool.items())} if records else {},
        "thought_tokens_per_step": _mean(step_tokens),
        "thought_tokens_per_trajectory": _mean(traj_tokens),
        "correct": sum(bool(r.get("correct")) for r in records),
        "terminations": dict(Counter(r.get("termination") or "" for r in records)),
    }


# --- the report ----------------------------------------------------------------------------------

def _stage_row(name: str, records: list[dict[str, Any]], removed: dict[str, int] | None = None) -> dict[str, Any]:
    return {"stage": name, "trajectories": len(records), "qa_items": len({qa_id(r) for r in records}),
            "removed": dict(sorted((removed or {}).items(), key=lambda kv: -kv[1]))}


def render_markdown(report: dict[str, Any]) -> str:
    """The funnel report as markdown tables."""
    lines = [f"# Trajectory funnel\n\nTeacher: **{report['teacher']['label']}**"
             + (" (privileged: knows the gold evidence pages)" if report["teacher"].get("privileged") else ""),
             f"QA items: {report['qa_items']} · token counts: {report['token_counter']}\n",
             "| stage | trajectories | QA items | removed (why) |", "|---|---:|---:|---|"]
    for row in report["stages"]:
        why = "; ".join(f"{k}: {v}" for k, v in row["removed"].items()) or "–"
        lines.append(f"| {row['stage']} | {row['trajectories']} | {row['qa_items']} | {why} |")
    lines += ["", "| set | trajectories | actions | tool calls (mean / max / >5) | per tool | thought tokens / step | "
              "thought tokens / trajectory |", "|---|---:|---:|---|---|---:|---:|"]
    for name, s in report["stats"].items():
        tools = ", ".join(f"{k} {v}" for k, v in s["tool_calls_per_tool"].items()) or "–"
        lines.append(f"| {name} | {s['trajectories']} | {s['actions_mean']} | {s['tool_calls_mean']} / {s['tool_calls_max']} / "
                     f"{s['tool_calls_over_5']} | {tools} | {s['thought_tokens_per_step']} | {s['thought_tokens_per_trajectory']} |")
    sp = report["splits"]
    lines += ["", f"Splits: SFT {sp['sft']} trajectories ({sp['sft_qa_items']} QA items) · RL pool {sp['rl_pool']} QA items "
              f"(also the DUPO pre-filter input)."]
    if report.get("empty"):
        lines += ["", "**" + report["empty"].split("\n", 1)[0] + "**", *report["empty"].split("\n")[1:]]
    return "\n".join(lines) + "\n"


def write_plots(report: dict[str, Any], sets: dict[str, list[dict[str, Any]]], out: Path, count_text) -> list[Path]:
    """Funnel bars, tool-call and thought-length histograms (PNG; skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 3.5))
    stages = report["stages"]
    ax.bar([s["stage"] for s in stages], [s["trajectories"] for s in stages], color="#4c72b0")
    ax.set_ylabel("trajectories")
    ax.set_title("Trajectory funnel")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    paths.append(out / "funnel.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    for fname, title, value in (
        ("tool_calls.png", "Tool calls per trajectory", lambda r: [tool_calls(r)]),
        ("thought_tokens.png", "Thought tokens per step", lambda r: [count_text(t) for t in thoughts(r)]),
    ):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, recs in sets.items():
            values = [v for r in recs for v in value(r)]
            if values:
                ax.hist(values, bins=20, alpha=0.6, label=f"{name} (n={len(recs)})")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        paths.append(out / fname)
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


# --- end to end ----------------------------------------------------------------------------------

async def arun_funnel(tasks: list[Any], out_dir: str | Path, config: FunnelConfig | None = None, *, world: Any = None,
                      judge: Any = None, teacher_model: Any = None, quality_model: Any = None,
                      writer_model: Any = None, progress: bool = True) -> dict[str, Any]:
    """Run every stage into ``out_dir`` (sampling resumes; later stages are recomputed) and return the
    report. ``teacher_model`` / ``quality_model`` / ``writer_model`` are chat models for an LLM
    teacher, the LLM quality check and LLM reconstruction."""
    cfg = config or FunnelConfig()
    out = _prepare_dir(out_dir)
    qas = qa_tasks(tasks)
    teacher = Teacher(cfg.teacher, world=world, model=teacher_model)
    await asample(qas, out / "sampled.jsonl", teacher, cfg.sample, world=world, judge=judge, progress=progress)
    sampled = read_jsonl(out / "sampled.jsonl")
    result = await afilter(sampled, cfg.filters, judge=judge, quality_model=quality_model)
    write_jsonl(out / "filtered.jsonl", result.kept)
    write_jsonl(out / "rejected.jsonl", result.rejected)
    rows = [_stage_row("sampled", sampled)]
    rows += [{"stage": st.stage, "trajectories": st.kept, "qa_items": 0, "removed": st.reasons} for st in result.stages]
    _fill_qa_counts(rows, sampled, result)
    final = result.kept
    if cfg.reconstruct:
        final, dropped = await areconstruct(final, cfg.reconstruction, writer_model)
        write_jsonl(out / "reconstructed.jsonl", final)
        rows.append(_stage_row("reconstruct", final, dropped))
    count_msgs, counter_name = token_counter(cfg.selection.tokenizer)
    if cfg.rft:
        final, removed = select_rft(final, cfg.selection, counter=count_msgs)
        rows.append(_stage_row("rft", final, removed))
    splits = split_sets(qas, final)
    write_jsonl(out / "sft.jsonl", splits.sft)
    write_jsonl(out / "rl_pool.jsonl", splits.rl_pool)
    write_jsonl(out / "dupo_input.jsonl", splits.dupo_input)
    exported = _exports(cfg, splits, out / "export")
    count_text = text_counter(cfg.selection.tokenizer)
    report = {"teacher": teacher.describe(), "qa_items": len(qas), "token_counter": counter_name.replace("tokenizer:", "tokenizer "),
              "stages": rows, "stats": {"sampled": trajectory_stats(sampled, count_text), "sft": trajectory_stats(final, count_text)},
              "splits": {"sft": len(splits.sft), "sft_qa_items": len({qa_id(r) for r in splits.sft}), "rl_pool": len(splits.rl_pool)},
              "exports": [str(p.relative_to(out)) for p in exported],
              "config": json.loads(json.dumps(asdict(cfg), default=str))}
    if not splits.sft:  # an empty SFT set says why and what to change, in the report and on screen
        removed: dict[str, int] = {}
        for row in rows:
            for why, n in row["removed"].items():
                removed[why] = removed.get(why, 0) + n
        report["empty"] = empty_advice("The SFT set", removed)
    if cfg.plots:
        report["plots"] = [str(p.relative_to(out)) for p in write_plots(report, {"sampled": sampled, "sft": final},
                                                                          out / "plots", count_text)]
    (out / "funnel.json").write_text(dumps_line(report, indent=2), encoding="utf-8")
    (out / "funnel.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _prepare_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fill_qa_counts(rows: list[dict[str, Any]], sampled: list[dict[str, Any]], result: Any) -> None:
    """QA items left after each filter stage (replayed from the rejection records)."""
    gone_at = {r.get("task_id"): r["filters"]["stage"] for r in result.rejected}
    left = list(sampled)
    for row in rows[1:]:
        left = [r for r in left if gone_at.get(r.get("task_id")) != row["stage"]]
        row["qa_items"] = len({qa_id(r) for r in left})


def _exports(cfg: FunnelConfig, splits: Any, out: Path) -> list[Path]:
    from webagent.trajectories.export import export

    written: list[Path] = []
    names = {"webdancer": "sft_webdancer.jsonl", "sharegpt": "sft_sharegpt.json", "trl": "sft_trl.jsonl",
             "jsonl": "sft.jsonl", "verl": "rl_verl.parquet"}
    for fmt in cfg.exports:
        if fmt == "verl":
            if splits.rl_pool:
                written += export([], "verl", out / names[fmt], qas=splits.rl_pool, date=cfg.sample.date)
        elif splits.sft:
            written += export(splits.sft, fmt, out / names[fmt])
    return written


def run_funnel(tasks: list[Any], out_dir: str | Path, config: FunnelConfig | None = None, **kw: Any) -> dict[str, Any]:
    """Synchronous :func:`arun_funnel`."""
    return aio.run(arun_funnel(tasks, out_dir, config, **kw))
