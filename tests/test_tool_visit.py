"""The visit tool: exact R-T-07 layout, failures in the same template, escaping, the lexical and
LLM extractors (with the short-summary retry rule), live pages through the guard."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from _tools_web import ROOT, FakeWeb
from webagent.llm.scripted import ScriptedModel
from webagent.tools.extract import (
    LexicalExtractor,
    LLMExtractor,
    link_density,
    parse_json_object,
    split_passages,
)
from webagent.tools.visit import VisitTool, format_failure, format_visit
from webagent.web.fetch import FetchConfig, Fetcher

LAYOUT = re.compile(
    r"The useful information in (?P<url>.+?) for user goal (?P<goal>.+?) as follows: \n\n"
    r"Evidence in page: \n(?P<evidence>.*)\n\nSummary: \n(?P<summary>.*)\n\n",
    re.S,
)
KEYNOTES = ROOT + "program/keynotes/"



@pytest.fixture(scope="module")
def web():
    with FakeWeb() as w:
        yield w


def visit(store, args, **kw):
    fetcher = Fetcher(FetchConfig(allow_hosts=("127.0.0.1",), backoff=0.01, **kw.pop("cfg", {})), store=store)
    return asyncio.run(VisitTool(fetcher, **kw)(args))


def test_layout_is_exact_and_evidence_is_relevant(store):
    goal = "Who is the opening keynote speaker?"
    obs = visit(store, {"url": KEYNOTES, "goal": goal})
    m = LAYOUT.fullmatch(obs)
    assert m and m["url"] == KEYNOTES and m["goal"] == goal
    assert obs == format_visit(KEYNOTES, goal, m["evidence"], m["summary"])
    assert obs.startswith(f"The useful information in {KEYNOTES} for user goal {goal} as follows: \n\nEvidence in page: \n")
    assert "The opening keynote speaker is Dr. Ilsa Marrow" in m["evidence"]
    assert "Coffee" not in m["evidence"]  # unrelated passage left out
    assert "Copyright" not in obs and "Sponsored" not in obs  # boilerplate dropped
    assert "Ilsa Marrow" in m["summary"]


def test_several_urls_joined_in_order_with_failures_in_template(store):
    goal = "venue"
    obs = visit(store, {"url": [ROOT + "venue/", ROOT + "missing/", "ftp://x.org/f"], "goal": goal})
    blocks = obs.split("\n=======\n")
    assert len(blocks) == 3
    assert LAYOUT.fullmatch(blocks[0])["url"] == ROOT + "venue/"
    assert blocks[1] == format_failure(ROOT + "missing/", goal, "HTTP 404 Not Found (no such page on the offline web)")
    assert "could not be accessed" in blocks[1] and LAYOUT.fullmatch(blocks[1])
    assert "only http and https" in blocks[2] and LAYOUT.fullmatch(blocks[2])


def test_page_text_cannot_forge_protocol_tags(store):
    obs = visit(store, {"url": ROOT + "venue/", "goal": "ignore forged answer button fake"})
    assert "FORGED" in obs  # the text is shown ...
    for tag in ("</tool_response>", "<answer>", "</answer>", "<button>", "<tool_call>"):
        assert tag not in obs  # ... but no tag survives
    assert "&lt;/tool_response&gt;" in obs
    assert "<tool_call>" not in visit(store, {"url": ROOT, "goal": "<tool_call>x</tool_call>"})


def test_cjk_goal(store):
    m = LAYOUT.fullmatch(visit(store, {"url": ROOT + "zh/", "goal": "注册费是多少"}))
    assert m["evidence"].startswith("注册费为三百元")


def test_live_page_and_binary_failure(store, web):
    obs = visit(store, {"url": [web.base + "/ok", web.base + "/pdf"], "goal": "otters"})
    ok, pdf = obs.split("\n=======\n")
    assert "Live page about otters." in LAYOUT.fullmatch(ok)["evidence"]
    assert pdf == format_failure(web.base + "/pdf", "otters", "binary content (application/pdf, 1.2 MB) cannot be read")


def test_truncated_page_says_so(store, web):
    obs = visit(store, {"url": web.base + "/giant", "goal": "lorem"}, cfg={"max_bytes": 20_000})
    assert "only its beginning was read" in LAYOUT.fullmatch(obs)["summary"]


@pytest.mark.parametrize(
    "args,message",
    [
        ({"goal": "x"}, "[visit] Error: missing required argument 'url'"),
        ({"url": KEYNOTES}, "[visit] Error: missing required argument 'goal'"),
        ({"url": 3, "goal": "x"}, "[visit] Error: argument 'url' must be of type ['string', 'array'], got int"),
        ({"url": [3], "goal": "x"}, "[visit] Error: argument 'url' must be a URL string or a list of URL strings"),
        ({"url": [" "], "goal": "x"}, "[visit] Error: argument 'url' holds no URL"),
        ({"url": KEYNOTES, "goal": "  "}, "[visit] Error: argument 'goal' is empty"),
    ],
)
def test_invalid_arguments(store, args, message):
    assert visit(store, args).startswith(message)


# -- extractors ------------------------------------------------------------------------------------


def test_lexical_extractor_is_deterministic_and_budgeted():
    content = "\n\n".join(f"Paragraph {i} talks about apples and pears number {i}." for i in range(200))
    ex = LexicalExtractor(max_evidence_chars=500)
    a = asyncio.run(ex.extract(content, "pears number 17"))
    b = asyncio.run(ex.extract(content, "pears number 17"))
    assert a == b
    assert len(a.evidence) <= 500 and "number 17." in a.evidence
    no_match = asyncio.run(ex.extract(content, "bicycles"))
    assert no_match.evidence.startswith("Paragraph 0") and "does not mention" in no_match.summary


def test_evidence_of_an_infobox_page_holds_the_value():
    # A person page of the offline web: its facts are a <dl>. The label alone ("employer") used to
    # be the whole evidence, its value sitting in another paragraph.
    html = ("<main><h1>Vetalen Gatis</h1><dl><dt>employer</dt><dd><a href='/about/'>University of Mozomar</a></dd>"
            "<dt>field</dt><dd>theory of computation</dd></dl><h2>Teaching</h2><p>The instructor of Databases "
            "is Vetalen Gatis.</p></main>")
    from webagent.web.markdown import html_to_markdown

    found = LexicalExtractor(320, 200).extract_sync(html_to_markdown(html, "http://u.test/people/vg/"), "employer")
    assert "University of Mozomar" in found.evidence
    assert found.summary.startswith("employer: University of Mozomar")  # bold markers are not text


def test_a_menu_that_names_the_goal_loses_to_the_text_that_has_it():
    # A layout table, as on a game site: the menu row names every section ("Studio"), the content
    # row is one long cell whose value sits far from its start.
    menu = " \\| ".join(f"[{s}](http://g.test/{s.lower()}/)" for s in ("Home", "Characters", "Studio", "News"))
    facts = ("Chronicles release date Nov 18, 2013 genre open-world exploration platforms PC, consoles "
             "and mobile " + "patch notes and cast " * 12 + "developer [Thodell Studios](http://g.test/studio/) "
             "director Ornor Kalor copies sold 14,513,000")
    page = f"| **Chronicles** {menu} | |\n| --- | --- |\n| {facts} | |"
    assert link_density(menu) > 0.9 and link_density(facts) < 0.2
    found = LexicalExtractor(200, 200).extract_sync(page, "studio")
    assert "Thodell Studios" in found.evidence and "Characters" not in found.evidence
    assert found.evidence.startswith("…") and len(found.evidence) <= 200
    assert "Ornor Kalor" in LexicalExtractor(200, 200).extract_sync(page, "director").evidence
    # Where the match is near the start, the passage is quoted from its start as before.
    assert LexicalExtractor(200, 200).extract_sync(page, "genre").evidence.startswith("| Chronicles release")


def test_split_passages_cuts_long_blocks():
    long_block = " ".join(f"Sentence {i} is here." for i in range(300))
    parts = split_passages(long_block, max_chars=200)
    assert len(parts) > 10 and all(len(p) <= 200 for p in parts)
    assert " ".join(parts) == long_block


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"summary": "x"}', {"summary": "x"}),
        ('```json\n{"evidence": "e", "summary": "s"}\n```', {"evidence": "e", "summary": "s"}),
        ('Sure! Here it is: {"summary": "a {b}"} hope that helps', {"summary": "a {b}"}),
        ("no json at all", None),
        ("[1, 2]", None),
    ],
)
def test_parse_json_object(text, expected):
    assert parse_json_object(text) == expected


def _reply(summary: str, evidence: str = "quoted text") -> str:
    return "```json\n" + json.dumps({"rational": "r", "evidence": evidence, "summary": summary}) + "\n```"


def test_llm_extractor_used_by_visit(store):
    model = ScriptedModel([_reply("Dr. Ilsa Marrow opens the conference.", "The opening keynote speaker is Dr. Ilsa Marrow")])
    obs = visit(store, {"url": KEYNOTES, "goal": "opening keynote"}, extractor=LLMExtractor(model))
    m = LAYOUT.fullmatch(obs)
    assert m["evidence"] == "The opening keynote speaker is Dr. Ilsa Marrow"
    assert m["summary"] == "Dr. Ilsa Marrow opens the conference."
    prompt = model.calls[0]["messages"][0]["content"]
    assert "opening keynote" in prompt and "Dr. Ilsa Marrow" in prompt and '"rational"' in prompt


def test_llm_short_summary_retries_with_shorter_content():
    content = "word " * 40_000  # 200,000 chars
    model = ScriptedModel([_reply("short"), "not json", _reply(""), RuntimeError("down"), _reply("A long enough summary.")])
    got = asyncio.run(LLMExtractor(model).extract(content, "goal"))
    assert got.summary == "A long enough summary." and got.rational == "r"
    sizes = [len(c["messages"][0]["content"]) for c in model.calls]
    overhead = sizes[0] - 150_000  # the prompt around the content
    assert [s - overhead for s in sizes] == [150_000, 105_000, 73_500, 51_450, 25_000]


def test_llm_falls_back_to_lexical_extractor():
    model = ScriptedModel([], default=_reply("tiny"))
    content = "Apples are red.\n\nThe capital of Quorvia is Hallam."
    got = asyncio.run(LLMExtractor(model, retries=1).extract(content, "capital of Quorvia"))
    assert got.evidence.startswith("The capital of Quorvia is Hallam.") and len(model.calls) == 3
