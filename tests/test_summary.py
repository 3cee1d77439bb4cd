"""Commands print a short table; --json prints the full summary."""

import json

from webagent.cli import main
from webagent.summary import table


def test_table_aligns_labels_and_reads_nested_values():
    text = table([("kept", 5), ("by lang", {"en": 4, "zh": 1}), ("hops", {"mean": 1.4444444})])
    assert text.splitlines() == ["kept     5", "by lang  en 4, zh 1", "hops     mean 1.444"]


def test_world_info_and_synth_print_tables_and_full_json_on_request(world_dir, tmp_path, capsys):
    assert main(["world", "info", "--world", str(world_dir)]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and len(out.splitlines()) < 20 and "pages" in out
    assert main(["world", "info", "--world", str(world_dir), "--json"]) == 0
    assert "counts" in json.loads(capsys.readouterr().out)
    out_file = tmp_path / "c.jsonl"
    assert main(["synth", "crawlqa", "--n", "3", "--world", str(world_dir), "--out", str(out_file), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "kept" in out and f"full summary: {out_file}.summary.json" in out
    assert main(["synth", "crawlqa", "--n", "3", "--world", str(world_dir), "--out", str(out_file), "--quiet",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n" + str(out_file))[0])["generator"] == "crawlqa"
