"""``webagent traj``: sample, filter, reconstruct, select and export trajectories, or run the funnel.

    webagent traj sample --qa data/crawlqa.jsonl --out traj/sampled.jsonl            # privileged oracle
    webagent traj sample --qa data/sf.jsonl --out s.jsonl --teacher openai --mode long --model qwq-plus
    webagent traj filter traj/sampled.jsonl --out traj/filtered.jsonl
    webagent traj reconstruct traj/filtered.jsonl --out traj/recon.jsonl
    webagent traj select traj/recon.jsonl --out traj/sft.jsonl --qa data/crawlqa.jsonl --tokenizer /models/qwen
    webagent traj export traj/sft.jsonl --format sharegpt --out export/sft.json
    webagent traj import sample_traj.jsonl --out traj/released.jsonl                  # released WebDancer data
    webagent traj funnel --qa data/crawlqa.jsonl --out traj/                          # all of the above
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from webagent import aio


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``traj`` and its sub-commands on an argparse ``subparsers`` object."""
    p = subparsers.add_parser("traj", help="trajectories: rejection sampling, filters, reconstruction, RFT, exports",
                              description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="traj_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: p.print_help() or 2)

    s = sub.add_parser("sample", help="rejection sampling: up to N attempts per QA item (resumable)")
    _qa_args(s, required=True)
    s.add_argument("--out", required=True, metavar="FILE", help="trajectory JSONL (a re-run resumes it)")
    _teacher_args(s)
    _sample_args(s)
    s.set_defaults(func=cmd_sample)

    f = sub.add_parser("filter", help="validity → correctness → quality → dedup, with counted reasons")
    f.add_argument("input", metavar="FILE", help="trajectory JSONL")
    f.add_argument("--out", required=True, metavar="FILE", help="JSONL of the surviving trajectories")
    f.add_argument("--rejected", metavar="FILE", help="JSONL of the removed ones, with stage and reason")
    _filter_args(f)
    f.set_defaults(func=cmd_filter)

    r = sub.add_parser("reconstruct", help="WebSailor: drop the expert's thoughts, write concise new ones")
    r.add_argument("input", metavar="FILE", help="trajectory JSONL (correct trajectories)")
    r.add_argument("--out", required=True, metavar="FILE", help="JSONL of the reconstructed trajectories")
    _recon_args(r)
    r.set_defaults(func=cmd_reconstruct)

    c = sub.add_parser("select", help="RFT selection (correct, ≤ 32k tokens, > 5 tool calls) and the RL pool")
    c.add_argument("input", metavar="FILE", help="trajectory JSONL")
    c.add_argument("--out", required=True, metavar="FILE", help="JSONL of the selected (SFT) trajectories")
    _qa_args(c, required=False)
    c.add_argument("--rl-pool", metavar="FILE", help="with --qa: write QA items with no selected trajectory here")
    c.add_argument("--dupo", metavar="FILE", help="with --qa: write the DUPO pre-filter rollout tasks here")
    _rft_args(c)
    c.set_defaults(func=cmd_select)

    e = sub.add_parser("export", help="write trajectories (or, for verl, QA items) in a training format")
    e.add_argument("input", metavar="FILE", help="trajectory JSONL (verl: a QA / RL-pool JSONL)")
    e.add_argument("--format", required=True, choices=["jsonl", "webdancer", "sharegpt", "trl", "verl"],
                   help="jsonl (ours), webdancer (released schema), sharegpt (LLaMA-Factory), trl, verl (parquet)")
    e.add_argument("--out", required=True, metavar="PATH", help="output file (sharegpt also writes dataset_info.json beside it)")
    e.add_argument("--name", default="webagent_sft", help="dataset name in dataset_info.json (sharegpt)")
    e.add_argument("--date", help="'Current date' of verl prompts (default: today)")
    e.add_argument("--judge", default="rule", help="verl: the reward's judge, rule (default) or llm:<preset>")
    e.add_argument("--judge-model", help="verl: the LLM judge's model (a pinned version)")
    e.add_argument("--judge-base-url", help="verl: the LLM judge's server URL")
    e.add_argument("--judge-api-key-env", help="verl: environment variable holding the judge's key on the nodes")
    e.add_argument("--tool-config", metavar="FILE", help="verl: also write the multi-turn tool-config YAML here")
    e.add_argument("--web-url", default="http://127.0.0.1:8700",
                   help="verl: the `webagent web serve` the tools call (default http://127.0.0.1:8700)")
    e.set_defaults(func=cmd_export)

    m = sub.add_parser("import", help="read released trajectories (WebDancer sample_traj.jsonl) into our records")
    m.add_argument("input", metavar="FILE", help="released trajectory JSONL")
    m.add_argument("--out", required=True, metavar="FILE", help="our trajectory JSONL (for filter, select, train, ui)")
    m.add_argument("--from", dest="source", choices=["webdancer"], default="webdancer",
                   help="the released schema (default webdancer)")
    m.set_defaults(func=cmd_import)

    u = sub.add_parser("funnel", help="run every stage end to end and write the funnel report")
    _qa_args(u, required=True)
    u.add_argument("--out", required=True, metavar="DIR", help="output directory (sampling resumes)")
    _teacher_args(u)
    _sample_args(u)
    _filter_args(u)
    _recon_args(u)
    _rft_args(u)
    u.add_argument("--no-reconstruct", action="store_true", help="keep the teacher's thoughts (WebDancer data)")
    u.add_argument("--no-rft", action="store_true", help="skip RFT selection (WebDancer data)")
    u.add_argument("--formats", default="webdancer,sharegpt,trl,verl", help="exports to write (comma-separated)")
    u.add_argument("--no-plots", action="store_true", help="no PNG plots")
    u.set_defaults(func=cmd_funnel)
    return p


# --- argument groups -----------------------------------------------------------------------------

def _qa_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--qa", required=required, metavar="FILE|synth:SUITE",
                   help="QA items: a synthesis/benchmark JSONL, or synth:crawlqa|e2hqa|sailorfog|webwalker")
    p.add_argument("--split", default="train", help="split of a synth: suite (default train)")
    p.add_argument("--limit", type=int, help="only the first N QA items")
    p.add_argument("--world", metavar="DIR", help="offline world directory (default: the default world)")


