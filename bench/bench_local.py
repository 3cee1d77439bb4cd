"""Inference speed of a local policy on the CPU: our batched decoder (``LocalModel``, KV cache,
requests of concurrent episodes decoded together) at several concurrencies, against plain
``model.generate`` one episode at a time, side by side in one run.

Every arm answers the same held-out questions with the same agent, runtime and world; only how
model calls are decoded differs. Figures: episodes per minute, generated tokens per second and
the mean batch size the decoder saw, and how many answers the rule judge accepts (greedy decoding
in another precision may choose other tokens). The ``plain`` arm wraps ``generate`` (greedy, KV
cache, one request at a time, no grounding) in the ``ChatModel`` interface, so it is what a user
gets from transformers alone. The ``padded`` arm is our batched decoder as it was before: a
batch's prompts padded to the longest and run together, keys and values in transformers'
``DynamicCache``, which copies the whole cache at every token; ``batched`` runs each prompt on its
own and decodes into room reserved for the reply (``webagent.llm.local``). ``--dtype float32 bfloat16`` repeats the batched arms in each
precision (bf16 halves the weights' memory traffic; CPUs with AVX512-BF16 or AMX also compute in it).

    python bench/bench_local.py                               # the shipped policy, 16 questions
    python bench/bench_local.py --model checkpoints/smol --questions 32 --concurrency 1 4 16
    python bench/bench_local.py --concurrency 8 --dtype float32 bfloat16 --arms batched
    python bench/bench_local.py --questions 16 --concurrency 8 --arms padded batched
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
from webagent.llm.local import LocalConfig, LocalModel


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


class PaddedPrefill(LocalModel):
    """The previous batched decoder: prompts padded together (cached prefixes reused in a
    ``[pad | prefix | pad | new]`` layout), keys and values in a plain ``DynamicCache``."""

    def _prefill(self, batch):
        torch = self._torch
        from transformers.cache_utils import DynamicCache

        found = [self._lookup(r.prompt_ids) for r in batch]
        past = max(n for n, _ in found)
        new = [r.prompt_ids[n:] for r, (n, _) in zip(batch, found, strict=True)]
        width, rows = max(len(x) for x in new), len(batch)
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, past + width), dtype=torch.long)
        pos = torch.zeros((rows, width), dtype=torch.long)
        for i, ((n, _), x) in enumerate(zip(found, new, strict=True)):
            ids[i, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[i, past - n:past] = 1
            mask[i, past + width - len(x):] = 1
            pos[i, width - len(x):] = torch.arange(n, n + len(x))
        cache = None
        if past:
            cache = DynamicCache(config=self.model.config)
            donor = next(kv for n, kv in found if n)
            for layer in range(len(donor)):
                keys, values = [], []
                for n, kv in found:
                    k, v = (kv if n else donor)[layer]
                    keys.append(torch.nn.functional.pad(k[:, :, :n], (0, 0, past - n, 0)))
                    values.append(torch.nn.functional.pad(v[:, :, :n], (0, 0, past - n, 0)))
                cache.update(torch.cat(keys), torch.cat(values), layer)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                         **self._forward_extra, **{self._cache_arg: cache})
        return (getattr(out, self._cache_arg), mask, pos[:, -1:] + 1, out.logits[:, -1, :].float())


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

    if hasattr(model, "_prefixes"):
        model._prefixes.clear()  # every arm starts cold: no turn cached by the arm before
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
    ap.add_argument("--arms", nargs="+", default=["plain", "padded", "batched"], choices=["plain", "padded", "batched"],
                    help="decoders to compare (default: all three)")
    args = ap.parse_args()

    from webagent.eval.suites import build_suite
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
    def local(kind, dt):
        config = LocalConfig(str(path), temperature=0.0, max_batch=max(args.concurrency), dtype=dt)
        return PaddedPrefill(config) if kind == "padded" else LocalModel(config)

    arms = {(kind, dt): local(kind, dt) for kind in ("padded", "batched") if kind in args.arms for dt in args.dtype}
    labels = {"padded": "LocalModel, padded prefill (before)", "batched": "LocalModel (batched)"}
    if "plain" in args.arms:
        plain = PlainGenerate(LocalModel(LocalConfig(str(path), dtype=args.dtype[0])))
        rows.append(run_arm("plain generate", plain, tasks, store, runtime, 1, args.dtype[0]))
        print(table(rows, list(rows[0])), flush=True)
    for c in args.concurrency:
        for (kind, dt), model in arms.items():  # the arms side by side at each concurrency
            rows.append(run_arm(labels[kind], model, tasks, store, runtime, c, dt))
            print(table(rows[-1:], list(rows[0])), flush=True)
    store.close()
    print(table(rows, list(rows[0])))
    save("local", {"model": str(path), "questions": len(tasks), "rows": rows})


if __name__ == "__main__":
    main()
