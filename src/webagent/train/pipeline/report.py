"""The report stage: the results table (markdown + JSON, the papers' shape) and training curves."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webagent.train.pipeline.config import PipelineConfig
from webagent.train.pipeline.evaluate import ARM_LABELS, ARMS
from webagent.train.pipeline.run import STAGES, Run, _read_jsonl

HARD = ("medium", "hard")
"""Difficulties of the "harder split" on which the RL gain is measured."""


def arm_records(run: Run, arm: str) -> list[dict[str, Any]]:
    d = run.path("eval", arm.replace("+", "-"))
    recs = []
    for p in sorted(d.glob("run-*.jsonl")):
        recs += _read_jsonl(p)
    return recs


def _scores(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Mean Pass@1 over runs and Pass@k (any run correct) of the records ``keep`` selects."""
    by_task: dict[str, list[bool]] = {}
    runs: dict[int, list[bool]] = {}
    for r in records:
        if keep(r):
            by_task.setdefault(r["task_id"], []).append(bool(r.get("correct")))
            runs.setdefault(int(r.get("run", 1)), []).append(bool(r.get("correct")))
    if not by_task:
        return {"n": 0, "pass@1": None, "pass@k": None, "k": 0}
    k = max(len(v) for v in by_task.values())
    p1 = sum(sum(v) / len(v) for v in runs.values()) / len(runs)
    pk = sum(any(v) for v in by_task.values()) / len(by_task)
    return {"n": len(by_task), "pass@1": round(p1, 4), "pass@k": round(pk, 4), "k": k}


def _info(r: dict[str, Any], key: str) -> str:
    return str((r.get("info") or {}).get(key) or "?")


def results_table(run: Run) -> dict[str, Any]:
    """Pass@1 / Pass@k per arm, overall and by difficulty and type, plus the RL gain."""
    columns: dict[str, Callable[[dict[str, Any]], bool]] = {"overall": lambda r: True}
    for d in ("easy", "medium", "hard"):
        columns[d] = lambda r, d=d: _info(r, "difficulty_level") == d
    for t in ("single_source", "multi_source"):
        columns[t] = lambda r, t=t: _info(r, "type") == t
    columns["easy single-source"] = lambda r: _info(r, "type") == "single_source" and _info(r, "difficulty_level") == "easy"
    columns["harder (medium+hard)"] = lambda r: _info(r, "difficulty_level") in HARD
    rows = {}
    for arm in ARMS:
        recs = arm_records(run, arm)
        if recs:
            rows[arm] = {c: _scores(recs, f) for c, f in columns.items()}
    gain = {}
    for arm in ("sft+dapo", "sft+dupo"):
        if arm in rows and "sft" in rows:
            a, b = rows[arm]["harder (medium+hard)"]["pass@1"], rows["sft"]["harder (medium+hard)"]["pass@1"]
            if a is not None and b is not None:
                gain[arm] = round(100 * (a - b), 1)
    return {"columns": list(columns), "rows": rows, "rl_gain_harder_points": gain}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _seeds(seeds: tuple[int, ...]) -> str:
    """``101–160 (60 worlds)`` for a contiguous range, else the list."""
    s = sorted(seeds)
    if len(s) > 3 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}–{s[-1]} ({len(s)} worlds)"
    return ", ".join(map(str, s))


def render_results(table: dict[str, Any], cfg: PipelineConfig, timings: dict[str, float]) -> str:
    k = cfg.eval_runs
    # A model directory is named by its last part: the full path is the machine's, not the model's.
    model = Path(cfg.model).name + " (model directory)" if "/" in cfg.model else cfg.model
    lines = [f"# Pipeline results ({cfg.preset}: model {model})", "",
             f"Held-out questions: WebWalkerQA-style, world seed {cfg.eval_seed} (train seeds "
             f"{_seeds(cfg.train_seeds)}); search + visit; {k} runs per question; rule judge; "
             + (f"the agent arms decode with grounding ({cfg.runtime.grounding}), the direct answer freely."
                if cfg.runtime.grounding else "free sampling."),
             f"Cells give mean Pass@1 / Pass@{k} in %.", ""]
    cols = table["columns"]
    lines += ["| policy | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for arm, row in table["rows"].items():
        cells = [f"{_pct(row[c]['pass@1'])} / {_pct(row[c]['pass@k'])}" for c in cols]
        lines.append(f"| {ARM_LABELS[arm]} | " + " | ".join(cells) + " |")
    for arm, row in table["rows"].items():  # arms may have run on different numbers of questions
        lines.append(f"| questions ({ARM_LABELS[arm]}) | " + " | ".join(str(row[c]["n"]) for c in cols) + " |")
    if table["rl_gain_harder_points"]:
        lines += ["", "RL gain over SFT on the harder split (Pass@1 points): "
                  + ", ".join(f"{ARM_LABELS[a]} {v:+.1f}" for a, v in table["rl_gain_harder_points"].items())]
    if timings:
        lines += ["", "| stage | seconds |", "|---|---:|", *[f"| {s} | {t:.0f} |" for s, t in timings.items()],
                  f"| total | {sum(timings.values()):.0f} |"]
    return "\n".join(lines) + "\n"


def write_curves(run: Run) -> list[str]:
    """SFT loss and RL reward curves as PNG (needs matplotlib; skipped without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = run.path("report")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    log = run.path("sft", "train_log.jsonl")
    if log.is_file():
        recs = _read_jsonl(log)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r["step"] for r in recs if "loss" in r], [r["loss"] for r in recs if "loss" in r], label="train loss")
        ev = [r for r in recs if r.get("eval_loss") is not None]
        if ev:
            ax.plot([r["step"] for r in ev], [r["eval_loss"] for r in ev], "o-", label="eval loss")
        paths.append(_save_plot(fig, ax, out / "sft_loss.png", "optimizer step", "masked loss", "SFT"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    drew = False
    for alg in ("dapo", "dupo"):
        log = run.path(f"rl-{alg}", "rl_log.jsonl")
        if log.is_file():
            recs = _read_jsonl(log)
            ax.plot([r["step"] for r in recs], [r["reward"] for r in recs], label=f"{alg.upper()} reward")
            ax.plot([r["step"] for r in recs], [r["reward_answer"] for r in recs], "--", label=f"{alg.upper()} answer")
            drew = True
    if drew:
        paths.append(_save_plot(fig, ax, out / "rl_reward.png", "RL update", "mean over rollouts",
                                "RL from the SFT policy"))
    plt.close(fig)
    return [str(p) for p in paths]


def _save_plot(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def stage_report(run: Run) -> dict[str, Any]:
    table = results_table(run)
    timings = {s: float(run.done(s)["seconds"]) for s in STAGES if s != "report" and run.done(s)}
    table["timings_s"] = timings
    table["config"] = run.cfg.to_dict()
    table["curves"] = write_curves(run)
    d = run.path("report")
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    (d / "results.md").write_text(render_results(table, run.cfg, timings))
    return {"results": str(d / "results.md"), "curves": table["curves"]}
