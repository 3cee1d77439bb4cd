"""``webagent train tokenizer|copy|sft|encode``: the training sub-commands.

    webagent train tokenizer --out runs/tok                       # BPE on the default world
    webagent train copy --tokenizer runs/tok --out runs/copy-nano # copy warm-up of a fresh preset
    webagent train sft --data sft.jsonl --model nano --tokenizer runs/tok --out runs/sft-nano
    torchrun --nproc_per_node 2 $(which webagent) train sft ...   # DDP, same flags
    webagent train encode --data sft.jsonl --tokenizer runs/tok   # inspect the loss mask
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from webagent.summary import add_json_arg
from webagent.train.models import check_model_arg  # shared with `webagent pipeline`


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` and its sub-commands."""
    train = subparsers.add_parser("train", help="train a policy: tokenizer, copy warm-up, observation-masked SFT, RL (DUPO, DAPO, GRPO)")
    sub = train.add_subparsers(dest="train_command", metavar="SUBCOMMAND")

    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer on an offline world's pages")
    p.add_argument("--world", metavar="DIR", help="world directory (default: the default world)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (save_pretrained layout)")
    p.add_argument("--vocab-size", type=int, default=8192, help="vocabulary size (default 8192; nano uses 4096)")
    p.add_argument("--max-chars", type=int, default=20_000_000, help="read at most this much page text")
    p.add_argument("--plain-bpe", action="store_true",
                   help="plain byte-level BPE (default: spaces, digits and CJK characters are pieces of their own)")
    p.set_defaults(func=cmd_tokenizer)

    p = sub.add_parser("copy", help="copy warm-up: a fresh preset on random blocks of ids and their repeats",
                       description="Train a fresh model preset on the copy drill (random blocks of token ids, "
                                   "each followed by its repeat, block lengths varying) until it copies by content; "
                                   "then SFT from --out with --copy-rows to keep the circuit. Resumable.")
    p.add_argument("--tokenizer", required=True, metavar="DIR", help="tokenizer directory")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (save_pretrained layout)")
    p.add_argument("--model", default="nano", help="model preset (default nano)")
    p.add_argument("--steps", type=int, default=6000, help="most optimizer steps (default 6000)")
    p.add_argument("--batch-size", type=int, default=8, help="rows per step (default 8)")
    p.add_argument("--seq-len", type=int, default=512, help="row length (default 512)")
    p.add_argument("--lr", type=float, default=2e-3, help="learning rate after a 20-step warmup (default 2e-3)")
    p.add_argument("--stop-loss", type=float, default=0.1,
                   help="stop once the mean loss of the last 100 steps is below this (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed for init and rows (default 0)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    p.add_argument("--model-config", metavar="JSON", help="extra Qwen2Config fields for the preset")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_arg(p)
    p.set_defaults(func=cmd_copy)

    p = sub.add_parser("sft", help="supervised fine-tuning with observation tokens masked (torchrun-ready)")
    p.add_argument("--data", required=True, nargs="+", metavar="JSONL",
                   help="chat / trajectory JSONL files (messages, ShareGPT conversations or Trajectory records)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory; checkpoints go under DIR/checkpoints")
    p.add_argument("--model", default="nano", help="preset (nano, micro, small), package model (smollm2-135m) or a "
                                                   "Hugging Face model directory")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer directory (default: the model directory)")
    p.add_argument("--lora-r", type=int, default=0, help="LoRA rank (default 0: full fine-tuning); the adapter "
                                                         "goes to OUT/adapter, the merged model to OUT")
    p.add_argument("--lora-top-layers", type=int, help="LoRA in the top N layers only (no backward below them)")
    p.add_argument("--no-pack", action="store_true", help="one chat per row instead of packed rows (cheaper on a CPU)")
    p.add_argument("--seq-len", type=int, help="packed row length (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="rows per optimizer step over all processes (model dir: 32)")
    p.add_argument("--micro-batch-size", type=int, help="rows per forward pass on one process")
    p.add_argument("--lr", type=float, help="peak learning rate (model dir: 5e-6)")
    p.add_argument("--min-lr", type=float, help="final learning rate of the cosine decay (model dir: 1e-10)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.1)")
    p.add_argument("--warmup-steps", type=int, help="linear warmup steps")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the data (default 1)")
    p.add_argument("--max-steps", type=int, help="total optimizer steps (overrides --epochs)")
    p.add_argument("--eval-fraction", type=float, default=0.05, help="share of chats held out for eval loss")
    p.add_argument("--eval-every", type=int, default=50, help="eval loss every N steps (default 50)")
    p.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for init and data order (default 0)")
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    p.add_argument("--no-bf16", action="store_true", help="train in fp32 on GPU too")
    p.add_argument("--objective", choices=("sft", "lm"), default="sft",
                   help="sft: train assistant tokens only (default); lm: every token (pretraining on whole chats)")
    p.add_argument("--copy-rows", type=int, default=0,
                   help="copy-drill rows (512 tokens) mixed into every step, after `train copy` (default 0)")
    p.add_argument("--copy-weight", type=float, default=0.3, help="weight of the drill's loss (default 0.3)")
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints in --out")
    p.add_argument("--halt-after", type=int, help="stop after N steps of this run, leaving a checkpoint")
    p.add_argument("--model-config", metavar="JSON", help='extra Qwen2Config fields for a preset, e.g. \'{"num_hidden_layers": 2}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_arg(p)
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("encode", help="show how the mask contract encodes the first chats of a JSONL file")
    p.add_argument("--data", required=True, metavar="JSONL", help="chat / trajectory JSONL file")
    p.add_argument("--tokenizer", required=True, metavar="DIR", help="tokenizer directory")
    p.add_argument("-n", type=int, default=1, help="how many chats to show (default 1)")
    p.set_defaults(func=cmd_encode)

    from webagent.train.rl_cli import add_rl_parser  # RL lives in its own module (light import)

    add_rl_parser(sub)

    from webagent.train.pipeline_cli import add_pipeline_parser  # the top-level `webagent pipeline`

    add_pipeline_parser(subparsers)

    train.set_defaults(func=lambda a: train.print_help() or 2)
    return train


def cmd_tokenizer(args: argparse.Namespace) -> int:
    from webagent.train.tokenizer import TokenizerConfig, check_tokenizer, train_world_tokenizer
    from webagent.world import open_world

    world = open_world(args.world)
    tok = train_world_tokenizer(world, TokenizerConfig(vocab_size=args.vocab_size, max_chars=args.max_chars,
                                                          copy_friendly=not args.plain_bpe))
    tok.save_pretrained(args.out)
    problems = check_tokenizer(tok)
    print(f"tokenizer with {len(tok)} tokens written to {args.out}")
    for p in problems:
        print(f"warning: {p}")
    return 1 if problems else 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = json.loads(args.model_config) if args.model_config else {}
    if not isinstance(overrides, dict):
        raise ValueError("--model-config must be a JSON object")
    return overrides


def cmd_copy(args: argparse.Namespace) -> int:
    from webagent.train.copying import CopyConfig, train_copy

    check_model_arg(args.model)

    res = train_copy(CopyConfig(out_dir=args.out, model=args.model, tokenizer=args.tokenizer, steps=args.steps,
                                batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, stop_loss=args.stop_loss,
                                seed=args.seed, device=args.device, progress=not args.quiet,
                                model_overrides=_overrides(args)))
    from webagent.summary import emit

    d = {"out_dir": res.out_dir, "steps": res.steps, "loss": res.loss, "stopped_early": res.stopped_early,
         "repeat_accuracy_by_gap": res.repeat_accuracy, "seconds": res.seconds}
    emit(d, [(k.replace("_", " "), v) for k, v in d.items()], as_json=args.json,
         path=Path(res.out_dir) / "copy_summary.json")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from webagent.train.sft import SFTConfig, train_sft

    check_model_arg(args.model)
    overrides = _overrides(args)
    cfg = SFTConfig(
        out_dir=args.out, data=args.data, model=args.model, tokenizer=args.tokenizer, seq_len=args.seq_len,
        batch_size=args.batch_size, micro_batch_size=args.micro_batch_size, lr=args.lr, min_lr=args.min_lr,
        weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, epochs=args.epochs,
        max_steps=args.max_steps, eval_fraction=args.eval_fraction, eval_every=args.eval_every,
        save_every=args.save_every, seed=args.seed, device=args.device, bf16=False if args.no_bf16 else None,
        objective=args.objective, copy_rows=args.copy_rows, copy_weight=args.copy_weight,
        resume=not args.no_resume, halt_after=args.halt_after, progress=not args.quiet, model_overrides=overrides,
        lora_r=args.lora_r, lora_top_layers=args.lora_top_layers, pack=not args.no_pack,
    )
    result = train_sft(cfg)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        from webagent.summary import emit

        d = {"out_dir": result.out_dir, "steps": result.steps, "train_loss": round(result.train_loss, 4),
             "eval_loss": result.eval_loss, "tokens_per_s": round(result.tokens_per_s),
             "parameters": result.parameters, "data": result.data}
        rows = [(k.replace("_", " "), v) for k, v in d.items() if k != "data"]
        emit(d, rows, as_json=args.json, path=Path(result.out_dir) / "sft_summary.json")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from webagent.train.data import normalize_record, read_jsonl
    from webagent.train.masking import encode_trajectory
    from webagent.train.tokenizer import load_tokenizer

    tok = load_tokenizer(args.tokenizer)
    for k, (where, rec) in enumerate(read_jsonl(Path(args.data))):
        if k >= args.n:
            break
        enc = encode_trajectory(normalize_record(rec), tok)
        print(f"== {where}: {len(enc)} tokens, {enc.trained_tokens} trained (marked [[...]])")
        print(_render_mask(tok, enc.input_ids, enc.loss_mask))
    return 0


def _render_mask(tok, ids: list[int], mask: list[int]) -> str:
    """Decode runs of equal mask, wrapping trained runs in [[...]]."""
    out, start = [], 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or mask[i] != mask[start]:
            text = tok.decode(ids[start:i])
            out.append(f"[[{text}]]" if mask[start] else text)
            start = i
    return "".join(out)
