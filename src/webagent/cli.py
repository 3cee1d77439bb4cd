"""The ``webagent`` command line: thin sub-commands that parse arguments and call the library.

Heavy modules are imported inside each command so that ``webagent --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from webagent import aio


def _add_world_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--world",
        metavar="DIR",
        help="world directory (default: the default world, built on first use under $WEBAGENT_HOME)",
    )


def _add_cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", metavar="DIR", help="record/replay cache for tool observations")
    p.add_argument("--cache-mode", choices=["auto", "record", "replay", "off"], default="auto",
                   help="auto: replay hits, record misses (default); replay: never call the backend")


def _open_world(args):
    from webagent.world import open_world

    return open_world(args.world)


# -- world -------------------------------------------------------------------------------------


def cmd_world_build(args) -> int:
    from webagent.world.build import WorldConfig, build_world

    if Path(args.out).exists() and not Path(args.out).is_dir():  # before the build, not after it
        raise NotADirectoryError(20, "not a directory", args.out)
    cfg = WorldConfig(seed=args.seed, size=args.size, zh_share=args.zh_share)
    out = build_world(cfg, Path(args.out), progress=not args.quiet)
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    from webagent.summary import emit

    print(f"built world seed={cfg.seed} size={cfg.size} in {out}")
    emit(manifest.get("counts", {}), [("counts", manifest.get("counts", {}))], as_json=args.json)
    return 0


def cmd_world_import(args) -> int:
    from webagent.world.corpus import CorpusConfig, import_corpus

    cfg = CorpusConfig(name=args.name, max_text_chars=args.max_text_chars)
    report = import_corpus(args.input, args.out, cfg, overwrite=args.force)
    for line, why in report.skipped[:20]:
        print(f"{args.input}:{line}: skipped: {why}")
    print(f"imported {report.documents} documents into {args.out} in {report.seconds['import']:.1f} s"
          f" ({report.duplicates} duplicate addresses, {len(report.skipped)} lines skipped)")
    print(f"serve it: webagent web serve --world {args.out}  ·  search it: webagent search --world {args.out} QUERY")
    return 0


def cmd_world_info(args) -> int:
    from webagent.summary import emit

    world = _open_world(args)
    m = world.manifest
    rows = [("world", str(world.root))] + [(k, v) for k, v in m.items() if not isinstance(v, dict | list)]
    rows += [(k, v) for k, v in m.items() if isinstance(v, dict) and k in ("config", "counts")]
    emit(m, rows, as_json=args.json)
    return 0


# -- web ---------------------------------------------------------------------------------------


def cmd_web_serve(args) -> int:
    import os

    from webagent.web.faults import FaultConfig
    from webagent.web.server import serve

    logging.getLogger().setLevel(logging.INFO)
    world = _open_world(args)
    faults = FaultConfig.parse(args.faults) if args.faults else None
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        raise ValueError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    serve(world.root, host=args.host, port=args.port, faults=faults, api_key=api_key)
    return 0


def _toolbox_run(config, call):
    """Build a Toolbox for ``config``, await ``call(toolbox)`` and close it."""
    from webagent.tools.toolbox import Toolbox

    async def go():
        async with Toolbox(config) as tb:
            return await call(tb)

    return aio.run(go())


def cmd_search(args) -> int:
    from webagent.tools.toolbox import WebConfig
    from webagent.urls import check_url

    check_url(args.base_url, "--base-url")

    cfg = WebConfig(web="offline" if args.backend == "local" else "live", world=args.world,
                    search=args.backend, search_url=args.base_url, k=args.k,
                    cache_dir=args.cache_dir, cache_mode=args.cache_mode)
    print(_toolbox_run(cfg, lambda tb: tb.search({"query": args.query})))
    return 0


def cmd_visit(args) -> int:
    from webagent.tools.toolbox import WebConfig
    from webagent.urls import check_url

    for url in args.url:
        check_url(url, "URL")

    cfg = WebConfig(web=args.web, world=args.world, search="local" if args.web == "offline" else "serper",
                    allow_hosts=tuple(args.allow_host), cache_dir=args.cache_dir, cache_mode=args.cache_mode)
    url = args.url if len(args.url) > 1 else args.url[0]
    print(_toolbox_run(cfg, lambda tb: tb.visit({"url": url, "goal": args.goal})))
    return 0


def cmd_demo(args) -> int:
    from webagent.demo import run_demo

    return run_demo(world_dir=args.world)


# Each area keeps its sub-commands next to its code; a module exposes add_parsers(subparsers) and
# imports heavy dependencies only inside its command functions, so `--help` stays instant.
_COMMAND_MODULES = (
    "webagent.agents.cli",
    "webagent.eval.cli",
    "webagent.synth.cli",
    "webagent.trajectories.cli",
    "webagent.train.cli",
    "webagent.ui.cli",
)


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from webagent.summary import add_json_arg

    parser = argparse.ArgumentParser(
        prog="webagent",
        description="Web information-seeking agents (WebWalker, WebDancer, WebSailor) on an offline "
        "fictional web or the live web.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="start here: build the default world, serve it, search and visit it, and "
                                    "answer a question with the default policy",
                       description="Build the default world (first run only), serve it on 127.0.0.1, search and "
                                   "visit it, and run the ReAct agent on one question with the default policy "
                                   "(the shipped trained policy, else the rule-based baseline; it says which).")
    _add_world_arg(p)
    p.set_defaults(func=cmd_demo)

    world = sub.add_parser("world", help="build and inspect offline worlds")
    wsub = world.add_subparsers(dest="world_command", metavar="SUBCOMMAND")
    p = wsub.add_parser("build", help="build a deterministic world (graph, pages, search index)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=24, help="number of official sites (default 24)")
    p.add_argument("--zh-share", type=float, default=0.6, help="share of Chinese sites (default 0.6)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json_arg(p, "the counts")
    p.set_defaults(func=cmd_world_build)
    p = wsub.add_parser("import", help="an offline web from your own documents (JSONL: url or docid, title, text or html)")
    p.add_argument("input", metavar="FILE", help="corpus JSONL (or .jsonl.gz), one document per line")
    p.add_argument("--out", required=True, metavar="DIR", help="world directory to write")
    p.add_argument("--name", default="corpus", help="host of documents known only by id: http://NAME.test/doc/ID")
    p.add_argument("--max-text-chars", type=int, help="cut longer documents")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.set_defaults(func=cmd_world_import)
    p = wsub.add_parser("info", help="print a world's manifest (counts, hashes)")
    _add_world_arg(p)
    add_json_arg(p, "the whole manifest")
    p.set_defaults(func=cmd_world_info)
    world.set_defaults(func=lambda a: world.print_help() or 2)

    web = sub.add_parser("web", help="serve the offline web over HTTP")
    websub = web.add_subparsers(dest="web_command", metavar="SUBCOMMAND")
    p = websub.add_parser(
        "serve",
        help="serve pages by .test host, a Serper-compatible /search and a Search-R1 /retrieve",
    )
    _add_world_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700)")
    p.add_argument("--faults", metavar="SPEC",
                   help="fault injection for robustness tests, e.g. 'error_rate=0.1,rate_limit_rate=0.05,"
                        "truncate_rate=0.05,latency_ms=50,latency_jitter_ms=20,seed=1'")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="require the key in this environment variable on /search and /retrieve")
    p.set_defaults(func=cmd_web_serve)
    web.set_defaults(func=lambda a: web.print_help() or 2)

    p = sub.add_parser("search", help="run the search tool and print its observation")
    p.add_argument("query", nargs="+", help="one or more queries (each runs concurrently)")
    _add_world_arg(p)
    p.add_argument("--backend", choices=["local", "serper", "searxng"], default="local",
                   help="local (offline web, default), serper (SERPER_API_KEY), searxng (--base-url)")
    p.add_argument("--base-url", help="endpoint for serper/searxng (e.g. a local `webagent web serve`)")
    p.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    _add_cache_args(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("visit", help="run the visit tool on URLs and print its observation")
    p.add_argument("url", nargs="+", help="one or more URLs (.test URLs read the offline web)")
    p.add_argument("--goal", required=True, help="what to look for on the page")
    _add_world_arg(p)
    p.add_argument("--web", choices=["offline", "live"], default="offline",
                   help="offline: open the offline world for .test URLs (default); live: do not open it")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="let the SSRF guard through to this host/IP/CIDR (repeatable)")
    _add_cache_args(p)
    p.set_defaults(func=cmd_visit)

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not (e.name and (name == e.name or name.startswith(e.name + "."))):
                raise  # a broken import inside an existing module is a real bug
            continue
        module.add_parsers(sub)
    return parser


# Errors that come from what the user gave (a path, a value), not from a bug.
USER_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError, ValueError)


def _user_message(e: Exception) -> str:
    """The error in words: an OSError names its file and says what is wrong with it."""
    if isinstance(e, IsADirectoryError):
        return f"{e.filename}: is a directory; give a file here"
    if isinstance(e, NotADirectoryError):
        return f"{e.filename}: a file is in the way where a directory is needed"
    if isinstance(e, PermissionError):
        return f"{e.filename}: permission denied"
    if isinstance(e, FileExistsError):
        return f"{e.filename}: already exists"
    return str(e)


def main(argv: list[str] | None = None) -> int:
    from webagent.secrets import install_log_redaction, redact

    if not logging.getLogger().handlers:  # what logging would print anyway, through the redaction
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    install_log_redaction()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Long commands write each finished record (episodes, QA, trajectories) as it ends and
        # checkpoint training on Ctrl-C, and all of them resume by default.
        print("\nwebagent: interrupted. Finished records and checkpoints are on disk; run the same "
              "command again to resume from them.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as e:
        # Configuration mistakes get one clear line; anything else is a bug and keeps its traceback.
        if isinstance(e, USER_ERRORS) or type(e).__name__ == "SearchBackendError":
            print(f"webagent: error: {redact(_user_message(e))}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
