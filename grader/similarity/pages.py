"""The similarity report as static pages: an index of pairs and clusters, and one page per pair.

Same rules as the feedback pages (report/feedback_html.py): one self-contained file each,
no scripts, no network, a strict Content Security Policy, and every piece of text a
student chose (ids, file names, code) escaped. A pair page shows both students' compared
code side by side, each region the other matches in <mark>.
"""
from __future__ import annotations

import html

import numpy as np

from .regions import Regions

CSP = "default-src 'none'; style-src 'unsafe-inline'"
INDEX_ROWS = 500   # pairs listed on the index at most (besides those with a page); pairs.json has all
VERDICT = ("A high score is a reason to look at two submissions side by side, not a verdict: short exercises "
           "have few good solutions, and students may legitimately share ideas. Judge by reading the code.")

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .8rem;max-width:60rem}
.sides{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}
pre{background:#f6f8fa;border:1px solid #ddd;padding:.5rem;overflow-x:auto;font-size:.85em;line-height:1.5;margin:0}
mark{color:inherit}
.c0{background:#ffd8a8}.c1{background:#b2f2bb}.c2{background:#a5d8ff}.c3{background:#fcc2d7}
.c4{background:#d0bfff}.c5{background:#ffec99}
a.tag{font-size:.7em;vertical-align:super;text-decoration:none;color:#555;user-select:none;padding:0 .1em}
.short{color:#8a5a00}
"""


def _head(title: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>")


def index_page(report: dict, course_name: str = "") -> str:
    """The index: what was compared, the clusters, and the pairs with links to their pages."""
    e = html.escape
    unit = report["unit"]
    parts = [_head(f"{unit} similarity"),
             f"<h1>{e(course_name + ': ' if course_name else '')}similarity of {e(unit)}</h1>",
             f"<p class='warn'>{e(VERDICT)}</p>",
             f"<p>{len(report['students'])} students, {report['compared']} compared, "
             f"{report['pair_count']} pairs; listed: {len(report['pairs'])} "
             f"({e(_listed(report))}); clusters at score &ge; {report['cluster_threshold']:g}.</p>"]
    parts.append("<h2>Clusters</h2>")
    if report["clusters"]:
        parts.append("<table id='clusters'><tr><th>#</th><th>students</th><th>size</th><th>highest score</th></tr>")
        for i, c in enumerate(report["clusters"], start=1):
            parts.append(f"<tr><td class='num'>{i}</td><td>{e(', '.join(c['students']))}</td>"
                         f"<td class='num'>{len(c['students'])}</td><td class='num'>{c['highest']:.2f}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No pair reaches the cluster threshold.</p>")
    parts.append("<h2>Pairs</h2><table id='pairs'><tr><th>#</th><th>student</th><th>student</th><th>score</th>"
                 "<th>share of each matched</th><th>page</th></tr>")
    shown = report["pairs"][:max(INDEX_ROWS, sum(bool(p.get("page")) for p in report["pairs"]))]
    for i, p in enumerate(shown, start=1):
        link = f"<a href='{e(p['page'])}'>side by side</a>" if p.get("page") else ""
        short = " <span class='short'>(little code)</span>" if p["short"] else ""
        parts.append(f"<tr><td class='num'>{i}</td><td>{e(p['a'])}</td><td>{e(p['b'])}</td>"
                     f"<td class='num'>{p['score']:.2f}{short}</td>"
                     f"<td class='num'>{p['a_share']:.2f} / {p['b_share']:.2f}</td><td>{link}</td></tr>")
    parts.append("</table>")
    if len(shown) < len(report["pairs"]):
        parts.append(f"<p id='more'>{len(report['pairs']) - len(shown):,} less similar pairs are not shown here; "
                     "pairs.json lists them all.</p>")
    if report["skipped"]:
        parts.append("<h2>Not compared</h2><table id='skipped'><tr><th>student</th><th>why</th></tr>")
        for s in report["skipped"]:
            parts.append(f"<tr><td>{e(s['student'])}</td><td>{e(s['why'])}</td></tr>")
        parts.append("</table>")
    if report.get("not_students"):
        parts.append(f"<p>Folders that are not student ids, not read: {e(', '.join(report['not_students']))}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _listed(report: dict) -> str:
    if report["threshold"] is None:
        return "every pair; no --threshold given"
    return f"the pairs scoring at least {report['threshold']:g}"


def pair_page(pair: dict, code_a: str, code_b: str, regions: Regions, *, unit: str) -> str:
    """Both students' compared code side by side, the matching regions highlighted.

    a's regions are numbered in order; each region of b has the number and colour of the region of a
    it matches most, and each number links to the region it names on the other side.
    """
    e = html.escape
    a, b = pair["a"], pair["b"]
    count = regions.a.shape[1]
    labels_a = list(range(count))
    return "".join([
        _head(f"{unit} similarity: {a} and {b}"),
        "<p><a href='index.html'>all pairs</a></p>",
        f"<h1>{e(a)} and {e(b)}: score {pair['score']:.2f}</h1>",
        f"<p class='warn'>{e(VERDICT)}</p>",
        f"<p>{count} matching region{'s' * (count != 1)} in {e(a)}'s code (highlighted; a region on the right "
        "has the number and colour of the region on the left it matches most, and each number links to its "
        f"counterpart). The other matches {pair['a_share']:.0%} of {e(a)}'s code and {pair['b_share']:.0%} of "
        f"{e(b)}'s. Shown is the code as compared: the released starter, docstrings, comments and prints removed, "
        "the layout made uniform; identifiers and strings are ignored when matching.</p>",
        "<div class='sides'>",
        f"<section><h2>{e(a)}</h2><pre id='a'>{highlighted(code_a, regions.a, 'a', labels_a, regions.a_partner)}"
        "</pre></section>",
        f"<section><h2>{e(b)}</h2><pre id='b'>"
        f"{highlighted(code_b, regions.b, 'b', regions.b_partner, regions.b_partner)}</pre></section>",
        "</div></body></html>\n"])


def highlighted(code: str, slices: np.ndarray, side: str = "a", labels: list[int] | None = None,
                partners: list[int] | None = None) -> str:
    """`code` escaped, each [start, end) region of `slices` (2 x M, sorted) in a <mark>.

    With `labels` and `partners`, region i gets the number labels[i] + 1 and its colour, and links to
    region partners[i] of the other side (ids `a3`, `b5`).
    """
    other = "b" if side == "a" else "a"
    out, at = [], 0
    if slices.size:
        for i, (start, end) in enumerate(zip(slices[0].tolist(), slices[1].tolist())):
            start, end = max(_word_start(code, start), at), min(_word_end(code, end), len(code))
            if end <= start:
                continue
            out.append(html.escape(code[at:start]))
            label = labels[i] if labels is not None and i < len(labels) else -1
            partner = partners[i] if partners is not None and i < len(partners) else -1
            if label >= 0 and partner >= 0:
                out.append(f"<a class='tag' id='{side}{i}' href='#{other}{partner}'>{label + 1}</a>")
            colour = f" class='c{label % 6}'" if label >= 0 else " class='c0'"
            out.append(f"<mark{colour}>{html.escape(code[start:end])}</mark>")
            at = end
    out.append(html.escape(code[at:]))
    return "".join(out)


def _word_start(code: str, i: int) -> int:
    """Move a region's start back to the start of the word it cuts (copydetect maps tokens, not characters)."""
    while 0 < i < len(code) and (code[i - 1].isalnum() or code[i - 1] == "_") and (code[i].isalnum() or code[i] == "_"):
        i -= 1
    return i


def _word_end(code: str, i: int) -> int:
    """Move a region's end on to the end of the word it cuts."""
    while 0 < i < len(code) and (code[i].isalnum() or code[i] == "_") and (code[i - 1].isalnum() or code[i - 1] == "_"):
        i += 1
    return i
