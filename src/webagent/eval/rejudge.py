"""Re-judge an evaluation directory with another judge, without re-running any agent.

    webagent eval rejudge runs/gaia --judge llm:gaia --judge-model Qwen2.5-72B-Instruct

Judge choice alone moves scores by several points, so the same trajectories often need judging
twice (the offline rule judge, then the judge of the paper being compared with). Rejudging reads
every ``run-k.jsonl`` record of the source directory, judges its recorded answer against the
gold answer with the new judge, and writes a complete evaluation directory (``config.json``,
``benchmark.json``, ``run-k.jsonl``, ``judge_cache.jsonl``, the report), by default
``<source>/rejudge-<judge>``. Each new record keeps the trajectory and adds ``rejudged_from``:
the original judge and its verdict, so the report can state how often the two judges agree.

Gold answers and aliases come from the benchmark itself, reloaded as the source run loaded it
(encrypted benchmarks are decrypted in memory again); when it cannot be reloaded, from the
records, which works for any benchmark that was not redacted. Like an evaluation, a rejudge is
append-only and resumable (records already judged are skipped) and its verdicts are cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

from webagent import aio
from webagent.agents.runner import run_tasks
from webagent.eval.judges import CachedJudge, VerdictCache, judge_label
from webagent.eval.report import write_report
from webagent.jsonl import read_jsonl

log = logging.getLogger(__name__)
JUDGE_FIELDS = ("judge", "judge_model", "judge_base_url", "judge_api_key_env")


def default_out(src: str | Path, judge: str, judge_model: str | None = None) -> Path:
    """``<src>/rejudge-<judge>[-<model>]`` with a file-system-safe name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{judge}-{judge_model}" if judge_model else judge).strip("-")
    return Path(src) / f"rejudge-{slug}"


def rejudge(src_dir: str | Path, *, judge: str = "rule", judge_model: str | None = None,
            judge_base_url: str | None = None, judge_api_key_env: str = "OPENAI_API_KEY",
            out_dir: str | Path | None = None, concurrency: int = 16, judge_impl: Any = None,
            world: Any = None, progress: bool = True) -> dict[str, Any]:
    """Judge the records of ``src_dir`` again and write the result directory; returns its report.

    ``judge_impl`` replaces the judge built from ``judge``/``judge_model`` (tests use a scripted
    LLM judge); ``world`` is the offline world a synthetic benchmark is rebuilt from.
    """
    from webagent.eval.runner import _check_config, config_from_dict, make_judge

    src = Path(src_dir)
    if not (src / "config.json").exists() or not list(src.glob("run-*.jsonl")):
        raise ValueError(f"{src} is not an evaluation directory (no config.json or run-*.jsonl)")
    old_cfg = json.loads((src / "config.json").read_text())
    cfg = config_from_dict({**old_cfg, "judge": judge, "judge_model": judge_model, "judge_base_url": judge_base_url,
                            "judge_api_key_env": judge_api_key_env})
    cfg.validate()
    out = Path(out_dir) if out_dir else default_out(src, judge, judge_model)
    if out.resolve() == src.resolve():
        raise ValueError("rejudge writes a new directory; give an --out other than the source")
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, cfg)
    tasks, encrypted = _gold_by_task(cfg, world)
    keep = cfg.keep_plaintext or not encrypted
    judge_obj = CachedJudge(judge_impl or make_judge(cfg), VerdictCache(out / "judge_cache.jsonl" if keep else None))
    meta = json.loads((src / "benchmark.json").read_text()) if (src / "benchmark.json").exists() else {}
    meta.update(judge=judge_label(judge_obj), rejudged_from=str(src), original_judge=meta.get("judge", "?"))
    (out / "benchmark.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    runs = sorted(src.glob("run-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
    records = {out / p.name: _read(p) for p in runs}
    aio.run(_judge_all(records, tasks, judge_obj, keep, concurrency, progress, judge))
    return write_report(out)


async def _judge_all(records: dict[Path, list[dict[str, Any]]], tasks: dict[str, dict[str, Any]], judge_obj: Any,
                     keep: bool, concurrency: int, progress: bool, judge: str) -> None:
    """Judge every record not yet in its output file, appending as verdicts arrive."""
    from webagent.progress import progress as progress_bar

    bar = progress_bar(sum(map(len, records.values())), desc=f"rejudge {judge}", unit="rec", disable=not progress)
    tally = {"done": 0, "correct": 0, "agree": 0}

    def seen(record: dict[str, Any]) -> None:
        tally["done"] += 1
        tally["correct"] += bool(record.get("correct"))
        tally["agree"] += record["correct"] == record["rejudged_from"]["correct"]
        bar.update()
        bar.set_postfix_str(f"acc {tally['correct'] / tally['done']:.1%} agree {tally['agree'] / tally['done']:.1%}")

    async def one(record: dict[str, Any]) -> dict[str, Any]:
        task = tasks.get(str(record.get("task_id")), {})
        if record.get("redacted") and not task:
            raise ValueError(f"record {record.get('task_id')} is redacted and its benchmark cannot be reloaded")
        question = task.get("question") or record.get("question")
        verdict = await judge_obj.judge(question, task.get("answer", record.get("gold")), record.get("answer"),
                                        task.get("aliases"))
        new = dict(record)
        new["rejudged_from"] = {"judge": (record.get("judge") or {}), "correct": bool(record.get("correct"))}
        new.update(correct=verdict.correct, judge=verdict.to_dict())
        if task.get("sensitive") and not keep:
            from webagent.eval.runner import _redact

            _redact(new, task)
        return new

    per_run = max(1, concurrency // max(1, len(records)))
    try:
        await asyncio.gather(*(run_tasks(recs, one, path, concurrency=per_run, on_result=seen)
                               for path, recs in records.items()))
    finally:
        bar.close()


def _read(path: Path) -> list[dict[str, Any]]:
    # skip_bad: a torn last line of a killed run: that episode was never finished
    return read_jsonl(path, skip_bad=True)


def _gold_by_task(cfg: Any, world: Any) -> tuple[dict[str, dict[str, Any]], bool]:
    """Task id -> task of the benchmark as the source run loaded it ({} when it cannot be loaded)."""
    from webagent.agents.runner import task_id
    from webagent.eval.benchmarks import load_benchmark

    try:
        if world is None and cfg.benchmark.startswith("synth:"):
            from webagent.world import open_world

            world = open_world(cfg.world)
        bench = load_benchmark(cfg.benchmark, fmt=cfg.format, world=world, split=cfg.split, seed=cfg.seed,
                               limit=None)
    except (OSError, ValueError) as e:
        log.warning("cannot reload %s (%s): judging against the gold answers in the records", cfg.benchmark, e)
        return {}, False
    return {task_id(t): t for t in bench.tasks}, bench.encrypted
