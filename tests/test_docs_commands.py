"""Every command the README and docs show works as shown, on the default world.

The ```bash blocks of README.md, docs/*.md and checkpoints/*/README.md are read line by line.
Every `webagent` command must parse; the cheap offline ones run in-process, in file order and in one
working directory per file (so a block's later commands read what its earlier ones wrote), with
sizes cut down (`--n`, `--runs`, `--limit`) where that changes nothing about whether the command
works. `webagent web serve` starts the offline web on a free port and the file's `curl` commands
are sent to it. Commands that need a model server, a GPU-sized training run, the live web or a
file the reader brings are parsed only, each with its reason (see ``why_not_run``). The default
policy (``--llm auto``) is pinned to the rule-based baseline (``WEBAGENT_POLICY=baseline``): the
trained policy's own runs are measured by its benchmarks, not here.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import httpx
import pytest

from webagent.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "checkpoints").glob("*/README.md"))]


def shown_commands(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, argv) of each command in the file's ```bash blocks, comments dropped and
    backslash continuations joined."""
    out, block, start, pending = [], False, 0, ""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            block = line.strip() == "```bash"
            continue
        if not block:
            continue
        if not pending:
            start = n
        pending += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        # The shell substitutions the docs use: a seed list, and torchrun's path to the script.
        text = re.sub(r"\$\(seq -s, (\d+) (\d+)\)", lambda m: ",".join(map(str, range(int(m[1]), int(m[2]) + 1))),
                      pending)
        argv = shlex.split(text, comments=True)
        if argv and argv[0] == "torchrun" and "$(which" in argv:
            argv = ["webagent", *argv[argv.index("webagent)") + 1:]]
        pending = ""
        if argv:
            out.append((start, argv))
    return out


def inline_commands(path: Path) -> list[str]:
    """`webagent …` commands quoted inline in the prose."""
    return re.findall(r"`(webagent [^`]*)`", path.read_text(encoding="utf-8"))


# Files a reader brings (the released data, a benchmark download, their own corpus): a command
# reading one is parsed only, unless an earlier command of the same file wrote it.
BROUGHT = {"sample_traj.jsonl", "sample_qa.jsonl", "webshaper.500.jsonl", "gaia_dev.json", "rl_pool.jsonl",
           "browsecomp_plus_corpus.jsonl", "my_questions.jsonl", "docs.jsonl"}


def why_not_run(argv: list[str], skipped_outputs: set[str]) -> str | None:
    """Why a shown command is parsed but not run here (None: it runs)."""
    words = " ".join(argv)
    if any(Path(a).name in BROUGHT and not Path(a).exists() for a in argv[2:]):
        return "reads a file the reader brings"
    if argv[0] != "webagent":
        return f"{argv[0]} is not webagent"
    if "…" in words or "..." in words:
        return "a placeholder question"
    sub = argv[1:3]
    if sub[0] in ("pipeline", "ui", "train") or sub == ["eval", "rejudge"]:
        return "a training run, a long-running server or an LLM judge"
    if re.search(r"--llm (openai|local)|--base-url|--web-url|--web live|--judge llm|--format gaia", words):
        return "needs a model, a model server or the live web"
    if re.search(r"--tokenizer /models/", words):
        return "needs a model's tokenizer"
    if any(a.rstrip("/") in skipped_outputs for a in argv[2:]):
        return "reads the output of a command not run here"
    return None


def cut_down(argv: list[str]) -> list[str]:
    """The same command with smaller sizes: at most 40 synthesized items, one run, 20 questions."""
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a == "--n":
            out[i + 1] = str(min(int(out[i + 1]), 40))
        if a == "--runs":
            out[i + 1] = "1"
    if out[1:2] == ["eval"] and "--benchmark" in out:
        out += ["--limit", "20", "--quiet"]
    return out


def run_cli(argv: list[str]) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(argv[1:])
    return rc, stdout.getvalue() + stderr.getvalue()


