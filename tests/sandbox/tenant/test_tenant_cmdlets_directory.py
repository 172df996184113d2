"""Graph cmdlets through the engine: users, licences, SKUs, domains."""

from __future__ import annotations

from tenant_helpers import FakeClock, ok

from toolkit.sandbox.pwsh.engine import run_script
from toolkit.sandbox.pwsh.runspace import PwshRunspace

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"


def test_get_mguser_properties_and_filters(admin: PwshRunspace) -> None:
    (plain,) = ok(run_script(admin, "Get-MgUser -UserId megan.bowen@contoso.com"))
    assert plain.type_names[0] == "Deserialized.Microsoft.Graph.PowerShell.Models.MicrosoftGraphUser"
    assert plain["AccountEnabled"] is None  # not selected, as Graph does
    (chosen,) = ok(run_script(admin, "Get-MgUser -UserId megan.bowen@contoso.com "
                                     "-Property 'AccountEnabled','UsageLocation','AssignedLicenses'"))
    assert chosen["AccountEnabled"] is True and chosen["UsageLocation"] == "US"
    disabled = ok(run_script(admin, "Get-MgUser -Filter 'accountEnabled eq false' -All | "
                                    "ForEach-Object { $_.UserPrincipalName }"))
    assert "nora.ahmed@contoso.com" in disabled and "megan.bowen@contoso.com" not in disabled
    by_upn = ok(run_script(admin, "Get-MgUser -Filter \"userPrincipalName eq "
                                  "'lee.gu@contoso.com'\""))
    assert [u["DisplayName"] for u in by_upn] == ["Lee Gu"]
    refused = run_script(admin, "Get-MgUser -Filter 'accountEnabled ne true'")
    assert "Unsupported or invalid query filter clause" in refused.errors[0].message
    advanced = ok(run_script(admin, "Get-MgUser -Filter 'accountEnabled ne true' "
                                    "-ConsistencyLevel eventual -CountVariable n -All"))
    assert len(advanced) == len(disabled)
    unlicensed = ok(run_script(admin, "Get-MgUser -Filter 'assignedLicenses/$count eq 0' "
                                      "-ConsistencyLevel eventual -CountVariable n -All | "
                                      "ForEach-Object { $_.UserPrincipalName }"))
    assert "nora.ahmed@contoso.com" in unlicensed and "lee.gu@contoso.com" not in unlicensed
    e5 = ok(run_script(admin, "Get-MgUser -Filter 'assignedLicenses/any(x:x/skuId eq "
                              "c7df2760-2c81-4ef7-b578-5b5392b571df)' -All | "
                              "ForEach-Object { $_.UserPrincipalName }"))
    assert e5 == ["megan.bowen@contoso.com"]
    counting = run_script(admin, "Get-MgUser -Filter 'assignedLicenses/$count eq 0'")
    assert "ConsistencyLevel" in counting.errors[0].message
    missing = run_script(admin, "Get-MgUser -UserId 'Lee Gu'")
    assert missing.errors[0].fully_qualified_error_id.startswith("Request_ResourceNotFound,")


def test_activation_and_licensing(admin: PwshRunspace, clock: FakeClock) -> None:
    no_location = run_script(admin, "Set-MgUserLicense -UserId priya.raman@contoso.com "
                                    f"-AddLicenses @(@{{SkuId='{E3}'}}) -RemoveLicenses @()")
    first_line, *status_lines = no_location.errors[0].message.splitlines()
    assert first_line == "License assignment cannot be done for user with invalid usage location."
    assert status_lines[1:3] == ["Status: 400 (BadRequest)", "ErrorCode: Request_BadRequest"]
    no_seats = run_script(admin, "Set-MgUserLicense -UserId megan.bowen@contoso.com "
                                 f"-AddLicenses @(@{{SkuId='{EMS}'}}) -RemoveLicenses @()")
    assert no_seats.errors[0].message.startswith(
        f"Subscription with SKU {EMS} does not have any available licenses.\n")
    ok(run_script(admin, "Update-MgUser -UserId priya.raman@contoso.com -AccountEnabled "
                         "-UsageLocation GB -PasswordProfile @{Password='Temp-Pass-77'; "
                         "ForceChangePasswordNextSignIn=$true}"))
    ok(run_script(admin, "Set-MgUserLicense -UserId priya.raman@contoso.com "
                         f"-AddLicenses @(@{{SkuId='{E3}'}}) -RemoveLicenses @()"))
    before = run_script(admin, "Get-Mailbox priya.raman@contoso.com")
    assert "couldn't be found" in before.errors[0].message  # provisioning takes a while
    clock.advance(61)
    assert ok(run_script(admin, "(Get-Mailbox priya.raman@contoso.com).RecipientTypeDetails")
              ) == ["UserMailbox"]
    details = ok(run_script(admin, "Get-MgUserLicenseDetail -UserId priya.raman@contoso.com"))
    assert [d["SkuPartNumber"] for d in details] == ["ENTERPRISEPACK"]
    seats = ok(run_script(admin, "Get-MgSubscribedSku | Where-Object { $_.SkuPartNumber -eq "
                                 "'ENTERPRISEPACK' } | ForEach-Object { "
                                 "$_.PrepaidUnits.Enabled - $_.ConsumedUnits }"))
    assert seats == [40 - 24]  # 23 seeded + Priya


def test_new_user_invitation_and_removal(admin: PwshRunspace) -> None:
    (user,) = ok(run_script(admin, "New-MgUser -DisplayName 'Kim Akers' -MailNickname kim "
                                   "-UserPrincipalName kim@contoso.com -AccountEnabled "
                                   "-PasswordProfile @{Password='Welcome-2025!'}"))
    assert user["UserPrincipalName"] == "kim@contoso.com"
    unverified = run_script(admin, "New-MgUser -DisplayName K -MailNickname k "
                                   "-UserPrincipalName k@contoso.net -AccountEnabled "
                                   "-PasswordProfile @{Password='Welcome-2025!'}")
    assert "verified domain names" in unverified.errors[0].message
    (invite,) = ok(run_script(admin, "New-MgInvitation -InvitedUserEmailAddress a@partner.example "
                                     "-InviteRedirectUrl https://myapps.microsoft.com"))
    assert invite["Status"] == "PendingAcceptance"
    ok(run_script(admin, "Remove-MgUser -UserId kim@contoso.com -Confirm:$false"))
    assert run_script(admin, "Get-MgUser -UserId kim@contoso.com").errors


def test_helpdesk_resets_passwords_only(helpdesk: PwshRunspace) -> None:
    ok(run_script(helpdesk, "Update-MgUser -UserId lee.gu@contoso.com -PasswordProfile "
                            "@{Password='Reset-Pass-42'; ForceChangePasswordNextSignIn=$true}"))
    denied = run_script(helpdesk, "Update-MgUser -UserId lee.gu@contoso.com -JobTitle Boss")
    assert denied.errors[0].message.startswith(
        "Insufficient privileges to complete the operation.\n\nStatus: 403 (Forbidden)")
    hidden = run_script(helpdesk, "Set-MgUserLicense -UserId lee.gu@contoso.com "
                                  "-AddLicenses @() -RemoveLicenses @()")
    assert "CommandNotFoundException" in (hidden.failed or hidden.errors[0]
                                          ).fully_qualified_error_id


