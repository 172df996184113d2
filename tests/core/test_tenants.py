"""Tenant names resolved through the identity platform's OpenID discovery, and the on-disk
cache real profiles keep of the answers (a tenant's id never changes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from identity_answers import OpenIdConfigurations

from toolkit.core.tenants import CACHE_FILE, TenantResolver, UnknownTenant
from toolkit.sandbox.tenant.demo import FABRIKAM_ID

AUTHORITY = "https://login.example"
NAMES = {"fabrikam.com": FABRIKAM_ID, "fabrikam.onmicrosoft.com": FABRIKAM_ID}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PSBRIDGE_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_answers_are_kept_on_disk_for_the_next_run(data_dir: Path) -> None:
    """A second run (a new resolver) names the tenant without asking again, whatever the
    case of the name; another authority (another cloud) is asked for itself."""
    first = OpenIdConfigurations(NAMES)
    resolved = TenantResolver(AUTHORITY, first).resolve("Fabrikam.com ")
    assert (resolved.name, resolved.id) == ("Fabrikam.com", FABRIKAM_ID)
    assert (data_dir / CACHE_FILE).exists()
    later = OpenIdConfigurations({})  # the identity platform is not asked at all
    assert TenantResolver(AUTHORITY, later).resolve("fabrikam.COM").id == FABRIKAM_ID
    assert later.asked == []
    other_cloud = OpenIdConfigurations(NAMES)
    TenantResolver("https://login.other.example", other_cloud).resolve("fabrikam.com")
    assert other_cloud.asked == ["fabrikam.com"]


def test_an_unknown_name_is_asked_again_and_a_damaged_cache_is_ignored(
        data_dir: Path) -> None:
    platform = OpenIdConfigurations(NAMES)
    resolver = TenantResolver(AUTHORITY, platform)
    for _ in range(2):
        with pytest.raises(UnknownTenant, match="AADSTS90002"):
            resolver.resolve("fabrikma.com")
    assert platform.asked == ["fabrikma.com", "fabrikma.com"]  # a typo is never kept
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / CACHE_FILE).write_text("{not json")
    assert TenantResolver(AUTHORITY, platform).resolve("fabrikam.com").id == FABRIKAM_ID
    assert TenantResolver(AUTHORITY, OpenIdConfigurations({})).resolve(
        "fabrikam.com").id == FABRIKAM_ID  # written again


def test_the_sandbox_resolver_keeps_nothing_on_disk(data_dir: Path) -> None:
    """The embedded sandbox's authority changes port on every run (persist=False)."""
    platform = OpenIdConfigurations(NAMES)
    resolver = TenantResolver(AUTHORITY, platform, persist=False)
    for _ in range(2):
        assert resolver.resolve("fabrikam.com").id == FABRIKAM_ID
    assert platform.asked == ["fabrikam.com"]  # kept in memory for the run
    assert not (data_dir / CACHE_FILE).exists()
