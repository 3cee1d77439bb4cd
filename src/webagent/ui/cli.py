"""``webagent ui``: serve the web UI (Live demo, evaluation runs, data browser) on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``ui`` sub-command on an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "ui", help="web UI: watch an agent live, browse evaluation runs and synthesized data",
        description="Serve the web UI. Live runs an agent on a question and streams its thoughts, tool "
                    "calls and observations; Runs opens `webagent eval` output directories; Data browses "
                    "synthesized QA and trajectory files. Only files under --root are readable.")
    p.add_argument("--host", default="127.0.0.1",
                   help="bind address (default 127.0.0.1; anything else exposes the UI to your network)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--world", metavar="DIR", help="offline world for Live runs (default: the default world)")
    p.add_argument("--web-url", metavar="URL",
                   help="read the offline web through this running `webagent web serve` instead of in-process")
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="directory whose runs and data files the UI may open (repeatable; default: the "
                        "current directory)")
    p.add_argument("--cache-dir", metavar="DIR", help="record/replay cache for Live tool observations")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="let the SSRF guard through to this host/IP/CIDR on the live web (repeatable)")
    p.add_argument("--max-running", type=int, default=4, help="Live episodes running at once (default 4)")
    p.set_defaults(func=cmd_ui)
    return p


def cmd_ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    import uvicorn

    from webagent.agents.cli import check_web_server
    from webagent.ui.app import LOOPBACK, UIConfig, create_app
    from webagent.urls import check_url

    # Mistakes fail here, in one line, not on the first page a browser opens.
    for root in args.root:
        if not Path(root).is_dir():
            raise ValueError(f"--root {root}: no such directory")
    if args.web_url:
        check_url(args.web_url, "--web-url")
        check_web_server(args.web_url)
    else:
        from webagent.world import open_world

        open_world(args.world).close()  # a missing or unbuilt --world is reported now

    config = UIConfig(world=args.world, web_url=args.web_url, roots=args.root or ["."], cache_dir=args.cache_dir,
                      allow_hosts=tuple(args.allow_host), host=args.host, max_running=args.max_running)
    if args.host not in LOOPBACK:
        print(f"webagent ui: warning: listening on {args.host} exposes the UI (and any model/API key it can use) "
              "to other machines; it has no login", file=sys.stderr)
    app = create_app(config)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"webagent UI on http://{shown}:{args.port}/ · roots: {', '.join(config.roots)} · Ctrl-C to stop",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
