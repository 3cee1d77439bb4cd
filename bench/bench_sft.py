"""SFT throughput: our trainer versus TRL's SFTTrainer on the same base model, side by side in one run.

Both sides train the same model (default the package model ``smollm2-135m``, SmolLM2-135M-Instruct)
on the same chats, encoded once by our mask contract: TRL gets them pre-tokenized with an
``assistant_masks`` column, so both train exactly the same tokens (assistant turns and their
``<|im_end|>``; observations, prompts and headers masked). The rows are the same and so is their
order: one chat per row (no packing), ``--batch`` rows per optimizer step as micro-batches of
``--micro`` plus gradient accumulation, the same LoRA adapters (or full fine-tuning with
``--lora-r 0``), fp32 master weights with bf16 autocast where the CPU has native bf16, gradient
checkpointing off, AdamW with the same hyper-parameters. TRL keeps its own defaults otherwise
(its fused LM head scores only the trained positions, as ours does).

Both sides are timed the same way: a global optimizer hook stamps the end of every optimizer
step; tokens/s counts the steps after ``--warmup`` untimed ones, over every token of the rows
those steps processed (and, separately, over the trained tokens only). Each run is a fresh child
process (its own peak memory); the sides alternate ``--repeats`` times and the median is kept, so
background load on a shared machine hurts neither side more than the other.

    python bench/bench_sft.py --data runs/smol/trajectories/sft.jsonl            # LoRA, as the smol preset
    python bench/bench_sft.py --data runs/smol/trajectories/sft.jsonl --lora-r 0 # full fine-tuning
    python bench/bench_sft.py        # builds a small data set first (smol preset, worlds 101-102)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, smol_chats, table  # noqa: E402


def settings_from(args) -> dict[str, Any]:
    """The JSON-able settings both sides read (one source of truth for the comparison)."""
    lr = args.lr if args.lr is not None else (1e-3 if args.lora_r else 1e-4)
    return {"data": str(args.data), "model": args.model, "tokenizer": args.tokenizer, "seq_len": args.seq_len,
            "batch": args.batch, "micro": args.micro, "steps": args.warmup + args.steps, "warmup": args.warmup,
            "lora_r": args.lora_r, "lora_top_layers": args.lora_top_layers or None, "lr": lr, "bf16": args.bf16,
            "model_overrides": {}, "out": ""}


def our_config(S: dict[str, Any], out: str):
    """Our :class:`SFTConfig` for the settings; TRL's arguments are read from it too."""
    from webagent.train.sft import SFTConfig, cpu_has_bf16

    bf16 = {"on": True, "off": False}.get(S["bf16"], cpu_has_bf16())
    return SFTConfig(out_dir=out, data=[S["data"]], model=S["model"], tokenizer=S["tokenizer"], seq_len=S["seq_len"],
                     batch_size=S["batch"], micro_batch_size=S["micro"], lr=S["lr"], min_lr=S["lr"] / 10,
                     warmup_steps=2, max_steps=S["steps"], eval_fraction=0.0, save_every=10**9, progress=False,
                     resume=False, pack=False, lora_r=S["lora_r"], lora_top_layers=S["lora_top_layers"], bf16=bf16,
                     model_overrides=S["model_overrides"], device="cpu").resolved()


class StepClock:
    """Stamps the end of every optimizer step of any torch optimizer (both sides use AdamW)."""

    def __init__(self):
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.marks: list[float] = []
        self._handle = register_optimizer_step_post_hook(self._hook)

    def _hook(self, *_: Any) -> None:
        self.marks.append(time.perf_counter())

    def close(self) -> None:
        self._handle.remove()


def _examples_in_order(cfg, tokenizer):
    """Our encoded chats and the row order of every step (our trainer's data order)."""
    from webagent.train.data import load_chats
    from webagent.train.sft import step_rows

    examples = load_chats(cfg.data, tokenizer, cfg.seq_len)
    order = [i for step in range(cfg.max_steps) for i in step_rows(step, len(examples), cfg.batch_size, cfg.seed)]
    return examples, order


