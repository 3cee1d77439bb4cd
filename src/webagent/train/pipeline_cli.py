"""``webagent pipeline``: the from-scratch pipeline on the command line (see ``train/pipeline/``).

    webagent pipeline --preset nano --out runs/nano                  # everything, resumable
    webagent pipeline --preset nano --out runs/nano --ship checkpoints/nano
    webagent pipeline --preset tiny --out /tmp/tiny                  # a seconds-long smoke run
    webagent pipeline --config runs/nano/pipeline_config.json --out runs/again   # a run's settings again
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_pipeline_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the top-level ``pipeline`` command."""
    p = subparsers.add_parser(
        "pipeline", help="world → QA → trajectories → tokenizer → copy warm-up → SFT → RL (DAPO, DUPO) → held-out eval → table",
        description="Train a web agent from scratch on the offline web and evaluate it on a world built with a "
                    "seed never used in training. Every stage is skipped when its output is complete.")
    p.add_argument("--preset", help="nano (default: from scratch), nano-copy (nano with the copy warm-up), smol "
                                    "(SmolLM2-135M-Instruct from its PyPI package, LoRA: the shipped policy's "
                                    "recipe) or tiny (smoke test)")
    p.add_argument("--config", metavar="FILE", help="a JSON file of pipeline settings, e.g. a run's pipeline_config.json "
                                                    "(its preset and settings; the options here override them)")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory (stages, logs, results)")
    p.add_argument("--stages", help="comma-separated stages to run (default: all): worlds, qa, trajectories, "
                                    "tokenizer, copy, sft, rl-dapo, rl-dupo, eval, report")
    p.add_argument("--force", default="", help="comma-separated finished stages to run again")
    p.add_argument("--device", help="auto (cuda when present), cpu or cuda")
    p.add_argument("--model", help="model preset (nano, micro, small), package model (smollm2-135m) or a Hugging "
                                   "Face model directory")
    p.add_argument("--train-seeds", help="comma-separated world seeds to train on (nano: 101-160)")
    p.add_argument("--eval-seed", type=int, help="world seed of the held-out questions (never a train seed)")
    p.add_argument("--qa-per-world", type=int, help="questions synthesised per train world")
    p.add_argument("--eval-questions", type=int, help="held-out questions (spread over type × difficulty)")
    p.add_argument("--eval-runs", type=int, help="runs per held-out question (Pass@k uses k = runs)")
    p.add_argument("--copy-steps", type=int, help="most steps of the copy warm-up (0: none; nano-copy: 6000)")
    p.add_argument("--sft-steps", type=int, help="SFT optimizer steps")
    p.add_argument("--sft-lr", type=float, help="peak SFT learning rate (default: the model's: nano 3e-3, "
                   "micro 1e-3, small 6e-4, a model directory 5e-6)")
    p.add_argument("--rl-steps", type=int, help="RL updates per arm")
    p.add_argument("--rl-seeds", help="comma-separated seeds of worlds built for RL only: their questions form the "
                                      "RL pool (default: questions of the first train world)")
    p.add_argument("--rl", help="comma-separated RL arms (dapo,dupo; empty string: none)")
    p.add_argument("--drop-all-wrong", action="store_true", default=None,
                   help="DUPO's pre-filter also drops the questions no rollout solved")
    p.add_argument("--ship", metavar="DIR", help="afterwards, copy the best policy with a model card to DIR")
    p.add_argument("--ship-arm", default="best", help="which arm to ship: best (default), sft, sft+dapo, sft+dupo")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pipeline)
    return p


def _settings(path: str) -> dict[str, Any]:
    """The pipeline settings of a JSON file (a run's ``pipeline_config.json`` or a hand-written one)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--config {path}: no such file (a run's pipeline_config.json, e.g. "
                                "checkpoints/nano/lineage/1-pipeline_config.json)")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of pipeline settings")
    return data


def cmd_pipeline(args: argparse.Namespace) -> int:
    from webagent.train.pipeline import make_config, run_pipeline, ship_checkpoint

    def ints(text: str | None) -> tuple[int, ...] | None:
        return tuple(int(x) for x in text.split(",") if x.strip()) if text else None

    base = _settings(args.config) if args.config else {}
    preset = args.preset or base.get("preset") or "nano"
    for key in ("preset", "out", "progress"):  # where and how this run shows itself is this command's business
        base.pop(key, None)
    cli = dict(device=args.device, model=args.model, train_seeds=ints(args.train_seeds),
               eval_seed=args.eval_seed, qa_per_world=args.qa_per_world, eval_questions=args.eval_questions,
               rl_seeds=ints(args.rl_seeds), eval_runs=args.eval_runs, copy_steps=args.copy_steps, sft_max_steps=args.sft_steps, sft_lr=args.sft_lr, rl_steps=args.rl_steps,
               rl_algorithms=tuple(a for a in args.rl.split(",") if a) if args.rl is not None else None,
               rl_drop_all_wrong=args.drop_all_wrong)
    cfg = make_config(preset, args.out, progress=not args.quiet,
                      **{**base, **{k: v for k, v in cli.items() if v is not None}})
    from webagent.train.models import check_model_arg

    check_model_arg(cfg.model)  # before hours of stages, not at the SFT stage
    stages = tuple(s for s in args.stages.split(",") if s) if args.stages else None
    force = tuple(s for s in args.force.split(",") if s)
    table = run_pipeline(cfg, stages=stages, force=force)
    results = f"{args.out}/report/results.md"
    if table:
        print(open(results, encoding="utf-8").read())
        print(f"results: {results} (+ results.json, curves in {args.out}/report/)")
    if args.ship:
        dest = ship_checkpoint(args.out, args.ship, args.ship_arm)
        print(f"shipped {json.loads((dest / 'webagent_card.json').read_text())['label']} to {dest}")
    return 0
