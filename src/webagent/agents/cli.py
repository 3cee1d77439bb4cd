"""``webagent run "question"``: one agent episode with its thoughts, tool calls and observations live.

By default the ReAct agent runs on the offline web (in-process, no server) with the rule-based
baseline policy, labelled as such. ``--llm openai`` points it at any OpenAI-compatible server
(vLLM, SGLang, OpenAI, DashScope, OpenRouter); ``--llm local`` loads a Hugging Face model directory;
``--web live`` uses Serper search and the live web; ``--web-url`` reads the offline web through a
running ``webagent web serve``; ``--agent walker --root-url URL`` runs WebWalker on one site.
The tools come from :class:`webagent.tools.toolbox.Toolbox`, like every other stage's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from webagent import aio
from webagent.llm.factory import add_model_args, describe_model, model_from_args, resolve_policy
from webagent.llm.grounding import parse_grounding


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``run`` sub-command on an argparse ``subparsers`` object."""
    p = subparsers.add_parser("run", help="run an agent on one question and show its trajectory live")
    p.add_argument("question", help="the question to answer")
    p.add_argument("--agent", choices=["react", "walker"], default="react",
                   help="react (WebDancer/WebSailor, default) or walker (WebWalker; needs --root-url)")
    p.add_argument("--root-url", help="start page for --agent walker")
    p.add_argument("--llm", choices=["auto", "baseline", "openai", "local"], default="auto",
                   help="auto (default): the shipped trained policy, or the rule-based baseline where it cannot "
                        "load ($WEBAGENT_POLICY picks another); baseline: rule-based policy, no model; openai: an "
                        "OpenAI-compatible server; local: a model directory or package model (--model PATH)")
    add_model_args(p, temperature=None,
                   temperature_help="sampling temperature (default: 0, greedy, for a trained policy with its "
                                    "runtime, as in the demo; 0.6 for any other model)")
    p.add_argument("--function-calling", action="store_true", help="use the API's native tool calling")
    p.add_argument("--web", choices=["offline", "live"], default="offline",
                   help="offline: the local fictional web (default); live: Serper search + the real web")
    p.add_argument("--world", metavar="DIR", help="world directory (default: the default world)")
    p.add_argument("--web-url", metavar="URL",
                   help="read the offline web through this running `webagent web serve` instead of in-process")
    p.add_argument("--search", choices=["auto", "local", "serper", "searxng"], default="auto",
                   help="search backend (auto: local offline, serper live)")
    p.add_argument("--search-url", metavar="URL", help="endpoint for --search serper/searxng")
    p.add_argument("--cache-dir", metavar="DIR", help="record/replay cache for tool observations")
    p.add_argument("--cache-mode", choices=["auto", "record", "replay", "off"], default="auto",
                   help="auto: replay hits, record misses (default); replay: never call the backend")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="let the SSRF guard through to this host/IP/CIDR (repeatable)")
    p.add_argument("--tool-workers", type=int, default=0, metavar="N",
                   help="processes that read visited pages and search the offline index (default 0: in the event loop)")
    p.add_argument("--max-llm-calls", type=int, default=40, help="ReAct budget of model calls (default 40)")
    p.add_argument("--max-actions", type=int, default=15, help="WebWalker's K (default 15)")
    p.add_argument("--prompt-file", help="a TOML file overriding the shipped prompts")
    p.add_argument("--protocol", choices=["webagent", "released"], default="webagent",
                   help="ReAct interface: webagent (ours, default) or released (the released agents' exact "
                        "prompt layout, observations and loop, for released checkpoints)")
    p.add_argument("--tokenizer", metavar="DIR",
                   help="count context tokens with this Hugging Face tokenizer (the served model's)")
    p.add_argument("--json", metavar="PATH", help="write the trajectory as JSON to PATH")
    p.add_argument("--quiet", action="store_true", help="print only the answer")
    p.set_defaults(func=cmd_run)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    if args.agent == "walker" and not args.root_url:
        raise ValueError("--agent walker needs --root-url")
    check_web_args(args)  # mistakes first, before the policy is chosen (and said)
    resolve_policy(args)
    if args.temperature is None:
        args.temperature = default_temperature(args)
    if parse_grounding(args.grounding) and args.llm != "local":
        raise ValueError("--grounding needs a local model (--llm local)")
    traj = aio.run(_run(args))
    if args.json:
        Path(args.json).write_text(traj.to_json() + "\n", encoding="utf-8")
    print(f"\nanswer: {traj.answer if traj.answer is not None else '(none)'}")
    print(f"termination: {traj.termination} · {traj.llm_calls} model calls · {traj.tool_calls} tool calls · "
          f"{traj.seconds:.2f} s · policy: {traj.policy}")
    if args.json:
        print(f"trajectory written to {args.json}")
    return 0 if traj.answer is not None else 1


def default_temperature(args: argparse.Namespace) -> float:
    """One answer from a trained policy (a model directory with its runtime) decodes greedily,
    as the demo does (:data:`webagent.checkpoints.ANSWER_TEMPERATURE`); other models sample at the
    agent's default (0.6)."""
    from webagent.agents.react import ReactConfig
    from webagent.checkpoints import ANSWER_TEMPERATURE, load_runtime

    trained = args.llm == "local" and load_runtime(args.model) is not None
    return ANSWER_TEMPERATURE if trained else ReactConfig.temperature


