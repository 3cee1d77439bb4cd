"""Every command's --help, read as a newcomer reads it."""

import argparse

from webagent.cli import build_parser


def all_parsers(parser=None, path=("webagent",)):
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub.prog.endswith(" " + name):  # aliases list the same parser again
                    yield from all_parsers(sub, (*path, name))


def test_help_texts_show_no_source_markup_and_every_llm_option_offers_local():
    seen = 0
    for path, p in all_parsers():
        text = p.format_help()
        assert "``" not in text, " ".join(path)
        for action in p._actions:
            if "--llm" in action.option_strings and action.choices:
                assert "local" in action.choices and "local" in action.help, " ".join(path)
                seen += 1
    assert seen >= 3  # run, eval, synth's generators


def test_help_names_what_commands_do():
    p = build_parser()
    top = p.format_help()
    assert "answer a question" in top and "RL (DUPO, DAPO, GRPO)" in top
    evaluate = next(q for _, q in all_parsers(p) if q.prog == "webagent eval")
    model = next(a for a in evaluate._actions if "--model" in a.option_strings)
    assert "--llm local" in model.help


def test_shipped_checkpoint_pages_and_cards_name_no_path_of_the_machine_they_were_made_on():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    pages = [p for d in root.iterdir() if d.is_dir()
             for p in (d / "results.md", d / "README.md", d / "webagent_card.json", *d.glob("lineage/*.json"))
             if p.is_file()]
    assert pages
    for page in pages:
        found = re.findall(r"(?<![\w.])/(?:tmp|root|home|work|var|private)/\S*", page.read_text(encoding="utf-8"))
        assert found == [], f"{page}: {found}"
