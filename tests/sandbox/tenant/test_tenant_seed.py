"""Seed files, the demo seed and the large-tenant generator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolkit.sandbox.tenant.demo import (
    CONTOSO,
    FABRIKAM,
    demo_seed,
    demo_world,
    large_seed,
)
from toolkit.sandbox.tenant.seed import SeedError, load_seed, load_seed_file

ISSUE_EXAMPLE: dict[str, Any] = {
    "accounts": [{"username": "agent1", "password": "pw", "role": "helpdesk"}],
    "tenants": [{
        "name": "contoso.onmicrosoft.com", "id": "0b6f7c3e-1f0a-4b5c-9d2e-3a4b5c6d7e8f",
        "note": "extra keys are fine",
        "domains": [{"name": "contoso.com", "verified": True}],
        "skus": [{"part_number": "ENTERPRISEPACK",
                  "sku_id": "6fd2c87f-b296-42f0-b197-1e91e994b900", "enabled": 50}],
        "users": [
            {"upn": "adele@contoso.com", "display_name": "Adele Vance", "enabled": True,
             "usage_location": "US", "licenses": ["ENTERPRISEPACK"], "mailbox": "user"},
            {"upn": "sales@contoso.com", "display_name": "Sales", "mailbox": "shared"},
        ],
        "permissions": [{"mailbox": "sales@contoso.com", "trustee": "adele@contoso.com",
                         "right": "FullAccess"}],
        "imap_sources": [{"host": "imap.gmail.com", "port": 993, "security": "ssl",
                          "accounts": [{"user": "adele@gmail.com", "password": "x",
                                        "items": 120}]}],
    }],
}


def test_issue_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(ISSUE_EXAMPLE))
    world = load_seed_file(path)
    tenant = world.tenants["contoso.onmicrosoft.com"]
    assert world.accounts[0].role == "helpdesk"
    assert len(tenant.mailboxes) == 2
    sales = next(m for m in tenant.mailboxes.values() if m.name == "Sales")
    assert sales.recipient_type_details == "SharedMailbox" and len(sales.aces) == 1
    assert tenant.imap_sources[0].security == "Ssl"
    assert tenant.skus[0].includes_exchange


@pytest.mark.parametrize(("path", "value", "message"), [
    (("tenants", 0, "users", 0, "upn"), None, r"tenants\[0\]\.users\[0\]\.upn: required"),
    (("tenants", 0, "users", 0, "licenses"), ["NOPE"], r"users\[0\]\.licenses: no SKU 'NOPE'"),
    (("tenants", 0, "permissions", 0, "right"), "Owner", r"permissions\[0\]\.right"),
    (("tenants", 0, "skus", 0, "enabled"), "many", r"skus\[0\]\.enabled: expected a number"),
    (("accounts", 0, "role"), "root", r"accounts\[0\]\.role"),
    (("tenants", 0, "name"), "contoso.com", r"tenants\[0\]\.name: the tenant name"),
])
def test_errors_name_the_key_path(path: tuple[Any, ...], value: Any, message: str) -> None:
    data = json.loads(json.dumps(ISSUE_EXAMPLE))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(SeedError, match=message):
        load_seed(data)


def test_demo_world_shape() -> None:
    world = demo_world()
    contoso, fabrikam = world.tenants[CONTOSO], world.tenants[FABRIKAM]
    seats = {s.part_number: s.enabled - contoso.consumed_units(s) for s in contoso.skus}
    assert seats["ENTERPRISEPACK"] > 10 and seats["EMS"] == 0
    assert sum(1 for u in contoso.users.values() if not u.enabled and not u.licenses) >= 6
    assert {"admin", "helpdesk"} <= set(fabrikam.active_partners())
    assert [a.role for a in world.accounts] == ["admin", "helpdesk"]
    assert set(world.apps[0].tenants) == {CONTOSO, FABRIKAM}
    assert json.loads(json.dumps(demo_seed())) == demo_seed()  # plain JSON, deterministic
    assert [m.guid for m in demo_world().tenants[CONTOSO].mailboxes.values()] == list(
        contoso.mailboxes)


def test_large_tenant_generator_builds_the_size_asked_for() -> None:
    world = load_seed(large_seed(mailboxes=2000, grants=8000))
    tenant = next(iter(world.tenants.values()))
    grants = sum(len(m.aces) + len(m.recipient_aces) for m in tenant.mailboxes.values())
    assert len(tenant.mailboxes) == 2000 and grants >= 8000
