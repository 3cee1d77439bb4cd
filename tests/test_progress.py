"""Progress output: live bars on a terminal only, plain readable lines in logs."""

import ast
import io
from pathlib import Path

from webagent.progress import PlainProgress, progress, track

SRC = Path(__file__).resolve().parents[1] / "src" / "webagent"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_only_the_progress_module_imports_tqdm():
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "tqdm" or n.startswith("tqdm.") for n in names) and path.name != "progress.py":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == [], f"use webagent.progress instead of tqdm in {offenders}"


def test_not_a_terminal_gets_a_line_each_tenth_and_no_carriage_returns():
    log = io.StringIO()
    with progress(180, desc="eval webwalker", unit="ep", stream=log) as bar:
        assert isinstance(bar, PlainProgress)
        for _ in range(180):
            bar.update()
            bar.set_postfix_str(f"acc {0.41:.1%}")
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 10  # 10 %, 20 %, … 100 %; the end is not written twice
    assert lines[3].startswith("eval webwalker: 72/180 ep (40%), acc 41.0%, ") and lines[3].endswith(" elapsed")
    assert lines[-1].startswith("eval webwalker: 180/180 ep (100%)")


def test_a_slow_job_writes_a_line_every_so_often_and_a_resume_counts_from_where_it_was():
    log = io.StringIO()
    bar = progress(1000, desc="sft", unit="step", initial=500, stream=log, every_seconds=0.0)
    bar.set_postfix(loss="0.123")
    bar.update()
    bar.close()
    assert len(log.getvalue().splitlines()) == 1
    assert log.getvalue().startswith("sft: 501/1000 step (50%), loss 0.123, ")


def test_a_terminal_gets_the_live_bar_and_disable_writes_nothing():
    tty = Terminal()
    with progress(3, desc="world", unit="step", stream=tty) as bar:
        bar.update(3)
    assert "\r" in tty.getvalue() and "world" in tty.getvalue()
    quiet = io.StringIO()
    assert list(track([1, 2, 3], desc="x", stream=quiet, disable=True)) == [1, 2, 3]
    assert quiet.getvalue() == ""
    assert list(track([1, 2], desc="worlds", unit="world", stream=quiet)) == [1, 2]
    assert quiet.getvalue().splitlines()[-1].startswith("worlds: 2/2 world (100%)")


def test_an_evaluation_logged_to_a_file_has_no_carriage_returns(world_dir, tmp_path, capsys):
    from webagent.cli import main

    code = main(["eval", "--benchmark", "synth:webwalker", "--limit", "3", "--runs", "1", "--llm", "baseline",
                 "--world", str(world_dir), "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 0 and "\r" not in err
    assert "eval " in err and "3/3 ep (100%)" in err