def _summary(side: str, S: dict[str, Any], marks: list[float], examples, order, extra: dict[str, Any]) -> dict[str, Any]:
    """tokens/s over the timed steps (all tokens, trained tokens) from the step marks."""
    steps, warm, b = S["steps"], S["warmup"], S["batch"]
    if len(marks) != steps:
        raise RuntimeError(f"{side}: expected {steps} optimizer steps, saw {len(marks)}")
    timed = order[warm * b:steps * b]
    tokens = sum(len(examples[i]) for i in timed)
    # The first token of a chat is never a target (nothing precedes it).
    trained = sum(sum(examples[i].loss_mask[1:]) for i in timed)
    t0 = extra.pop("t0")  # with no warm-up step, the clock starts before the trainer does
    seconds = marks[-1] - (marks[warm - 1] if warm else t0)
    return {"side": side, "seconds": seconds, "tokens": tokens, "trained_tokens": trained,
            "tokens_per_s": tokens / seconds, "trained_tokens_per_s": trained / seconds,
            "step_seconds": [round(b - a, 3) for a, b in zip(marks, marks[1:], strict=False)],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def run_ours(S: dict[str, Any]) -> dict[str, Any]:
    """Train with :func:`webagent.train.sft.train_sft` and time its optimizer steps."""
    import torch

    from webagent.train.sft import _load_tokenizer, train_sft

    torch.manual_seed(0)
    cfg = our_config(S, S["out"] + "/ours")
    examples, order = _examples_in_order(cfg, _load_tokenizer(cfg))
    clock = StepClock()
    t0 = time.perf_counter()
    try:
        res = train_sft(cfg)
    finally:
        clock.close()
    log = [json.loads(line) for line in open(Path(cfg.out_dir) / "train_log.jsonl")]
    # Our log counts the tokens of each step itself: a check that both sides saw the same rows.
    logged = sum(r["tokens"] for r in log[S["warmup"]:])
    out = _summary("webagent (ours)", S, clock.marks, examples, order,
                   {"t0": t0, "final_loss": round(res.train_loss, 4), "bf16": cfg.bf16})
    if logged != out["tokens"]:
        raise RuntimeError(f"ours: the log counts {logged} tokens in the timed steps, the plan {out['tokens']}")
    return out


def run_trl(S: dict[str, Any]) -> dict[str, Any]:
    """Train with TRL's SFTTrainer on the same rows, in the same order, and time its optimizer steps."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer

    from webagent.train.models import build_model
    from webagent.train.sft import _load_tokenizer

    torch.manual_seed(0)
    cfg = our_config(S, S["out"] + "/trl")
    tok = _load_tokenizer(cfg)
    examples, order = _examples_in_order(cfg, tok)
    # Pre-tokenized rows with our mask: TRL builds labels = input_ids where assistant_masks is 1,
    # so it trains exactly the tokens our trainer trains.
    ds = Dataset.from_list([{"input_ids": examples[i].input_ids, "assistant_masks": examples[i].loss_mask}
                            for i in order])
    model = build_model(cfg.model, tok, seed=cfg.seed, dtype=torch.float32, **cfg.model_overrides)
    peft_config = None
    if cfg.lora_r:
        from peft import LoraConfig

        n = model.config.num_hidden_layers
        layers = list(range(max(0, n - cfg.lora_top_layers), n)) if cfg.lora_top_layers else None
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha or 2 * cfg.lora_r, lora_dropout=0.0,
                                 target_modules=list(cfg.lora_targets), layers_to_transform=layers, bias="none",
                                 task_type="CAUSAL_LM")
    args = TRLConfig(output_dir=cfg.out_dir, max_length=cfg.seq_len, packing=False, padding_free=False,
                     per_device_train_batch_size=cfg.micro_batch_size,
                     gradient_accumulation_steps=cfg.batch_size // cfg.micro_batch_size,
                     gradient_checkpointing=False, bf16=cfg.bf16, fp16=False, use_cpu=True,
                     learning_rate=cfg.lr, weight_decay=cfg.weight_decay, adam_beta1=cfg.betas[0],
                     adam_beta2=cfg.betas[1], max_grad_norm=cfg.grad_clip, warmup_steps=cfg.warmup_steps,
                     lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr": cfg.min_lr},
                     max_steps=cfg.max_steps, train_sampling_strategy="sequential", logging_steps=1,
                     save_strategy="no", report_to=[], dataloader_num_workers=0, seed=cfg.seed, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config)
    trained_params = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    clock = StepClock()
    t0 = time.perf_counter()
    try:
        trainer.train()
    finally:
        clock.close()
    logs = [h for h in trainer.state.log_history if "loss" in h and "num_tokens" in h]
    out = _summary("TRL SFTTrainer", S, clock.marks, examples, order,
                   {"t0": t0, "final_loss": round(logs[-1]["loss"], 4) if logs else None,
                    "trainable_params": trained_params,
                    "checkpointing": bool(getattr(trainer.model, "is_gradient_checkpointing", False))})
    # TRL counts the tokens it processed (attention mask sums): the same rows as ours, or fail.
    seen = int(logs[-1]["num_tokens"]) - (int(logs[S["warmup"] - 1]["num_tokens"]) if S["warmup"] else 0)
    if seen != out["tokens"]:
        raise RuntimeError(f"TRL processed {seen} tokens in the timed steps, the plan says {out['tokens']}")
    return out


SIDES = {"ours": run_ours, "trl": run_trl}


def run_child(side: str, settings: dict[str, Any]) -> dict[str, Any]:
    """One side in a fresh process (its own peak memory); its result is the last stdout line."""
    proc = subprocess.run([sys.executable, __file__, "--child", side, json.dumps(settings)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(settings: dict[str, Any], repeats: int, sides: tuple[str, ...] = ("ours", "trl"),
            in_process: bool = False) -> dict[str, Any]:
    """Alternate the sides ``repeats`` times; per side the median run, and ours over TRL."""
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for r in range(repeats):
        for side in sides:
            s = {**settings, "out": f"{settings['out']}/{side}-{r}"}
            res = SIDES[side](s) if in_process else run_child(side, s)
            print(f"  repeat {r + 1} {side}: {res['tokens_per_s']:.1f} tokens/s", flush=True)
            runs[side].append(res)
    rows = [_median_row(runs[s]) for s in sides]
    out: dict[str, Any] = {"rows": rows, "runs": runs}
    if len(rows) == 2:
        out["speedup"] = rows[0]["tokens_per_s"] / rows[1]["tokens_per_s"]
    return out


def _median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    tps = [r["tokens_per_s"] for r in runs]
    return {"trainer": runs[0]["side"], "tokens_per_s": statistics.median(tps),
            "trained_tokens_per_s": statistics.median(r["trained_tokens_per_s"] for r in runs),
            "runs_tokens_per_s": [round(t, 1) for t in tps],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
            "final_loss": runs[0].get("final_loss")}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(SIDES[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="SFT chats JSONL (e.g. a pipeline run's trajectories/sft.jsonl; default: build "
                                   "one with the smol preset on worlds 101-102)")
    ap.add_argument("--model", default="smollm2-135m", help="package model, model directory or preset")
    ap.add_argument("--tokenizer", help="tokenizer directory (only for a preset)")
    ap.add_argument("--seq-len", type=int, default=3072, help="longest row; longer chats are cut (default 3072)")
    ap.add_argument("--batch", type=int, default=4, help="rows per optimizer step (default 4)")
    ap.add_argument("--micro", type=int, default=1, help="rows per forward pass (default 1)")
    ap.add_argument("--steps", type=int, default=12, help="timed optimizer steps per run (default 12)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps before them (default 2)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per side, alternating; median kept (default 2)")
    ap.add_argument("--lora-r", type=int, default=16, help="LoRA rank; 0: full fine-tuning (default 16)")
    ap.add_argument("--lora-top-layers", type=int, default=15, help="adapters in the top N layers; 0: all (default 15)")
    ap.add_argument("--lr", type=float, help="peak learning rate (default 1e-3 with LoRA, 1e-4 full)")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="bf16 autocast: auto = where the CPU multiplies bf16 natively (default)")
    ap.add_argument("--sides", default="ours,trl", help="which trainers to run (default ours,trl)")
    ap.add_argument("--name", default="sft", help="result file name under bench/results (default sft)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sft-"))
    try:
        if args.data is None:
            args.data = smol_chats(work / "data")
        settings = {**settings_from(args), "out": str(work)}
        sides = tuple(s for s in args.sides.split(",") if s)
        n = sum(1 for _ in open(args.data))
        how = f"LoRA r{args.lora_r}" if args.lora_r else "full FT"
        if args.lora_r and args.lora_top_layers:
            how += f" (top {args.lora_top_layers} layers)"
        print(f"{args.model}, {n} chats from {args.data}; {how}, seq "
              f"{args.seq_len}, batch {args.batch} (micro {args.micro}), {args.warmup} + {args.steps} steps, "
              f"{args.repeats} repeats", flush=True)
        t0 = time.time()
        result = compare(settings, args.repeats, sides)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [{**r, "tokens_per_s": round(r["tokens_per_s"], 1),
             "trained_tokens_per_s": round(r["trained_tokens_per_s"], 1)} for r in result["rows"]]
    print(table(rows, ["trainer", "tokens_per_s", "trained_tokens_per_s", "runs_tokens_per_s", "peak_rss_mb",
                       "final_loss"]))
    if "speedup" in result:
        print(f"ours / TRL: {result['speedup']:.2f}x tokens/s (target >= 1.3x)")
    path = save(args.name, {"settings": {k: v for k, v in settings.items() if k not in ("out", "model_overrides")},
                            "bench_seconds": round(time.time() - t0), "results": rows,
                            "speedup": round(result.get("speedup", 0.0), 3), "runs": result["runs"]})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
