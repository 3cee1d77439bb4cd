"""The UI end to end in headless Chromium (Debian's package, driven by Playwright; never a browser
download). Skips with a reason when Chromium or Playwright is missing; `scripts/ensure-chromium.sh`
installs Chromium on CI. Screenshots land in pytest's tmp dir; set WEBAGENT_UI_SCREENSHOTS=DIR to
also copy them there (how docs/img/ui-*.png were made)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from _ui_helpers import LIVE_ANSWER, hostile_trajectory_file, live_model, make_runs, synth_file
from webagent.ui.app import UIConfig, UIServer, create_app

CHROMIUM = os.environ.get("WEBAGENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install -e '.[ui]')")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (run scripts/ensure-chromium.sh as root, or set WEBAGENT_CHROMIUM)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory, world, world_dir):
    root = tmp_path_factory.mktemp("ui-browser")
    a, b = make_runs(root, world, world_dir)
    traj = hostile_trajectory_file(root / "data" / "hostile.jsonl")
    synth = synth_file(root, world)
    app = create_app(UIConfig(world=str(world_dir), roots=[str(root)]),
                     models={"scripted": ("scripted test model", live_model)})
    with UIServer(app) as server:
        yield {"url": server.url, "a": a, "b": b, "traj": traj, "synth": synth, "shots": tmp_path_factory.mktemp("shots")}


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    # After `site`: the data is built with asyncio.run, which cannot run inside Playwright's loop.
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, accept_downloads=True)
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.close()


def shot(page, site, name: str) -> None:
    path = site["shots"] / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if out := os.environ.get("WEBAGENT_UI_SCREENSHOTS"):
        shutil.copy(path, Path(out) / path.name)


def pwned(page):
    return page.evaluate("window.__pwned === undefined ? null : window.__pwned")


def test_live_question_streams_and_the_answer_appears(page, site):
    page.goto(site["url"] + "/")
    page.fill("#question", "Who was the general chair of the conference?")
    page.select_option("#llm", "local")  # a local model takes a directory, no base URL
    assert page.is_visible("#model") and not page.is_visible("#base_url")
    assert "checkpoints/nano" in page.get_attribute("#model", "placeholder")
    page.select_option("#llm", "openai")
    assert page.is_visible("#model") and page.is_visible("#base_url")
    page.select_option("#llm", "scripted")
    assert not page.is_visible("#model")
    page.click("#run")
    page.wait_for_selector("#final:not([hidden])")
    assert page.text_content("#final-answer").startswith(LIVE_ANSWER)
    # The hostile markup in the answer and the thought is shown as text and never ran.
    assert "<script>window.__pwned = 1</script>" in page.text_content("#final-answer")
    assert pwned(page) is None and page.locator("#live script, #live img, #live iframe").count() == 0
    assert page.locator("#events .event.call").count() == 2
    observations = page.locator("#events pre.observation").all_text_contents()
    assert "search for 'conference general chair'" in observations[0] and "http://" in observations[1]
    assert page.locator("#events pre.pending").count() == 0
    assert "termination: answer" in page.text_content("#final-meta")
    page.locator("#events details.call").first.click()  # expanded for the screenshot
    shot(page, site, "live")
    with page.expect_download() as dl:
        page.click("#download")
    traj = json.loads(Path(dl.value.path()).read_text())
    assert traj["answer"].startswith(LIVE_ANSWER) and traj["policy"] == "scripted test model"
    assert page.errors == []


def test_walker_fields_show_only_for_walker(page, site):
    page.goto(site["url"] + "/")
    assert page.locator("#root_url").is_hidden()
    page.select_option("#agent", "walker")
    assert page.locator("#root_url").is_visible() and page.locator("#max_llm_calls").is_hidden()
    page.click("#run")  # no question: the browser's own validation stops the request
    assert page.text_content("#status") == ""


def test_run_table_filters_and_a_trajectory_renders(page, site):
    page.goto(site["url"] + "/runs?dir=" + str(site["a"]))
    rows = page.locator("#tasks tbody tr")
    assert rows.count() == 8
    records = [json.loads(x) for p in sorted(site["a"].glob("run-*.jsonl")) for x in p.read_text().splitlines()]
    for value in ("1", "0"):
        expected = sum(r["correct"] == (value == "1") for r in records)
        page.select_option(".f-correct", value)
        assert page.locator("#tasks tbody tr:not([hidden])").count() == expected
        assert page.text_content(".f-count") == f"{expected} of 8 shown"
    page.select_option(".f-correct", "")
    term = records[0]["termination"]
    page.select_option(".f-termination", term)
    assert page.locator("#tasks tbody tr:not([hidden])").count() == sum(r["termination"] == term for r in records)
    page.select_option(".f-termination", "")
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator(".plots img").count() >= 2
    shot(page, site, "runs")
    page.locator("#tasks tbody tr a").first.click()
    page.wait_for_selector(".trajectory .final")
    assert page.locator(".step").count() >= 2 and page.locator(".event.call").count() >= 1
    assert page.locator(".final-answer").is_visible()
    page.locator("details.call summary").first.click()
    assert page.locator("details.call pre.observation").first.is_visible()
    shot(page, site, "trajectory")
    assert page.errors == []


def test_compare_two_runs_side_by_side(page, site):
    page.goto(f"{site['url']}/runs?dir={site['a']}")
    page.click("form[action='/runs/compare'] button")
    page.wait_for_selector("#tasks")
    assert page.locator("#tasks tbody tr").count() == 4
    assert "4 task(s) in both runs" in page.text_content("main")
    assert pwned(page) is None
    shot(page, site, "compare")


def test_a_page_with_a_script_tag_renders_inert(page, site):
    page.goto(f"{site['url']}/data/item?path={site['traj']}&index=0")
    page.locator("details.call summary").first.click()
    body = page.text_content("main")
    assert "<script>window.__pwned = 1</script>" in body and "<iframe src='javascript:" in body
    assert pwned(page) is None
    assert page.locator("main script, main img, main iframe").count() == 0
    for link in page.locator("main a").all():
        assert not (link.get_attribute("href") or "").startswith("javascript:")
    assert page.errors == []


def test_data_browser_shows_synth_records_and_summary(page, site):
    page.goto(f"{site['url']}/data?path={site['synth']}")
    assert page.locator("#tasks tbody tr").count() == 6
    assert "crawlqa.jsonl.summary.json" in page.text_content("main")
    page.fill(".f-text", "zzzz-no-such-text")
    assert page.locator("#tasks tbody tr:not([hidden])").count() == 0
    page.fill(".f-text", "")
    shot(page, site, "data")
