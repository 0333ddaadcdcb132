"""The class report as one self-contained HTML page: no script, no network, plots as SVG data.

Every text from the gradebook (messages, hints, answers, student ids, code) is escaped;
the Content Security Policy allows inline styles and data: images, nothing else.
"""
from __future__ import annotations

import html
from typing import Any

from ..report.html import with_code
from . import plots

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
td,th{border-bottom:1px solid #d8dee4;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.bar{display:inline-block;height:.7em;background:#cf222e;vertical-align:middle;margin-right:.3em}
.flag{color:#cf222e}.muted{color:#57606a}.key{color:#1a7f37;font-weight:bold}
code,pre{font-family:ui-monospace,monospace;background:#f6f8fa}
pre{padding:.5rem;overflow-x:auto;white-space:pre-wrap;font-size:.85em;max-height:24rem}
nav a{margin-right:1rem}.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.85em}
"""
MAX_CHECK_ROWS = 30
e = html.escape


def _pct(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _bar(share: float) -> str:
    return f"<span class='bar' style='width:{max(1, round(60 * share))}px'></span>"


def render_page(data: dict[str, Any], *, course_name: str = "") -> str:
    """The whole page as a string (UTF-8)."""
    s = data["students"]
    title = f"{course_name + ': ' if course_name else ''}{data['title']} ({data['unit']})"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
             f"<title>Class report: {e(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Class report: {e(title)}</h1>",
             f"<p>{s['total']} students in the gradebook: {s['graded']} graded, {s['not_graded']} could not be "
             f"graded, {s['grader_error']} grader errors. Made {e(data['generated_at'])}. For instructors only: "
             "it names quiz keys.</p>",
             "<nav><a href='#scores'>Scores</a><a href='#checks'>Checks</a><a href='#mistakes'>Mistakes</a>"
             "<a href='#attention'>Needs attention</a><a href='#quiz'>Quiz</a>"
             + ("<a href='#similarity'>Similarity</a>" if data.get("similarity") else "") + "</nav>"]
    parts += _scores(data)
    parts += _checks(data)
    parts += _mistakes(data)
    parts += _attention(data)
    parts += _quiz(data.get("quiz"))
    parts += _similarity(data.get("similarity"))
    parts.append("</body></html>\n")
    return "".join(parts)


def _scores(data: dict[str, Any]) -> list[str]:
    sc = data["scores"]
    dists = [*sc["exercises"], *([sc["quiz"]] if sc["quiz"] else [])]
    out = ["<h2 id='scores'>Score distributions</h2>"]
    if not sc["total"]["students"]:
        return out + ["<p>No student has a grade yet.</p>"]
    out.append(f"<img id='plot-total' alt='histogram of total points' src='{plots.total_histogram(sc['total'])}'>")
    out.append(f"<img id='plot-exercises' alt='histograms of each exercise' "
               f"src='{plots.exercise_histograms(dists)}'>")
    out.append("<table id='score-table'><tr><th>exercise</th><th>max</th><th>mean</th><th>median</th>"
               "<th>full marks</th><th>zero</th></tr>")
    for d in [*dists, sc["total"]]:
        out.append(f"<tr><td>{e(d['name'])}</td><td class='num'>{d['max']:g}</td><td class='num'>{_num(d['mean'])}"
                   f"</td><td class='num'>{_num(d['median'])}</td><td class='num'>{d['full']} of {d['students']}</td>"
                   f"<td class='num'>{d['zero']}</td></tr>")
    return out + ["</table>"]


def _checks(data: dict[str, Any]) -> list[str]:
    out = ["<h2 id='checks'>Checks: how often each failed, and where</h2>"]
    failing = sorted([c for c in data["checks"] if c["failed"]], key=lambda c: (-c["failure_rate"], c["exercise"]))
    if not failing:
        return out + ["<p>No check failed.</p>"]
    order = [d["name"] for d in data["scores"]["exercises"]]
    out.append(f"<img id='plot-stages' alt='failing checks by stage, per exercise' "
               f"src='{plots.stage_bars(data['stages'], order)}'>")
    out.append("<p class='muted'>Stages: <b>defined</b> the function is missing; <b>shortcut</b> a forbidden "
               "library call; <b>type</b>, <b>structure</b>, <b>shape</b>, <b>dtype</b>, <b>device</b>, "
               "<b>values</b> the output compared wrong at that stage; <b>raised</b>, <b>timeout</b>, "
               "<b>crashed</b> the code did not return; <b>not run</b> skipped after earlier stalls.</p>")
    out.append("<table id='check-table'><tr><th>exercise</th><th>check</th><th>failed</th><th>rate</th>"
               "<th>stages of the failures</th></tr>")
    for c in failing[:MAX_CHECK_ROWS]:
        stages = ", ".join(f"{e(k)} {v}" for k, v in c["stages"].items())
        out.append(f"<tr><td>{e(c['exercise'])}</td><td>{e(c['check'])}</td>"
                   f"<td class='num'>{c['failed']} of {c['students']}</td>"
                   f"<td>{_bar(c['failure_rate'])}{_pct(c['failure_rate'])}</td><td>{stages}</td></tr>")
    passed = len(data["checks"]) - len(failing)
    more = f"{len(failing) - MAX_CHECK_ROWS} more checks failed less often (all in --format json); " \
        if len(failing) > MAX_CHECK_ROWS else ""
    return out + ["</table>", f"<p class='muted'>{more}{passed} checks passed for every student.</p>"]


def _mistakes(data: dict[str, Any]) -> list[str]:
    out = ["<h2 id='mistakes'>The mistakes the class makes</h2>"]
    rows = data["mistakes"]
    if not rows:
        return out + ["<p>No catalogued mistake was recognised.</p>"]
    out.append("<p class='muted'>Each line is a typical wrong implementation the grader recognised (its hint), "
               "and the share of graded students whose code made it. Examples are anonymised.</p>"
               "<table id='mistake-table'><tr><th>students</th><th>exercise</th><th>mistake</th><th>example</th></tr>")
    for i, m in enumerate(rows, 1):
        out.append(f"<tr><td class='num'>{_pct(m['share'])} ({m['students']})</td><td>{e(m['exercise'])}</td>"
                   f"<td>{with_code(m['hint'])}</td><td><a href='#example-{i}'>{e(m['example']['label'])}</a>"
                   "</td></tr>")
    out.append("</table><h3>Examples</h3>")
    for i, m in enumerate(rows, 1):
        ex = m["example"]
        out.append(f"<div id='example-{i}'><p><b>{e(ex['label'])}</b>: {e(m['exercise'])}, check "
                   f"<code>{e(ex['check'])}</code></p><div class='msg'>{e(ex['message'])}</div>")
        if ex.get("source"):
            out.append(f"<pre>{e(ex['source'])}</pre>")
        out.append("</div>")
    return out


def _attention(data: dict[str, Any]) -> list[str]:
    out = ["<h2 id='attention'>Students who need attention</h2>"]
    rows = data["attention"]
    if not rows:
        return out + ["<p>Nobody.</p>"]
    out.append("<table id='attention-table'><tr><th>student</th><th>what</th><th>details</th></tr>")
    for a in rows:
        out.append(f"<tr><td>{e(a['student'])}</td><td>{e(a['kind'])}</td><td class='msg'>{e(a['what'])}</td></tr>")
    return out + ["</table>"]


def _quiz(quiz: dict[str, Any] | None) -> list[str]:
    out = ["<h2 id='quiz'>Quiz: item analysis</h2>"]
    if not quiz or not quiz["students"]:
        return out + ["<p>No quiz answers are recorded for this unit.</p>"]
    out.append(f"<p>{quiz['students']} students handed in answers"
               + (f", {quiz['without_answers']} did not" if quiz["without_answers"] else "")
               + (f". Reliability (KR-20): {quiz['reliability_kr20']:.2f}" if quiz["reliability_kr20"] is not None
                  else "") + ". <b>Difficulty</b> is the share of students fully right; <b>discrimination</b> the "
               "point-biserial correlation of the question with the rest of the quiz (below 0.2: weak; "
               "negative: check the key).</p>")
    out.append(f"<img id='plot-items' alt='difficulty against discrimination' src='{plots.item_map(quiz['questions'])}'>")
    out.append("<table id='item-table'><tr><th>question</th><th>kind</th><th>students</th><th>difficulty</th>"
               "<th>discrimination</th><th>flag</th></tr>")
    for q in quiz["questions"]:
        out.append(f"<tr><td><a href='#q-{e(q['id'])}'>{e(q['id'])}</a></td><td>{e(q['kind'])}</td>"
                   f"<td class='num'>{q['students']}</td><td class='num'>{_pct(q['difficulty'])}</td>"
                   f"<td class='num'>{_num(q['discrimination'])}</td><td class='flag'>{e(q['flag'])}</td></tr>")
    out.append("</table>")
    for q in quiz["questions"]:
        out.append(f"<h3 id='q-{e(q['id'])}'>{e(q['id'])} <span class='muted'>({e(q['kind'])}, difficulty "
                   f"{_pct(q['difficulty'])}, discrimination {_num(q['discrimination'])})</span></h3>"
                   f"<p class='muted'>{e(q['prompt'])}</p>")
        if "options" in q:
            out.append("<table class='options'><tr><th>option (as in the bank)</th><th>right</th><th>chosen</th>"
                       "<th>hint</th></tr>")
            for o in q["options"]:
                right = "<span class='key'>right</span>" if o["correct"] == "always" else e(o["correct"])
                out.append(f"<tr><td>{with_code(o['text'])}</td><td>{right}</td><td>{_bar(o['share'])}"
                           f"{_pct(o['share'])} ({o['chosen']})</td><td>{with_code(o['hint'] or '')}</td></tr>")
            out.append("</table>")
        elif q.get("wrong_answers"):
            out.append("<table class='wrong'><tr><th>most common wrong answers</th><th>students</th>"
                       "<th>an example (and its key)</th></tr>")
            for w in q["wrong_answers"]:
                key = f" (key {e(w['example']['key'])})" if w["example"]["key"] else ""
                out.append(f"<tr><td>{with_code(w['answer'])}</td><td class='num'>{w['students']}</td>"
                           f"<td><code>{e(w['example']['answer'])}</code>{key}</td></tr>")
            out.append("</table>")
    return out


def _similarity(sim: dict[str, Any] | None) -> list[str]:
    if not sim:
        return []
    out = ["<h2 id='similarity'>Most similar pairs</h2><p class='muted'>From <code>grader similarity</code>: a "
           "high score is a reason to look at the pair side by side, not a verdict.</p>"]
    if sim.get("index"):
        out.append(f"<p><a href='{e(sim['index'])}'>All pairs and clusters</a></p>")
    out.append("<table id='similarity-table'><tr><th>student</th><th>student</th><th>score</th><th></th></tr>")
    for p in sim["pairs"]:
        link = f"<a href='{e(p['page'])}'>side by side</a>" if p["page"] else ""
        out.append(f"<tr><td>{e(p['a'])}</td><td>{e(p['b'])}</td><td class='num'>{p['score']:.2f}</td>"
                   f"<td>{link}</td></tr>")
    return out + ["</table>"]