def _teacher_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", choices=["oracle", "openai", "local"], default="oracle",
                   help="oracle: privileged, offline (default); openai: a model server; local: a HF model directory")
    p.add_argument("--mode", choices=["short", "long"], default="short",
                   help="short-CoT (instruct model) or long-CoT (reasoning model; earlier thoughts hidden)")
    p.add_argument("--model", default="default", help="model name (openai) or directory (local)")
    p.add_argument("--base-url", help="OpenAI-compatible server URL (default $OPENAI_BASE_URL)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (default 0.6)")
    p.add_argument("--top-p", type=float, default=0.95, help="top-p (default 0.95)")
    p.add_argument("--prompt-file", help="TOML file overriding the teacher's prompt")
    p.add_argument("--max-reply-tokens", type=int, metavar="N",
                   help="most tokens in one teacher reply (default 2048 for openai, 1024 for local)")
    p.add_argument("--max-llm-calls", type=int, default=40, help="model calls per episode (default 40)")
    p.add_argument("--seed", type=int, default=0, help="oracle seed (default 0)")
    p.add_argument("--oracle-wrong-page", type=float, default=0.3, help="oracle: chance of a wrong page first (default 0.3)")
    p.add_argument("--oracle-reformulate", type=float, default=0.3, help="oracle: chance of a vague first query (default 0.3)")


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--attempts", type=int, default=5, help="attempts per QA item (default 5)")
    p.add_argument("--all-attempts", action="store_true", help="run every attempt, not only until one is correct")
    p.add_argument("--concurrency", type=int, default=64, help="episodes in flight (default 64)")
    p.add_argument("--judge", default="rule", help="rule (default) or llm:gaia, llm:browsecomp, llm:xbench, llm:webwalker")
    p.add_argument("--judge-model", help="judge model name, pinned to a version (LLM judges)")
    p.add_argument("--judge-base-url", help="judge server URL")
    p.add_argument("--web", choices=["offline", "live"], default="offline", help="offline web (default) or live web")
    p.add_argument("--web-url", help="read the offline web through a running `webagent web serve`")
    p.add_argument("--tool-workers", type=int, default=0, metavar="N",
                   help="processes that read visited pages and search the offline index (default 0: in the event loop)")
    p.add_argument("--date", help="'Current date' in the system prompt (default: today)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _filter_args(p: argparse.ArgumentParser) -> None:
    if not any(a.dest == "judge" for a in p._actions):
        p.add_argument("--judge", default="rule", help="correctness judge: rule (default), llm:<preset>, or none")
        p.add_argument("--judge-model", help="judge model name (LLM judges)")
        p.add_argument("--judge-base-url", help="judge server URL")
    p.add_argument("--min-actions", type=int, default=2, help="fewest actions, tool calls + answer (default 2; -1: off)")
    p.add_argument("--max-actions", type=int, default=-1, help="most actions (default off)")
    p.add_argument("--ngram", type=int, default=10, help="n of the repetition rule (default 10)")
    p.add_argument("--max-repeats", type=int, default=4, help="most occurrences of one n-gram (default 4)")
    p.add_argument("--repetition-scope", choices=["thoughts", "assistant", "all"], default="thoughts",
                   help="text the repetition rule reads: thoughts and answer (default), whole model turns, "
                        "or observations too")
    p.add_argument("--no-fabrication-check", action="store_true", help="allow model turns that look like tool output")
    p.add_argument("--quality-model", help="model for the LLM quality check (non-redundancy, goal, reasoning)")
    p.add_argument("--quality-base-url", help="server URL of the quality model")
    p.add_argument("--max-per-qa", type=int, help="keep at most N trajectories per QA item")
    p.add_argument("--no-dedup", action="store_true", help="keep duplicate trajectories")


def _recon_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recon-mode", choices=["template", "llm"], default="template",
                   help="template (offline, default) or llm (--recon-model)")
    p.add_argument("--recon-model", help="instruction-following model that writes the new thoughts")
    p.add_argument("--recon-base-url", help="server URL of the reconstruction model")


