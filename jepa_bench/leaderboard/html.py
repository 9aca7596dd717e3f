"""index.html: the whole leaderboard as one self-contained page (inline CSS, JS and SVG).

Per headline table: its rows and reference rows as sortable tables (click a header; numbers sort
by value, missing values last; ``index.html#sort=<table id>:<column>[:desc]`` opens it sorted),
the params-vs-score figure inline, links to each run's record (``records/<task>/<run_id>.json``,
relative) and report when the leaderboard holds one, and the table's CSV files. Cells are those
of the markdown (``render.cells``), so both say the same.
"""

from __future__ import annotations

import html
import re

from jepa_bench.leaderboard.headline import Row, Table
from jepa_bench.leaderboard.render import (
    CHECKPOINTS,
    GUIDE,
    NOTE,
    SPREAD_TEXT,
    cells,
    header,
    how_to_read,
    references_text,
    spread_table,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:110rem;padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de}
p.note,p.how{color:#57606a;font-size:.9rem}
div.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6rem 0;font-size:.84rem}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.untrained td,tr.planner td{background:#fbfbfb;color:#444}
td.yes{color:#1a7f37;font-weight:600}td.no{color:#cf222e}td.some{color:#9a6700}
a.rec{font-size:.75rem;margin-left:.3rem;color:#0969da}
figure.plot svg{max-width:100%;height:auto}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
"""

JS = r"""
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        if (x === undefined || y === undefined) {
          var s = a.cells[col].textContent.localeCompare(b.cells[col].textContent);
          return asc ? s : -s;
        }
        if (x === '' || y === '') { return (x === '') - (y === ''); }
        return asc ? x - y : y - x;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
// index.html#sort=<table id>:<column>[:desc] opens the page sorted (links can share a view)
var want = /^#sort=([^:]+):(\d+)(:desc)?$/.exec(decodeURIComponent(location.hash));
if (want) {
  var t = document.getElementById(want[1]);
  var th = t && t.tHead.rows[0].cells[Number(want[2])];
  if (th) { th.click(); if (want[3]) { th.click(); } }
}
document.body.dataset.sortable = 'ready';
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _links(row: Row, reports: set[str]) -> str:
    out = []
    for rec in row.records:
        task, run_id = rec["task"]["name"], rec["run_id"]
        href = html.escape(f"records/{task}/{run_id}.json")
        out.append(f'<a class="rec" href="{href}" title="{html.escape(run_id)}">s{rec["seed"]}</a>')
        if run_id in reports:
            page = html.escape(f"reports/{task}/{run_id}/report.html")
            out.append(f'<a class="rec" href="{page}">report</a>')
    return "".join(out)


def _row(row: Row, table: Table, reports: set[str]) -> str:
    cols = header(table)
    tds = []
    for i, (col, (text, key)) in enumerate(zip(cols, cells(row, table))):
        classes = ["num"] if col.numeric else []
        if col.key == "verified":
            classes.append({"yes": "yes", "no": "no"}.get(text, "some"))
        sort = "" if not col.numeric and col.key != "verified" else f' data-sort="{_num(key)}"'
        cls = f' class="{" ".join(classes)}"' if classes else ""
        body = html.escape(text) + (_links(row, reports) if i == 0 else "")
        tds.append(f"<td{cls}{sort}>{body}</td>")
    return f'<tr class="{row.kind}">' + "".join(tds) + "</tr>"


def _num(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _table(table: Table, rows: list[Row], reports: set[str], css_id: str) -> str:
    heads = "".join(f"<th>{html.escape(c.header)}</th>" for c in header(table))
    body = "\n".join(_row(r, table, reports) for r in rows)
    return (
        f'<div class="scroll"><table class="sortable" id="{css_id}"><thead><tr>{heads}</tr>'
        f"</thead>\n<tbody>\n{body}\n</tbody></table></div>"
    )


def _svg(text: str | None) -> str:
    if not text or "<svg" not in text:
        return ""
    return text[text.index("<svg") :].strip()


def _section(table: Table, svg: str | None, reports: set[str]) -> str:
    stem = html.escape(table.stem)
    parts = [
        f'<section id="{stem}">',
        f"<h2>{html.escape(table.task)} <small>({html.escape(table.version)}, "
        f"{html.escape(table.budget)} budget)</small></h2>",
        f'<p class="how">{_inline(how_to_read(table))}</p>',
        _table(table, table.rows, reports, f"rows-{stem}"),
    ]
    if table.references:
        parts += [
            "<h3>References</h3>",
            f'<p class="how">{_inline(references_text(table))}</p>',
            _table(table, table.references, reports, f"refs-{stem}"),
        ]
    spread = spread_table(table)
    if spread is not None:
        head, rows = spread
        ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(t)}</td>" for t in texts) + "</tr>"
                      for texts in rows)  # fmt: skip
        parts += [
            "<h3>Prober-seed spread</h3>",
            f'<p class="how">{_inline(SPREAD_TEXT)}</p>',
            f'<div class="scroll"><table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody>'
            "</table></div>",
        ]
    parts.append(f'<figure class="plot">{_svg(svg)}</figure>')
    parts.append(
        f'<p class="note">Files: <a href="{stem}.md">table</a>, <a href="{stem}.csv">csv</a>, '
        f'<a href="{stem}.details.csv">every metric of every run</a>.</p>'
    )
    return "\n".join(parts + ["</section>"])


def render_html(
    tables: list[Table], svgs: dict[str, str], reports: set[str], skipped: int = 0
) -> str:
    """The page text; ``svgs``: table stem -> figure SVG; ``reports``: run ids with a report."""
    nav = " · ".join(f'<a href="#{html.escape(t.stem)}">{html.escape(t.stem)}</a>' for t in tables)
    guide = "".join(f"<li><b>{html.escape(k)}</b>: {_inline(v)}</li>" for k, v in GUIDE)
    body = [
        "<h1>jepa-bench leaderboard</h1>",
        f'<p class="note">{_inline(NOTE)}</p>',
        f"<nav>{nav}</nav>" if tables else "<p>No result records yet.</p>",
    ]
    if skipped:
        body.append(f'<p class="note">{skipped} invalid record file(s) skipped.</p>')
    body += [_section(t, svgs.get(t.stem), reports) for t in tables]
    body += [
        "<h2>How to read a table</h2>",
        f"<ul>{guide}</ul>",
        "<h2>Checkpoints</h2>",
        f"<p>{_inline(CHECKPOINTS)}</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>jepa-bench leaderboard</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{JS}</script>\n</body>\n</html>\n"
    )
