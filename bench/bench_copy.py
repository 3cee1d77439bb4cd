"""Does a trained policy copy? Teacher-forced accuracy on held-out oracle trajectories.

The privileged oracle answers the held-out questions of a pipeline run in the model's own runtime
(one search per evidence page, ``stepwise``); the model then reads each of those chats once
(teacher forcing) and we count, per assistant turn, whether its greedy prediction matches every
token. A turn is a search (copy the entity from the question), a visit (copy a URL from the
results) or an answer (copy a span from the evidence). In seconds it says which of the three a
model gets right, where a full evaluation takes minutes and only says that episodes fail.

Two finer probes of copying come with it: on the same chats, how often the model continues a
name, URL or value piece the way it continued earlier in the observations, where that
continuation is unambiguous ("continues"); and on random ids repeated after a gap of 64, 128,
256 or 1,024 tokens, how often it predicts the repeat ("repeat@N"). A model that copies by content gets
every gap right; one that learnt to copy from a fixed distance gets only that distance.

    python bench/bench_copy.py --run runs/nano                  # the run's SFT model
    python bench/bench_copy.py --run runs/nano --model checkpoints/nano
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from common import save, table
from webagent.train.drill import ordinary_ids, repeat_accuracy


def held_out_chats(run: Path) -> list[dict]:
    """Oracle trajectories of the run's held-out questions (sampled once, cached in RUN/bench)."""
    from webagent.train.pipeline import _read_jsonl, load_config, oracle_sample

    path = run / "bench" / "oracle-chats.jsonl"
    if not path.is_file():
        cfg = load_config(run)
        cfg.progress = False
        asyncio.run(oracle_sample(cfg, _read_jsonl(run / "qa" / "eval.jsonl"), run / "worlds" / f"eval-{cfg.eval_seed}",
                                  path))
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def turn_accuracy(model_dir: Path, chats: list[dict]) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from webagent.train.masking import encode_trajectory

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    counts = {k: [0, 0] for k in ("search", "visit", "answer")}
    right = total = 0
    cont = [0, 0]
    with torch.no_grad():
        for chat in chats:
            enc = encode_trajectory(chat, tok)
            pred = model(input_ids=torch.tensor([enc.input_ids])).logits[0].argmax(-1).tolist()
            bounds = [*enc.turn_starts, len(enc.input_ids)]
            for a, b in zip(bounds, bounds[1:], strict=False):
                trained = [i for i in range(max(a, 1), b) if enc.loss_mask[i]]
                if not trained:
                    continue
                hits = [pred[i - 1] == enc.input_ids[i] for i in trained]
                right, total = right + sum(hits), total + len(hits)
                text = tok.decode(enc.input_ids[a:b])
                kind = "answer" if "<answer>" in text else "visit" if '"visit"' in text else "search"
                counts[kind][0] += all(hits)
                counts[kind][1] += 1
            for k, v in enumerate(continuations(enc, pred)):
                cont[k] += v
    row = {"model": str(model_dir), "token accuracy": round(right / max(total, 1), 3)}
    row.update({f"{k} turns exact": f"{a}/{n}" for k, (a, n) in counts.items()})
    row["continues"] = round(cont[0] / max(cont[1], 1), 3)
    gaps = repeat_accuracy(model, ordinary_ids(tok), gaps=(64, 128, 256, 1024), trials=4)
    row.update({f"repeat@{gap}": acc for gap, acc in gaps.items()})
    return row


def continuations(enc, pred: list[int]) -> tuple[int, int]:
    """(right, total) over trained tokens whose previous token occurred earlier in the chat's
    context always followed by this same token (a one-token match suffices), leaving out tokens
    of the prompt's first 120 (boilerplate)."""
    ids, boiler = enc.input_ids, set(enc.input_ids[:120])
    follows: dict[int, set[int]] = {}
    right = total = 0
    for i in range(1, len(ids)):
        if not enc.loss_mask[i]:
            follows.setdefault(ids[i - 1], set()).add(ids[i])
        elif ids[i] not in boiler and follows.get(ids[i - 1]) == {ids[i]}:
            right, total = right + (pred[i - 1] == ids[i]), total + 1
    return right, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a webagent pipeline run directory")
    ap.add_argument("--model", type=Path, action="append", help="model directory (default: RUN/sft); repeatable")
    args = ap.parse_args()
    chats = held_out_chats(args.run)
    rows = [turn_accuracy(m, chats) for m in (args.model or [args.run / "sft"])]
    print(f"\nTeacher-forced greedy accuracy on {len(chats)} held-out oracle chats\n")
    print(table(rows, list(rows[0])))
    print(f"\nresults: {save('copy', {'run': str(args.run), 'rows': rows})}")


if __name__ == "__main__":
    main()
