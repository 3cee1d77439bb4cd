"""Quality of the shipped checkpoint on held-out questions: Pass@1 by difficulty and type.

The questions come from a world built with the checkpoint's evaluation seed (recorded in its
``webagent_card.json``; never a training seed), chosen exactly as the pipeline chooses them
(WebWalkerQA-style, spread over type × difficulty). The checkpoint runs in its own runtime
(``webagent_agent.json``) through ``run_eval`` with the local backend, ``--runs`` times.
It runs twice, side by side: sampling freely and with grounded decoding (``--grounding``,
default ``all``: replies kept to the protocol, URLs, queries and answers to the conversation's
text; ``--grounding none`` skips it). With ``--run DIR`` (a ``webagent pipeline`` directory) the
table also lists that run's arms (SFT, SFT + DAPO, SFT + DUPO) from its own evaluation, for the
RL gain.

    python bench/bench_quality.py                                # the shipped checkpoints/nano
    python bench/bench_quality.py --run runs/nano --questions 60 --runs 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import save, table
from webagent.checkpoints import find_checkpoint
from webagent.eval.runner import EvalConfig, run_eval
from webagent.eval.suites import build_suite
from webagent.train.pipeline import ARM_LABELS, _scores, _stratified
from webagent.world.build import WorldConfig, build_world
from webagent.world.store import WorldStore

COLUMNS = {
    "overall": lambda r: True,
    "easy single-source": lambda r: _i(r, "type") == "single_source" and _i(r, "difficulty_level") == "easy",
    "easy": lambda r: _i(r, "difficulty_level") == "easy",
    "medium": lambda r: _i(r, "difficulty_level") == "medium",
    "hard": lambda r: _i(r, "difficulty_level") == "hard",
    "single_source": lambda r: _i(r, "type") == "single_source",
    "multi_source": lambda r: _i(r, "type") == "multi_source",
}


def _i(r: dict, key: str) -> str:
    return str((r.get("info") or {}).get(key) or "?")


def held_out(card: dict, work: Path, n: int) -> tuple[Path, Path]:
    """Build the evaluation world of the card and write its held-out questions."""
    p = card["pipeline"]
    world_dir = build_world(WorldConfig(seed=p["eval_seed"], size=p.get("eval_world_size", p["world_size"])), work / "world", progress=False)
    store = WorldStore(world_dir)
    try:
        pool = build_suite(store, "webwalker", seed=p["eval_seed"], split="all", pool=max(4 * n, 200))
    finally:
        store.close()
    tasks = _stratified(pool, n, str(p["eval_seed"]))
    path = work / "eval.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tasks))
    return world_dir, path


def evaluate(model: Path, world: Path, tasks: Path, out: Path, runs: int, grounding: str = "none") -> tuple[dict, float]:
    cfg = EvalConfig(benchmark=str(tasks), format="jsonl", runs=runs, llm="local", model=str(model),
                     temperature=0.6, top_p=0.95, world=str(world), concurrency=64, grounding=grounding)
    t0 = time.perf_counter()
    run_eval(cfg, out, progress=True)
    records = [json.loads(line) for p in sorted(out.glob("run-*.jsonl")) for line in p.read_text().splitlines() if line]
    return {c: _scores(records, f) for c, f in COLUMNS.items()}, time.perf_counter() - t0


def _row(name: str, scores: dict) -> dict:
    return {"policy": name, **{c: f"{100 * s['pass@1']:.1f} / {100 * s['pass@k']:.1f}" if s["n"] else "–"
                               for c, s in scores.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="model directory (default: the shipped checkpoints/nano)")
    ap.add_argument("--run", help="a webagent pipeline directory whose arms to list too")
    ap.add_argument("--questions", type=int, default=60, help="held-out questions (default 60)")
    ap.add_argument("--runs", type=int, default=3, help="runs per question (default 3)")
    ap.add_argument("--grounding", default="all", help="grounding rules of the second evaluation (default all; none: skip)")
    args = ap.parse_args()
    ckpt = Path(args.checkpoint) if args.checkpoint else find_checkpoint("nano")
    if ckpt is None:
        raise SystemExit("no checkpoint: train one with `webagent pipeline --preset nano --out DIR --ship checkpoints/nano`")
    card = json.loads((ckpt / "webagent_card.json").read_text())
    rows, data = [], {"checkpoint": str(ckpt), "label": card["label"], "questions": args.questions, "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        world, tasks = held_out(card, Path(tmp), args.questions)
        scores, seconds = evaluate(ckpt, world, tasks, Path(tmp) / "eval", args.runs)
        data["shipped"] = {"scores": scores, "seconds": round(seconds, 1)}
        rows.append(_row(f"shipped: {card['label']} ({card['arm']}), sampling freely", scores))
        if args.grounding != "none":
            grounded, g_seconds = evaluate(ckpt, world, tasks, Path(tmp) / "grounded", args.runs, args.grounding)
            data["shipped_grounded"] = {"grounding": args.grounding, "scores": grounded, "seconds": round(g_seconds, 1)}
            rows.append(_row(f"shipped, grounded decoding ({args.grounding})", grounded))
    if args.run:
        res = json.loads((Path(args.run) / "report" / "results.json").read_text())
        data["pipeline_arms"] = res["rows"]
        data["rl_gain_harder_points"] = res.get("rl_gain_harder_points")
        for arm, cols in res["rows"].items():
            rows.append(_row(f"pipeline: {ARM_LABELS[arm]}", {c: cols.get(c, {"n": 0}) for c in COLUMNS}))
    print(f"\nHeld-out Pass@1 / Pass@{args.runs} in % (world seed {card['pipeline']['eval_seed']}, "
          f"{args.questions} questions, {args.runs} runs; shipped eval took {seconds:.0f} s)\n")
    print(table(rows, ["policy", *COLUMNS]))
    if data.get("rl_gain_harder_points"):
        print(f"\nRL gain over SFT on the harder split (points): {data['rl_gain_harder_points']}")
    print(f"\nresults: {save('quality', data)}")


if __name__ == "__main__":
    main()