def check_web_args(args: argparse.Namespace) -> None:
    """Clear errors for the URL and world options before anything runs: a malformed URL, a
    ``--web-url`` where no server answers, a ``--root-url`` that is no page of the offline world."""
    from webagent.urls import check_url, is_test_host

    for option in ("root_url", "web_url", "base_url", "search_url"):
        check_url(getattr(args, option, None), "--" + option.replace("_", "-"))
    if getattr(args, "llm", None) == "local":
        from webagent.llm.factory import check_local_model

        check_local_model(args.model)
    if args.web_url:
        check_web_server(args.web_url)
    elif args.web == "offline" and args.root_url and is_test_host(args.root_url):
        from webagent.world import open_world

        if open_world(args.world).get(args.root_url) is None:
            raise ValueError(f"--root-url {args.root_url}: no such page in the offline world; its sites are "
                             "listed on http://start.test/ (`webagent visit http://start.test/ --goal sites`)")


def check_web_server(url: str) -> None:
    """A ``ValueError`` unless a ``webagent web serve`` answers at ``url``."""
    import httpx

    try:
        ok = httpx.get(url.rstrip("/") + "/health", timeout=5.0).status_code == 200
    except httpx.HTTPError as e:
        raise ValueError(f"--web-url {url}: no server answers there ({type(e).__name__}); "
                         "start one with `webagent web serve`") from None
    if not ok:
        raise ValueError(f"--web-url {url}: the server there is not a `webagent web serve` (no /health)")


def _model(args: argparse.Namespace):
    if args.llm == "baseline":
        from webagent.agents.baseline import BaselinePolicy
        from webagent.agents.walker_baseline import WalkerBaselinePolicy

        return WalkerBaselinePolicy() if args.agent == "walker" else BaselinePolicy()
    if args.llm == "local" and args.grounding is None:  # a trained model decodes as it was measured
        from webagent.checkpoints import runtime_grounding

        args.grounding = runtime_grounding(args.model, args.agent)
    return model_from_args(args)


def _describe(args: argparse.Namespace) -> str:
    if args.llm == "baseline":
        return "rule-based baseline (not a language model)"
    return describe_model(args.llm, args.model, args.base_url)


def web_config(args: argparse.Namespace):
    """The ``WebConfig`` of the command-line options."""
    from webagent.tools.toolbox import WebConfig

    return WebConfig(web=args.web, world=args.world, search=args.search, search_url=args.search_url,
                     web_url=args.web_url, cache_dir=args.cache_dir, cache_mode=args.cache_mode,
                     allow_hosts=tuple(args.allow_host), tool_workers=args.tool_workers)


async def _run(args: argparse.Namespace):
    from webagent.tools.toolbox import Toolbox

    model = _model(args)
    show = None if args.quiet else _printer()
    if not args.quiet:
        where = args.web_url or args.web
        print(f"policy: {_describe(args)} · web: {where} · agent: {args.agent}", flush=True)
    from webagent.checkpoints import load_runtime

    runtime = load_runtime(args.model) if args.llm == "local" else None  # a trained model's own runtime
    async with (runtime.toolbox(web_config(args)) if runtime else Toolbox(web_config(args))) as tb:
        try:
            if args.agent == "walker":
                from webagent.agents.walker import WalkerAgent, WalkerConfig

                cfg = WalkerConfig(max_actions=args.max_actions, prompt_file=args.prompt_file,
                                   temperature=args.temperature)
                return await WalkerAgent(model, tb.click_tool, config=cfg, on_event=show).run(args.question, args.root_url)
            from webagent.agents.react import ReactConfig
            from webagent.agents.released import make_react_agent

            cfg = ReactConfig(max_llm_calls=args.max_llm_calls, prompt_file=args.prompt_file,
                              temperature=args.temperature, top_p=args.top_p, function_calling=args.function_calling)
            if runtime is not None:
                cfg = runtime.react_config(max_llm_calls=min(args.max_llm_calls, runtime.max_llm_calls),
                                           prompt_file=args.prompt_file, temperature=args.temperature, top_p=args.top_p)
            counter = None
            if args.tokenizer:
                from webagent.trajectories.select import hf_token_counter

                counter = hf_token_counter(args.tokenizer)
            agent = make_react_agent(args.protocol, model, tb.react_tools, cfg, on_event=show, token_counter=counter)
            return await agent.run(args.question)
        finally:
            if hasattr(model, "aclose"):
                await model.aclose()


def _printer(limit: int = 1200):
    """Print agent events as they happen, long observations shortened."""
    marks = {"think": "💭 think", "tool_call": "🔧 call", "observation": "📄 observation", "answer": "✅ answer",
             "notice": "·"}

    def show(event) -> None:
        text = event.text if len(event.text) <= limit else event.text[:limit] + f"\n… ({len(event.text) - limit} more chars)"
        # Steps count from 1 on screen ([1], [2], [3] …); notices belong to no step.
        head = marks["notice"] if event.kind == "notice" else f"[{event.step + 1}] {marks.get(event.kind, event.kind)}"
        print(f"\n{head}\n{text}", file=sys.stdout, flush=True)

    return show
