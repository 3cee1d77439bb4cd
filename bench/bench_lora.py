"""LoRA against full fine-tuning at an equal wall-clock budget: held-out quality per CPU-minute.

Each arm trains the same base model (default ``smollm2-135m``), starting from its released weights,
on the same chats for ``--budget`` seconds with our trainer (:func:`webagent.train.sft.train_sft`, stopped by
its ``max_seconds``), then both are scored on the same fixed held-out chats (from worlds never
trained on): the mean loss over their assistant tokens (the tokens SFT trains) and the
teacher-forced next-token accuracy there. The base model, untrained, is scored too, so each arm's
gain is measured from the same start. The LoRA arm is the smol preset's (rank 16, alpha 32, every
attention and MLP projection of the top 15 layers, lr 1e-3); full fine-tuning trains every weight
(lr 1e-4). Both: one chat per row, ``--batch`` rows per step as micro-batches of ``--micro``, bf16
autocast where the CPU has it, learning rate constant after 2 warm-up steps (the budget, not a step
count, ends the run). Each arm runs in a fresh process, one after the other; its CPU time (user +
system, all threads) is measured beside the wall clock.

    python bench/bench_lora.py --data runs/smol/trajectories/sft.jsonl --heldout heldout.jsonl --budget 300
    python bench/bench_lora.py --budget 120    # builds small train (worlds 101-102) and held-out (950) sets
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, smol_chats, table  # noqa: E402

ARMS = {
    "lora": dict(lora_r=16, lora_top_layers=15, lr=1e-3),
    "full": dict(lora_r=0, lora_top_layers=None, lr=1e-4),
}


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def heldout_examples(S: dict[str, Any], tokenizer) -> list:
    """The fixed held-out chats: ``eval_chats`` of them, evenly spaced through the file."""
    from webagent.train.data import load_chats

    examples = load_chats([S["heldout"]], tokenizer, S["seq_len"])
    n = min(S["eval_chats"], len(examples))
    return [examples[i * len(examples) // n] for i in range(n)]


def score(model, examples, bf16: bool) -> dict[str, float]:
    """Token-mean loss and next-token accuracy over the assistant tokens of ``examples``."""
    import torch
    import torch.nn.functional as F

    model.eval()
    loss, correct, count = 0.0, 0, 0
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
    with torch.no_grad(), autocast:
        for e in examples:
            ids = torch.tensor([e.input_ids])
            target = torch.tensor(e.input_ids[1:])
            keep = torch.tensor(e.loss_mask[1:], dtype=torch.bool)  # position t predicts token t + 1
            hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0, :-1]
            logits = model.get_output_embeddings()(hidden[keep]).float()
            loss += float(F.cross_entropy(logits, target[keep], reduction="sum"))
            correct += int((logits.argmax(-1) == target[keep]).sum())
            count += int(keep.sum())
    return {"heldout_loss": loss / count, "heldout_accuracy": correct / count, "heldout_tokens": count}


def run_arm(S: dict[str, Any]) -> dict[str, Any]:
    """Train one arm for the budget (or none: the base model) and score it on the held-out chats."""
    import torch

    from webagent.train.models import build_model
    from webagent.train.sft import SFTConfig, _load_tokenizer, cpu_has_bf16, train_sft

    torch.manual_seed(0)
    bf16 = {"on": True, "off": False}.get(S["bf16"], cpu_has_bf16())
    arm = S["arm"]
    row: dict[str, Any] = {"arm": arm, "steps": 0, "train_tokens": 0, "train_s": 0.0, "cpu_s": 0.0}
    if arm == "base":
        cfg = SFTConfig(out_dir=S["out"], model=S["model"], tokenizer=S["tokenizer"])
        model_dir = S["model"]
    else:
        a = {**ARMS[arm], **({"lr": S[f"{arm}_lr"]} if S.get(f"{arm}_lr") else {})}
        cfg = SFTConfig(out_dir=S["out"] + "/" + arm, data=[S["data"]], model=S["model"], tokenizer=S["tokenizer"],
                        seq_len=S["seq_len"], batch_size=S["batch"], micro_batch_size=S["micro"], lr=a["lr"],
                        min_lr=a["lr"], warmup_steps=2, max_steps=10**6, max_seconds=S["budget"], eval_fraction=0.0,
                        save_every=10**9, progress=False, resume=False, pack=False, lora_r=a["lora_r"],
                        lora_top_layers=a["lora_top_layers"], bf16=bf16, device="cpu",
                        model_overrides=S["model_overrides"])
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        res = train_sft(cfg)
        row.update(cpu_s=_cpu_seconds() - cpu0, wall_s=time.perf_counter() - t0, lr=a["lr"])
        log = [json.loads(line) for line in open(Path(cfg.out_dir) / "train_log.jsonl")]
        row.update(steps=res.steps, train_tokens=sum(r["tokens"] for r in log), train_s=sum(r["seconds"] for r in log),
                   train_loss=round(res.train_loss, 4), trainable=_trainable(arm, cfg))
        model_dir = cfg.out_dir  # the merged model for LoRA, the whole model for full fine-tuning
    tok = _load_tokenizer(cfg)
    model = build_model(model_dir, tok, dtype=torch.float32, **(S["model_overrides"] if arm == "base" else {}))
    t0 = time.perf_counter()
    row.update(score(model, heldout_examples(S, tok), bf16), eval_s=time.perf_counter() - t0)
    return row


def _trainable(arm: str, cfg) -> str:
    return "all weights" if arm == "full" else f"LoRA r{cfg.lora_r}, top {cfg.lora_top_layers} layers"


def run_child(settings: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(settings)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"arm {settings['arm']} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def race(settings: dict[str, Any], arms: tuple[str, ...], in_process: bool = False) -> list[dict[str, Any]]:
    """The base model's score, then each arm's: trained for the budget, scored; gains per CPU-minute."""
    rows = []
    for arm in ("base", *arms):
        s = {**settings, "arm": arm}
        row = run_arm(s) if in_process else run_child(s)
        print(f"  {arm}: held-out loss {row['heldout_loss']:.4f}, accuracy {row['heldout_accuracy']:.4f}, "
              f"{row['steps']} steps", flush=True)
        rows.append(row)
    base = rows[0]
    for r in rows[1:]:
        r["loss_drop"] = base["heldout_loss"] - r["heldout_loss"]
        r["accuracy_gain"] = r["heldout_accuracy"] - base["heldout_accuracy"]
        minutes = r["cpu_s"] / 60
        r["loss_drop_per_cpu_min"] = r["loss_drop"] / minutes if minutes else 0.0
        r["accuracy_gain_per_cpu_min"] = r["accuracy_gain"] / minutes if minutes else 0.0
    return rows


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(run_arm(json.loads(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="training chats JSONL (default: built with the smol preset, worlds 101-102)")
    ap.add_argument("--heldout", help="held-out chats JSONL from worlds never trained on (default: built, world 950)")
    ap.add_argument("--model", default="smollm2-135m", help="package model or model directory")
    ap.add_argument("--budget", type=float, default=300, help="training seconds per arm (default 300)")
    ap.add_argument("--arms", default="lora,full", help="arms to race (default lora,full)")
    ap.add_argument("--eval-chats", type=int, default=24, help="held-out chats scored (default 24)")
    ap.add_argument("--seq-len", type=int, default=3072, help="longest row (default 3072)")
    ap.add_argument("--batch", type=int, default=4, help="rows per optimizer step (default 4)")
    ap.add_argument("--micro", type=int, default=1, help="rows per forward pass (default 1)")
    ap.add_argument("--lora-lr", type=float, help="LoRA learning rate (default 1e-3, the smol preset's)")
    ap.add_argument("--full-lr", type=float, help="full fine-tuning learning rate (default 1e-4)")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto", help="bf16 autocast (default auto)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    try:
        data = args.data or str(smol_chats(work / "train", (101, 102)))
        heldout = args.heldout or str(smol_chats(work / "heldout", (950,)))
        settings = {"data": data, "heldout": heldout, "model": args.model, "tokenizer": None, "budget": args.budget,
                    "eval_chats": args.eval_chats, "seq_len": args.seq_len, "batch": args.batch, "micro": args.micro,
                    "lora_lr": args.lora_lr, "full_lr": args.full_lr, "bf16": args.bf16, "model_overrides": {},
                    "out": str(work)}
        print(f"{args.model}: {args.budget:.0f} s per arm on {data}, held-out {heldout} ({args.eval_chats} chats)",
              flush=True)
        rows = race(settings, tuple(a for a in args.arms.split(",") if a))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shown = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    print(table(shown, ["arm", "steps", "train_tokens", "train_s", "cpu_s", "heldout_loss", "heldout_accuracy",
                        "loss_drop_per_cpu_min", "accuracy_gain_per_cpu_min"]))
    path = save("lora", {"settings": {k: v for k, v in settings.items() if k not in ("out", "model_overrides")},
                         "results": shown})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