def _rft_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", metavar="DIR", help="target model's tokenizer directory (default: a 3-chars-per-token estimate)")
    p.add_argument("--max-tokens", type=int, default=32 * 1024, help="longest trajectory in tokens (default 32768; -1: off)")
    p.add_argument("--min-tool-calls", type=int, default=6, help="fewest tool calls (default 6, i.e. > 5; -1: off)")
    p.add_argument("--allow-incorrect", action="store_true", help="do not require a correct answer")


# --- building configs ----------------------------------------------------------------------------

def _opt(v: int | None) -> int | None:
    return None if v is None or v < 0 else v


def _chat_model(name: str | None, base_url: str | None, api_key_env: str = "OPENAI_API_KEY"):
    if not name:
        return None
    from webagent.llm.factory import make_model

    return make_model("openai", name, base_url=base_url, api_key_env=api_key_env, temperature=0.0)


def _load_qas(args: argparse.Namespace, world: Any = None) -> list[dict[str, Any]]:
    spec = args.qa
    if spec.startswith("synth:"):
        from webagent.eval.benchmarks import load_benchmark
        from webagent.world import open_world

        tasks = load_benchmark(spec, world=world or open_world(args.world), split=args.split).tasks
        for t in tasks:
            t.setdefault("tag", spec.split(":", 1)[1])
    else:
        from webagent.eval.benchmarks import load_qa_file

        tasks = load_qa_file(spec)
    tasks = tasks[: args.limit] if args.limit else tasks
    if not tasks:  # nothing to sample from: say so now, not as a missing file of a later stage
        raise ValueError(f"--qa {spec}: no QA items" + (f" (--limit {args.limit})" if args.limit is not None else ""))
    return tasks


def _teacher_config(a: argparse.Namespace):
    from webagent.trajectories.teachers import TeacherConfig

    return TeacherConfig(kind=a.teacher, mode=a.mode, model=a.model, base_url=a.base_url, api_key_env=a.api_key_env,
                         temperature=a.temperature, top_p=a.top_p, max_tokens=a.max_reply_tokens,
                         prompt_file=a.prompt_file,
                         max_llm_calls=a.max_llm_calls, seed=a.seed, p_wrong_page=a.oracle_wrong_page,
                         p_reformulate=a.oracle_reformulate)


