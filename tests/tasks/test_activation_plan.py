"""The activation and licence planners: pure functions of the CSV rows and the tenant."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from toolkit.tasks.users.activation_plan import (
    ActivationRow,
    Defaults,
    DirectoryUser,
    TenantView,
    generate_password,
    plan_activation,
)
from toolkit.tasks.users.countries import usage_location
from toolkit.tasks.users.licences import LicenseRow, plan_changes
from toolkit.tasks.users.skus import Sku, friendly_name

E3 = Sku("e3", "ENTERPRISEPACK", enabled=10, consumed=8)
EMS = Sku("ems", "EMS", enabled=5, consumed=5)
E5 = Sku("e5", "ENTERPRISEPREMIUM", enabled=2, consumed=1)


def view(*users: DirectoryUser) -> TenantView:
    return TenantView((E3, EMS, E5), frozenset({"contoso.com", "contoso.onmicrosoft.com"}),
                      "contoso.onmicrosoft.com", {u.upn.casefold(): u for u in users})


def disabled(upn: str, location: str | None = "US", *skus: str) -> DirectoryUser:
    return DirectoryUser(upn, False, location, frozenset(skus))


def fixed_password() -> str:
    return "Temp-Passw0rd!"


def test_seats_go_in_csv_order_and_a_row_gets_all_of_its_licences_or_none() -> None:
    rows = [ActivationRow(2, "a@contoso.com", licenses=("ENTERPRISEPACK",)),
            ActivationRow(3, "b@contoso.com", licenses=("ENTERPRISEPACK", "ENTERPRISEPREMIUM")),
            ActivationRow(4, "c@contoso.com", licenses=("ENTERPRISEPACK", "ENTERPRISEPREMIUM")),
            ActivationRow(5, "d@contoso.com", licenses=("ENTERPRISEPACK",)),
            ActivationRow(6, "e@contoso.com", licenses=("EMS",))]
    plans = plan_activation(rows, view(), Defaults("US"), fixed_password)
    assert [bool(p.error) for p in plans] == [False, False, True, True, True]
    # Rows 2 and 3 took both free E3 seats and the one free E5 seat.
    assert "ENTERPRISEPREMIUM (Office 365 E5) has 1 free, all taken" in str(plans[2].error)
    assert "ENTERPRISEPACK (Office 365 E3) has 2 free, all taken" in str(plans[3].error)
    assert "EMS (Enterprise Mobility + Security E3) has none free" in str(plans[4].error)
    assert plans[2].password is None and plans[2].steps == []


def test_a_refused_row_does_not_consume_seats() -> None:
    rows = [ActivationRow(2, "a@contoso.com", licenses=("ENTERPRISEPACK", "EMS")),
            ActivationRow(3, "b@contoso.com", licenses=("ENTERPRISEPACK",)),
            ActivationRow(4, "c@contoso.com", licenses=("ENTERPRISEPACK",))]
    plans = plan_activation(rows, view(), Defaults("US"), fixed_password)
    assert [bool(p.error) for p in plans] == [True, False, False]


def test_link_existing_user_adds_only_missing_licences_location_first() -> None:
    user = disabled("nora@contoso.com", None, "e3")
    row = ActivationRow(2, "Nora@contoso.com", usage_location="GB",
                        licenses=("ENTERPRISEPACK", "ENTERPRISEPREMIUM"),
                        aliases=("n@contoso.com",))
    (plan,) = plan_activation([row], view(user), Defaults(), fixed_password)
    assert not plan.create and plan.target_upn == "nora@contoso.com"
    assert [s.part_number for s in plan.add] == ["ENTERPRISEPREMIUM"]
    assert plan.steps == ["link", "usage location GB", "add ENTERPRISEPREMIUM", "enable",
                          "temporary password (generated)",
                          "aliases after the mailbox: n@contoso.com"]
    data = plan.row_data()
    assert data["AddLicenses"] == [plan.add[0].sku_id]
    assert data["Password"] == "Temp-Passw0rd!"


def test_unverified_domain_falls_back_to_the_initial_domain_and_says_so() -> None:
    row = ActivationRow(2, "x@contoso.net", licenses=("ENTERPRISEPACK",))
    (plan,) = plan_activation([row], view(), Defaults("US"), fixed_password)
    assert plan.create and plan.target_upn == "x@contoso.onmicrosoft.com"
    assert "contoso.net is not a verified domain" in plan.notes[0]
    # Once created there, a second run links to it instead of creating it again.
    existing = DirectoryUser("x@contoso.onmicrosoft.com", True, "US", frozenset({"e3"}))
    (again,) = plan_activation([row], view(existing), Defaults("US"), fixed_password)
    assert not again.create and again.steps == ["link", "nothing to change"]
    assert again.password is None


def test_no_usage_location_means_no_licence() -> None:
    row = ActivationRow(2, "rosa@contoso.com", licenses=("ENTERPRISEPACK",))
    (plan,) = plan_activation([row], view(disabled("rosa@contoso.com", None)), Defaults(),
                              fixed_password)
    assert plan.error is not None and "usage location" in plan.error


def test_passwords_only_for_accounts_created_or_switched_on() -> None:
    enabled = DirectoryUser("on@contoso.com", True, "US", frozenset())
    rows = [ActivationRow(2, "on@contoso.com"),
            ActivationRow(3, "off@contoso.com", enabled=False),
            ActivationRow(4, "given@contoso.com", password="Given-Passw0rd")]
    plans = plan_activation(rows, view(enabled, disabled("off@contoso.com"),
                                       disabled("given@contoso.com")), Defaults(),
                            fixed_password)
    assert [p.password for p in plans] == [None, None, "Given-Passw0rd"]
    assert not plans[2].password_generated


def test_generated_passwords_are_strong_and_different() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 16
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(not c.isalnum() for c in password)


def test_generated_passwords_never_start_like_an_excel_formula() -> None:
    firsts = {generate_password()[0] for _ in range(3000)}
    assert not firsts & set("=+-@"), firsts
    assert len(firsts) > 40  # still drawn from letters and digits alike


def test_usage_locations_are_iso_codes() -> None:
    assert usage_location(" de ") == "DE"
    with pytest.raises(ValueError, match="did you mean GB"):
        usage_location("UK")
    with pytest.raises(ValueError, match="ISO 3166"):
        usage_location("USA")
    assert friendly_name("EMS") == "Enterprise Mobility + Security E3"
    assert friendly_name("CUSTOM_SKU") == "CUSTOM_SKU"


def test_licence_changes_check_seats_in_order() -> None:
    users = {u.upn: u for u in (DirectoryUser("a@c.com", True, "US", frozenset({"e3"})),
                                DirectoryUser("b@c.com", True, "US", frozenset({"e3", "e5"})),
                                DirectoryUser("c@c.com", True, None, frozenset({"e3"})),
                                DirectoryUser("d@c.com", True, "US", frozenset({"e3"})))}
    rows = [LicenseRow(i, upn) for i, upn in enumerate(
        ["a@c.com", "b@c.com", "c@c.com", "d@c.com", "x@c.com"], start=1)]
    plans = plan_changes(rows, users, "add", E5, (E3, EMS, E5))
    assert [p.step.split(":")[0] for p in plans] == [
        "add", "nothing to change", "no usage location", "no free seats",
        "no user x@c.com in the tenant"]
    removals = plan_changes(rows[:2], users, "remove", E5, (E3, EMS, E5))
    assert [p.remove for p in removals] == [(), ("e5",)]


def synced(upn: str, enabled: bool, *skus: str) -> DirectoryUser:
    return DirectoryUser(upn, enabled, "US", frozenset(skus), synced=True)


def test_synced_users_get_only_what_the_cloud_owns() -> None:
    rows = [ActivationRow(2, "off@contoso.com", licenses=("ENTERPRISEPACK",)),
            ActivationRow(3, "on@contoso.com", licenses=("ENTERPRISEPACK",)),
            ActivationRow(4, "alias@contoso.com", aliases=("a2@contoso.com",)),
            ActivationRow(5, "next@contoso.com", usage_location="US",
                          licenses=("ENTERPRISEPACK",))]
    plans = plan_activation(rows, view(synced("off@contoso.com", False),
                                       synced("on@contoso.com", True),
                                       synced("alias@contoso.com", True)),
                            Defaults(), fixed_password)
    assert plans[0].error == ("synced from on-premises AD: enable the account and set its "
                              "password there (Entra ID refuses it in the cloud)")
    assert plans[0].steps == [] and plans[0].password is None
    # Licences are cloud-owned: the enabled synced user gets one, no password, no enable.
    assert plans[1].steps == ["link", "add ENTERPRISEPACK"] and plans[1].password is None
    assert "add the aliases (proxyAddresses) there" in str(plans[2].error)
    # The refused row took no seat: the next row gets the second free E3 seat.
    assert not plans[3].error and [s.part_number for s in plans[3].add] == ["ENTERPRISEPACK"]


def test_upns_are_checked_as_microsoft_checks_them_and_passwords_kept_as_written(
        tmp_path: Path) -> None:
    """Entra's userPrincipalName policy (length, characters) before anything is sent, and a
    password cell is never trimmed."""
    from toolkit.io.csvfile import CsvInvalid
    from toolkit.tasks.users.activation import read_input

    bad = ["pw[/x]@contoso.com", "a$(whoami)@contoso.com", "x" * 1000 + "@contoso.com",
           "a.@contoso.com", "nul\x00@contoso.com"]
    source = tmp_path / "hires.csv"
    source.write_text("UserPrincipalName,Password\n" + "".join(f'"{u}",\n' for u in bad)
                      + '"new\nline@contoso.com",\n', encoding="utf-8")
    with pytest.raises(CsvInvalid) as info:
        read_input(source)
    assert [(p.line, p.column) for p in info.value.problems] == [
        (2, "UserPrincipalName"), (3, "UserPrincipalName"), (4, "UserPrincipalName"),
        (5, "UserPrincipalName"), (6, "UserPrincipalName"), (7, "UserPrincipalName")]
    source.write_text('UserPrincipalName,Password\nok@contoso.com,"  pw with spaces  "\n',
                      encoding="utf-8")
    (row,) = read_input(source).rows
    assert row.password == "  pw with spaces  "
