"""WebWalker's click tool: button extraction rules, the observation layout, the per-episode
button map, unknown buttons and escaping."""

from __future__ import annotations

import asyncio

import pytest

from _tools_web import ROOT
from webagent.tools.click import UNKNOWN_BUTTON, Button, ClickSession, ClickTool, extract_buttons
from webagent.web.fetch import Fetcher


def buttons_of(obs: str) -> list[str]:
    listing = obs.split("\n\nclickable button:\n\n", 1)[1]
    return [line[len("<button>") : -len("<button>")] for line in listing.splitlines()]


def play(store, *clicks: str, root: str = ROOT) -> tuple[list[str], ClickSession]:
    session = ClickSession(root, Fetcher(store=store))
    tool = ClickTool(session)

    async def go():
        out = [await tool.root_observation()]
        for c in clicks:
            out.append(await tool({"button": c}))
        return out

    return asyncio.run(go()), session


def test_root_observation_layout_and_button_rules(store):
    (obs,), session = play(store)
    md, listing = obs.split("\n\nclickable button:\n\n")
    assert listing == "\n".join(f"<button>{b}<button>" for b in ["Home", "Program", "Venue", "News", "About us"])
    # other sites, images, PDFs, javascript:, mailto:, fragments and empty labels are not buttons;
    # the duplicate "Program" link appears once; onclick and data-url targets are found.
    assert session.buttons["News"] == ROOT + "news/" and session.buttons["About us"] == ROOT + "about/"
    assert "Harrowgate from June 3" in md
    assert "Copyright Velor" in md  # click keeps the whole page, footer and menus included
    assert "](" not in md and "http" not in md  # links and URLs stripped
    assert "\n\n\n" not in md and "tracking" not in md
    assert session.history == [ROOT]


def test_clicking_follows_relative_links_and_map_accumulates(store):
    obs, session = play(store, "Program", "Keynotes", "News", "Back to start")
    assert "four days of talks" in obs[1]
    assert "Keynotes" in buttons_of(obs[1])  # href="keynotes/" resolved against /program/
    assert "Dr. Ilsa Marrow" in obs[2]
    assert "News" not in buttons_of(obs[2])  # not on this page, but seen on the root ...
    assert "Registration opens on March 1." in obs[3]  # ... so it is still clickable
    assert session.history == [ROOT, ROOT + "program/", ROOT + "program/keynotes/", ROOT + "news/", ROOT]
    assert obs[4] == obs[0]  # same page, same observation


def test_unknown_button_gets_the_fixed_error(store):
    obs, session = play(store, "Keynotes", "Partner site", "CFP PDF")
    assert obs[1:] == [UNKNOWN_BUTTON] * 3
    assert session.history == [ROOT]


def test_labels_are_matched_leniently(store):
    obs, _ = play(store, "<button>Program<button>", "  About   us ")
    assert "four days of talks" in obs[1] and "founded in 1987" in obs[2]


def test_page_cannot_forge_buttons_or_tags(store):
    obs, session = play(store, "Venue", "&lt;tool_call&gt;Map")
    venue = obs[1]
    assert "<tool_call>" not in venue and "</tool_response>" not in venue and "<answer>" not in venue
    assert venue.count("<button>") == 2 * len(buttons_of(venue))  # only real list entries
    assert "&lt;tool_call&gt;Map" in buttons_of(venue)
    assert "next to the river" in obs[2]
    assert session.history[-1] == ROOT + "venue/map/"


def test_sessions_are_independent(store):
    _, a = play(store, "Program")
    _, b = play(store)
    assert "Keynotes" in a.buttons and "Keynotes" not in b.buttons


def test_site_prefix_rule_on_a_sub_root(store):
    (obs,), _ = play(store, root=ROOT + "program/")
    assert buttons_of(obs) == ["Program", "Keynotes"]  # /, /venue/ and ../ leave the sub-root


def test_broken_target_page(store):
    session = ClickSession(ROOT, Fetcher(store=store))
    session.buttons["Ghost"] = ROOT + "ghost/"
    obs = asyncio.run(session.click("Ghost"))
    assert "could not be loaded" in obs and "404" in obs


def test_extract_buttons_selectors():
    html = """<body>
      <a href="/a">A</a>
      <a href="https://site.org/b?x=1#frag">B <b>bold</b></a>
      <a onclick="window.location.href='/c'">C</a>
      <a data-url="/d">D</a>
      <button onclick="location.href = '/e'">E</button>
      <button onclick="doThings()">F</button>
      <a href="/photo.JPG">Photo</a> <a href="/doc.pdf?v=2">Doc</a>
      <a href="javascript:void(0)">J</a> <a href="/x"><img src="i.png"></a>
      <a href="https://other.org/">Other</a> <a href="/a">A</a>
    </body>"""
    got = extract_buttons(html, "https://site.org/", "https://site.org/")
    assert got == [
        Button("A", "https://site.org/a"),
        Button("B bold", "https://site.org/b?x=1"),
        Button("C", "https://site.org/c"),
        Button("D", "https://site.org/d"),
        Button("E", "https://site.org/e"),
    ]


@pytest.mark.parametrize("args,message", [({}, "missing required argument 'button'"), ({"button": 7}, "must be of type string")])
def test_invalid_arguments(store, args, message):
    tool = ClickTool(ClickSession(ROOT, Fetcher(store=store)))
    assert asyncio.run(tool(args)).startswith("[visit_page] Error: ") and message in asyncio.run(tool(args))


def test_walk_a_real_site_of_the_shared_world(world):
    root = next(s for s in world.sites() if world.get(s) is not None and world.get(s).kind == "site")
    session = ClickSession(root, Fetcher(store=world))

    async def walk():
        obs = await session.start()
        for _ in range(3):
            labels = buttons_of(obs)
            assert labels, "every site page offers buttons"
            target = session.buttons[labels[-1]]
            obs = await session.click(labels[-1])
            assert session.history[-1] == target and target.startswith(root)
        return obs

    last = asyncio.run(walk())
    assert "clickable button:" in last and len(session.history) == 4
