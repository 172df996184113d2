"""Tenant and CSV strings are printed as plain text: rich markup in an address is shown,
not interpreted (no crash, no hidden part), terminal control sequences are shown escaped,
and a look-alike address gets a warning in the plan."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_cli import Cli, rows_csv

from toolkit.sandbox.tenant import demo

LAB = ("--profile", "lab")
HIDDEN = "hide2[conceal]@contoso.com"
BROKEN = "markup[/x]@contoso.com"
LOOK_ALIKE = "\u0430dele.vance@contoso.com"  # a Cyrillic a
ESCAPE = "Evil \x1b]0;pwned\x07 \x1b[2J name"  # a display name that drives the terminal
BIDI = "fin\u202ecod.exe\u202c\u2066x\u2069@contoso.com"  # reads as another address


def hostile_seed(path: Path) -> Path:
    seed = demo.demo_seed()
    contoso = next(t for t in seed["tenants"] if t["name"] == demo.CONTOSO)
    for upn, name in ((HIDDEN, "Hidden"), (BROKEN, "Broken"), ("evil@contoso.com", ESCAPE),
                      (BIDI, "Bidi")):
        contoso["users"].append({"upn": upn, "display_name": name, "mailbox": "user",
                                 "licenses": ["ENTERPRISEPACK"], "usage_location": "US"})
        contoso["permissions"].append({"mailbox": "info@contoso.com", "trustee": upn,
                                       "right": "FullAccess"})
    contoso["users"].append({"upn": LOOK_ALIKE, "display_name": "Adele Vance",
                             "mailbox": "user"})
    path.write_text(json.dumps(seed))
    return path


def test_markup_and_control_characters_from_the_tenant_are_shown_plainly(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    serve(seed=str(hostile_seed(tmp_path / "seed.json")))
    audit = cli(*LAB, "perms", "audit", "--mailbox", "info@contoso.com", check=0)
    who = cli(*LAB, "perms", "who-can-access", "info@contoso.com", check=0)
    task = cli(*LAB, "task", "run", "exchange/perms-read", "--param",
               "Mailboxes=info@contoso.com", check=0)
    for result in (audit, who, task):
        assert HIDDEN in result.stdout and BROKEN in result.stdout, result.stdout
        assert "\x1b" not in result.stdout + result.stderr
    # A control sequence in an address the user typed comes back in the error, escaped.
    refused = cli(*LAB, "perms", "grant", "info@contoso.com", "x\x1b]0;pwned\x07@contoso.com",
                  "--right", "FullAccess")
    assert "x\\x1b]0;pwned\\x07@contoso.com" in refused.stderr, refused.stderr
    assert "\x1b" not in refused.stderr


def test_a_look_alike_address_is_flagged_in_the_plan(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    serve(seed=str(hostile_seed(tmp_path / "seed.json")))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Trustee,Right",
                      [f"sales@contoso.com,{LOOK_ALIKE},FullAccess"])
    result = cli(*LAB, "perms", "apply", str(source), "--dry-run")
    assert "mixes CYRILLIC and LATIN letters" in result.stderr, result.stderr
    assert "\\u0430dele.vance@contoso.com" in result.stderr


def test_bidi_and_control_characters_are_shown_in_html_reports(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    """A report is read in a browser: a right-to-left override in a trustee would reorder
    what the page says (issue 19, item 4). It is shown as its escape, as on a terminal."""
    serve(seed=str(hostile_seed(tmp_path / "seed.json")))
    report = tmp_path / "audit.html"
    cli(*LAB, "perms", "audit", "--mailbox", "info@contoso.com", "--out", str(report),
        check=0)
    page = report.read_text(encoding="utf-8")
    assert "fin\\u202ecod.exe\\u202c\\u2066x\\u2069@contoso.com" in page
    assert HIDDEN in page and "markup[/x]@contoso.com" in page
    hidden = [c for c in page if c in "\x1b\x07\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]
    assert hidden == []
