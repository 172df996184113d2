"""What a migration report says (issue 15, item 6)."""

from __future__ import annotations

from pathlib import Path

from toolkit.io.report_files import Section, Summary
from toolkit.io.report_files import write_rows_report as write_report
from toolkit.tasks.migration.status import REPORT_COLUMNS, BatchState, UserState, report_summary

BATCH = BatchState("wave1", "Syncing", users=[
    UserState("wave1", "adele.vance@contoso.com", "Synced", 151, 0, 151, 95,
              "2026-12-06T06:10:00Z"),
    UserState("wave1", "alex.wilber@contoso.com", "Syncing", 50, 1, 200, 30),
    UserState("wave1", "lynne.robbins@contoso.com", "Failed", 0, 0, 0, 0, None,
              "ImapAuthenticationException: the credentials were refused"),
])


def test_a_synced_user_is_100_percent_and_the_service_figure_is_kept() -> None:
    rows = {r["email"]: r for r in (u.report_row() for u in BATCH.users)}
    assert rows["adele.vance@contoso.com"]["percent"] == 100
    assert rows["adele.vance@contoso.com"]["service_percent"] == 95
    assert rows["alex.wilber@contoso.com"]["percent"] == 25  # 50 of 200 items
    assert rows["lynne.robbins@contoso.com"]["percent"] == 0


def test_the_summary_counts_states_items_and_failures() -> None:
    found = report_summary([BATCH])
    assert dict(found["cards"]) == {"users": 3, "synced": 1, "failed": 1, "items moved": 201,
                                    "items found": 351}
    assert found["states"] == [{"state": "Syncing", "users": 1},
                               {"state": "Synced", "users": 1},
                               {"state": "Failed", "users": 1}]
    assert found["failures"] == [{"email": "lynne.robbins@contoso.com", "status": "Failed",
                                  "reason": "ImapAuthenticationException: the credentials "
                                            "were refused"}]


def test_the_html_report_has_the_summary_a_sortable_filterable_table_and_local_times(
        tmp_path: Path) -> None:
    found = report_summary([BATCH])
    path = tmp_path / "wave1.html"
    write_report(path, [u.report_row() for u in BATCH.users], REPORT_COLUMNS,
                 title="IMAP migration wave1",
                 summary=Summary("Batches wave1", found["cards"],
                                 [Section("Failed users and why", found["failures"],
                                          ["email", "status", "reason"])]))
    page = path.read_text()
    assert '<div class="card"><b>201</b>items moved</div>' in page
    assert "<h2>Failed users and why</h2>" in page and "credentials were refused" in page
    assert '<table id="grants">' in page and 'id="filter"' in page  # sorts and filters
    assert "toLocaleString" in page and "2026-12-06T06:10:00Z" in page
