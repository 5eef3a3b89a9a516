"""The web page in a real browser: Debian's Chromium driven by Playwright, against a loopback server."""

from __future__ import annotations

import math
import os
import shutil

import pytest
from use_fixtures import beat_bundle, record_bundle, running_server

from ecglab.serve.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH (Debian: apt-get install chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    app = create_app([record_bundle(root / "records"), beat_bundle(root / "beats")])
    with running_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def _open(browser, page_url):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_url)
    page.wait_for_function("document.getElementById('model').options.length === 2")
    return page, requests


def _wait_done(page):
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=60_000)
    assert page.get_attribute("body", "data-state") == "done", page.inner_text("#status")


def test_upload_ptbxl_record_draws_leads_probabilities_and_attribution(browser, page_url, shared_data, tmp_path):
    header = sorted((shared_data / "ptbxl" / "records100").rglob("*_lr.hea"))[0]
    page, requests = _open(browser, page_url)
    page.set_input_files("#files", [str(header), str(header.with_suffix(".dat"))])
    page.click("#analyse")
    _wait_done(page)
    leads = page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'lead').map(t => t.name)")
    assert leads == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "II"]
    assert page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'lead')[0].x.length") == 250
    bars = page.evaluate("document.getElementById('probs').data.map(t => [t.meta, t.x.length])")
    assert bars == [["probability", 5], ["threshold", 5]]
    assert page.locator("#prob-table tbody tr").count() == 5
    assert page.locator("#ecg .main-svg").count() >= 1 and page.locator("#probs rect, #probs path.point").count() >= 5
    page.check("#attribution")
    _wait_done(page)
    assert page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'attribution').length") == 13
    assert page.title() == "ecglab" and header.stem in page.inner_text("#record-title")
    screenshot = tmp_path / "ptbxl_page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000
    if os.environ.get("ECGLAB_SCREENSHOTS"):
        shutil.copy(screenshot, os.environ["ECGLAB_SCREENSHOTS"])
    assert all(url.startswith(page_url) for url in requests), "the page must not reach outside the server"
    page.close()


def test_ludb_record_shows_the_measurement_line_and_shaded_waves(browser, page_url, shared_data, tmp_path):
    from ecglab.measure.api import measure
    from ecglab.records import read_record

    header = shared_data / "ludb" / "data" / "1.hea"
    page, _ = _open(browser, page_url)
    page.set_input_files("#files", [str(header), str(header.with_suffix(".dat"))])
    page.click("#analyse")
    _wait_done(page)
    heart_rate = measure(read_record(header)).measurements["heart_rate_bpm"]
    assert page.is_visible("#measurements")
    assert page.inner_text("#measurements [data-name=heart_rate_bpm]") == f"HR {math.floor(heart_rate + 0.5)} bpm"
    assert page.locator("#measurements .measure").count() == 9 and page.locator("#measurements .missing").count() == 0
    bands = page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'wave')"
                          ".map(t => [t.name, t.fillcolor, t.x.filter(v => v !== null).length])")
    assert [name for name, _, _ in bands] == ["P wave", "QRS complex", "T wave"]
    assert len({colour for _, colour, _ in bands}) == 3 and all(n >= 5 * 12 for _, _, n in bands)  # on every lead
    assert {"P wave", "QRS complex", "T wave"} <= set(page.locator("#ecg .legendtext").all_text_contents())
    missing = page.evaluate("(item => [item.textContent, item.title])(measureItem({measurements: {pr_ms: null}, "
                            "reasons: {pr_ms: 'no P wave before most QRS'}, beat_counts: {}}, 'pr_ms', 'PR', 'ms'))")
    assert missing == ["PR —", "no P wave before most QRS"]  # a null value: a dash, its reason as the tooltip
    page.screenshot(path=str(tmp_path / "ludb_page.png"), full_page=True)
    if os.environ.get("ECGLAB_SCREENSHOTS"):
        shutil.copy(tmp_path / "ludb_page.png", os.environ["ECGLAB_SCREENSHOTS"])
    page.close()


def test_without_a_delineator_the_page_omits_the_measurements(browser, tmp_path):
    with running_server(create_app([record_bundle(tmp_path / "records")], delineator=None)) as url:
        page = browser.new_page()
        page.goto(url)
        page.select_option("#example", label="synthetic_12lead")
        _wait_done(page)
        assert not page.is_visible("#measurements")
        assert page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'wave').length") == 0
        page.close()


def test_beat_model_on_an_example_colours_every_beat(browser, page_url, tmp_path):
    page, _ = _open(browser, page_url)
    page.select_option("#model", "beats")
    page.select_option("#example", label="synthetic_beats")
    _wait_done(page)
    beats = page.evaluate("document.getElementById('ecg').data.filter(t => t.meta === 'beat').length")
    assert beats >= 10  # 10 s shown at ~75 bpm
    assert "Beats:" in page.inner_text("#beat-summary")
    assert page.evaluate("document.getElementById('probs').data.map(t => t.meta)") == ["probability"]  # no threshold marks
    page.screenshot(path=str(tmp_path / "beats_page.png"), full_page=True)
    if os.environ.get("ECGLAB_SCREENSHOTS"):
        shutil.copy(tmp_path / "beats_page.png", os.environ["ECGLAB_SCREENSHOTS"])
    page.close()


def test_a_bad_file_shows_the_error_message(browser, page_url, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not an ECG\n")
    page, _ = _open(browser, page_url)
    page.set_input_files("#files", [str(bad)])
    page.click("#analyse")
    page.wait_for_function("document.body.dataset.state === 'error'")
    assert "422" in page.inner_text("#status")
    page.close()
