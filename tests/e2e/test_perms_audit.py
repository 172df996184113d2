"""psbridge perms audit / diff / who-can-access / access-of, against the sandbox.

The demo tenant's shared mailboxes carry grants plus the noise every real mailbox has
(SELF, inherited system entries), a Deny entry on finance and orphaned SIDs on sales,
info and finance. Nothing is mocked: the real CLI, pypsrp and the sandbox's engine.
"""

from __future__ import annotations

import csv
import http.server
import json
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from e2e_cli import Cli, bulk_seed, rows_csv

ORPHANS = {"S-1-5-21-3623811015-3361044348-30300820-1013",
           "S-1-5-21-3623811015-3361044348-30300820-1027",
           "S-1-5-21-1004336348-1177238915-682003330-2245"}


def grants(rows: list[dict[str, str]], kind: str = "grant") -> set[tuple[str, str, str]]:
    return {(r["mailbox"], r["trustee"], r["right"]) for r in rows if r["kind"] == kind}


def test_audit_filters_noise_reports_orphans_and_writes_three_formats(
        cli: Cli, tmp_path: Path) -> None:
    cli("perms", "audit", "--all", "--out", str(tmp_path / "a.json"), check=0)
    report = json.loads((tmp_path / "a.json").read_text())
    rows = report["rows"]
    found = grants(rows)
    assert ("sales@contoso.com", "adele.vance@contoso.com", "FullAccess") in found
    assert ("sales@contoso.com", "adele.vance@contoso.com", "SendAs") in found
    # SendOnBehalf delegates come back as primary SMTP addresses, not names.
    assert ("patti.fernandez@contoso.com", "debra.berger@contoso.com", "SendOnBehalf") in found
    assert ("support@contoso.com", "grady.archie@contoso.com", "SendOnBehalf") in found
    # Noise is filtered on the host and only counted; the Deny entry is noise too.
    assert not [r for r in rows if r["kind"] in ("self", "inherited", "deny")]
    assert not [r for r in rows if r["trustee"].startswith(("NT AUTHORITY", "NAMPR01A001"))]
    assert ("finance@contoso.com", "lynne.robbins@contoso.com", "FullAccess") not in found
    summary = report["summary"]
    assert summary["noise"]["deny"] == 1
    assert summary["noise"]["self"] >= 28 and summary["noise"]["inherited"] >= 28 * 8
    # Orphaned SIDs are findings.
    assert {o["trustee"] for o in summary["orphans"]} == ORPHANS
    assert summary["rights"] == {"FullAccess": 7, "SendAs": 2, "SendOnBehalf": 3}
    assert summary["top_mailboxes"][0]["delegates"] >= 2
    assert summary["since_previous"] is None

    cli("perms", "audit", "--all", "--out", str(tmp_path / "a.csv"), check=0)
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert grants(table) == found
    assert {r["trustee"] for r in table if r["kind"] == "orphan"} == ORPHANS

    cli("perms", "audit", "--all", "--out", str(tmp_path / "a.html"), check=0)
    page = (tmp_path / "a.html").read_text()
    assert '<table id="grants">' in page and 'id="summary"' in page and "<svg" in page
    assert "adele.vance@contoso.com" in page and "S-1-5-21-1004336348" in page
    assert "Mailboxes with the most delegates" in page and "widest access" in page
    # Self-contained: nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://""", page)
    assert "Compared with snapshot 2" in page  # changes since the previous snapshot


def test_include_noise_keeps_self_inherited_and_deny(cli: Cli) -> None:
    rows = cli.json("perms", "audit", "--mailbox", "finance@contoso.com", "--include-noise")
    kinds = {r["kind"] for r in rows}
    assert {"self", "inherited", "deny", "grant", "orphan"} <= kinds
    assert ("finance@contoso.com", "lynne.robbins@contoso.com", "FullAccess") in grants(
        rows, "deny")
    debra = cli.json("perms", "audit", "--all", "--trustee", "Debra.Berger@contoso.com")
    assert {(r["mailbox"], r["right"]) for r in debra} == {
        ("patti.fernandez@contoso.com", "FullAccess"),
        ("patti.fernandez@contoso.com", "SendOnBehalf")}
    # --trustee narrows what is shown, not the snapshot: no drift over finance.
    cli("perms", "diff", check=0)


