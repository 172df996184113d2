"""Exchange Online cmdlets through the PowerShell engine: happy paths, documented errors,
binding failures from the spec."""

from __future__ import annotations

import pytest
from tenant_helpers import FakeClock, ok

from toolkit.sandbox.pwsh.engine import run_script
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.tenant.demo import demo_imap_csv


def test_get_mailbox_by_any_identifier_and_filters(admin: PwshRunspace) -> None:
    for identity in ("sales", "Sales", "sales@contoso.com", "sales@contoso.onmicrosoft.com"):
        (box,) = ok(run_script(admin, "param($i) Get-Mailbox -Identity $i", {"i": identity}))
        assert box["RecipientTypeDetails"] == "SharedMailbox"
        assert box.type_names[0] == (
            "Deserialized.Microsoft.Exchange.Data.Directory.Management.Mailbox")
    names = ok(run_script(admin, "Get-Mailbox -RecipientTypeDetails SharedMailbox -ResultSize "
                                 "Unlimited | ForEach-Object { $_.Name }"))
    assert names == ["Sales", "Support", "Info", "Finance"]
    names = ok(run_script(admin, "Get-Mailbox -Filter \"DisplayName -like 'J*' -and "
                                 "RecipientTypeDetails -eq 'UserMailbox'\" | "
                                 "ForEach-Object { $_.UserPrincipalName }"))
    assert set(names) == {"johanna.lorenz@contoso.com", "joni.sherman@contoso.com",
                          "jsmith@contoso.com", "john.smith@contoso.com"}
    assert len(ok(run_script(admin, "Get-Mailbox -ResultSize 3"))) == 3


def test_exo_mailbox_properties(admin: PwshRunspace) -> None:
    (plain,) = ok(run_script(admin, "Get-EXOMailbox -Identity support"))
    assert "GrantSendOnBehalfTo" not in plain.properties
    (rich,) = ok(run_script(admin, "Get-EXOMailbox -Identity support "
                                   "-Properties 'GrantSendOnBehalfTo','CustomAttribute1'"))
    assert rich["GrantSendOnBehalfTo"] == ["grady.archie"]


