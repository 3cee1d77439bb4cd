"""User mistakes in --model, --world, --benchmark, --qa, --config and URL options end in one clear
line on stderr and exit status 2: no traceback, no work done first, nothing written."""

from __future__ import annotations

import sys

import pytest

from webagent.cli import main


@pytest.fixture
def paths(tmp_path, world_dir):
    (tmp_path / "file.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    (tmp_path / "empty_dir").mkdir()
    return {"W": str(world_dir), "FILE": str(tmp_path / "file.jsonl"), "DIR": str(tmp_path / "empty_dir"),
            "OUT": str(tmp_path / "out")}


CASES = [
    # --model: a path that is no model, for every command that loads one
    ("run q --llm local --model /nope/model", "neither a model directory nor a model name"),
    ("run q --llm local --model FILE", "is a file, not a model directory"),
    ("run q --llm local --model DIR", "has no config.json"),
    ("eval --benchmark synth:webwalker --out OUT --llm local --model ./nope --world W", "--model: ./nope"),
    ("traj sample --qa FILE --out OUT --teacher local --model /nope/model --world W", "--model: /nope/model"),
    ("train sft --data FILE --model /nope/model --out OUT", "Or a model preset"),
    ("train rl --policy /nope/model --tasks FILE --out OUT", "--policy: /nope/model"),
    ("pipeline --preset tiny --model /nope/model --out OUT", "--model: /nope/model"),
    # --config, --benchmark, --qa, outputs
    ("pipeline --config /nope.json --out OUT", "--config /nope.json: no such file"),
    ("eval --benchmark DIR --out OUT", "is a directory; give a file"),
    ("traj funnel --qa DIR --out OUT --world W", "is a directory; give a file"),
    ("synth crawlqa --n 2 --out DIR --world W", "is a directory; give a file"),
    ("world build --out FILE --quiet", "a file is in the way"),
    ("world info --world /nope/world", "is not a built world"),
    ("ui --root /nope/root", "--root /nope/root: no such directory"),
    ("ui --world /nope/world", "is not a built world"),
    # URLs
    ("visit notaurl --goal g --world W", "URL 'notaurl': not an http(s) URL"),
    ("search q --backend searxng --base-url notaurl --world W", "--base-url 'notaurl'"),
    ("run q --agent walker --root-url notaurl --world W", "--root-url 'notaurl'"),
    ("run q --agent walker --root-url http://nohost.test/ --world W", "no such page in the offline world"),
    ("run q --web-url http://127.0.0.1:1", "no server answers there"),
    ("run q --llm openai --base-url notaurl --model m", "--base-url 'notaurl'"),
    ("eval --benchmark synth:webwalker --out OUT --llm openai --base-url ftp://x", "--base-url 'ftp://x'"),
    ("ui --web-url notaurl", "--web-url 'notaurl'"),
]


@pytest.mark.parametrize("command,message", CASES, ids=[c for c, _ in CASES])
def test_user_mistake_is_one_clear_line(command, message, paths, capsys):
    argv = [paths.get(w, w) for w in command.split()]
    torch_loaded = "torch" in sys.modules
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("webagent: error: ") and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (paths["OUT"] and __import__("os").path.exists(paths["OUT"])), "an output was written"
    if not torch_loaded:  # the mistake is found before seconds of importing torch
        assert "torch" not in sys.modules


def test_ctrl_c_exits_130_with_how_to_resume(monkeypatch, capsys):
    """An interrupted command says that its finished work is kept and how to go on: no traceback."""
    import webagent.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_world_info", interrupted)  # any command: the handler is the same for all
    assert main(["world", "info"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command again to resume" in err and "Traceback" not in err