def test_throttled_mailboxes_are_read_again_and_counted_once(cli: Cli, serve, tmp_path: Path  # type: ignore[no-untyped-def]
                                                             ) -> None:
    sandbox = serve("--throttle-rate", "0.15", "--throttle-retry-s", "1", "--random-seed", "11")
    cli("--profile", "lab", "perms", "audit", "--all", "--chunk-size", "7", "--out",
        str(tmp_path / "a.json"), check=0)
    report = json.loads((tmp_path / "a.json").read_text())
    assert report["summary"]["noise"] == {"self": 56, "inherited": 224, "deny": 1}
    assert len(grants(report["rows"])) == 12 and not report["summary"]["failed_mailboxes"]
    # SendAs of the whole tenant in one read (the listing's), FullAccess once per mailbox.
    send_as = sandbox.commands("Get-RecipientPermission")
    assert send_as and all("Identity" not in c["parameters"] for c in send_as)
    assert all(c["parameters"].get("ResultSize") == "Unlimited" for c in send_as)
    reads = sandbox.commands("Get-MailboxPermission")
    assert len(reads) > 28  # some mailboxes were throttled and read again


def test_a_throttled_listing_is_read_again_never_saved_as_an_empty_audit(
        cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A throttled Get-Mailbox -ResultSize Unlimited once gave an empty snapshot, exit 0,
    and a false drift alert: the listing is read again until it succeeds."""
    sandbox = serve("--throttle-rate", "0.2", "--throttle-retry-s", "1", "--random-seed", "1")

    def throttled_listings() -> int:
        return sum(1 for c in sandbox.commands("Get-Mailbox")
                   if c["parameters"].get("ResultSize") == "Unlimited" and not c["ok"])

    audits = 0
    while audits < 2 or not throttled_listings():  # audit until a listing was throttled
        assert audits < 12, "no listing was throttled in 12 audits"
        out = tmp_path / f"{audits}.json"
        cli("--profile", "lab", "perms", "audit", "--all", "--out", str(out), check=0)
        report = json.loads(out.read_text())
        assert report["summary"]["snapshot"]["mailboxes"] == 28
        assert len(grants(report["rows"])) == 12
        audits += 1
    cli("--profile", "lab", "perms", "diff", check=0)  # no drift between the last two


def test_an_unknown_mailbox_refuses_the_audit_before_anything_is_read(cli: Cli) -> None:
    """Issue 15, item 4: every command checks the addresses it is given first. An audit
    that read the other mailboxes would save a snapshot of fewer mailboxes than asked for,
    which diffs and lookups would then answer from; the user meant another address."""
    result = cli("perms", "audit", "--mailbox", "sales@contoso.com", "--mailbox",
                 "nobody@contoso.com", check=2)
    assert "no mailbox nobody@contoso.com in contoso.onmicrosoft.com" in result.stderr
    assert "Nothing was read or saved" in result.stderr and result.stdout == ""
    assert cli.json("perms", "snapshots") == []


def test_csv_report_is_excel_safe(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from toolkit.sandbox.tenant import demo

    seed = demo.demo_seed()
    contoso = next(t for t in seed["tenants"] if t["name"] == demo.CONTOSO)
    contoso["users"].append({"upn": "=cmd@contoso.com", "display_name": "Formula",
                             "mailbox": "user", "licenses": ["ENTERPRISEPACK"],
                             "usage_location": "US"})
    contoso["permissions"].append({"mailbox": "info@contoso.com",
                                   "trustee": "=cmd@contoso.com", "right": "FullAccess"})
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    serve(seed=str(tmp_path / "seed.json"))
    out = tmp_path / "x.csv"
    cli("--profile", "lab", "perms", "audit", "--mailbox", "info@contoso.com", "--out",
        str(out), check=0)
    text = out.read_text(encoding="utf-8-sig")
    assert "'=cmd@contoso.com" in text
    assert not re.search(r"^=|,=", text, re.MULTILINE)


@pytest.mark.slow
def test_drift_exit_codes_lookups_and_webhook(cli: Cli, tmp_path: Path) -> None:
    cli("perms", "audit", "--all", check=0)
    result = cli("perms", "diff", check=2)  # one snapshot only
    assert "needs two" in result.stderr
    cli("perms", "audit", "--all", check=0)
    cli("perms", "diff", check=0)

    cli("task", "run", "custom/grant-fullaccess", "--param", "Mailbox=info@contoso.com",
        "--param", "User=joni.sherman@contoso.com", check=0)
    cli("perms", "audit", "--all", check=0)
    with webhook() as posts:
        drift = cli("--output", "json", "perms", "diff", "--notify-webhook", posts.url,
                    "--out", str(tmp_path / "drift.html"), check=3)
    (change,) = json.loads(drift.stdout)
    assert (change["change"], change["mailbox"], change["trustee"], change["right"]) == (
        "added", "info@contoso.com", "joni.sherman@contoso.com", "FullAccess")
    page = (tmp_path / "drift.html").read_text()
    assert "joni.sherman@contoso.com" in page and "<td>added</td>" in page
    (payload,) = posts.received
    assert payload["added"] == 1 and payload["removed"] == 0
    assert payload["tenant"] == "contoso.onmicrosoft.com"
    assert payload["changes"][0]["trustee"] == "joni.sherman@contoso.com"
    cli("perms", "diff", "1", "2", check=0)  # explicit snapshots: no change between them

    # Reverse lookups, from the latest snapshot and live.
    who = cli.json("perms", "who-can-access", "info@contoso.com")
    assert {(r["trustee"], r["right"]) for r in who} >= {
        ("joni.sherman@contoso.com", "FullAccess"), ("patti.fernandez@contoso.com", "SendAs")}
    assert any(r["kind"] == "orphan" for r in who)
    live = cli.json("perms", "who-can-access", "info@contoso.com", "--live")
    assert grants(live) == grants(who)
    debra = cli.json("perms", "access-of", "debra.berger@contoso.com")
    assert {(r["mailbox"], r["right"]) for r in debra} == {
        ("patti.fernandez@contoso.com", "FullAccess"),
        ("patti.fernandez@contoso.com", "SendOnBehalf")}
    assert cli.json("perms", "access-of", "debra.berger@contoso.com", "--live") == debra


def test_baseline_compare_and_fix_plan(cli: Cli, tmp_path: Path) -> None:
    cli("perms", "audit", "--all", check=0)
    # Approved: sales as it is, except that alex is not approved and megan should be there.
    approved = rows_csv(tmp_path / "approved.csv", "Mailbox;Trustee;Right", [
        "sales@contoso.com;adele.vance@contoso.com;FullAccess",
        "sales@contoso.com;adele.vance@contoso.com;GrantSendAs",
        "sales@contoso.com;megan.bowen@contoso.com;FullAccess",
    ])
    sales = cli("perms", "audit", "--mailbox", "sales@contoso.com", check=0)
    assert "snapshot 2" in sales.stdout
    result = cli("--output", "json", "perms", "diff", "--baseline", str(approved), check=3)
    changes = {(r["change"], r["trustee"], r["right"], r["kind"])
               for r in json.loads(result.stdout)}
    assert changes == {
        ("added", "alex.wilber@contoso.com", "FullAccess", "grant"),
        ("added", "S-1-5-21-3623811015-3361044348-30300820-1013", "FullAccess", "orphan"),
        ("removed", "megan.bowen@contoso.com", "FullAccess", "grant"),
    }
    plan = tmp_path / "fix.csv"
    fixed = cli("perms", "diff", "--baseline", str(approved), "--fix", "--plan", str(plan),
                check=3)
    assert "dry run: 3 change(s) planned" in fixed.stderr
    assert "cannot be planned" not in fixed.stderr  # the orphan is revoked by its SID
    with open(plan, encoding="utf-8-sig", newline="") as handle:
        planned = {(r["Trustee"], r["Right"], r["Action"]) for r in csv.DictReader(handle)}
    assert planned == {("alex.wilber@contoso.com", "FullAccess", "revoke"),
                       ("S-1-5-21-3623811015-3361044348-30300820-1013", "FullAccess", "revoke"),
                       ("megan.bowen@contoso.com", "FullAccess", "grant")}
    # --apply hands the plan to 'perms apply' (a resumable job); then nothing is left.
    applied = cli("perms", "diff", "--baseline", str(approved), "--fix", "--plan", str(plan),
                  "--apply", check=3)
    assert "3 changed" in applied.stdout, applied.stdout
    cli("perms", "audit", "--mailbox", "sales@contoso.com", check=0)
    after = cli("--output", "json", "perms", "diff", "--baseline", str(approved), check=0)
    assert json.loads(after.stdout) == []
    bad = rows_csv(tmp_path / "bad.csv", "Mailbox,Trustee,Right",
                   ["sales@contoso.com,adele.vance@contoso.com,ReadMail"])
    invalid = cli("perms", "diff", "--baseline", str(bad), check=2)
    assert "bad.csv:2" in invalid.stderr or "line 2" in invalid.stderr


def test_all_tenants_go_on_after_one_fails(cli: Cli, serve, isolated_home: Path) -> None:  # type: ignore[no-untyped-def]
    serve()
    config_path = isolated_home / "config.toml"
    document = tomlkit.parse(config_path.read_text())
    document["profiles"]["lab"]["tenants"] = [  # type: ignore[index]
        "tailspintoys.onmicrosoft.com", "fabrikam.onmicrosoft.com"]
    config_path.write_text(tomlkit.dumps(document))
    result = cli("--output", "json", "--profile", "lab", "perms", "audit", "--all",
                 "--all-tenants", check=1)
    assert "tenant tailspintoys.onmicrosoft.com" in result.stderr
    assert "failed for 1 of 3 tenant(s)" in result.stderr
    # One row per tenant on stdout, for a script: its snapshot, or that it failed.
    assert [(r["tenant"], r["status"], r["mailboxes"]) for r in json.loads(result.stdout)] == [
        ("contoso.onmicrosoft.com", "complete", 28),
        ("tailspintoys.onmicrosoft.com", "failed", None),
        ("fabrikam.onmicrosoft.com", "complete", 9)]
    fabrikam = cli.json("--profile", "lab", "--tenant", "fabrikam.onmicrosoft.com",
                        "perms", "who-can-access", "office@fabrikam.com")
    assert {(r["trustee"], r["right"]) for r in fabrikam} == {
        ("ana.bowman@fabrikam.com", "FullAccess"), ("brian.johnson@fabrikam.com", "SendAs")}
    contoso = cli.json("--profile", "lab", "perms", "snapshots")
    assert [s["tenant"] for s in contoso] == ["contoso.onmicrosoft.com"]
    # Drift in one customer tenant, found by a diff over every tenant.
    cli("--profile", "lab", "--tenant", "fabrikam.onmicrosoft.com", "task", "run",
        "custom/grant-fullaccess", "--param", "Mailbox=office@fabrikam.com",
        "--param", "User=carlos.slattery@fabrikam.com", check=0)
    cli("--profile", "lab", "perms", "audit", "--all", "--all-tenants", check=1)
    with webhook() as posts:
        drift = cli("--output", "json", "--profile", "lab", "perms", "diff", "--all-tenants",
                    "--notify-webhook", posts.url, check=3)
    assert "tenant tailspintoys.onmicrosoft.com: " in drift.stderr
    assert [(r["tenant"], r["change"], r["trustee"]) for r in json.loads(drift.stdout)] == [
        ("fabrikam.onmicrosoft.com", "added", "carlos.slattery@fabrikam.com")]
    assert [(p["tenant"], p["added"]) for p in posts.received] == [
        ("fabrikam.onmicrosoft.com", 1)]


def test_all_tenants_trustee_must_be_a_user_of_the_tenant_its_domain_names(
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--trustee over every tenant: the address's domain names the trustee's tenant (tenant
    discovery answers for a verified domain), which must know the trustee. A mistyped
    address, or one of a tenant not covered, is refused before anything is read or saved,
    as it is for one tenant, instead of each tenant reporting that it holds nothing. What
    the trustee holds is shown in one table over every tenant (a tenant column).

    Evidence that an address's domain names its tenant: a UPN's domain is a verified
    domain of the user's tenant (a UPN with any other suffix is given the .onmicrosoft.com
    one: learn.microsoft.com/microsoft-365/enterprise/prepare-a-non-routable-domain-for-
    directory-synchronization), and tenant discovery answers a verified domain with its
    tenant (sources in tests/sandbox/identity/test_identity_platform.py)."""
    serve()
    config_path = isolated_home / "config.toml"
    document = tomlkit.parse(config_path.read_text())
    document["profiles"]["lab"]["tenants"] = ["fabrikam.onmicrosoft.com"]  # type: ignore[index]
    config_path.write_text(tomlkit.dumps(document))
    audit = ("--profile", "lab", "perms", "audit", "--all", "--all-tenants", "--trustee")

    typo = cli(*audit, "ana.bowmen@fabrikam.com", check=2)
    assert "no user ana.bowmen@fabrikam.com in fabrikam.onmicrosoft.com" in typo.stderr
    assert "ana.bowman@fabrikam.com" in typo.stderr, "the closest address is named"
    elsewhere = cli(*audit, "megan@northwind.example", check=2)
    assert "northwind.example is a domain of none of the tenants audited" in elsewhere.stderr
    assert "contoso.onmicrosoft.com, fabrikam.onmicrosoft.com" in elsewhere.stderr
    for tenant in ((), ("--tenant", "fabrikam.onmicrosoft.com")):
        assert cli.json("--profile", "lab", *tenant, "perms", "snapshots") == []
    assert _mailboxes_read(isolated_home) == 0

    report = tmp_path / "ana.json"
    found = cli.json(*audit, "ana.bowman@fabrikam.com", "--out", str(report))
    assert [(r["tenant"], r["mailbox"], r["right"]) for r in found] == [
        ("fabrikam.onmicrosoft.com", "office@fabrikam.com", "FullAccess")], "one table"
    fabrikam = json.loads((tmp_path / "ana-fabrikam.onmicrosoft.com.json").read_text())
    assert {(g["mailbox"], g["trustee"], g["right"]) for g in fabrikam["rows"]} == {
        ("office@fabrikam.com", "ana.bowman@fabrikam.com", "FullAccess")}
    assert json.loads((tmp_path / "ana-home.json").read_text())["rows"] == []
    assert len(cli.json("--profile", "lab", "perms", "snapshots")) == 1


def _mailboxes_read(home: Path) -> int:
    try:
        with sqlite3.connect(home / "data" / "jobs.sqlite3") as db:
            return int(db.execute("SELECT COUNT(*) FROM perm_snapshot_read").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_an_audit_killed_half_way_is_continued_not_restarted(
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve("--cmdlet-ms", "5", seed=str(bulk_seed(tmp_path / "seed.json", 300)))
    audit = cli.popen("--profile", "lab", "perms", "audit", "--all", "--chunk-size", "20",
                      "--concurrency", "1")
    deadline = time.monotonic() + 60
    while _mailboxes_read(isolated_home) < 60:
        assert time.monotonic() < deadline and audit.poll() is None
        time.sleep(0.05)
    audit.send_signal(signal.SIGKILL)
    audit.wait()
    read = _mailboxes_read(isolated_home)
    assert 60 <= read < 328
    result = cli("--output", "json", "--profile", "lab", "perms", "audit", "--all", check=0)
    assert f"continuing snapshot 1: {read} of 328 mailbox(es) already read" in result.stderr
    rows = json.loads(result.stdout)
    keys = [(r["mailbox"], r["trustee"], r["right"]) for r in rows]
    assert len(keys) == len(set(keys))  # nothing read twice
    assert {o["trustee"] for o in rows if o["kind"] == "orphan"} == ORPHANS
    assert ("patti.fernandez@contoso.com", "debra.berger@contoso.com", "SendOnBehalf") in set(keys)
    snapshots = cli.json("--profile", "lab", "perms", "snapshots")
    assert [(s["snapshot"], s["mailboxes"]) for s in snapshots] == [(1, 328)]


class _Posts:
    def __init__(self) -> None:
        self.url = ""
        self.received: list[Any] = []


@contextmanager
def webhook() -> Iterator[_Posts]:
    """A local HTTP server that records the JSON bodies POSTed to it."""
    posts = _Posts()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            posts.received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    posts.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield posts
    finally:
        server.shutdown()
        server.server_close()
