"""RL wall-clock per update: DUPO (in-batch duplication) versus DAPO (re-sample to refill), side by
side in one run, same policy, same questions, same batch, same machine.

The policy is a small Qwen2 fine-tuned on the offline web's questions so that, like a real SFT
policy, it always solves some questions, never solves others and is unsure about the rest; the
share of zero-spread groups this gives is reported with the timings, since DUPO's speedup over
DAPO comes from not re-running rollouts to replace those groups.

Rollouts are agent episodes: the policy calls ``search`` once, reads the results and answers. The
tools reach the offline web over HTTP (the ``webagent web serve`` app on a loopback port) with an
injected per-request latency, ``--tool-latency-ms`` (by default 0, 300 and 1000 ms, one pair of
arms each; live search APIs and page fetches take 0.5-5 s), because waiting on tools is where a
real agent's RL step spends its time; 0 ms is the pure-compute case.

    python bench/bench_rl.py                   # tool latency 0, 300 and 1000 ms; 4 updates per arm
    python bench/bench_rl.py --updates 5 --batch 16 --group 8 --tool-latency-ms 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

PROMPT = 'system = "Research assistant. Date {date}."\nuser = "{question}"\n'
QUERY = "founded"  # one fixed query: the bench times RL, not the policy's skill at writing queries
K = 1  # search results per query: a short observation
SMALL = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def build_policy(root: Path, n_questions: int, seed: int):
    """World, tokenizer, questions and a policy that searches once, then answers: sure on half of
    the questions (right or wrong), unsure on the rest."""
    from webagent import protocol as P
    from webagent.agents.react import ReactAgent, ReactConfig
    from webagent.tools.toolbox import Toolbox, WebConfig
    from webagent.train.sft import SFTConfig, train_sft
    from webagent.train.tokenizer import TokenizerConfig, train_world_tokenizer
    from webagent.world.build import WorldConfig, build_world
    from webagent.world.store import WorldStore

    world_dir = build_world(WorldConfig(seed=seed, size=6), root / "world", progress=False)
    store = WorldStore(world_dir)
    tok = train_world_tokenizer(store, TokenizerConfig(vocab_size=1024, max_chars=2_000_000))
    tok.save_pretrained(root / "tok")
    pages = [p for p in store.iter_pages(kind="site") if p.title][:n_questions]

    async def observe() -> str:  # what the search tool really returns for the fixed query
        async with Toolbox(WebConfig(web="offline", k=K), world=store) as tb:
            return await tb.search({"query": [QUERY]})

    search = [{"role": "assistant", "content": P.format_assistant("Search.", [P.ToolCall("search", {"query": [QUERY]})])},
              {"role": "user", "content": P.format_tool_response(asyncio.run(observe()))}]
    store.close()
    (root / "prompt.toml").write_text(PROMPT)
    agent = ReactAgent(None, [], ReactConfig(prompt_file=str(root / "prompt.toml"), date="2025-01-01"))
    tasks, chats = [], []
    for i, p in enumerate(pages):
        # Sure questions (i % 4 < 2) are always answered "no": right for the first, wrong for the
        # second; unsure ones get "yes" and "no". The tiny policy cannot tell apart titles seen
        # through an observation well enough to be sure of a different answer for each question
        # (a per-question yes/no gives a zero-spread share of only ~0.1, far below real RL's).
        gold, wrong = ("yes", "no") if i % 2 else ("no", "yes")
        tasks.append({"id": f"q{i}", "question": f"Was {p.title} founded before 1900?", "answer": gold})
        answers = [[gold, gold], [wrong, wrong], [gold, wrong], [gold, wrong]][i % 4]
        for a in answers:
            chats.append({"messages": agent.initial_messages(tasks[-1]["question"]) + search + [
                {"role": "assistant", "content": P.format_assistant("Found it.", answer=a)}]})
    train_sft(SFTConfig(out_dir=str(root / "policy"), model="nano", tokenizer=str(root / "tok"), model_overrides=SMALL,
                        max_steps=500, lr=1e-2, batch_size=8, micro_batch_size=8, seq_len=1024, warmup_steps=5,
                        eval_fraction=0.0, progress=False), records=chats)
    return world_dir, tasks


async def run_arm(algorithm: str, latency_ms: float, root: Path, world_dir: Path, tasks, args) -> list[dict]:
    from webagent.tools.toolbox import Toolbox, WebConfig
    from webagent.train.rl import RLConfig, RLTrainer
    from webagent.web.faults import FaultConfig
    from webagent.web.server import ServerThread

    cfg = RLConfig(out_dir=str(root / f"{algorithm}-{latency_ms:g}"), policy=str(root / "policy"), preset="nano",
                   algorithm=algorithm, group_size=args.group, batch_size=args.batch,
                   mini_batch_size=args.batch // 2, max_tokens=64, max_llm_calls=3, lr=1e-4, warmup_steps=0,
                   concurrency=args.batch * args.group, prompt_file=str(root / "prompt.toml"), max_gen_rounds=20,
                   seed=args.seed, progress=False).resolved()
    server = ServerThread(world_dir, faults=FaultConfig(latency_ms=latency_ms)).start()
    try:
        async with Toolbox(WebConfig(web="offline", web_url=server.url, k=K)) as tb:
            trainer = RLTrainer(cfg, tasks, toolbox=tb)
            await trainer.step()  # warm-up update (first-call costs), not timed
            recs = []
            while len(recs) < args.updates:  # equal batches: an update with nothing to learn is not counted
                rec = await trainer.step()
                if not rec["skipped"] and rec["batch_groups"] == args.batch:
                    recs.append(rec)
            return recs
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=4, help="timed updates per arm (after one warm-up)")
    ap.add_argument("--batch", type=int, default=8, help="questions per update")
    ap.add_argument("--group", type=int, default=4, help="rollouts per question")
    ap.add_argument("--questions", type=int, default=48, help="size of the RL pool")
    ap.add_argument("--tool-latency-ms", type=float, nargs="+", default=[0.0, 300.0, 1000.0],
                    help="delay added to every search and page request; one pair of arms per value")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        world_dir, tasks = build_policy(root, args.questions, args.seed)  # world + tokenizer + SFT
        print(f"setup (world, tokenizer, policy): {time.perf_counter() - t0:.1f}s")
        rows = []
        for latency in args.tool_latency_ms:
            for alg in ("dapo", "dupo"):
                recs = asyncio.run(run_arm(alg, latency, root, world_dir, tasks, args))
                rows.append({
                    "tool_latency_ms": latency,
                    "algorithm": alg.upper(),
                    "s_per_update": round(statistics.fmean(r["seconds"] for r in recs), 3),
                    "rollout_s": round(statistics.fmean(r["rollout_seconds"] for r in recs), 3),
                    "update_s": round(statistics.fmean(r["update_seconds"] for r in recs), 3),
                    "rollouts_per_update": round(statistics.fmean(r["rollouts"] for r in recs), 1),
                    "gen_rounds": round(statistics.fmean(r["gen_rounds"] for r in recs), 2),
                    "zero_spread": round(statistics.fmean(r["zero_spread"] for r in recs), 3),
                    "duplicated": round(statistics.fmean(r["duplicated"] for r in recs), 3),
                    "batch_groups": round(statistics.fmean(r["batch_groups"] for r in recs), 1),
                })
                print(f"{alg.upper()} at {latency:g} ms: {rows[-1]['s_per_update']} s/update", flush=True)
            rows[-1]["speedup"] = round(rows[-2]["s_per_update"] / rows[-1]["s_per_update"], 2)
    print(table(rows, [*rows[0], "speedup"]))
    print("speedup: DAPO's wall-clock per update over DUPO's at the same tool latency (paper: ~2-3x; target >= 2x)")
    path = save("rl", {"settings": vars(args), "arms": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
