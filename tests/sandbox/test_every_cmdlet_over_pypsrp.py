"""Every emulated cmdlet, called through the real pypsrp client against a served sandbox.

One scripted session walks the demo tenant the way an administrator would: connect,
read, change, migrate, license, clean up. Each step must run without an error, and the
sandbox's command log must show that every cmdlet of the spec was called successfully:
a cmdlet added to the emulation without a step here makes this test fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit import spec
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox
from toolkit.sandbox.tenant.demo import demo_imap_csv

PASSWORD = "Every-Cmdlet-1!"

# (script, parameters[, the error it must give]) in order; values travel as parameters.
STEPS: list[tuple[str, dict[str, object]] | tuple[str, dict[str, object], str]] = [
    ("Connect-ExchangeOnline -ShowBanner:$false", {}),
    ("Connect-MgGraph -NoWelcome", {}),
    ("Get-MgContext", {}),
    ("Get-ConnectionInformation", {}),
    ("Get-OrganizationConfig", {}),
    ("Get-AcceptedDomain", {}),
    ("param($m) Get-Mailbox -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-EXOMailbox -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-Recipient -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-EXORecipient -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-User -Identity $m", {"m": "adele.vance@contoso.com"}),
    ("param($m) Get-CASMailbox -Identity $m", {"m": "adele.vance@contoso.com"}),
    ("param($m) Get-EXOCasMailbox -Identity $m", {"m": "adele.vance@contoso.com"}),
    ("param($m) Get-MailboxStatistics -Identity $m", {"m": "adele.vance@contoso.com"}),
    ("param($m) Get-EXOMailboxStatistics -Identity $m", {"m": "adele.vance@contoso.com"}),
    ("param($m) Get-MailboxPermission -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-EXOMailboxPermission -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-RecipientPermission -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m) Get-EXORecipientPermission -Identity $m", {"m": "sales@contoso.com"}),
    ("param($m, $u) Add-MailboxPermission -Identity $m -User $u -AccessRights FullAccess "
     "-AutoMapping:$false", {"m": "finance@contoso.com", "u": "megan.bowen@contoso.com"}),
    ("param($m, $u) Remove-MailboxPermission -Identity $m -User $u -AccessRights FullAccess "
     "-Confirm:$false", {"m": "finance@contoso.com", "u": "megan.bowen@contoso.com"}),
    ("param($m, $u) Add-RecipientPermission -Identity $m -Trustee $u -AccessRights SendAs "
     "-Confirm:$false", {"m": "finance@contoso.com", "u": "megan.bowen@contoso.com"}),
    ("param($m, $u) Remove-RecipientPermission -Identity $m -Trustee $u -AccessRights SendAs "
     "-Confirm:$false", {"m": "finance@contoso.com", "u": "megan.bowen@contoso.com"}),
    ("param($m, $u) Set-Mailbox -Identity $m -GrantSendOnBehalfTo @{Add = $u}",
     {"m": "finance@contoso.com", "u": "megan.bowen@contoso.com"}),
    ("param($m) Set-CASMailbox -Identity $m -PopEnabled $false -ImapEnabled $true",
     {"m": "adele.vance@contoso.com"}),
    # The spec (Microsoft's docs) marks -Password mandatory in the Shared set.
    ("param($n, $p) New-Mailbox -Shared -Name $n -DisplayName $n "
     "-Password (ConvertTo-SecureString -String $p -AsPlainText -Force)",
     {"n": "Projects", "p": "Unused-Pass-1!"}),
    ("param($h) Test-MigrationServerAvailability -IMAP -RemoteServer $h -Port 993 "
     "-Security Ssl", {"h": "imap.gmail.com"}),
    ("param($n, $h) New-MigrationEndpoint -IMAP -Name $n -RemoteServer $h -Port 993 "
     "-Security Ssl", {"n": "gmail", "h": "imap.gmail.com"}),
    ("Get-MigrationEndpoint", {}),
    ("param($n) Set-MigrationEndpoint -Identity $n -MaxConcurrentMigrations 10",
     {"n": "gmail"}),
    ("param($n, $csv) New-MigrationBatch -Name $n -SourceEndpoint gmail -CSVData $csv "
     "-ExcludeFolders @('[Gmail]/All Mail')", {"n": "wave1", "csv": demo_imap_csv()}),
    ("param($n) Start-MigrationBatch -Identity $n", {"n": "wave1"}),
    ("param($n) Set-MigrationBatch -Identity $n -NotificationEmails @('admin@contoso.com')",
     {"n": "wave1"}),
    ("param($n) Get-MigrationBatch -Identity $n", {"n": "wave1"}),
    ("Get-MigrationUser", {}),
    ("param($u) Get-MigrationUserStatistics -Identity $u", {"u": "adele.vance@contoso.com"}),
    ("param($n) Stop-MigrationBatch -Identity $n -Confirm:$false", {"n": "wave1"}),
    ("param($u) Remove-MigrationUser -Identity $u -Confirm:$false",
     {"u": "adele.vance@contoso.com"}),
    ("param($n) Complete-MigrationBatch -Identity $n -Confirm:$false", {"n": "wave1"},
     "IMAP migration batches have no completion step"),
    ("param($n) Remove-MigrationBatch -Identity $n -Confirm:$false", {"n": "wave1"}),
    # A batch being removed still holds its endpoint (removal takes a while): remove an
    # unused one.
    ("param($n, $h) New-MigrationEndpoint -IMAP -Name $n -RemoteServer $h -Port 993 "
     "-Security Ssl", {"n": "spare", "h": "imap.gmail.com"}),
    ("param($n) Remove-MigrationEndpoint -Identity $n -Confirm:$false", {"n": "spare"}),
    ("Get-MgDomain", {}),
    ("Get-MgSubscribedSku", {}),
    ("param($u) Get-MgUser -UserId $u", {"u": "adele.vance@contoso.com"}),
    ("param($u) Get-MgUserLicenseDetail -UserId $u", {"u": "adele.vance@contoso.com"}),
    ("param($u) Update-MgUser -UserId $u -UsageLocation US -AccountEnabled",
     {"u": "nora.ahmed@contoso.com"}),
    ("param($u, $sku) Set-MgUserLicense -UserId $u -AddLicenses @(@{SkuId = $sku}) "
     "-RemoveLicenses @()", {"u": "nora.ahmed@contoso.com",
                             "sku": "6fd2c87f-b296-42f0-b197-1e91e994b900"}),
    ("param($u, $p) New-MgUser -UserPrincipalName $u -DisplayName 'Temp' -MailNickname temp "
     "-AccountEnabled -PasswordProfile @{Password = $p; ForceChangePasswordNextSignIn = $true}",
     {"u": "temp.user@contoso.com", "p": "Temp-Pass-123!"}),
    ("param($u) Remove-MgUser -UserId $u -Confirm:$false", {"u": "temp.user@contoso.com"}),
    ("param($e) New-MgInvitation -InvitedUserEmailAddress $e "
     "-InviteRedirectUrl 'https://myapps.microsoft.com'", {"e": "guest@example.org"}),
    ("Disconnect-ExchangeOnline -Confirm:$false", {}),
]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    options = SandboxOptions(password=PASSWORD, seed="demo", mailbox_delay_s=0,
                             command_log=tmp_path / "commands.jsonl")
    with start_sandbox(options) as running:
        yield running


def test_every_emulated_cmdlet_works_through_pypsrp(sandbox: RunningSandbox) -> None:
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth="ntlm",
                  username=sandbox.username, password=PASSWORD, encryption="always")
    with RunspacePool(wsman) as pool:
        for script, parameters, *expected in STEPS:
            shell = PowerShell(pool)
            shell.add_script(script)
            if parameters:
                shell.add_parameters(parameters)
            shell.invoke()
            errors = [str(e) for e in shell.streams.error]
            if expected:
                assert len(errors) == 1 and expected[0] in errors[0], f"{script}: {errors}"
            else:
                assert not shell.had_errors and not errors, f"{script}: {errors}"
    log = sandbox.options.command_log
    assert log is not None
    called = {json.loads(line)["cmdlet"] for line in log.read_text().splitlines()}
    # MSOnline, retired by Microsoft in 2025, is in the spec but not emulated.
    emulated = {name for name, info in spec.cmdlets().items() if info["module"] != "MSOnline"}
    assert sorted(emulated - called) == []
