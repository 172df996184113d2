"""Migration planning without a tenant: CSV formats, POP hosts, splitting, pre-flight."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.io.csvfile import CsvInvalid
from toolkit.tasks.migration import batches as migration
from toolkit.tasks.migration.batches import (
    EndpointFact,
    MigrationOptions,
    TargetMailbox,
    TenantFacts,
    build_plan,
    in_family,
    raise_problems,
)
from toolkit.tasks.migration.csv_formats import csv_data, read_migration_csv
from toolkit.tasks.migration.hosts import (
    GMAIL_ARCHIVE_NOTE,
    Server,
    UnknownPopHost,
    imap_host_for,
)

LEGACY = "SourceIdentity;SourceServer;SourceLoginID;SourcePassword;TargetIdentity"


def write(path: Path, lines: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def facts_for(*addresses: str, **extra: object) -> TenantFacts:
    facts = TenantFacts(targets={a: TargetMailbox(True, "UserMailbox", True) for a in addresses})
    for key, value in extra.items():
        setattr(facts, key, value)
    return facts


def test_legacy_csv_is_converted_and_keeps_its_server(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "old.csv", [
        LEGACY, "Ann;pop.gmail.com;ann@gmail.com;pass;ann@contoso.com"]))
    assert source.legacy
    (row,) = source.rows
    assert (row.line, row.email, row.username, row.password, row.server) == (
        2, "ann@contoso.com", "ann@gmail.com", "pass", "pop.gmail.com")


def test_todays_format_in_utf16_with_tabs(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "t.csv", [
        "EmailAddress\tUserName\tPassword\tUserRoot", "a@contoso.com\ta\tp;w,\"x\t/root"],
        encoding="utf-16"))
    assert not source.legacy
    assert source.rows[0].password == 'p;w,"x' and source.rows[0].user_root == "/root"


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", [
        LEGACY, "A;pop.gmail.com;a;;a@contoso.com", "B;pop.gmail.com;b;pw;b@contoso.com",
        "C;pop.gmail.com;c;pw;B@Contoso.com", "D;pop.gmail.com;d;pw;nope"])
    with pytest.raises(CsvInvalid) as caught:
        read_migration_csv(path)
    assert [(p.line, p.column) for p in caught.value.problems] == [
        (2, "SourcePassword"), (4, "TargetIdentity"), (5, "TargetIdentity")]


def test_pop_hosts_map_to_imap_or_are_refused() -> None:
    assert imap_host_for("POP.gmail.com") == ("imap.gmail.com", True)
    assert imap_host_for("mail.example.com") == ("mail.example.com", False)
    with pytest.raises(UnknownPopHost, match="migrates from IMAP only"):
        imap_host_for("pop3.unknown-isp.example")


def test_csv_data_has_todays_header_and_quotes_cells(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "t.csv", [
        "EmailAddress,UserName,Password", 'a@contoso.com,a,"p,w"']))
    data = csv_data(source.rows)
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["EmailAddress", "UserName", "Password"], ["a@contoso.com", "a", "p,w"]]


def test_rows_split_by_server_then_batch_size(tmp_path: Path) -> None:
    lines = [LEGACY]
    lines += [f"U{i};pop.gmail.com;u{i};pw;u{i}@contoso.com" for i in range(5)]
    lines += [f"V{i};mail.example.com;v{i};pw;v{i}@contoso.com" for i in range(2)]
    source = read_migration_csv(write(tmp_path / "mixed.csv", lines))
    facts = facts_for(*(f"u{i}@contoso.com" for i in range(5)),
                      *(f"v{i}@contoso.com" for i in range(2)))
    plan = build_plan(source, MigrationOptions(batch_size=2, port=143, security="tls"), "wave",
                      facts)
    assert [(b.name, b.server.host, len(b.rows)) for b in plan.batches] == [
        ("wave", "imap.gmail.com", 2), ("wave-2", "imap.gmail.com", 2),
        ("wave-3", "imap.gmail.com", 1), ("wave-4", "mail.example.com", 2)]
    assert plan.batches[3].server == Server("mail.example.com", 143, "tls")
    assert any("pop.gmail.com is a POP server" in w for w in plan.warnings)
    assert any("[Gmail] system folders are not excluded" in w for w in plan.warnings)
    assert set(plan.new_endpoints) == {"imap.gmail.com-993-ssl", "mail.example.com-143-tls"}


def test_batches_stay_under_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(migration, "MAX_CSV_BYTES", 400)
    lines = ["EmailAddress,UserName,Password"]
    lines += [f"u{i}@contoso.com,u{i},{'x' * 100}" for i in range(6)]
    source = read_migration_csv(write(tmp_path / "big.csv", lines))
    plan = build_plan(source, MigrationOptions(gmail=True), "big",
                      facts_for(*(f"u{i}@contoso.com" for i in range(6))))
    assert [len(b.rows) for b in plan.batches] == [2, 2, 2]
    assert all(b.size <= 400 for b in plan.batches)
    assert plan.warnings == [GMAIL_ARCHIVE_NOTE]  # the plan says what --gmail leaves behind


def test_preflight_and_rules_problems(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "t.csv", [
        "EmailAddress,UserName,Password", "a@contoso.com,a,p", "b@contoso.com,b,p",
        "c@contoso.com,c,p", "d@contoso.com,d,p"]))
    facts = TenantFacts(
        targets={"a@contoso.com": TargetMailbox(True, "UserMailbox", True),
                 "b@contoso.com": TargetMailbox(False),
                 "c@contoso.com": TargetMailbox(True, "UserMailbox", False),
                 "d@contoso.com": TargetMailbox(True, "UserMailbox", True)},
        migration_users={"d@contoso.com": "other"},
        endpoints=[EndpointFact("imap.gmail.com-993-ssl", "imap.example.com", 993, "ssl")])
    plan = build_plan(source, MigrationOptions(gmail=True), "x" * 70, facts)
    assert [(p.line, p.message.split(" ")[0]) for p in plan.problems] == [
        (3, "no"), (4, "mailbox"), (5, "d@contoso.com")]
    assert any("70 characters" in c for c in plan.conflicts)
    assert any("exists with other settings" in c for c in plan.conflicts)
    with pytest.raises(InputError, match="5 problem"):
        raise_problems(plan, source.path)


def test_an_existing_family_changes_nothing_unless_adding_users(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "t.csv", [
        "EmailAddress,UserName,Password", "a@contoso.com,a,p", "b@contoso.com,b,p"]))
    facts = facts_for("a@contoso.com", "b@contoso.com", batches={"wave": "Synced"},
                      migration_users={"a@contoso.com": "wave"},
                      endpoints=[EndpointFact("gmail", "imap.gmail.com", 993, "ssl")])
    again = build_plan(source, MigrationOptions(gmail=True), "wave", facts)
    assert again.batches == [] and again.existing == {"wave": "Synced"}
    added = build_plan(source, MigrationOptions(gmail=True, add_users=True), "wave", facts)
    assert [(b.name, b.endpoint, [r.email for r in b.rows]) for b in added.batches] == [
        ("wave-2", "gmail", ["b@contoso.com"])]
    assert added.new_endpoints == {} and added.already_in_family == 1


def test_todays_format_needs_a_server(tmp_path: Path) -> None:
    source = read_migration_csv(write(tmp_path / "t.csv", [
        "EmailAddress,UserName,Password", "a@contoso.com,a,p"]))
    with pytest.raises(InputError, match="names no source server"):
        build_plan(source, MigrationOptions(), "w", facts_for("a@contoso.com"))


def test_family_names() -> None:
    assert in_family("wave", "WAVE") and in_family("wave", "wave-12")
    assert not in_family("wave", "wave-old") and not in_family("wave", "wave2")


def test_gmail_excludes_only_the_folders_that_repeat_mail() -> None:
    excluded = MigrationOptions(gmail=True).folders_excluded
    for root in ("[Gmail]", "[Google Mail]"):
        assert {f"{root}/All Mail", f"{root}/Important", f"{root}/Starred", f"{root}/Spam",
                f"{root}/Trash"} <= set(excluded)
        assert f"{root}/Sent Mail" not in excluded and f"{root}/Drafts" not in excluded
    assert not any(f.endswith("/*") for f in excluded)  # "[Gmail]/*" drops Sent Mail too
    with_all_mail = MigrationOptions(gmail=True, gmail_all_mail=True).folders_excluded
    assert "[Gmail]/All Mail" not in with_all_mail and "[Gmail]/Starred" in with_all_mail