def _sample_config(a: argparse.Namespace):
    from webagent.trajectories.sample import SampleConfig

    return SampleConfig(attempts=a.attempts, until_correct=not a.all_attempts, concurrency=a.concurrency,
                        judge=a.judge, judge_model=a.judge_model, judge_base_url=a.judge_base_url, web=a.web,
                        world=a.world, web_url=a.web_url, date=a.date, tool_workers=a.tool_workers)


def _filter_config(a: argparse.Namespace):
    from webagent.trajectories.filters import FilterConfig

    return FilterConfig(judge=a.judge, judge_model=a.judge_model, judge_base_url=a.judge_base_url,
                        min_actions=_opt(a.min_actions), max_actions=_opt(a.max_actions), ngram=a.ngram,
                        max_ngram_repeats=a.max_repeats, repetition_scope=a.repetition_scope,
                        check_fabrication=not a.no_fabrication_check, dedup=not a.no_dedup, max_per_qa=a.max_per_qa)


def _recon(a: argparse.Namespace):
    from webagent.trajectories.reconstruct import ReconstructConfig

    if a.recon_mode == "llm" and not a.recon_model:
        raise ValueError("--recon-mode llm needs --recon-model")
    return ReconstructConfig(mode=a.recon_mode), _chat_model(a.recon_model, a.recon_base_url)


def _rft_config(a: argparse.Namespace):
    from webagent.trajectories.select import RFTConfig

    return RFTConfig(require_correct=not a.allow_incorrect, max_tokens=_opt(a.max_tokens),
                     min_tool_calls=_opt(a.min_tool_calls), tokenizer=a.tokenizer)


def _world(a: argparse.Namespace) -> Any:
    if getattr(a, "teacher", "oracle") != "oracle" and getattr(a, "web", "offline") != "offline":
        return None
    from webagent.world import open_world

    return open_world(a.world)


def _read_trajectories(path: str) -> list[dict[str, Any]]:
    """Our trajectory records; a file in the released WebDancer schema is imported on the way in."""
    from webagent.trajectories.records import read_jsonl
    from webagent.trajectories.released import import_records, is_released

    records = read_jsonl(path)
    if records and all(is_released(r) for r in records):
        records, bad = import_records(records)
        print(f"{path}: released WebDancer schema, imported {len(records)} records"
              + (f" ({len(bad)} unreadable: run `webagent traj import` for details)" if bad else ""))
    return records


# --- commands ------------------------------------------------------------------------------------

def cmd_sample(args: argparse.Namespace) -> int:
    from webagent.trajectories.sample import sample
    from webagent.trajectories.teachers import Teacher

    world = _world(args)
    tasks = _load_qas(args, world)
    teacher = Teacher(_teacher_config(args), world=world)
    summary = sample(tasks, args.out, teacher, _sample_config(args), world=world, progress=not args.quiet)
    d = summary.as_dict()
    print(f"teacher: {teacher.label} · {d['qas']} QA items · solved {d['solved']} ({d['solve_rate']:.1%}) · "
          f"{d['attempts_run']} attempts run ({d['trajectories_per_second']} traj/s) · {len(d['failed'])} failed")
    print(f"trajectories in {args.out}")
    if d["qas"] and not d["solved"]:
        print("webagent traj sample: the teacher solved none of the QA items: give more --attempts or "
              "--max-llm-calls, check the teacher (--teacher, --model, --base-url) and that the QA items "
              "belong to this --world", file=sys.stderr)
        return 1
    return 0


