"""``webagent synth <generator>``: write synthesized QA to a resumable JSONL file.

    webagent synth webwalkerqa --world DIR --n 500 --out data/webwalkerqa.jsonl
    webagent synth sailorfog --n 200 --out sf.jsonl --llm --model qwen --base-url http://localhost:8000/v1
    webagent synth sailorfog --n 50 --out sf-x.jsonl --llm local --model ./qwen-7b --explore

Offline mode (the default) is deterministic per ``--seed``; ``--llm`` lets an OpenAI-compatible
model write the text over the same grounded material. A summary (kept, rejected by reason,
QAs/s, difficulty profile) is printed and written next to the output as ``<out>.summary.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from webagent.llm.factory import add_model_args
from webagent.summary import add_json_arg, emit

GENERATOR_HELP = {
    "webwalkerqa": "WebWalkerQA-style single/multi-source questions about one official site (click-only)",
    "crawlqa": "CrawlQA: COUNT, MULTI-HOP, INTERSECTION and other Mintaka-type questions from crawled pages",
    "e2hqa": "E2HQA: simple questions made harder by n entity-to-description rewrites",
    "sailorfog": "SailorFog-QA: obfuscated questions over random-walk subgraphs (paths, stars, trees, cycles)",
}


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``synth`` and its four generator sub-commands."""
    synth = subparsers.add_parser("synth", help="synthesize QA data (WebWalkerQA, CrawlQA, E2HQA, SailorFog-QA)")
    sub = synth.add_subparsers(dest="synth_command", metavar="GENERATOR")
    for name, help_text in GENERATOR_HELP.items():
        # `webagent synth webwalker` is the generator of the `synth:webwalker` suite: both names work.
        p = sub.add_parser(name, help=help_text, description=help_text,
                           aliases=["webwalker"] if name == "webwalkerqa" else [])
        _common(p)
        if name == "webwalkerqa":
            p.add_argument("--single-share", type=float, default=0.5, help="share of single-source items (default 0.5)")
        if name == "e2hqa":
            p.add_argument("--iterations", default="1,2,3", help="rewrite counts n, used in turn (default 1,2,3)")
        if name == "sailorfog":
            p.add_argument("--target-edges", type=int, default=16, help="edges at which graph growth stops (default 16)")
            p.add_argument("--p-new", type=float, default=0.6, help="probability of moving to the new node (default 0.6)")
            p.add_argument("--unique-only", action="store_true", help="keep only items with exactly one solution")
            p.add_argument("--explore", action="store_true",
                           help="LLM mode: grow each graph by search + visit exploration from a rare seed entity "
                                "(the paper's method) instead of walking the world's graph")
            p.add_argument("--seed-entity", action="append", default=[], metavar="NAME",
                           help="exploration seed by name (repeatable; default: rare entities of the world)")
            p.add_argument("--web", choices=["offline", "live"], default="offline",
                           help="web the exploration searches and visits (default offline)")
        p.set_defaults(func=cmd_synth, generator=name)
    synth.set_defaults(func=lambda a: synth.print_help() or 2)
    return synth


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--world", metavar="DIR", help="world directory (default: the default world)")
    p.add_argument("--n", type=int, default=100, help="items wanted in the output file (default 100)")
    p.add_argument("--out", required=True, metavar="FILE", help="JSONL output; a re-run resumes it")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--llm", nargs="?", const="openai", choices=["openai", "local"],
                   help="LLM mode: a model writes the text; openai (default): an OpenAI-compatible server; "
                        "local: a Hugging Face model directory loaded with transformers (--model PATH)")
    add_model_args(p, temperature=0.7)
    p.add_argument("--concurrency", type=int, default=8, help="LLM requests in flight (default 8)")
    p.add_argument("--prompt-file", help="TOML file overriding this generator's shipped prompts")
    add_json_arg(p)


def build_generator(name: str, ctx, args: argparse.Namespace | None = None, seed: int = 0):
    """The generator ``name`` on ``ctx`` with the command-line knobs of ``args`` (if any)."""
    get = (lambda k, d: getattr(args, k, d)) if args is not None else (lambda k, d: d)
    if name == "webwalkerqa":
        from webagent.synth.webwalkerqa import WebWalkerQAConfig, WebWalkerQAGenerator

        return WebWalkerQAGenerator(ctx, WebWalkerQAConfig(seed=seed, single_share=get("single_share", 0.5)))
    if name == "crawlqa":
        from webagent.synth.crawlqa import CrawlQAConfig, CrawlQAGenerator

        return CrawlQAGenerator(ctx, CrawlQAConfig(seed=seed))
    if name == "e2hqa":
        from webagent.synth.e2hqa import E2HQAConfig, E2HQAGenerator

        iterations = tuple(int(x) for x in str(get("iterations", "1,2,3")).split(",") if x.strip())
        return E2HQAGenerator(ctx, E2HQAConfig(seed=seed, iterations=iterations))
    if name == "sailorfog":
        from webagent.synth.sailorfog import SailorFogConfig, SailorFogGenerator

        return SailorFogGenerator(ctx, SailorFogConfig(seed=seed, target_edges=get("target_edges", 16),
                                                       p_new=get("p_new", 0.6), unique_only=get("unique_only", False),
                                                       explore=get("explore", False),
                                                       seed_entities=tuple(get("seed_entity", ()) or ())))
    raise ValueError(f"unknown generator {name!r} (have {sorted(GENERATOR_HELP)})")


def cmd_synth(args: argparse.Namespace) -> int:
    from webagent.synth.pipeline import RunOptions, SynthContext, run_synthesis
    from webagent.world import open_world

    if args.n <= 0:
        raise ValueError("--n must be positive")
    if Path(args.out).is_dir():  # before the world opens, not after
        raise IsADirectoryError(21, "is a directory", args.out)
    ctx = SynthContext(open_world(args.world))
    gen = build_generator(args.generator, ctx, args, seed=args.seed)
    if getattr(args, "explore", False) and not args.llm:
        raise ValueError("--explore is the LLM mode's graph growth: add --llm")
    model = realizer = None
    if args.llm:
        from webagent.synth.llm_mode import LLMRealizer

        model = make_model(args)
        realizer = LLMRealizer(temperature=args.temperature,
                               prompt_files={args.generator: args.prompt_file} if args.prompt_file else None)
    extra = {}
    if getattr(args, "web", "offline") == "live":
        from webagent.tools.toolbox import WebConfig

        extra["web"] = WebConfig(web="live")
    options = RunOptions(n=args.n, out=args.out, concurrency=args.concurrency, progress=not args.quiet, extra=extra)
    summary = run_synthesis(gen, ctx, options, model=model, realizer=realizer)
    d = summary.as_dict()
    prof = d.get("profile") or {}
    rows = [("kept", f"{d['kept']} of {d['requested']} wanted ({d['resumed']} already there, {d['attempts']} attempts, "
                     f"{d['qas_per_second'] or 0} per second)"),
            ("rejected", d["rejected"])]
    rows += [(k.replace("_", " "), prof[k]) for k in ("hops", "oracle_tool_calls", "by_type", "by_difficulty", "by_lang")
             if k in prof]
    emit(d, rows, as_json=args.json)
    if not args.json:
        print(f"full summary: {args.out}.summary.json")
    total = summary.kept + summary.resumed
    print(f"{args.out}: {total} items ({summary.kept} new, {summary.resumed} already there)")
    return 0 if total >= args.n else 1


def make_model(args: argparse.Namespace):
    """The model of ``--llm``: an OpenAI-compatible server or a local transformers model."""
    from webagent.llm.factory import model_from_args

    return model_from_args(args)
