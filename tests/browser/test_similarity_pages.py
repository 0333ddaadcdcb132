"""The similarity pages as an instructor sees them, in headless Chromium: the index's tables filled, a pair
page's two sides with their matching regions highlighted, hostile student text shown as text, the strict
Content Security Policy unviolated and no console error.

`pytest tests/browser/test_similarity_pages.py --update-golden` also saves the pair page's screenshot
to docs/similarity-pair.png.
"""
from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "similarity"))

from chromium import CHROMIUM, Browser  # noqa: E402
from similarity_class import ROOT, write_class  # noqa: E402

from grader.cli import main  # noqa: E402

CSP = "default-src 'none'; style-src 'unsafe-inline'"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it)")
pytest.importorskip("copydetect")

# What the reader sees on a similarity page, beyond chromium.SEEN: the tables by id, each side's highlights.
LOOK = """JSON.stringify({
  text: document.body.innerText,
  title: document.title,
  scripts: document.scripts.length,
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || null,
  tables: Object.fromEntries([...document.querySelectorAll('table[id]')].map(t =>
      [t.id, [...t.querySelectorAll('tr')].filter(r => r.offsetParent !== null).map(r => r.innerText)])),
  tags: [...document.querySelectorAll('a.tag')].map(t => ({side: t.closest('pre').id, id: t.id,
      href: t.getAttribute('href'), label: t.textContent,
      colour: getComputedStyle(t.nextElementSibling).backgroundColor})),
  links: [...document.querySelectorAll('a:not(.tag)')].filter(a => a.offsetParent !== null).map(a => a.getAttribute('href')),
  sides: [...document.querySelectorAll('pre')].map(p => ({
      text: p.innerText,
      marks: [...p.querySelectorAll('mark')].filter(m => m.getClientRects().length > 0).map(m => m.textContent),
      background: p.querySelector('mark') ? getComputedStyle(p.querySelector('mark')).backgroundColor : null,
      width: p.getBoundingClientRect().width})),
})"""


def look(browser: Browser, page: Path, screenshot: Path | None = None) -> dict:
    """Open `page` in a new tab; what a reader sees (LOOK), console errors, exceptions and CSP reports."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Log", "Runtime"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser._wait_for("Page.loadEventFired", session)
        seen = json.loads(browser.send("Runtime.evaluate", {"expression": LOOK, "returnByValue": True},
                                       session=session)["result"]["value"])
        if screenshot is not None:
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)   # let late log entries arrive (a report of a blocked load comes after the load event)
        browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
        events = [e for e in browser._events if e.get("sessionId") == session]
        seen["errors"] = [e["params"]["entry"]["text"] for e in events if e.get("method") == "Log.entryAdded"
                          and e["params"]["entry"]["level"] in ("error", "warning")]
        seen["errors"] += [json.dumps(e["params"])[:300] for e in events
                           if e.get("method") in ("Runtime.exceptionThrown",)
                           or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")]
        return seen
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


def test_similarity_pages_in_a_browser(tmp_path, capsys, request):
    sub = write_class(tmp_path)
    out = tmp_path / "similarity-unit1"
    assert main(["--course", str(ROOT), "similarity", "unit1", "--submissions", str(sub), "--out", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    paged = [p for p in report["pairs"] if p["page"]]
    assert len(paged) == 2
    golden = request.config.getoption("--update-golden")
    with Browser() as browser:
        index = look(browser, out / "index.html")
        fox_pair = next(p for p in paged if "fox" in (p["a"], p["b"]))
        pair = look(browser, out / fox_pair["page"],
                    screenshot=(ROOT / "docs" / "similarity-pair.png") if golden else tmp_path / "pair.png")

    for seen in (index, pair):
        assert seen["csp"] == CSP and seen["scripts"] == 0 and seen["errors"] == [], seen["errors"]
        assert "a reason to look at two submissions side by side, not a verdict" in seen["text"]

    # the index: both clusters, every pair with its score, a link to each page written, the blank student
    clusters = index["tables"]["clusters"]
    assert clusters[0].split("\t")[:3] == ["#", "students", "size"]
    assert sorted(r.split("\t")[1] for r in clusters[1:]) == ["ada, ben", "dee, fox"]
    rows = index["tables"]["pairs"][1:]
    assert len(rows) == 10 == report["pair_count"]
    first = rows[0].split("\t")
    assert first[:4] == ["1", report["pairs"][0]["a"], report["pairs"][0]["b"], f"{report['pairs'][0]['score']:.2f}"]
    assert [r.endswith("side by side") for r in rows] == [True, True] + [False] * 8
    assert index["links"] == [p["page"] for p in paged]
    assert index["tables"]["skipped"][1].startswith("eve\tno code of their own")

    # the pair page: two sides of equal width, each with highlighted regions, and the hostile text as text
    assert pair["title"] == "unit1 similarity: dee and fox"
    left, right = pair["sides"]
    assert left["marks"] and right["marks"]
    for side, share in ((left, fox_pair["a_share"]), (right, fox_pair["b_share"])):   # most of each side is marked
        marked = sum(len(m) for m in side["marks"]) / len(side["text"])
        assert 0.6 < marked <= 1.0 and share > 0.9, (marked, share)
    assert left["background"] == right["background"] == "rgb(255, 216, 168)"   # the first region's colour
    assert abs(left["width"] - right["width"]) < 2 and left["width"] > 400
    assert "def softmax(z, dim=-1):" in left["text"] and "def softmax(z, dim=-1):" in right["text"]
    assert "banner = \"</pre><script>document.title='owned'</script>\"" in right["text"]
    assert "# <img src=x onerror=alert(1)>.py" in right["text"]
    assert f"{len(left['marks'])} matching region" in pair["text"]
    assert pair["links"] == ["index.html"]

    # the left side's regions are numbered in order; a right region has the number and colour of the left
    # region it matches most, and links to it; most pairs of regions point at each other
    tags = {t["id"]: t for t in pair["tags"]}
    left_tags = [t for t in tags.values() if t["side"] == "a"]
    right_tags = [t for t in tags.values() if t["side"] == "b"]
    assert left_tags and right_tags
    assert all(t["label"] == str(int(t["id"][1:]) + 1) for t in left_tags)
    for tag in right_tags:
        target = tags[tag["href"].removeprefix("#")]
        assert (target["side"], target["label"], target["colour"]) == ("a", tag["label"], tag["colour"])
    mutual = [t for t in left_tags if tags[t["href"].removeprefix("#")]["href"] == f"#{t['id']}"]
    assert len(mutual) * 2 >= len(left_tags) and len({t["colour"] for t in left_tags}) > 2
