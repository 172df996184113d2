"""Fixtures for the emulated tenant: the demo world on a clock the test moves by hand."""

from __future__ import annotations

import pytest
from tenant_helpers import FakeClock, Warnings

from toolkit.sandbox.tenant.demo import CONTOSO, demo_world
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantSettings, TenantStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> TenantStore:
    return TenantStore(demo_world(), clock=clock, random_seed=7,
                       settings=TenantSettings(mailbox_delay_s=60, migration_speed=1.0))


@pytest.fixture
def contoso(store: TenantStore) -> Tenant:
    return store.world.tenants[CONTOSO]


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()
