"""index.html: one self-contained page of the leaderboard, rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from jepa_bench.leaderboard import add_record, check_tables, generate_tables
from jepa_bench.leaderboard.tables import report_path
from tests.test_leaderboard_headline import run

CHROMIUM = Path("/usr/bin/chromium")
STEM = "wall_door__1__default"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """A leaderboard of three configurations (one with three seeds) and one run's report."""
    root = tmp_path_factory.mktemp("board")
    recs = [run(s, probe__normal=v) for s, v in ((0, 9.0), (1, 10.0), (2, 11.0))]
    recs += [run(0, "sigreg", probe__normal=30.0), run(0, "none", probe__normal=150.0)]
    recs[3]["model"]["params"]["total"] = 5_000_000  # a bigger model, to sort by params
    for rec in recs:
        add_record(root, rec)
    page = report_path(root, recs[3])
    page.parent.mkdir(parents=True)
    page.write_text("<html>report</html>")
    generate_tables(root)
    return root


def chromium(url: str, *extra: str) -> str:
    """The DOM of ``url`` after its scripts ran (``--dump-dom``), or a screenshot's output."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def body_rows(dom: str, table_id: str) -> list[str]:
    """The rows of one table in the dumped DOM, in their displayed order."""
    table = re.search(
        rf'<table class="sortable" id="{re.escape(table_id)}">(.*?)</table>', dom, re.S
    )
    assert table, f"no table {table_id}"
    return re.findall(
        r"<tr class=\"(?:trained|untrained|planner)\">(.*?)</tr>", table.group(1), re.S
    )


def test_page_is_self_contained_with_relative_links(board):
    """One file: inline CSS, JS and SVG, no external resources; links to records and reports
    are relative and point at files that exist."""
    html = (board / "index.html").read_text()
    assert "<style>" in html and "<script>" in html and "<svg" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    links = re.findall(r'href="([^"#]+)"', html)
    records = [link for link in links if link.startswith("records/")]
    assert len(records) >= 5 and all((board / link).is_file() for link in links)
    assert any(link.startswith("reports/") for link in links)
    assert check_tables(board) == []  # index.html is checked (its figures aside)


def test_rows_render_in_headless_chromium(board):
    """Chromium shows every headline row after the page's script ran, the 3-seed row as
    mean ± std with n = 3."""
    dom = chromium((board / "index.html").as_uri(), "--dump-dom")
    assert 'data-sortable="ready"' in dom  # the script ran
    rows = body_rows(dom, f"rows-{STEM}")
    assert len(rows) == 3
    assert "10 ± 1" in rows[0] and ">3<" in rows[0]
    assert "<svg" in dom


def test_clicking_a_header_sorts_the_rows(board):
    """The page's sort (a header click, here through #sort=) orders rows by a column's value."""
    url = (board / "index.html").as_uri() + f"#sort=rows-{STEM}:2:desc"  # params, descending
    rows = body_rows(chromium(url, "--dump-dom"), f"rows-{STEM}")
    assert "5,000,000" in rows[0] and "sigreg" in rows[0]
    url = (board / "index.html").as_uri() + f"#sort=rows-{STEM}:4:desc"  # normal MSE, worst first
    rows = body_rows(chromium(url, "--dump-dom"), f"rows-{STEM}")
    assert [("none" in r, "sigreg" in r) for r in rows] == [
        (True, False),
        (False, True),
        (False, False),
    ]


def test_screenshot(board, tmp_path):
    """Chromium renders the page to a non-empty PNG."""
    png = tmp_path / "page.png"
    chromium((board / "index.html").as_uri(), f"--screenshot={png}", "--window-size=1400,1800")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_generated_page_is_stable(board, tmp_path):
    """Generating again from the same records writes the same page."""
    copy = Path(shutil.copytree(board, tmp_path / "copy"))
    before = (copy / "index.html").read_text()
    generate_tables(copy)
    assert (copy / "index.html").read_text() == before
