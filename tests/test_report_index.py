"""The run index as a dashboard (cmlib/report/index.py): KPIs with change and trend over comparable runs,
business alerts in words, the data's as-of date, folded engineering metrics, and each run's page."""

from __future__ import annotations

import json

from cmlib.report.index import as_of, evaluate_alerts, render_index, render_run_page, sparkline, write_index


def _run(folder, started, bookings, params="params/default.yaml", status="ok", as_of_date=None):
    tables = [
        {"table": "weekly", "rows": 10, "fingerprint": "x", **({"as_of": as_of_date} if as_of_date else {})}
    ]
    return {
        "run_id": folder,
        "folder": folder,
        "status": status,
        "started": started,
        "params_file": params,
        "alerts": [
            {
                "metric": "06_campaign_monitoring.bookings_week",
                "below": 100,
                "says": "bookings fell below 100",
            },
            {"metric": "06_campaign_monitoring.kpi_alarms", "above": 0},
        ],
        "data_fingerprint": {"06_campaign_monitoring": tables},
        "notebooks": [{"name": "06_campaign_monitoring", "status": status, "seconds": 3.0}],
        "metrics": {
            "06_campaign_monitoring": {
                "bookings_week": {"value": bookings, "unit": "count", "higher_is_better": True},
                "kpi_alarms": {"value": 0.0, "unit": "count", "higher_is_better": False},
            }
        },
    }


def test_the_dashboard_compares_with_the_previous_run_of_the_same_params_only():
    runs = [
        _run("r1", "2026-01-01T00:00:00", 120.0, as_of_date="2025-12-28"),
        _run("r2", "2026-01-02T00:00:00", 5.0, params="params/smoke.yaml", as_of_date="2026-01-01"),  # smoke
        _run("r2b", "2026-01-03T00:00:00", 1.0),  # no as-of date: cannot be placed in time, left out
        _run("r3", "2026-01-08T00:00:00", 90.0, as_of_date="2026-01-04"),
    ]
    html = render_index(runs)
    assert "Bookings this week" in html and "-30" in html  # 90 against r1's 120, not against smoke's 5
    assert "bookings fell below 100 (06_campaign_monitoring.bookings_week = 90, below 100)" in html
    assert "data as of <strong>2026-01-04</strong>" in html
    assert "<details><summary>Every recorded metric" in html  # engineering metrics folded away
    assert html.count("<svg") == 1 and html.count("<circle") == 1  # one sparkline (r1, r3): the one KPI
    assert 'href="r3/index.html"' in html


def test_no_alert_is_said_calmly_and_a_failed_newest_run_is_a_banner():
    ok = _run("r1", "2026-01-01T00:00:00", 150.0)
    assert evaluate_alerts(ok) == []
    failed = _run("r2", "2026-01-02T00:00:00", 150.0, status="failed")
    html = render_index([ok, failed])
    assert 'class="calm">No alerts' in html
    assert 'class="banner">The newest run' in html and "figures below are from the last good run" in html


def test_sparkline_and_as_of_edge_cases():
    assert sparkline([1.0]) == "" and "<polyline" in sparkline([1.0, 1.0, 2.0])
    assert as_of({"data_fingerprint": {}}) is None


def test_write_index_and_the_run_page(tmp_path):
    for r in [_run("20260101T000000", "2026-01-01T00:00:00", 120.0)]:
        d = tmp_path / r["folder"]
        d.mkdir()
        metrics = r.pop("metrics")
        (d / "manifest.json").write_text(json.dumps(r))
        (d / "metrics.json").write_text(json.dumps(metrics))
        r["metrics"] = metrics
        (d / "index.html").write_text(render_run_page(r))
    html = write_index(tmp_path).read_text()
    assert 'href="20260101T000000/index.html"' in html
    page = (tmp_path / "20260101T000000" / "index.html").read_text()
    assert "Run 20260101T000000" in page and 'href="06_campaign_monitoring.html"' in page


def test_money_kpis_carry_the_notebooks_currency_and_old_data_says_its_age():
    r = _run("r1", "2026-11-30T10:00:00", 120.0, as_of_date="2025-11-30")
    r["parameters"] = {"06_campaign_monitoring": {"currency": "EUR"}}
    r["metrics"]["06_campaign_monitoring"]["cost_per_booking_week"] = {"value": 586.4, "unit": "money"}
    html = render_index([r])
    assert '<td class="n">EUR 586</td>' in html
    assert "data as of <strong>2025-11-30</strong> (365 days before the run)" in html


def test_a_rerun_on_the_same_weeks_data_is_not_a_change():
    runs = [
        _run("r1", "2026-01-01T00:00:00", 120.0, as_of_date="2025-12-28"),
        _run("r2", "2026-01-01T01:00:00", 120.0, as_of_date="2025-12-28"),  # the same week, run again
    ]
    assert "no earlier data" in render_index(runs)
    runs.append(_run("r3", "2026-01-08T00:00:00", 130.0, as_of_date="2026-01-04"))
    html = render_index(runs)
    assert "+10" in html and html.count("<circle") == 1  # one sparkline of two weeks


def test_the_dashboard_repeats_each_reports_summary_safely():
    r = _run("r1", "2026-01-01T00:00:00", 120.0, as_of_date="2025-12-28")
    r["summaries"] = {
        "06_campaign_monitoring": [
            "**PAUSE** campaign X: complaints 5.4&#x27;s",
            "<script>alert(1)</script> *week*",
        ]
    }
    html = render_index([r])
    assert "<h2>What each report says</h2>" in html
    assert "<li><strong>PAUSE</strong> campaign X: complaints 5.4&#x27;s</li>" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "<em>week</em>" in html
