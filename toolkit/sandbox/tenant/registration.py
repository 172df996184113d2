"""All emulated tenant cmdlets, registered in one call."""

from __future__ import annotations

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.tenant.cmdlet_support import TenantServices
from toolkit.sandbox.tenant.cmdlets_connect import register_connect
from toolkit.sandbox.tenant.cmdlets_exchange import register_exchange
from toolkit.sandbox.tenant.cmdlets_graph import register_graph


def tenant_registry(services: TenantServices) -> CmdletRegistry:
    registry = CmdletRegistry()
    register_connect(registry, services)
    register_exchange(registry, services)
    register_graph(registry, services)
    return registry
