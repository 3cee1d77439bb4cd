"""Inference speed of a local policy on the CPU: our batched decoder (``LocalModel``, KV cache,
requests of concurrent episodes decoded together) at several concurrencies, against plain
``model.generate`` one episode at a time, side by side in one run.

Every arm answers the same held-out questions with the same agent, runtime and world; only how
model calls are decoded differs. Figures: episodes per minute, generated tokens per second and
the mean batch size the decoder saw, and how many answers the rule judge accepts (greedy decoding
in another precision may choose other tokens). The baseline arm wraps ``generate`` (greedy, KV
cache, one request at a time, no grounding) in the ``ChatModel`` interface, so it is what a user
gets from transformers alone. ``--dtype float32 bfloat16`` repeats the batched arms in each
precision (bf16 halves the weights' memory traffic; CPUs with AVX512-BF16 or AMX also compute in it).

    python bench/bench_local.py                               # the shipped policy, 16 questions
    python bench/bench_local.py --model checkpoints/smol --questions 32 --concurrency 1 4 16
    python bench/bench_local.py --concurrency 8 --dtype float32 bfloat16 --no-plain
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from common import save, table
from webagent.checkpoints import SHIPPED_POLICY, find_checkpoint, load_runtime
from webagent.llm.base import Completion


class PlainGenerate:
    """``ChatModel`` over ``model.generate``: one request at a time (a lock), greedy, KV cache."""

    def __init__(self, local):
        self.local, self.name = local, "plain generate"
        self.lock = asyncio.Lock()
        self.usage = {"completion_tokens": 0}
        self.batch_sizes: list[int] = []

    async def generate(self, messages, *, stop=None, max_tokens=None, **_):
        async with self.lock:
            return await asyncio.to_thread(self._one, messages, stop or [], max_tokens or 128)

    def _one(self, messages, stop, max_tokens):
        import torch

        ids = torch.tensor([self.local.prompt_ids(messages)])
        with torch.inference_mode():
            out = self.local.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                            do_sample=False, eos_token_id=sorted(self.local.eos_ids),
                                            pad_token_id=self.local.pad_id, stop_strings=stop or None,
                                            tokenizer=self.local.tokenizer)
        new = out[0, ids.shape[1]:].tolist()
        self.usage["completion_tokens"] += len(new)
        self.batch_sizes.append(1)
        text = self.local._decode(new)
        for s in stop:
            if s in text:
                text = text[:text.index(s)]
        return Completion(text=text, finish_reason="stop")

    async def aclose(self):
        pass


def run_arm(name, model, tasks, world, runtime, concurrency: int, dtype: str = "float32") -> dict:
    from webagent.agents.react import ReactAgent
    from webagent.eval.judges import RuleJudge

    async def go():
        sem = asyncio.Semaphore(concurrency)
        async with runtime.toolbox(world=world) as tb:
            async def one(t):
                async with sem:
                    agent = ReactAgent(model, tb.react_tools, runtime.react_config(temperature=0.0))
                    return await agent.run(t["question"])
            return await asyncio.gather(*(one(t) for t in tasks))

    tokens0, batches0 = model.usage["completion_tokens"], len(model.batch_sizes)
    t0 = time.perf_counter()
    trajs = asyncio.run(go())
    secs = time.perf_counter() - t0
    tokens = model.usage["completion_tokens"] - tokens0
    sizes = model.batch_sizes[batches0:]
    judge = RuleJudge()
    correct = sum(judge.judge_sync(t["question"], t["answer"], tr.answer, t.get("aliases")).correct
                  for t, tr in zip(tasks, trajs, strict=True))
    return {"decoder": name, "dtype": dtype, "concurrency": concurrency, "episodes": len(trajs),
            "seconds": round(secs, 1), "episodes/min": round(60 * len(trajs) / secs, 2),
            "tokens/s": round(tokens / secs, 1), "mean batch": round(sum(sizes) / max(1, len(sizes)), 2),
            "answered": sum(t.answer is not None for t in trajs), "correct": correct}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help=f"policy directory (default: the shipped {SHIPPED_POLICY})")
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--world", default=None, help="world directory (default: the card's evaluation world, built)")
    ap.add_argument("--dtype", nargs="+", default=["float32"], help="precisions of the batched arms")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain generate arm")
    args = ap.parse_args()

    from webagent.eval.suites import build_suite
    from webagent.llm.local import LocalConfig, LocalModel
    from webagent.world.build import WorldConfig, build_world
    from webagent.world.store import WorldStore

    path = Path(args.model) if args.model else find_checkpoint(SHIPPED_POLICY)
    if path is None:
        raise SystemExit(f"no policy: give --model DIR (checkpoints/{SHIPPED_POLICY} is not installed)")
    runtime = load_runtime(path)
    card = json.loads((path / "webagent_card.json").read_text()) if (path / "webagent_card.json").is_file() else {}
    world = args.world
    if world is None:
        seed = (card.get("pipeline") or {}).get("eval_seed", 907)
        world = f"/tmp/webagent-bench/eval-{seed}"
        if not (Path(world) / "manifest.json").is_file():
            build_world(WorldConfig(seed=seed, size=12), world, progress=False)
    store = WorldStore(world)
    tasks = build_suite(store, "webwalker", seed=0, split="all", pool=args.questions)[:args.questions]
    rows = []
    models = {dt: LocalModel(LocalConfig(str(path), temperature=0.0, max_batch=max(args.concurrency), dtype=dt))
               for dt in args.dtype}
    if not args.no_plain:
        rows.append(run_arm("plain generate", PlainGenerate(models[args.dtype[0]]), tasks, store, runtime, 1, args.dtype[0]))
        print(table(rows, list(rows[0])), flush=True)
    for c in args.concurrency:
        for dt, local in models.items():  # precisions side by side at each concurrency
            rows.append(run_arm("LocalModel (batched)", local, tasks, store, runtime, c, dt))
            print(table(rows[-1:], list(rows[0])), flush=True)
    store.close()
    print(table(rows, list(rows[0])))
    save("local", {"model": str(path), "questions": len(tasks), "rows": rows})


if __name__ == "__main__":
    main()
