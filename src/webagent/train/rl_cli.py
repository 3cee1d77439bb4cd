"""``webagent train rl``: RL from a fine-tuned policy with DUPO, DAPO or plain GRPO.

    webagent train rl --policy runs/sft-nano --tasks rl_pool.jsonl --preset nano --out runs/rl-nano
    webagent train rl --policy Qwen2.5-7B-sft --tasks rl.jsonl --algorithm dapo --out runs/rl   # WebSailor defaults
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from webagent.summary import add_json_arg


def add_rl_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``rl`` under the ``train`` sub-commands."""
    p = sub.add_parser("rl", help="RL on the ReAct agent with real tools: DUPO, DAPO or GRPO")
    p.add_argument("--policy", required=True, metavar="DIR", help="starting policy (save_pretrained directory, e.g. the SFT output)")
    p.add_argument("--tasks", required=True, nargs="+", metavar="JSONL", help="QA files with question/answer (the RL pool)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory: rl_log.jsonl, rollouts.jsonl, checkpoints, final policy")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer directory (default: the policy directory)")
    p.add_argument("--preset", default="websailor", help="websailor (G 8, batch 128, mini 32, lr 1e-6), nano, micro or small")
    p.add_argument("--algorithm", default="dupo", choices=["dupo", "dapo", "grpo"],
                   help="dupo: in-batch duplication; dapo: re-sample to refill; grpo: no dynamic sampling")
    p.add_argument("--group-size", type=int, help="rollouts per question (G)")
    p.add_argument("--batch-size", type=int, help="questions per update")
    p.add_argument("--mini-batch-size", type=int, help="questions per optimizer step")
    p.add_argument("--micro-batch-size", type=int, help="rows per forward pass")
    p.add_argument("--lr", type=float, help="learning rate (constant after warmup)")
    p.add_argument("--steps", type=int, help="RL updates")
    p.add_argument("--max-tokens", type=int, help="generation cap per assistant turn")
    p.add_argument("--max-llm-calls", type=int, help="model calls per episode")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    p.add_argument("--grounding", metavar="RULES",
                   help="roll out with grounded decoding (e.g. all or none; see webagent run --help; default: the "
                        "policy's runtime setting); the loss scores each token among those its step allowed, so "
                        "training stays on-policy")
    p.add_argument("--eps-low", type=float, default=0.2, help="lower clip (default 0.2)")
    p.add_argument("--eps-high", type=float, default=0.28, help="upper clip, clip-higher (default 0.28)")
    p.add_argument("--kl-coef", type=float, default=0.0, help="KL penalty to the starting policy (default 0: none)")
    p.add_argument("--answer-only", action="store_true", help="pure 0/1 answer reward instead of 0.1 format + 0.9 answer")
    p.add_argument("--overlong-buffer", type=int, default=0, help="DAPO overlong shaping buffer in tokens (0: off)")
    p.add_argument("--overlong-max", type=int, help="generated tokens allowed per rollout for overlong shaping")
    p.add_argument("--no-prefilter", action="store_true", help="skip DUPO's pre-RL filter of always-solved questions")
    p.add_argument("--drop-all-wrong", action="store_true", help="the pre-filter also drops never-solved questions")
    p.add_argument("--max-gen-rounds", type=int, default=10, help="DAPO: most rollout rounds per update")
    p.add_argument("--concurrency", type=int, default=64, help="episodes in flight (batched generation)")
    p.add_argument("--prompt-file", metavar="TOML", help="ReAct prompt file the policy was fine-tuned with")
    p.add_argument("--world", metavar="DIR", help="offline world for the tools of tasks that name none in their "
                                                  "'world' field (default: the default world)")
    p.add_argument("--seed", type=int, default=0, help="seed of data order and sampling")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    p.add_argument("--save-every", type=int, default=10, help="checkpoint every N updates")
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints in --out")
    p.add_argument("--halt-after", type=int, help="stop after N updates of this run, leaving a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_arg(p)
    p.set_defaults(func=cmd_rl)
    return p


def cmd_rl(args: argparse.Namespace) -> int:
    from webagent.checkpoints import load_runtime
    from webagent.llm.factory import check_local_model
    from webagent.train.reward import RewardConfig
    from webagent.train.rl import RLConfig, train_rl

    try:
        check_local_model(args.policy)
    except ValueError as e:
        raise ValueError(str(e).replace("--model:", "--policy:", 1)) from None

    # A policy trained by the pipeline rolls out in the runtime it learnt (prompt, search hits,
    # evidence budget, caps, grounding) unless an option here says otherwise.
    runtime = load_runtime(args.policy)
    rt = runtime.rollout_settings() if runtime else {}
    given = dict(max_tokens=args.max_tokens, max_llm_calls=args.max_llm_calls, prompt_file=args.prompt_file,
                 grounding=args.grounding)
    cfg = RLConfig(
        out_dir=args.out, policy=args.policy, tasks=args.tasks, tokenizer=args.tokenizer, preset=args.preset,
        algorithm=args.algorithm, group_size=args.group_size, batch_size=args.batch_size,
        mini_batch_size=args.mini_batch_size, micro_batch_size=args.micro_batch_size, lr=args.lr, steps=args.steps,
        temperature=args.temperature, eps_low=args.eps_low, eps_high=args.eps_high, kl_coef=args.kl_coef,
        reward=RewardConfig(answer_only=args.answer_only, overlong_buffer=args.overlong_buffer,
                            overlong_max=args.overlong_max),
        prefilter=False if args.no_prefilter else None, drop_all_wrong=args.drop_all_wrong,
        max_gen_rounds=args.max_gen_rounds, concurrency=args.concurrency,
        **{**rt, **{k: v for k, v in given.items() if v is not None}}, world=args.world, seed=args.seed, device=args.device, save_every=args.save_every,
        resume=not args.no_resume, halt_after=args.halt_after, progress=not args.quiet,
    )
    res = train_rl(cfg, toolbox=runtime.world_toolbox if runtime else None)
    from webagent.summary import emit

    d = {"out_dir": res.out_dir, "steps": res.steps, "prefilter": res.prefilter, "last": res.last}
    last = {k: v for k, v in (res.last or {}).items() if k in ("step", "reward", "reward_answer", "zero_spread", "seconds")}
    emit(d, [("out dir", res.out_dir), ("steps", res.steps), ("last update", last)], as_json=args.json,
         path=Path(res.out_dir) / "rl_summary.json")
    return 0
