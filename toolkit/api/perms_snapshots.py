"""What every reading of ``ws.perms`` shares: the tenant its snapshots are kept under, the
customer tenants a profile covers, and the stored snapshots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.core.errors import PsbridgeError

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot

# The snapshot, its grants and a difference between two of them: what the readings return.
__all__ = ["GRANT_COLUMNS", "Drift", "Grant", "Note", "PermissionSnapshots", "Snapshot",
           "TenantFailure"]

GRANT_COLUMNS = ("mailbox", "trustee", "right", "kind", "source")  # Grant.as_dict()
Note = Callable[[str], None]  # told what the caller should know (no tenants to cover, ...)


@dataclass
class TenantFailure:
    """A tenant of an ``all_tenants`` run that failed; the other tenants went on."""

    tenant: str  # "home" for the profile's own tenant
    error: PsbridgeError


class PermissionSnapshots:
    """The part of ``ws.perms`` that knows where snapshots are and which tenants to cover."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def snapshot_tenant(self) -> str:
        """The tenant snapshots are kept under, without connecting anywhere: the
        workspace's tenant, else the profile's Exchange organization, else (the embedded
        sandbox names it only once started) the tenant of the profile's latest snapshot."""
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        if self._ws.tenant:
            return self._ws.tenant
        profile = self._ws.profile
        exchange = profile.services.get("exchange")
        if exchange and exchange.organization:
            return exchange.organization
        if profile.is_sandbox:  # the shared sandbox's record names it (customer snapshots don't)
            from toolkit.core.sandbox_plugin import sandbox_plugin
            from toolkit.core.target import sandbox_dir

            running = sandbox_plugin().read_record(sandbox_dir())
            organization = running.profile_settings.get("exchange", {}).get("organization") \
                if running else None
            if organization:
                return str(organization)
        with SnapshotStore() as store:
            latest = store.recent(profile=profile.name, limit=1)
        return latest[0].tenant if latest else profile.name

    def customer_tenants(self, on_note: Note | None = None) -> list[str]:
        """The customer tenants an ``all_tenants`` run covers besides the home tenant; the
        embedded sandbox knows its own (its demo partner relationships) only once it runs.
        ``on_note`` hears when the profile lists none."""
        from toolkit.core.target import open_target

        profile = self._ws.profile
        tenants = list(profile.tenants)
        if profile.is_sandbox:
            with open_target(profile) as target:
                tenants = list(target.profile.tenants)
        if not tenants and on_note is not None:
            on_note(f"profile {profile.name} lists no customer tenants ('tenants' in its "
                    "settings): only its home tenant is covered")
        return tenants

    def snapshots(self) -> list[Snapshot]:
        """The permission snapshots of the tenant, newest first, unfinished ones too
        (without their rows)."""
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        with SnapshotStore() as store:
            return store.recent(self.snapshot_tenant(), incomplete=True)
