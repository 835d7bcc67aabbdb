"""The layout check (cmlib/report/browser.py) in headless Chromium can fail: a page with a table wider than
1,280 px, a wide image or a traceback is reported; a clean page is not."""

from __future__ import annotations

import pytest

from cmlib.report.browser import layout_problems

pytestmark = pytest.mark.browser


def test_a_wide_table_an_image_and_a_traceback_are_reported(tmp_path):
    cells = "".join(f"<th>a_long_column_name_{i}</th>" for i in range(40))
    page = tmp_path / "wide.html"
    page.write_text(
        "<html><body><h2>Channel economics</h2>"
        f'<div class="jp-OutputArea-output" style="overflow-x:auto"><table><tr>{cells}</tr></table></div>'
        '<img src="x.png" width="2000" height="10">'
        "<pre>Traceback (most recent call last):\n  ValueError: boom</pre></body></html>"
    )
    problems = layout_problems(page)
    kinds = " | ".join(problems)
    assert "table wider than the page under 'Channel economics'" in kinds
    assert "output wider than its column" in kinds and "img wider than the page" in kinds
    assert "traceback" in kinds


def test_a_page_that_fits_has_no_problem(tmp_path):
    page = tmp_path / "ok.html"
    page.write_text("<html><body><h2>Fine</h2><table><tr><td>1</td><td>2</td></tr></table></body></html>")
    assert layout_problems(page) == []
