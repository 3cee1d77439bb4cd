"""The evaluation stage: every arm, trained or not, on the held-out questions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from webagent.train.pipeline.config import own_tokenizer
from webagent.train.pipeline.run import Run

ARMS = ("direct", "baseline", "vanilla", "sft", "sft+dapo", "sft+dupo")
ARM_LABELS = {"direct": "direct answer (no tools)", "baseline": "rule-based baseline (not a language model)",
              "vanilla": "vanilla ReAct (base model, zero-shot)", "sft": "SFT", "sft+dapo": "SFT + DAPO",
              "sft+dupo": "SFT + DUPO"}
TRAINED_ARMS = ("sft", "sft+dapo", "sft+dupo")


def arm_model(run: Run, arm: str) -> Path | None:
    """The model directory of a trained arm, or of the direct-answer arm (None: not trained)."""
    d = {"direct": run.path("sft"), "sft": run.path("sft"), "sft+dapo": run.path("rl-dapo"),
         "sft+dupo": run.path("rl-dupo")}.get(arm)
    return d if d is not None and (d / "config.json").is_file() and any(d.glob("*.safetensors")) else None


def stage_eval(run: Run) -> dict[str, Any]:
    """Every arm on the held-out questions, ``eval_runs`` runs each (each arm resumes on its own).

    Besides the trained arms: the rule-based baseline (in its own default runtime) and, for a
    pretrained base model, vanilla ReAct: the base model zero-shot in the trained arms' runtime
    (prompt, tools, budgets), sampling freely."""
    from dataclasses import replace

    from webagent.eval.runner import EvalConfig, run_eval

    cfg, rt = run.cfg, run.cfg.runtime
    results = {}
    for arm in (*TRAINED_ARMS, "direct", "baseline", "vanilla"):  # the policies that matter most first
        model, runtime, llm, agent = arm_model(run, arm), None, "local", "direct" if arm == "direct" else "react"
        if arm == "baseline":
            model, llm = "default", "baseline"
        elif arm == "vanilla":
            if own_tokenizer(cfg):  # a model trained from scratch has no base to ask
                continue
            model, runtime = cfg.model, replace(rt, grounding=None)
        if model is None:
            run.log(f"eval: {arm} skipped (no model)")
            continue
        runs = (cfg.vanilla_runs or cfg.eval_runs) if arm == "vanilla" else cfg.eval_runs
        ec = EvalConfig(benchmark=str(run.path("qa", "eval.jsonl")), format="jsonl", runs=runs,
                        concurrency=cfg.eval_concurrency, agent=agent, llm=llm, model=str(model),
                        temperature=cfg.eval_temperature, top_p=cfg.eval_top_p, world=str(run.eval_world()),
                        max_llm_calls=rt.max_llm_calls, seed=cfg.seed, grounding="none" if arm == "vanilla" else None,
                        limit=cfg.vanilla_questions if arm == "vanilla" else None)
        t0 = time.perf_counter()
        report = run_eval(ec, run.path("eval", arm.replace("+", "-")), policy=f"{ARM_LABELS[arm]} ({cfg.model})",
                          progress=cfg.progress, runtime=runtime)
        results[arm] = {"mean_pass@1": report["accuracy"].get("mean_pass@1"), "seconds": round(time.perf_counter() - t0, 1)}
        run.log(f"eval: {arm} mean Pass@1 {results[arm]['mean_pass@1']}")
    return results
