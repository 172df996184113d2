"""What profile test says about a host's PowerShell and modules."""

from __future__ import annotations

from toolkit.core.host_check import check_host

FULL = {"PSVersion": "7.4.6", "PSEdition": "Core", "LanguageMode": "FullLanguage"}


def modules(**versions: str) -> list[dict[str, str]]:
    return [{"Name": name.replace("_", "."), "Version": v} for name, v in versions.items()]


def test_a_complete_host_passes_every_check() -> None:
    inventory = {**FULL, "Modules": modules(
        ExchangeOnlineManagement="3.1.0", Microsoft_Graph_Authentication="2.25.0",
        Microsoft_Graph_Users="2.25.0", Microsoft_Graph_Users_Actions="2.0.0",
        Microsoft_Graph_Identity_DirectoryManagement="2.25.0")}
    checks = check_host(inventory, ["exchange", "graph"])
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_each_problem_comes_with_its_fix() -> None:
    inventory = {"PSVersion": "5.1.17763.1", "PSEdition": "Desktop",
                 "LanguageMode": "ConstrainedLanguage",
                 "Modules": modules(ExchangeOnlineManagement="3.0.0",
                                    Microsoft_Graph_Authentication="2.35.1")}
    found = {c.check: c for c in check_host(inventory, ["exchange", "graph"])}
    assert found["powershell"].ok  # 5.1 is enough
    assert not found["language mode"].ok and "FullLanguage" in str(found["language mode"].fix)
    assert found["ExchangeOnlineManagement"].fix == "Update-Module -Name ExchangeOnlineManagement"
    assert "ignores -AccessToken" in found["Microsoft.Graph.Authentication"].detail
    assert found["Microsoft.Graph.Users"].fix == (
        "Install-Module -Name Microsoft.Graph.Users -MinimumVersion 2.0.0 -Scope AllUsers -Force")


def test_the_newest_installed_version_counts_and_only_needed_services_are_checked() -> None:
    inventory = {**FULL, "Modules": modules(ExchangeOnlineManagement="2.0.5")
                 + modules(ExchangeOnlineManagement="3.5.0")}
    names = {c.check: c.ok for c in check_host(inventory, ["exchange"])}
    assert names == {"powershell": True, "language mode": True,
                     "ExchangeOnlineManagement": True}
