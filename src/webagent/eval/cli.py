"""``webagent eval``: run a benchmark with an agent and policy, judge it, and report.

    webagent eval --benchmark synth:webwalker --agent walker --llm oracle --runs 3 --out runs/ww
    webagent eval --benchmark WebWalkerQA.jsonl --llm openai --model qwen --judge llm:gaia --judge-model ...
    webagent eval compare runs/a runs/b
    webagent eval report runs/a            # rebuild report.md/json/plots from the result files
    webagent eval rejudge runs/a --judge llm:gaia --judge-model Qwen2.5-72B-Instruct
"""

from __future__ import annotations

import argparse
from typing import Any

from webagent.llm.factory import add_grounding_arg, add_max_tokens_arg


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval`` (with ``compare`` and ``report``) on an argparse ``subparsers`` object."""
    p = subparsers.add_parser("eval", help="evaluate an agent on a benchmark (resumable; writes a report)",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", help="a benchmark file, or synth:webwalker|crawlqa|e2hqa|sailorfog (offline web)")
    p.add_argument("--format", default="auto",
                   help="auto (default), jsonl, webwalkerqa, gaia, browsecomp, browsecomp-zh, xbench")
    p.add_argument("--split", default="test", help="split of a synthetic suite: train, dev, test (default), all")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--runs", type=int, default=3, help="independent runs per question (default 3)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="episodes in flight (default 64; 32 for a local model, whose turns share decoding batches)")
    p.add_argument("--tool-workers", type=int, default=0, metavar="N",
                   help="processes that read visited pages and search the offline index, so other cores do it "
                        "(default 0: in the event loop; pays with many episodes in flight and fast tools, "
                        "see docs/benchmarks.md)")
    p.add_argument("--out", metavar="DIR", help="output directory (resumes if it holds the same configuration)")
    p.add_argument("--agent", choices=["react", "walker", "direct"], default="react",
                   help="react: search+visit (default); walker: root URL + click only; direct: no tools")
    p.add_argument("--llm", choices=["auto", "baseline", "oracle", "openai", "local"], default="auto",
                   help="auto (default): the shipped trained policy, or the rule-based baseline where it cannot load; "
                        "baseline: rule-based policy; oracle: privileged upper bound; openai: a model server; "
                        "local: a model directory or package model (--model PATH)")
    p.add_argument("--model", default="default",
                   help="model name on the server (--llm openai), or a model directory or package model (--llm local)")
    p.add_argument("--base-url", help="OpenAI-compatible server URL (default $OPENAI_BASE_URL)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (default 0.6)")
    p.add_argument("--top-p", type=float, default=0.95, help="top-p (default 0.95)")
    add_max_tokens_arg(p)
    add_grounding_arg(p)
    p.add_argument("--judge", default="rule",
                   help="rule (offline default) or llm:gaia, llm:browsecomp, llm:xbench, llm:webwalker")
    p.add_argument("--judge-model", help="judge model name, pinned to a version (LLM judges)")
    p.add_argument("--judge-base-url", help="judge server URL (default $OPENAI_BASE_URL)")
    p.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable with the judge's key")
    p.add_argument("--web", choices=["offline", "live"], default="offline", help="offline web (default) or live web")
    p.add_argument("--world", metavar="DIR", help="offline world directory (default: the default world)")
    p.add_argument("--max-llm-calls", type=int, default=40, help="ReAct budget of model calls (default 40)")
    p.add_argument("--max-actions", type=int, default=15, help="WebWalker's K (default 15)")
    p.add_argument("--seed", type=int, default=0, help="seed of synthetic splits and of the oracle (default 0)")
    p.add_argument("--oracle-wrong-page", type=float, default=0.3, help="oracle: chance of opening a wrong page first")
    p.add_argument("--oracle-reformulate", type=float, default=0.3, help="oracle: chance of a vague first query")
    p.add_argument("--protocol", choices=["webagent", "released"], default=None,
                   help="ReAct interface: webagent (ours, default) or released (the released agents' exact "
                        "prompt layout, observations and loop, for released checkpoints)")
    p.add_argument("--prompt-file", help="a TOML file overriding the shipped prompts (react.toml, or released.toml)")
    p.add_argument("--tokenizer", metavar="DIR",
                   help="count context tokens with this Hugging Face tokenizer (the served model's)")
    p.add_argument("--keep-plaintext", action="store_true",
                   help="write decrypted questions/answers of encrypted benchmarks into the result files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)
    sub = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    c = sub.add_parser("compare", help="compare evaluation directories side by side")
    c.add_argument("dirs", nargs="+", metavar="DIR", help="two or more evaluation directories")
    c.add_argument("--out", metavar="FILE", help="also write the table to FILE")
    c.set_defaults(func=cmd_compare)
    r = sub.add_parser("report", help="rebuild report.md, report.json and plots of an evaluation directory")
    r.add_argument("dir", metavar="DIR", help="evaluation directory")
    r.set_defaults(func=cmd_report)
    j = sub.add_parser("rejudge", help="judge an evaluation directory again with another judge (no agent re-run)",
                       description="Judge every recorded answer of DIR again with another judge and write a new "
                                   "evaluation directory (cached and resumable; the agents are not re-run).")
    j.add_argument("dir", metavar="DIR", help="evaluation directory whose answers are judged again")
    j.add_argument("--judge", required=True, help="rule, or llm:gaia, llm:browsecomp, llm:xbench, llm:webwalker")
    j.add_argument("--judge-model", help="judge model name, pinned to a version (LLM judges)")
    j.add_argument("--judge-base-url", help="judge server URL (default $OPENAI_BASE_URL)")
    j.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable with the judge's key")
    j.add_argument("--out", metavar="DIR", help="output directory (default DIR/rejudge-<judge>[-<model>])")
    j.add_argument("--concurrency", type=int, default=16, help="verdicts in flight (default 16)")
    j.add_argument("--quiet", action="store_true", help="no progress bar")
    j.set_defaults(func=cmd_rejudge)
    return p


def cmd_eval(args: argparse.Namespace) -> int:
    from webagent.eval.runner import EvalConfig, run_eval

    if not args.benchmark or not args.out:
        raise ValueError("webagent eval needs --benchmark and --out (or a sub-command: compare, report)")
    if args.llm == "local":
        from webagent.llm.factory import check_local_model

        check_local_model(args.model)
    from webagent.urls import check_url

    check_url(args.base_url, "--base-url")
    check_url(args.judge_base_url, "--judge-base-url")
    if not args.benchmark.startswith("synth:") and args.format != "synth":
        from pathlib import Path

        if Path(args.benchmark).is_dir():
            raise IsADirectoryError(21, "is a directory", args.benchmark)
        if not Path(args.benchmark).exists():
            raise FileNotFoundError(f"benchmark file not found: {args.benchmark} (or use synth:webwalker, "
                                    "synth:crawlqa, synth:e2hqa, synth:sailorfog)")
    from webagent.llm.factory import LOCAL_CONCURRENCY, resolve_policy

    resolve_policy(args)
    if args.concurrency is None:
        args.concurrency = LOCAL_CONCURRENCY if args.llm == "local" else 64
    cfg = EvalConfig(benchmark=args.benchmark, format=args.format, split=args.split, limit=args.limit, runs=args.runs,
                     concurrency=args.concurrency, agent=args.agent, llm=args.llm, model=args.model,
                     base_url=args.base_url, api_key_env=args.api_key_env, temperature=args.temperature,
                     top_p=args.top_p, max_tokens=args.max_tokens, grounding=args.grounding, judge=args.judge, judge_model=args.judge_model,
                     judge_base_url=args.judge_base_url, judge_api_key_env=args.judge_api_key_env, web=args.web,
                     world=args.world, max_llm_calls=args.max_llm_calls, max_actions=args.max_actions, seed=args.seed,
                     oracle_p_wrong_page=args.oracle_wrong_page, oracle_p_reformulate=args.oracle_reformulate,
                     keep_plaintext=args.keep_plaintext, protocol=args.protocol, prompt_file=args.prompt_file,
                     tokenizer=args.tokenizer, tool_workers=args.tool_workers)
    report = run_eval(cfg, args.out, progress=not args.quiet)
    acc, lab = report["accuracy"], report["labels"]
    k = acc.get("runs", 0)
    print(f"{report['benchmark']['name']} · {lab['policy']} · {lab['agent']} ({lab['setting']}) · judge {lab['judge']}")
    print(f"mean Pass@1 over {k} runs {100 * acc.get('mean_pass@1', 0):.2f} · best Pass@1 {100 * acc.get('best_pass@1', 0):.2f}"
          f" · Pass@{k} {100 * acc.get(f'pass@{k}', 0):.2f} · {acc.get('questions')} questions")
    if report.get("failed_this_call"):
        print(f"{len(report['failed_this_call'])} episodes raised an error; they are recorded as failed "
              "(termination 'episode error', reason in meta.error) and not run again on resume")
    print(f"report: {args.out}/report.md")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from webagent.eval.report import compare

    if len(args.dirs) < 2:
        raise ValueError("compare needs at least two directories")
    table = compare(args.dirs)
    print(table)
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from webagent.eval.report import write_report

    report = write_report(args.dir)
    print(f"{args.dir}/report.md ({report['accuracy'].get('records', 0)} records)")
    return 0


def cmd_rejudge(args: argparse.Namespace) -> int:
    from webagent.eval.rejudge import default_out, rejudge
    from webagent.urls import check_url

    check_url(args.judge_base_url, "--judge-base-url")

    out = args.out or default_out(args.dir, args.judge, args.judge_model)
    report = rejudge(args.dir, judge=args.judge, judge_model=args.judge_model, judge_base_url=args.judge_base_url,
                     judge_api_key_env=args.judge_api_key_env, out_dir=out, concurrency=args.concurrency,
                     progress=not args.quiet)
    acc, ag = report["accuracy"], report.get("agreement") or {}
    k = acc.get("runs", 0)
    print(f"judge {report['labels']['judge']}: mean Pass@1 over {k} runs {100 * acc.get('mean_pass@1', 0):.2f}"
          f" · Pass@{k} {100 * acc.get(f'pass@{k}', 0):.2f}")
    if ag:
        print(f"agreement with {ag['original_judge']}: {100 * ag['agree']:.1f}% of {ag['records']} records "
              f"({ag['flipped_to_correct']} now correct, {ag['flipped_to_wrong']} now wrong)")
    print(f"report: {out}/report.md")
    return 0