def test_not_found_and_ambiguous_are_exchange_errors(admin: PwshRunspace) -> None:
    result = run_script(admin, "Get-Mailbox -Identity ghost@contoso.com")
    (error,) = result.errors
    code, exception, text = error.message.split("|")
    assert code.startswith("Ex") and exception == (
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    assert text.startswith("The operation couldn't be performed because object "
                           "'ghost@contoso.com' couldn't be found on ")
    assert error.fully_qualified_error_id.endswith("],Write-ErrorMessage")
    assert error.category == "NotSpecified"
    caught = ok(run_script(admin, "try { Get-Mailbox 'John Smith' -ErrorAction Stop } "
                                  "catch { $_.CategoryInfo.Reason }"))
    assert caught == ["ManagementObjectAmbiguousException"]


def test_mailbox_permission_round_trip(admin: PwshRunspace) -> None:
    (row,) = ok(run_script(admin, "Add-MailboxPermission -Identity sales -User "
                                  "megan.bowen@contoso.com -AccessRights FullAccess "
                                  "-AutoMapping $false"))
    assert row.type_names[0].endswith("RecipientTasks.MailboxAcePresentationObject")
    assert row["User"] == "megan.bowen@contoso.com" and row["AccessRights"] == ["FullAccess"]
    again = run_script(admin, "Add-MailboxPermission -Identity sales -User 'Megan Bowen' "
                              "-AccessRights FullAccess")
    assert [e.message.split("|")[2] for e in again.errors] == [
        "An existing permission entry was found for user: megan.bowen@contoso.com."]
    explicit = ok(run_script(admin, "Get-MailboxPermission sales | Where-Object { "
                                    "-not $_.IsInherited -and -not $_.Deny } | "
                                    "ForEach-Object { $_.User }"))
    assert "megan.bowen@contoso.com" in explicit and "NT AUTHORITY\\SELF" in explicit
    assert ok(run_script(admin, "Remove-MailboxPermission -Identity sales -User "
                                "megan.bowen@contoso.com -AccessRights FullAccess "
                                "-Confirm:$false")) == []
    missing = run_script(admin, "Remove-MailboxPermission -Identity sales -User "
                                "megan.bowen@contoso.com -AccessRights FullAccess "
                                "-Confirm:$false")
    assert not missing.errors and "ACE doesn't exist" in missing.warnings[0]
    only = ok(run_script(admin, "Get-EXOMailboxPermission -Identity finance "
                                "-User emily.braun@contoso.com"))
    assert [r["User"] for r in only] == ["emily.braun@contoso.com"]


def test_recipient_permission_and_send_on_behalf(admin: PwshRunspace) -> None:
    (row,) = ok(run_script(admin, "Add-RecipientPermission -Identity support -Trustee "
                                  "lee.gu@contoso.com -AccessRights SendAs -Confirm:$false"))
    assert list(row.properties)[:3] == ["Identity", "Trustee", "AccessControlType"]
    again = run_script(admin, "Add-RecipientPermission support -Trustee lee.gu@contoso.com "
                              "-AccessRights SendAs -Confirm:$false")
    assert not again.errors and "already present" in again.warnings[0]
    trustees = ok(run_script(admin, "Get-EXORecipientPermission -Trustee lee.gu@contoso.com "
                                    "| ForEach-Object { $_.Identity }"))
    assert trustees == ["Support"]
    delegates = ok(run_script(admin, "Set-Mailbox support -GrantSendOnBehalfTo "
                                     "@{Add='lee.gu@contoso.com'}; "
                                     "(Get-Mailbox support).GrantSendOnBehalfTo"))
    assert delegates == ["grady.archie", "lee.gu"]
    replaced = ok(run_script(admin, "Set-Mailbox support -GrantSendOnBehalfTo "
                                    "'megan.bowen@contoso.com'; "
                                    "(Get-Mailbox support).GrantSendOnBehalfTo"))
    assert replaced == ["megan.bowen"]


def test_set_mailbox_addresses_attributes_and_cas(admin: PwshRunspace) -> None:
    # splatted: the engine's parser reads "-CustomAttribute3 " as a redirection
    ok(run_script(admin, "$more = @{CustomAttribute3 = 'audit'}; Set-Mailbox -Identity info "
                         "-EmailAddresses @{Add='hello@contoso.com'} "
                         "-HiddenFromAddressListsEnabled $true @more"))
    (box,) = ok(run_script(admin, "Get-Mailbox hello@contoso.com"))
    assert "smtp:hello@contoso.com" in box["EmailAddresses"]
    assert box["CustomAttribute3"] == "audit" and box["HiddenFromAddressListsEnabled"] is True
    ok(run_script(admin, "Set-CASMailbox -Identity info -PopEnabled $false -ImapEnabled $false"))
    (cas,) = ok(run_script(admin, "Get-CASMailbox info"))
    assert cas["PopEnabled"] is False and cas["ImapEnabled"] is False
    unchanged = run_script(admin, "Set-CASMailbox -Identity info -PopEnabled $false")
    assert unchanged.warnings == ["The command completed successfully but no settings of "
                                  "'info' have been modified."]


def test_new_shared_mailbox_and_accepted_domains(admin: PwshRunspace) -> None:
    # cmdlets.json (from Microsoft's page) marks -Password mandatory in the Shared set
    (box,) = ok(run_script(admin, "New-Mailbox -Shared -Name 'Legal' -PrimarySmtpAddress "
                                  "legal@contoso.com -Password (ConvertTo-SecureString "
                                  "'Unused-Pass-1' -AsPlainText -Force)"))
    assert box["RecipientTypeDetails"] == "SharedMailbox"
    domains = ok(run_script(admin, "Get-AcceptedDomain | ForEach-Object { $_.DomainName }"))
    assert domains == ["contoso.onmicrosoft.com", "contoso.com"]  # contoso.net is unverified
    room = run_script(admin, "New-Mailbox -Name Boardroom -Room -Password (ConvertTo-SecureString "
                             "'P@ssw0rd-1' -AsPlainText -Force)")
    assert "New-Mailbox -Shared only" in room.errors[0].message


def test_binding_failures_come_from_the_spec(admin: PwshRunspace) -> None:
    unknown = run_script(admin, "Get-Mailbox -Bogus 1")
    assert unknown.failed is not None or unknown.errors
    record = unknown.failed or unknown.errors[0]
    assert "NamedParameterNotFound" in record.fully_qualified_error_id
    on_premises_only = run_script(admin, "Get-Mailbox -DomainController dc1")
    record = on_premises_only.failed or on_premises_only.errors[0]
    assert "NamedParameterNotFound" in record.fully_qualified_error_id
    not_emulated = run_script(admin, "Get-Mailbox -SoftDeletedMailbox")
    assert "doesn't emulate Get-Mailbox -SoftDeletedMailbox" in not_emulated.errors[0].message


def test_helpdesk_reads_but_cannot_change(helpdesk: PwshRunspace) -> None:
    assert ok(run_script(helpdesk, "Get-MailboxPermission sales"))
    hidden = run_script(helpdesk, "Add-MailboxPermission -Identity sales -User "
                                  "lee.gu@contoso.com -AccessRights FullAccess")
    record = hidden.failed or hidden.errors[0]
    assert "CommandNotFoundException" in record.fully_qualified_error_id


def test_imap_migration_through_cmdlets(admin: PwshRunspace, clock: FakeClock) -> None:
    (test,) = ok(run_script(admin, "Test-MigrationServerAvailability -Imap -RemoteServer "
                                   "imap.example.invalid -Port 993 -Security Ssl"))
    assert test["Result"] == "Failed"
    ok(run_script(admin, "New-MigrationEndpoint -IMAP -Name Gmail -RemoteServer imap.gmail.com "
                         "-Port 993 -Security Ssl"))
    (batch,) = ok(run_script(admin, "param($csv) New-MigrationBatch -Name Wave1 "
                                    "-SourceEndpoint Gmail -CSVData $csv "
                                    "-ExcludeFolders '[Gmail]/All Mail','[Gmail]/Important','[Gmail]/Starred' "
                                    "-AutoStart",
                             {"csv": demo_imap_csv()}))
    assert batch["Status"] == "Syncing" and batch["TotalCount"] == 3
    clock.advance(2 * 3600)
    stats = ok(run_script(admin, "Get-MigrationUser -BatchId Wave1 | "
                                 "Get-MigrationUserStatistics"))
    by_user = {s["Identity"]: s for s in stats}
    assert by_user["adele.vance@contoso.com"]["SyncedItemCount"] == 40
    assert by_user["adele.vance@contoso.com"]["Status"] == "Synced"
    assert by_user["lynne.robbins@contoso.com"]["Status"] == "Failed"
    assert "ImapAuthenticationException" in by_user["lynne.robbins@contoso.com"]["ErrorSummary"]
    (shown,) = ok(run_script(admin, "Get-MigrationBatch -Identity Wave1"))
    assert shown["Status"] == "SyncedWithErrors" and shown["FailedCount"] == 1
    completed = run_script(admin, "Complete-MigrationBatch -Identity Wave1 -Confirm:$false")
    assert "no completion step" in completed.errors[0].message
    ok(run_script(admin, "Remove-MigrationBatch -Identity Wave1 -Confirm:$false"))
    (removing,) = ok(run_script(admin, "Get-MigrationBatch Wave1"))
    assert removing["Status"] == "Removing"


@pytest.mark.parametrize("csv", [b"EmailAddress,Password\nx@contoso.com,p\n",
                                 b"EmailAddress,UserName,Password\na@x.com,a,p\nA@x.com,b,q\n"])
def test_bad_csv_is_refused(admin: PwshRunspace, csv: bytes) -> None:
    ok(run_script(admin, "New-MigrationEndpoint -IMAP -Name Gmail -RemoteServer imap.gmail.com "
                         "-Port 993 -Security Ssl"))
    result = run_script(admin, "param($csv) New-MigrationBatch -Name B -SourceEndpoint Gmail "
                               "-CSVData $csv", {"csv": csv})
    assert result.errors and "CSV" in result.errors[0].message


def test_default_result_size_warns_on_large_tenants() -> None:
    from toolkit.sandbox.interface import SessionContext
    from toolkit.sandbox.pwsh.engine import Engine
    from toolkit.sandbox.tenant.cmdlet_support import RESULT_SIZE_WARNING, TenantServices
    from toolkit.sandbox.tenant.demo import large_seed
    from toolkit.sandbox.tenant.registration import tenant_registry
    from toolkit.sandbox.tenant.seed import load_seed
    from toolkit.sandbox.tenant.store import TenantStore

    store = TenantStore(load_seed(large_seed(mailboxes=1005, grants=0)))
    runspace = Engine(tenant_registry(TenantServices(store))).open_runspace(
        SessionContext("admin", "admin"))
    ok(run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false"))
    first = run_script(runspace, "Get-Mailbox | Measure-Object | ForEach-Object { $_.Count }")
    assert first.output == [1000] and first.warnings == [RESULT_SIZE_WARNING]
    every = run_script(runspace, "Get-Mailbox -ResultSize Unlimited | Measure-Object | "
                                 "ForEach-Object { $_.Count }")
    assert every.output == [1005] and not every.warnings


def test_parallel_runspaces_share_one_consistent_tenant(engine: object) -> None:
    import threading

    from toolkit.sandbox.interface import SessionContext
    from toolkit.sandbox.pwsh.engine import Engine

    assert isinstance(engine, Engine)
    trustees = ["lee.gu@contoso.com", "megan.bowen@contoso.com", "joni.sherman@contoso.com"]
    failures: list[str] = []

    def worker(trustee: str) -> None:
        runspace = engine.open_runspace(SessionContext("admin", "admin"))
        run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false")
        for mailbox in ("sales", "support", "info", "finance"):
            result = run_script(runspace, "param($m, $u) Add-MailboxPermission -Identity $m "
                                          "-User $u -AccessRights FullAccess; "
                                          "Remove-MailboxPermission -Identity $m -User $u "
                                          "-AccessRights FullAccess -Confirm:$false; "
                                          "Add-RecipientPermission -Identity $m -Trustee $u "
                                          "-AccessRights SendAs -Confirm:$false",
                                {"m": mailbox, "u": trustee})
            failures.extend(e.message for e in result.errors)
        run_script(runspace, "Disconnect-ExchangeOnline -Confirm:$false")

    threads = [threading.Thread(target=worker, args=(t,)) for t in trustees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    ok(run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false"))
    granted = ok(run_script(runspace, "Get-RecipientPermission -ResultSize Unlimited | "
                                      "Where-Object { $_.Trustee -eq 'lee.gu@contoso.com' } | "
                                      "ForEach-Object { $_.Identity }"))
    assert sorted(granted) == ["Finance", "Info", "Sales", "Support"]


def test_a_mail_enabled_security_group_is_a_trustee(admin: PwshRunspace) -> None:
    (group,) = ok(run_script(admin, "Get-Recipient -Identity sales.team@contoso.com"))
    assert group["RecipientTypeDetails"] == "MailUniversalSecurityGroup"
    ok(run_script(admin, "Add-MailboxPermission -Identity info -User 'Sales Team' "
                         "-AccessRights FullAccess; "
                         "Add-RecipientPermission -Identity info -Trustee sales.team@contoso.com "
                         "-AccessRights SendAs -Confirm:$false; "
                         "Set-Mailbox -Identity info -GrantSendOnBehalfTo @{Add='sales.team'}"))
    assert "sales.team@contoso.com" in ok(run_script(
        admin, "Get-MailboxPermission -Identity info | ForEach-Object { $_.User }"))
    assert ok(run_script(admin, "Get-RecipientPermission -Identity info -Trustee "
                                "sales.team@contoso.com | ForEach-Object { $_.Trustee }")
              ) == ["sales.team@contoso.com"]
    (box,) = ok(run_script(admin, "Get-Mailbox -Identity info"))
    assert "sales.team" in box["GrantSendOnBehalfTo"]
    user = run_script(admin, "Get-User -Identity sales.team@contoso.com")
    assert user.errors  # a group is a recipient, not a user


def test_get_recipient_filters_by_group_membership(admin: PwshRunspace) -> None:
    """``MemberOfGroup`` and ``Members`` take a distinguished name, as Microsoft documents
    (tests/fidelity/records/behaviour-filter-memberofgroup.yaml); the value is a parameter,
    quoted inside the filter with single quotes doubled."""
    (group,) = ok(run_script(admin, "Get-Recipient -Identity sales.team@contoso.com"))
    members = ok(run_script(
        admin, "param($dn) Get-Recipient -Filter \"MemberOfGroup -eq '$dn'\" -ResultSize "
               "Unlimited | ForEach-Object { $_.PrimarySmtpAddress }",
        {"dn": group["DistinguishedName"]}))
    assert sorted(members) == ["adele.vance@contoso.com", "alex.wilber@contoso.com"]
    (adele,) = ok(run_script(admin, "Get-Recipient -Identity adele.vance@contoso.com"))
    groups = ok(run_script(
        admin, "param($dn) Get-Recipient -Filter \"Members -eq '$dn'\" | "
               "ForEach-Object { $_.PrimarySmtpAddress }", {"dn": adele["DistinguishedName"]}))
    assert groups == ["sales.team@contoso.com"]
    assert "MailUniversalSecurityGroup" in ok(run_script(
        admin, "Get-Recipient -ResultSize Unlimited | ForEach-Object { $_.RecipientTypeDetails }"))
    assert "DistinguishedName" in group.properties and "MemberOfGroup" not in group.properties
