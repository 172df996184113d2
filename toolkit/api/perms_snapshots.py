"""What every reading of ``ws.perms`` shares: the tenant its snapshots are kept under, the
customer tenants a profile covers, and the stored snapshots."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.core.errors import InputError, PsbridgeError
from toolkit.core.tenants import TenantRef, UnknownTenant

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot

# The snapshot, its grants and a difference between two of them: what the readings return.
__all__ = ["GRANT_COLUMNS", "SNAPSHOT_COLUMNS", "Drift", "Grant", "Note", "PermissionSnapshots",
           "Snapshot", "TenantFailure"]

GRANT_COLUMNS = ("mailbox", "trustee", "right", "kind", "source")  # Grant.as_dict()
SNAPSHOT_COLUMNS = ("snapshot", "tenant", "taken", "scope", "status", "mailboxes", "grants",
                    "orphans", "failed_mailboxes")  # of Snapshot.summary(), as listed
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

    def snapshot_tenant(self) -> TenantRef:
        """The tenant snapshots are kept under: the workspace's tenant (any of its names),
        else the profile's own, resolved to its id through the identity platform (cached;
        the embedded sandbox is started, no host is connected). Snapshots stored under a
        tenant's name before (schema 3 and older) are given its id first."""
        from toolkit.tasks.permissions.audit import tenant_key
        from toolkit.tasks.permissions.snapshots import SnapshotStore, tag_stored_tenants

        target = self._ws.target
        with SnapshotStore() as store:
            tag_stored_tenants(store, target.resolver)
        return tenant_key(target)

    def tenant_named(self, name: str) -> TenantRef:
        """A customer tenant of the profile's, resolved as ``--tenant`` is."""
        resolver = self._ws.target.resolver
        return resolver.resolve(name) if resolver is not None else TenantRef(name, name)

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

    def _require_trustee(self, trustee: str, among: Sequence[str | None] = (), *,
                         hint: str | None = None) -> None:
        """Refuse (exit 2) a trustee unknown to the tenant: this workspace's, or of the
        tenants ``among`` (None: the home tenant), the one its address's domain belongs to
        (a UPN's or primary address's domain is one of its own tenant's). An orphaned SID
        stands for itself. Checked before anything is read: a mistyped address would
        otherwise be reported, tenant after tenant, as holding nothing."""
        from toolkit.tasks.permissions.read import require_trustee

        if len(among) <= 1:
            require_trustee(self._ws.target, self._ws.catalog, trustee,
                            self.snapshot_tenant().name, hint=hint)
            return
        owner, ref = self._owning_tenant(trustee, among)
        with self._tenant(owner) as ws:
            require_trustee(ws.target, ws.catalog, trustee, ref.name, hint=hint)

    def _owning_tenant(self, trustee: str, tenants: Sequence[str | None]
                       ) -> tuple[str | None, TenantRef]:
        """Which of ``tenants`` the domain of ``trustee`` belongs to (as the identity
        platform's tenant discovery answers), and that tenant resolved; the home tenant
        (None) for a trustee without a domain (an orphaned SID, an alias)."""
        home = self.snapshot_tenant()
        domain = trustee.rpartition("@")[2]
        if not domain:
            return None, home
        resolver = self._ws.target.resolver
        owner = None
        if resolver is not None:
            with contextlib.suppress(UnknownTenant):
                owner = resolver.resolve(domain).id
        for tenant in tenants:
            ref = self.tenant_named(tenant) if tenant else home
            if ref.id == owner:
                return tenant, ref
        names = ", ".join(tenant or home.name for tenant in tenants)
        raise InputError(
            f"trustee {trustee}: {domain} is a domain of none of the tenants audited "
            f"({names})",
            hint="Nothing was read or saved. Give the trustee's address (UPN or primary "
                 "address) in one of these tenants.")

    def _tenant(self, tenant: str | None) -> Workspace:
        """A workspace for ``tenant`` with this one's profile, closed after its audit (of
        this workspace's class: the workspace module imports this one)."""
        return type(self._ws)(self._ws.profile_name, tenant, progress=self._ws.progress)

    def snapshots(self) -> list[Snapshot]:
        """The permission snapshots of the tenant, newest first, unfinished ones too
        (without their rows)."""
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        with SnapshotStore() as store:
            return store.recent(self.snapshot_tenant().id, incomplete=True)
