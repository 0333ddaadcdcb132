"""The class report in headless Chromium, for a generated class graded from real verdicts.

The class comes from bench/report_generation.py (one real `grader grade` per Unit 1 variant,
then 60 students drawn from them, with quiz answers graded by the quiz engine), and a small
`grader similarity` output is laid beside the report. Asserts on what a reader sees: every
plot drawn (images loaded, non-zero natural size), every table filled, links to the pair
pages, the page's policy unviolated, no console error and no script. Saves screenshots;
with GRADER_UPDATE_SCREENSHOTS=1 they replace docs/img/report*.png, which docs/report.md shows.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from chromium import CHROMIUM, Browser  # noqa: E402
from report_generation import make_class  # noqa: E402

from grader.cli import main  # noqa: E402

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
WIDTH = 1100

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it)")

# What the page shows, measured by the DevTools protocol (the page itself runs no script).
SEEN = """JSON.stringify({
  text: document.body.innerText,
  images: [...document.images].map(i => ({id: i.id, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                                           shown: i.getBoundingClientRect().width})),
  tables: Object.fromEntries([...document.querySelectorAll('table[id]')].map(t => [t.id,
           [...t.rows].filter(r => r.offsetParent !== null).map(r => r.innerText)])),
  links: [...document.links].map(a => a.getAttribute('href')),
  scripts: document.scripts.length,
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || null,
  height: document.body.scrollHeight,
  tops: Object.fromEntries(['mistakes', 'quiz'].map(id => [id,
         document.getElementById(id).getBoundingClientRect().top + window.scrollY])),
})"""


def _look(browser: Browser, page: Path, shots: dict[str, tuple[str, float]]) -> tuple[dict, list[str], dict]:
    """Open page; return what is seen, every console error or policy violation, and PNG screenshots
    (name -> (the heading's id it starts at, or "" for the top; its height))."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Log", "Runtime"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser._wait_for("Page.loadEventFired", session)
        result = browser.send("Runtime.evaluate", {"expression": SEEN, "returnByValue": True}, session=session)
        seen = json.loads(result["result"]["value"])
        images = {}
        for name, (top, height) in shots.items():
            top = seen["tops"][top] - 10 if top else 0
            shot = browser.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": top, "width": WIDTH, "height": height, "scale": 0.75}}, session=session)
            images[name] = base64.b64decode(shot["data"])
        problems = []
        for event in browser._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            if event.get("method") == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                problems.append(params["entry"]["text"])
            elif event.get("method") == "Runtime.exceptionThrown":
                problems.append(str(params["exceptionDetails"].get("text")))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
                problems.append(str(params.get("args")))
        return seen, problems, images
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_class_report_in_a_browser(tmp_path):
    gradebook, made = make_class(tmp_path / "class", 60, seed=3)
    assert made["mistakes"] > 5 and made["late"] >= 1 and made["copies"] == 2
    reports = tmp_path / "reports"
    sim = reports / "similarity-unit1"
    sim.mkdir(parents=True)
    (sim / "pairs.json").write_text(json.dumps({"pairs": [
        {"a": "s0010", "b": "s0011", "score": 1.0, "page": "pair-1.html"},
        {"a": "s0020", "b": "s0031", "score": 0.62, "page": "pair-2.html"}]}))
    for name in ("index.html", "pair-1.html", "pair-2.html"):
        (sim / name).write_text("<!DOCTYPE html><title>pair</title><p>side by side</p>")
    page = reports / "unit1-report.html"
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(gradebook), "--out", str(page)]) == 0

    with Browser() as browser:
        seen, problems, shots = _look(browser, page, {"report.png": ("", 1500), "report-mistakes.png": ("mistakes", 700),
                                                        "report-quiz.png": ("quiz", 1300)})

    assert problems == [] and seen["scripts"] == 0 and seen["csp"] == CSP
    # every plot is drawn: loaded, a real size, and laid out on the page
    assert {i["id"] for i in seen["images"]} == {"plot-total", "plot-exercises", "plot-stages", "plot-items"}
    assert all(i["complete"] and i["w"] > 300 and i["h"] > 100 and i["shown"] > 300 for i in seen["images"])
    tables = seen["tables"]
    # one row per exercise, the quiz and the total, under a header
    assert len(tables["score-table"]) == 1 + 10 + 1 + 1 and tables["score-table"][-1].startswith("total\t20\t")
    assert len(tables["check-table"]) > 10
    assert tables["mistake-table"][1].split("\t")[1:3] == ["softmax", "subtract the max along dim before exp: "
                                                           "exp(1000) overflows to inf"]
    assert re.fullmatch(r"\d+% \(\d+\)", tables["mistake-table"][1].split("\t")[0])
    assert len(tables["item-table"]) == 1 + 18 and any("negative discrimination" in r for r in tables["item-table"])
    attention = "\n".join(tables["attention-table"])
    assert "identical" in attention and "late" in attention and "similar" in attention
    assert tables["similarity-table"][1] == "s0010\ts0011\t1.00\tside by side"
    assert {"similarity-unit1/pair-1.html", "similarity-unit1/index.html", "#example-1"} <= set(seen["links"])
    text = seen["text"]
    assert "The mistakes the class makes" in text and "example 1" in text and "s0" not in text.split("Students who")[0]

    for name, png in shots.items():
        width, height = _png_size(png)
        assert width == WIDTH * 3 // 4 and height > 400, (name, width, height)
        (tmp_path / name).write_bytes(png)
        if os.environ.get("GRADER_UPDATE_SCREENSHOTS"):
            shutil.copyfile(tmp_path / name, ROOT / "docs" / "img" / name)