def cmd_filter(args: argparse.Namespace) -> int:
    from webagent.trajectories.filters import filter_records
    from webagent.trajectories.records import write_jsonl

    result = filter_records(_read_trajectories(args.input), _filter_config(args),
                            quality_model=_chat_model(args.quality_model, args.quality_base_url))
    write_jsonl(args.out, result.kept)
    if args.rejected:
        write_jsonl(args.rejected, result.rejected)
    for st in result.stages:
        why = "; ".join(f"{k}: {v}" for k, v in sorted(st.reasons.items(), key=lambda kv: -kv[1])) or "-"
        print(f"{st.stage:12s} in {st.input:6d}  kept {st.kept:6d}  removed {st.removed:6d}  ({why})")
    print(f"kept {len(result.kept)} → {args.out}")
    if not result.kept:
        from webagent.trajectories.advice import empty_advice

        removed = {k: v for st in result.stages for k, v in st.reasons.items()}
        print(f"webagent traj filter: {empty_advice('The filtered set', removed)}", file=sys.stderr)
        return 1
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from webagent.trajectories.reconstruct import reconstruct
    from webagent.trajectories.records import write_jsonl

    cfg, model = _recon(args)
    records = _read_trajectories(args.input)
    out, dropped = reconstruct(records, cfg, model)
    write_jsonl(args.out, out)
    print(f"reconstructed {len(out)} of {len(records)} ({cfg.mode}) → {args.out}"
          + (f"; dropped: {json.dumps(dropped, ensure_ascii=False)}" if dropped else ""))
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from webagent.trajectories.records import write_jsonl
    from webagent.trajectories.select import select_rft, split_sets

    records = _read_trajectories(args.input)
    kept, removed = select_rft(records, _rft_config(args))
    write_jsonl(args.out, kept)
    print(f"selected {len(kept)} of {len(records)} → {args.out}"
          + (f"; removed: {json.dumps(removed, ensure_ascii=False)}" if removed else ""))
    if args.qa:
        splits = split_sets(_load_qas(args), kept)
        if args.rl_pool:
            write_jsonl(args.rl_pool, splits.rl_pool)
        if args.dupo:
            write_jsonl(args.dupo, splits.dupo_input)
        print(f"RL pool: {len(splits.rl_pool)} QA items with no selected trajectory")
    if not kept:
        from webagent.trajectories.advice import empty_advice

        print(f"webagent traj select: {empty_advice('The selection', removed)}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from webagent.trajectories.export import export
    from webagent.trajectories.records import read_jsonl

    rows = read_jsonl(args.input) if args.format == "verl" else _read_trajectories(args.input)
    if args.format == "verl":
        judge = {"name": args.judge, "model": args.judge_model, "base_url": args.judge_base_url,
                 "api_key_env": args.judge_api_key_env}
        paths = export([], "verl", args.out, qas=rows, date=args.date, judge=judge)
        if args.tool_config:
            from webagent.integrations.verl.config import write_tool_config

            paths.append(write_tool_config(args.tool_config, args.web_url))
    else:
        paths = export(rows, args.format, args.out, name=args.name)
    print(f"{len(rows)} {'QA items' if args.format == 'verl' else 'trajectories'} → " + ", ".join(map(str, paths)))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from webagent.trajectories.records import read_jsonl, write_jsonl
    from webagent.trajectories.released import import_records

    records, bad = import_records(read_jsonl(args.input))
    for line, why in bad[:20]:
        print(f"{args.input}:{line}: skipped: {why}")
    if not records:
        print(f"no record of {args.input} could be imported")
        return 1
    write_jsonl(args.out, records)
    answered = sum(r["answer"] is not None for r in records)
    print(f"imported {len(records)} of {len(records) + len(bad)} ({answered} with a final answer) → {args.out}")
    return 0


def cmd_funnel(args: argparse.Namespace) -> int:
    from webagent.trajectories.funnel import FunnelConfig, arun_funnel, render_markdown

    world = _world(args)
    recon, writer = _recon(args)
    cfg = FunnelConfig(teacher=_teacher_config(args), sample=_sample_config(args), filters=_filter_config(args),
                       reconstruct=not args.no_reconstruct, reconstruction=recon, rft=not args.no_rft,
                       selection=_rft_config(args), exports=tuple(x for x in args.formats.split(",") if x),
                       plots=not args.no_plots)
    report = aio.run(arun_funnel(_load_qas(args, world), args.out, cfg, world=world, writer_model=writer,
                                 quality_model=_chat_model(args.quality_model, args.quality_base_url),
                                 progress=not args.quiet))
    print(render_markdown(report))
    out = str(Path(args.out))  # "traj/" → "traj": no "traj//funnel.md"
    print(f"report: {Path(out, 'funnel.md')}, funnel.json" + (", plots/" if report.get("plots") else ""))
    if report.get("empty"):
        print(f"webagent traj funnel: {report['empty']}", file=sys.stderr)
        return 1
    return 0
