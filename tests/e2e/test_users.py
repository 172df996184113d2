"""psbridge users: activation, licences and password resets, driven as a user would,
through the real CLI and pypsrp against ``psbridge sandbox serve``.

The demo tenant (contoso): ENTERPRISEPACK has 17 free seats, ENTERPRISEPREMIUM one, EMS
none; six disabled, unlicensed new hires wait for activation (Priya and Rosa without a
usage location); contoso.net is an unverified domain.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from e2e_cli import Cli, helpdesk_profile, rows_csv, rows_done, wait_for_mailbox

HEADER = "UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,Licenses,Aliases"
PASSWORD = re.compile(r"^\s*│?\s*(\S+@\S+)\s+│\s+(\S+)\s+│\s*$")


def users(cli: Cli, *upns: str) -> dict[str, dict[str, Any]]:
    found = cli.json("--profile", "lab", "task", "run", "graph/get-users", "--param",
                     "UserPrincipalName=" + ",".join(upns))
    return {u["UserPrincipalName"]: u for u in found}


def skus(cli: Cli) -> dict[str, dict[str, Any]]:
    return {s["sku"]: s for s in cli.json("--profile", "lab", "users", "licenses")}


def calls_for(sandbox: Any, upn: str) -> list[str]:
    """The cmdlets the sandbox ran that name ``upn`` (in order)."""
    return [e["cmdlet"] for e in sandbox.commands()
            if upn in json.dumps(e["parameters"]).lower()
            and e["cmdlet"] not in ("Get-MgUser", "Get-Mailbox")]


def assert_nowhere(home: Path, passwords: list[str], *files: Path) -> None:
    """No password in the job store, the command log or the given files."""
    assert passwords
    stores = [home / "data" / "jobs.sqlite3", home / "commands.jsonl", *files]
    for path in stores:
        if path.exists():
            data = path.read_bytes()
            for suffix in ("-wal", "-shm"):
                extra = path.with_name(path.name + suffix)
                data += extra.read_bytes() if extra.exists() else b""
            for password in passwords:
                assert password.encode() not in data, f"a password leaked into {path}"
    with sqlite3.connect(home / "data" / "jobs.sqlite3") as db:
        dump = "\n".join(db.iterdump())
    assert not any(p in dump for p in passwords)


def test_activation_plan_seats_fallback_and_credentials(cli: Cli, serve, isolated_home: Path,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    sandbox = serve()
    source = rows_csv(tmp_path / "hires.csv", HEADER, [
        "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,",            # existing, disabled, US
        "priya.raman@contoso.com,,,,IN,ENTERPRISEPACK;EMS,",     # EMS has no free seat
        "rosa.delgado@contoso.com,,,,ES,ENTERPRISEPACK,",        # usage location first
        "quinn.baker@contoso.com,,,,,ENTERPRISEPREMIUM,",        # takes the last E5 seat
        "sven.larsen@contoso.com,,,,,ENTERPRISEPREMIUM,",        # no E5 seat left for him
        "new.hire@contoso.com,New Hire,New,Hire,US,ENTERPRISEPACK,",
        "ext.user@contoso.net,Ext User,Ext,User,US,ENTERPRISEPACK,",  # unverified domain
    ])
    dry = cli("--profile", "lab", "--output", "json", "users", "activate", str(source),
              "--dry-run", check=1)  # rows that would fail: exit 1, as the run would
    assert "dry run: 2 of 7 row(s) would fail" in dry.stderr
    plan = {p["user"]: p for p in json.loads(dry.stdout)}
    assert plan["nora.ahmed@contoso.com"]["plan"].startswith("link; add ENTERPRISEPACK; "
                                                             "enable; temporary password")
    assert plan["rosa.delgado@contoso.com"]["plan"].startswith(
        "link; usage location ES; add ENTERPRISEPACK")
    assert plan["new.hire@contoso.com"]["plan"].startswith("create;")
    assert plan["ext.user@contoso.net"]["account"] == "ext.user@contoso.onmicrosoft.com"
    assert "contoso.net is not a verified domain" in plan["ext.user@contoso.net"]["notes"]
    assert "no free seats: EMS" in plan["priya.raman@contoso.com"]["status"]
    assert "no free seats: ENTERPRISEPREMIUM" in plan["sven.larsen@contoso.com"]["status"]
    assert "all taken by earlier rows" in plan["sven.larsen@contoso.com"]["status"]
    assert plan["quinn.baker@contoso.com"]["status"] == "ok"
    assert not [e for e in sandbox.commands() if e["cmdlet"] in
                ("New-MgUser", "Update-MgUser", "Set-MgUserLicense")]

    creds = tmp_path / "creds.csv"
    results = tmp_path / "results.json"
    run = cli("--profile", "lab", "-vv", "users", "activate", str(source), "--credentials-out",
              str(creds), "--results", str(results), check=1)  # -vv: debug logs on stderr
    assert "5 changed, 2 failed" in run.stdout
    assert "created as ext.user@contoso.onmicrosoft.com" in run.stderr
    # The refused rows were never touched: no licence, no change at all.
    assert calls_for(sandbox, "priya.raman@contoso.com") == []
    assert calls_for(sandbox, "sven.larsen@contoso.com") == []
    # Usage location before the licence, enable after it.
    assert calls_for(sandbox, "rosa.delgado@contoso.com") == [
        "Update-MgUser", "Set-MgUserLicense", "Update-MgUser"]
    assert calls_for(sandbox, "new.hire@contoso.com") == [
        "New-MgUser", "Set-MgUserLicense", "Update-MgUser"]

    state = users(cli, "nora.ahmed@contoso.com", "rosa.delgado@contoso.com",
                  "priya.raman@contoso.com", "sven.larsen@contoso.com",
                  "new.hire@contoso.com", "ext.user@contoso.onmicrosoft.com")
    e3 = skus(cli)["ENTERPRISEPACK"]
    assert e3["free"] == 17 - 4
    for upn in ("nora.ahmed@contoso.com", "rosa.delgado@contoso.com", "new.hire@contoso.com",
                "ext.user@contoso.onmicrosoft.com"):
        assert state[upn]["AccountEnabled"] is True
        assert state[upn]["SkuIds"] == [e3["sku_id"]]
    assert state["rosa.delgado@contoso.com"]["UsageLocation"] == "ES"
    for upn in ("priya.raman@contoso.com", "sven.larsen@contoso.com"):
        assert state[upn]["AccountEnabled"] is False and state[upn]["SkuIds"] == []

    # Passwords: only in the 0600 credentials file, one per account switched on.
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    with creds.open(newline="") as handle:
        handed = {r["UserPrincipalName"]: r["TemporaryPassword"] for r in csv.DictReader(handle)}
    assert set(handed) == {"nora.ahmed@contoso.com", "rosa.delgado@contoso.com",
                           "quinn.baker@contoso.com", "new.hire@contoso.com",
                           "ext.user@contoso.onmicrosoft.com"}
    assert all(len(p) >= 16 for p in handed.values())
    assert not any(p in run.stdout + run.stderr for p in handed.values())
    assert_nowhere(isolated_home, list(handed.values()), results)

    again = cli("--profile", "lab", "users", "activate", str(source), "--credentials-out",
                str(creds), check=2)
    assert "never overwrites" in again.stderr
    # Run again (passwords on screen this time): done rows are unchanged, no new password.
    rerun = cli("--profile", "lab", "users", "activate", str(source), check=1)
    assert "5 unchanged, 2 failed" in rerun.stdout
    assert "Temporary passwords" not in rerun.stderr


def test_aliases_wait_for_the_mailbox_then_pending_rows_resume(cli: Cli, serve,  # type: ignore[no-untyped-def]
                                                               isolated_home: Path,
                                                               tmp_path: Path) -> None:
    sandbox = serve("--mailbox-delay-s", "3")
    waited = rows_csv(tmp_path / "nora.csv", HEADER, [
        "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,n.ahmed@contoso.com;nora@contoso.com"])
    run = cli("--profile", "lab", "users", "activate", str(waited), "--mailbox-timeout",
              "60s", check=0)
    assert "waiting up to 60s for the mailbox of 1 user(s)" in run.stderr
    assert "1 waiting" in run.stdout and "1 changed" in run.stdout
    shown = [m.groups() for m in map(PASSWORD.match, run.stdout.splitlines()) if m]
    assert [upn for upn, _ in shown] == ["nora.ahmed@contoso.com"]
    addresses = users(cli, "nora.ahmed@contoso.com")["nora.ahmed@contoso.com"]["ProxyAddresses"]
    assert {"smtp:n.ahmed@contoso.com", "smtp:nora@contoso.com"} <= set(addresses)

    # No time to wait: the row is recorded as pending mailbox, and jobs resume finishes it.
    pending = rows_csv(tmp_path / "omar.csv", HEADER, [
        "omar.haddad@contoso.com,,,,,ENTERPRISEPACK,omar@contoso.com",
        "quinn.baker@contoso.com,,,,,ENTERPRISEPACK,"])
    run = cli("--profile", "lab", "users", "activate", str(pending), "--mailbox-timeout",
              "0s", check=1)
    assert "1 row(s) pending mailbox" in run.stderr
    job = re.search(r"psbridge jobs resume (\S+)", run.stderr).group(1)  # type: ignore[union-attr]
    shown += [m.groups() for m in map(PASSWORD.match, run.stdout.splitlines()) if m]
    rows = {r["key"]: r for r in cli.json("jobs", "show", job)}
    assert rows["omar.haddad@contoso.com"]["status"] == "waiting"
    assert "pending mailbox" in rows["omar.haddad@contoso.com"]["message"]
    assert rows["quinn.baker@contoso.com"]["status"] == "changed"
    assert [j["status"] for j in cli.json("jobs", "list") if j["id"] == job] == ["incomplete"]

    wait_for_mailbox(cli, "omar.haddad@contoso.com")
    resumed = cli("--profile", "lab", "jobs", "resume", job, check=0)
    assert "1 changed" in resumed.stdout
    assert [j["status"] for j in cli.json("jobs", "list") if j["id"] == job] == ["completed"]
    omar = users(cli, "omar.haddad@contoso.com")["omar.haddad@contoso.com"]
    assert "smtp:omar@contoso.com" in omar["ProxyAddresses"]
    assert len([e for e in sandbox.commands("Update-MgUser")
                if "omar" in json.dumps(e["parameters"])]) == 1  # enabled once, not twice
    assert_nowhere(isolated_home, [p for _, p in shown])


def contoso_with_ems_seats(path: Path, seats: int) -> Path:
    from toolkit.sandbox.tenant import demo

    seed = demo.demo_seed()
    contoso = next(t for t in seed["tenants"] if t["name"] == demo.CONTOSO)
    next(s for s in contoso["skus"] if s["part_number"] == "EMS")["enabled"] = seats
    path.write_text(json.dumps(seed))
    return path


def test_ems_extension_and_the_retired_msonline_dialect(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve(seed=str(contoso_with_ems_seats(tmp_path / "seed.json", 15)))
    dry_run = cli("--profile", "lab", "-o", "json", "users", "license", "add", "--sku", "EMS",
                  "--where-license", "ENTERPRISEPACK", "--dry-run", check=1)
    assert "dry run: 8 of 23 user(s) would fail" in dry_run.stderr
    plans = [p["plan"] for p in json.loads(dry_run.stdout)]
    assert plans.count("nothing to change") == 10  # the ten E3 users who have EMS
    assert plans.count("add") == 5
    assert len([p for p in plans if p.startswith("failed: no free seats: EMS")]) == 8
    run = cli("--profile", "lab", "users", "license", "add", "--sku", "EMS",
              "--where-license", "ENTERPRISEPACK", check=1)
    assert "5 changed, 10 unchanged, 8 failed" in run.stdout
    assert len(sandbox.commands("Set-MgUserLicense")) == 5
    assert skus(cli)["EMS"]["free"] == 0

    removals = rows_csv(tmp_path / "leavers.csv", "UPN,Note",
                        ["adele.vance@contoso.com,left", "nobody@contoso.com,typo"])
    run = cli("--profile", "lab", "users", "license", "remove", "--sku", "EMS", "--users",
              str(removals), check=2)  # every row is checked before any change
    assert "line 3: UserPrincipalName: no user nobody@contoso.com" in run.stderr
    assert skus(cli)["EMS"]["free"] == 0
    removals = rows_csv(tmp_path / "leavers.csv", "UPN,Note", ["adele.vance@contoso.com,left"])
    run = cli("--profile", "lab", "users", "license", "remove", "--sku", "EMS", "--users",
              str(removals), check=0)
    assert "1 changed" in run.stdout
    assert skus(cli)["EMS"]["free"] == 1

    source = rows_csv(tmp_path / "new.csv", HEADER, [
        "priya.raman@contoso.com,,,,IN,ENTERPRISEPACK;EMS,",
        "new.user@contoso.com,New User,New,User,US,ENTERPRISEPACK,"])
    calls = len(sandbox.commands())
    retired = cli("--profile", "lab", "users", "activate", str(source), "--dialect", "msonline",
                  check=2)
    assert "Microsoft retired the MSOnline module" in retired.stderr
    assert len(sandbox.commands()) == calls  # refused before anything was read or sent
    run = cli("--profile", "lab", "users", "activate", str(source), check=0)
    assert "2 changed" in run.stdout
    licensing = sandbox.commands("Set-MgUserLicense")[-2:]
    assert [e["parameters"]["UserId"] for e in licensing] == [
        "priya.raman@contoso.com", "new.user@contoso.com"]
    state = users(cli, "priya.raman@contoso.com", "new.user@contoso.com")
    assert all(u["AccountEnabled"] for u in state.values())
    assert state["priya.raman@contoso.com"]["UsageLocation"] == "IN"


def test_helpdesk_resets_passwords_but_cannot_activate(cli: Cli, serve,  # type: ignore[no-untyped-def]
                                                       isolated_home: Path,
                                                       tmp_path: Path) -> None:
    sandbox = serve()
    helpdesk = helpdesk_profile(isolated_home)
    run = cli("--profile", helpdesk, "users", "reset-password", "adele.vance@contoso.com",
              "--temporary", check=0)
    assert "must be changed at the next sign-in" in run.stdout
    password = run.stdout.strip().splitlines()[-1].strip()
    assert len(password) == 16
    (reset,) = sandbox.commands("Update-MgUser")
    assert reset["account"] == "helpdesk" and reset["ok"]
    assert password not in json.dumps(reset)  # the sandbox masks the whole profile

    missing = cli("--profile", helpdesk, "users", "reset-password", "nobody@contoso.com",
                  check=2)  # bad input: exit 2, nothing changed
    assert "no user nobody@contoso.com" in missing.stderr

    source = rows_csv(tmp_path / "hires.csv", HEADER,
                      ["nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,"])
    refused = cli("--profile", helpdesk, "users", "activate", str(source), check=2)
    assert "needs the admin role" in refused.stderr
    refused = cli("--profile", helpdesk, "users", "license", "add", "--sku", "EMS",
                  "--users", str(source), check=2)
    assert "needs the admin role" in refused.stderr
    assert [e["cmdlet"] for e in sandbox.commands() if e["ok"] and e["cmdlet"] in (
        "Update-MgUser", "Set-MgUserLicense", "New-MgUser")] == ["Update-MgUser"]
    assert_nowhere(isolated_home, [password])


def test_invalid_activation_input_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    source = rows_csv(tmp_path / "bad.csv", HEADER + ",Enabled", [
        "nora.ahmed@contoso.com,,,,UK,ENTERPRISEPACK,,true",
        "not-an-upn,,,,US,ENTERPRISEPACK,,yes",
        "omar.haddad@contoso.com,,,,US,ENTERPRISEPACK,bad alias,maybe",
        "NORA.AHMED@contoso.com,,,,US,,,",
    ])
    run = cli("users", "activate", str(source), check=2)
    assert "bad.csv:2: UsageLocation: 'UK' is not an ISO 3166 country code; did you mean GB?" \
        in run.stderr
    assert "bad.csv:3: UserPrincipalName:" in run.stderr
    assert "bad.csv:4: Aliases:" in run.stderr and "bad.csv:4: Enabled:" in run.stderr
    unknown = rows_csv(tmp_path / "sku.csv", HEADER,
                       ["nora.ahmed@contoso.com,,,,US,E3,",
                        "omar.haddad@contoso.com,,,,,,omar@contoso.net"])
    run = cli("users", "activate", str(unknown), "--license", "ENTERPRISEPACK", check=2)
    assert "sku.csv:2: Licenses: the tenant has no SKU E3" in run.stderr
    assert "sku.csv:3: Aliases: omar@contoso.net: contoso.net is not a verified" in run.stderr
    run = cli("users", "activate", str(unknown), "--usage-location", "XX", check=2)
    assert "not an ISO 3166 alpha-2 country code" in run.stderr
    state = cli.json("task", "run", "graph/get-users", "--param",
                     "UserPrincipalName=nora.ahmed@contoso.com")
    assert state[0]["AccountEnabled"] is False and state[0]["SkuIds"] == []


def test_kill_9_mid_activation_then_resume_and_rerun_create_each_user_once(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    sandbox = serve("--cmdlet-ms", "100")
    upns = [f"new{i}@contoso.com" for i in range(8)]
    source = rows_csv(tmp_path / "hires.csv", HEADER,
                      [f"{upn},New {i},,,US,ENTERPRISEPACK," for i, upn in enumerate(upns)])
    job = cli.popen("--profile", "lab", "users", "activate", str(source), "--chunk-size", "1",
                    "--concurrency", "1", "--credentials-out", str(tmp_path / "first.csv"))
    deadline = time.monotonic() + 60
    while rows_done(isolated_home) < 2:
        assert time.monotonic() < deadline and job.poll() is None
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    (listed,) = cli.json("jobs", "list")
    before = {r["key"]: r["status"] for r in cli.json("jobs", "show", listed["id"])}
    done_before = {k for k, status in before.items() if status == "changed"}
    in_flight = {k for k, status in before.items() if status == "unknown"}

    # jobs resume cannot hand out passwords: rows that still need one say how to finish,
    # and a row applied while in flight says its password may be lost.
    calls_before_resume = len(sandbox.commands())
    cli("--profile", "lab", "jobs", "resume", listed["id"], check=1)
    # Rows done before the kill were neither read nor sent again, and keep their outcome.
    resumed = json.dumps([c["parameters"] for c in sandbox.commands()[calls_before_resume:]])
    assert done_before and not [upn for upn in done_before if upn in resumed]
    shown = cli.json("jobs", "show", listed["id"])
    assert {r["key"]: r["status"] for r in shown if r["key"] in done_before} == dict.fromkeys(
        done_before, "changed")
    after = {r["key"]: r["message"] for r in shown}
    applied = {k for k, message in after.items() if "reset-password" in message}
    assert applied <= in_flight
    assert {k for k, message in after.items() if "run it again with the same file" in message
            } == set(upns) - done_before - applied
    rerun = cli("--profile", "lab", "users", "activate", str(source), "--credentials-out",
                str(tmp_path / "second.csv"), check=0)
    assert f"{len(done_before | applied)} unchanged" in rerun.stdout
    created = [e["parameters"]["UserPrincipalName"] for e in sandbox.commands("New-MgUser")
               if e["ok"]]
    assert sorted(created) == sorted(upns)  # each user created exactly once
    state = users(cli, *upns)
    assert all(state[u]["AccountEnabled"] for u in upns)
    handed: dict[str, str] = {}
    for name in ("first.csv", "second.csv"):
        with (tmp_path / name).open(newline="") as handle:
            handed.update({r["UserPrincipalName"]: r["TemporaryPassword"]
                           for r in csv.DictReader(handle)})
    assert set(handed) == set(upns) - applied  # and the others were told to reset theirs


def test_synced_users_are_refused_before_any_change_and_licensed_where_allowed(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    source = rows_csv(tmp_path / "synced.csv", HEADER, [
        "sam.onprem@contoso.com,,,,US,ENTERPRISEPACK,",   # switched off in AD
        "kim.onprem@contoso.com,,,,US,ENTERPRISEPACK,"])  # in use: only a licence to add
    run = cli("--profile", "lab", "users", "activate", str(source), check=1)
    output = run.stdout + run.stderr
    assert ("synced from on-premises AD: enable the account and set its password there"
            in " ".join(output.split()))
    assert calls_for(sandbox, "sam.onprem@contoso.com") == []
    assert calls_for(sandbox, "kim.onprem@contoso.com") == ["Set-MgUserLicense"]
    state = users(cli, "sam.onprem@contoso.com", "kim.onprem@contoso.com")
    assert state["sam.onprem@contoso.com"]["AccountEnabled"] is False
    assert state["kim.onprem@contoso.com"]["SkuIds"] and state["kim.onprem@contoso.com"]["Synced"]
