"""Fixtures for the emulated tenant: the demo world on a clock the test moves by hand."""

from __future__ import annotations

import pytest
from tenant_helpers import FakeClock, Warnings

from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.tenant.cmdlet_support import TenantServices
from toolkit.sandbox.tenant.demo import CONTOSO, demo_world
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.registration import tenant_registry
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


@pytest.fixture
def services(store: TenantStore) -> TenantServices:
    return TenantServices(store)


@pytest.fixture
def engine(services: TenantServices) -> Engine:
    return Engine(tenant_registry(services))


@pytest.fixture
def admin(engine: Engine) -> PwshRunspace:
    """A runspace of the demo's admin account, connected to both services."""
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    result = run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false; "
                                  "Connect-MgGraph -NoWelcome")
    assert not result.errors and result.failed is None
    return runspace


@pytest.fixture
def helpdesk(engine: Engine) -> PwshRunspace:
    runspace = engine.open_runspace(SessionContext("helpdesk", "helpdesk"))
    result = run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false; "
                                  "Connect-MgGraph -NoWelcome")
    assert not result.errors and result.failed is None
    return runspace