def curl(argv: list[str], port: int) -> httpx.Response:
    """The little of curl the docs use: -s, -H, -x, -d and one URL."""
    headers, proxy, data, url = {}, None, None, None
    args = iter(argv[1:])
    for a in args:
        if a == "-H":
            k, _, v = next(args).partition(":")
            headers[k.strip()] = v.strip()
        elif a == "-x":
            proxy = next(args).replace(":8700", f":{port}")
        elif a == "-d":
            data = next(args)
        elif a != "-s":
            url = a.replace(":8700", f":{port}")
    with httpx.Client(proxy=proxy, timeout=30) as client:
        if data is not None:
            return client.post(url, content=data, headers=headers)
        return client.get(url, headers=headers)


def assert_names_real_things(query: str, search_output: str) -> None:
    """The query names real things of the default world: its capitalised words are in the top hit."""
    first = search_output.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    for word in re.findall(r"\b[A-Z][A-Za-z]+\b", query):
        assert word in first, (query, word, first)


def check_output(argv: list[str], rc: int, text: str) -> None:
    """What 'works' means beyond a zero exit status, per command."""
    assert rc == 0, text[-3000:]
    assert "Traceback" not in text
    if argv[1] == "search":
        assert_names_real_things(argv[2], text)
    if argv[1] == "run":
        assert "answer: (none)" not in text and "answer: unknown" not in text, text[-2000:]
        question = argv[2].split(maxsplit=1)[-1]  # past "Who", "Which", ...
        assert_names_real_things(question, run_cli(["webagent", "search", question])[1])
    if argv[1] == "visit":
        assert "could not be" not in text.lower() and "error" not in text.lower()[:400], text[:800]


def test_the_docs_show_commands():
    found = {str(p.relative_to(REPO)): shown_commands(p) for p in DOCS}
    assert sum(map(len, found.values())) >= 40
    assert any(a[:2] == ["webagent", "search"] for a in (argv for _, argv in found["README.md"]))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_shown_commands_work_on_the_default_world(path, tmp_path, monkeypatch):
    from webagent.web.server import ServerThread
    from webagent.world import open_world

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBAGENT_POLICY", "baseline")
    parser = build_parser()
    skipped: set[str] = set()
    server = None
    try:
        for line, argv in shown_commands(path):
            where = f"{path.name}:{line}: {' '.join(argv)}"
            if argv[0] == "curl":
                assert server is not None, f"{where}: shown without `webagent web serve` before it"
                r = curl(argv, server.port)
                assert r.status_code == 200, (where, r.status_code, r.text[:300])
                assert "Vevia Sastad" in r.text or "LOVARA" in r.text, (where, r.text[:300])
                continue
            if argv[0] != "webagent":
                continue
            try:
                args = parser.parse_args(argv[1:])
            except SystemExit:
                pytest.fail(f"{where}: does not parse")
            # Files of this repository that a command names exist.
            for opt, value in zip(argv, argv[1:], strict=False):
                if opt in ("--config", "--model") and value.startswith("checkpoints/"):
                    assert (REPO / value).exists(), f"{where}: {value} is not in the repository"
            if argv[1:3] == ["web", "serve"]:
                if args.world and args.world.rstrip("/") in skipped:
                    continue  # serves a world a command not run here would have written
                server = ServerThread(open_world(args.world)).__enter__()
                continue
            reason = why_not_run(argv, skipped)
            if reason:
                if "--out" in argv:
                    skipped.add(argv[argv.index("--out") + 1].rstrip("/"))
                continue
            rc, text = run_cli(cut_down(argv))
            check_output(argv, rc, f"{where}\n{text}")
    finally:
        if server is not None:
            server.__exit__(None, None, None)


def test_inline_commands_name_real_subcommands():
    parser = build_parser()
    for path in DOCS:
        for cmd in inline_commands(path):
            words = []
            for w in cmd.split()[1:]:
                if not re.fullmatch(r"[a-z][a-z-]*", w):
                    break
                words.append(w)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    parser.parse_known_args([*words[:2], "--help"])
            except SystemExit as e:
                assert e.code == 0, f"{path.name}: `{cmd}` names no webagent command"
