"""Small helpers shared by the benchmark scripts: timing, percentiles, tables, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank on sorted values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def latency_summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
    }


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}


def table(rows: list[dict], columns: list[str]) -> str:
    """A GitHub-markdown table of ``rows`` restricted to ``columns``."""
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    return "\n".join(out)


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "machine": machine(), "when": time.strftime("%Y-%m-%d"), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def smol_chats(out: Path, train_seeds: tuple[int, ...] = (101, 102)) -> Path:
    """SFT chats made by the smol preset's pipeline (worlds, QA, oracle trajectories) in ``out``;
    returns the ``sft.jsonl`` path. Seconds on a CPU; a finished run is reused."""
    from webagent.train.pipeline import make_config, run_pipeline

    cfg = make_config("smol", str(out), train_seeds=tuple(train_seeds), progress=False)
    run_pipeline(cfg, stages=("worlds", "qa", "trajectories"))
    return Path(out) / "trajectories" / "sft.jsonl"
