"""Planning a bulk activation: each CSV row against what the tenant holds, no I/O.

The order of the work on one user follows what Entra ID and Exchange Online require:
find the user by UPN (link) or create it (on the tenant's ``.onmicrosoft.com`` domain when
the UPN's domain is not verified); set the usage location before any licence; add only
the licences the user lacks; enable the account (with a temporary password that must be
changed at first sign-in); add aliases once the licence has produced a mailbox.

Seats are allocated in CSV order while planning, before anything is sent: a row that
would need a seat nobody has left fails as a whole ("no free seats"), so no user ends up
with half of its licences.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.tasks.users.skus import SeatLedger, Sku

PASSWORD_LENGTH = 16
_SYMBOLS = "!#$%&*+-=?@^_"


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A strong temporary password: every character class, drawn with ``secrets``.

    It starts with a letter or digit: Excel runs a cell starting with ``=``, ``+``, ``-`` or
    ``@`` as a formula, and people open credentials CSVs in Excel.
    """
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)
    everything = "".join(classes)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice(everything) for _ in range(length - len(classes))]
    secrets.SystemRandom().shuffle(chars)
    first = next(i for i, c in enumerate(chars) if c.isalnum())
    chars[0], chars[first] = chars[first], chars[0]
    return "".join(chars)


@dataclass(frozen=True)
class ActivationRow:
    """One CSV row, validated."""

    line: int
    upn: str
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    usage_location: str | None = None
    licenses: tuple[str, ...] = ()
    password: str | None = None
    aliases: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class DirectoryUser:
    """What the tenant holds about one user (lower-cased addresses, SKU GUIDs)."""

    upn: str
    enabled: bool
    usage_location: str | None
    sku_ids: frozenset[str]
    addresses: frozenset[str] = frozenset()
    synced: bool = False  # OnPremisesSyncEnabled: AD owns enabled, password and addresses


@dataclass(frozen=True)
class TenantView:
    skus: Sequence[Sku]
    verified_domains: frozenset[str]
    initial_domain: str
    users: Mapping[str, DirectoryUser]  # by case-folded UPN

    def user(self, upn: str) -> DirectoryUser | None:
        return self.users.get(upn.casefold())

    def sku(self, part_number: str) -> Sku | None:
        wanted = part_number.casefold()
        return next((s for s in self.skus if s.part_number.casefold() == wanted), None)


def fallback_upn(upn: str, verified_domains: frozenset[str], initial_domain: str) -> str | None:
    """The UPN on the initial domain when ``upn``'s domain is not verified, else None."""
    local, _, domain = upn.rpartition("@")
    if domain.casefold() in verified_domains:
        return None
    return f"{local}@{initial_domain}"


@dataclass(frozen=True)
class Defaults:
    """Command-line values for rows whose cells are empty."""

    usage_location: str | None = None
    licenses: tuple[str, ...] = ()


@dataclass
class RowPlan:
    """What will be done for one row; ``error`` set means nothing is done for it."""

    line: int
    upn: str  # as in the CSV
    target_upn: str  # the account acted on (differs after a domain fallback)
    create: bool = False
    already_active: bool = False  # the account exists and is enabled
    display_name: str = ""
    first_name: str | None = None
    last_name: str | None = None
    usage_location: str | None = None  # set before the licences; None: leave as is
    add: tuple[Sku, ...] = ()
    enable: bool = False
    password: str | None = field(default=None, repr=False)
    password_generated: bool = False
    aliases: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def steps(self) -> list[str]:
        """The plan in words, in the order it is applied."""
        if self.error:
            return []
        steps = ["create" if self.create else "link"]
        if self.usage_location:
            steps.append(f"usage location {self.usage_location}")
        if self.add:
            steps.append("add " + ", ".join(s.part_number for s in self.add))
        if self.enable:
            steps.append("enable")
        if self.password:
            steps.append("temporary password" + (" (generated)" if self.password_generated
                                                 else " (from the file)"))
        if self.aliases:
            steps.append(f"aliases after the mailbox: {', '.join(self.aliases)}")
        if len(steps) == 1 and not self.create:
            steps.append("nothing to change")
        return steps

    def row_data(self) -> dict[str, Any]:
        """The row as the activation template receives it (Password is a secret column)."""
        licenses = [s.sku_id for s in self.add]
        return {
            "UserPrincipalName": self.target_upn,
            "Create": self.create,
            "DisplayName": self.display_name,
            "GivenName": self.first_name or "",
            "Surname": self.last_name or "",
            "MailNickname": self.target_upn.split("@")[0],
            "UsageLocation": self.usage_location or "",
            "AddLicenses": licenses,
            "Enable": self.enable,
            "Password": self.password or "",
            "Aliases": list(self.aliases),
            "PlanError": self.error or "",
        }


def _missing_aliases(wanted: Iterable[str], user: DirectoryUser | None) -> tuple[str, ...]:
    have = user.addresses if user else frozenset()
    out: list[str] = []
    for alias in wanted:
        if alias.casefold() not in have and alias not in out:
            out.append(alias)
    return tuple(out)


SYNCED = "synced from on-premises AD: {what} there (Entra ID refuses it in the cloud)"


def _synced_refusal(row: ActivationRow, user: DirectoryUser) -> str | None:
    """Why a row cannot be done for a user directory sync owns, before any change; None
    when what it asks is cloud-owned (usage location, licences)."""
    if row.enabled and not user.enabled:
        return SYNCED.format(what="enable the account and set its password")
    if _missing_aliases(row.aliases, user):
        return SYNCED.format(what="add the aliases (proxyAddresses)")
    return None


def plan_row(row: ActivationRow, view: TenantView, defaults: Defaults, ledger: SeatLedger,
             new_password: Callable[[], str]) -> RowPlan:
    """Plan one row; seats it needs are taken from ``ledger`` (all or none)."""
    fallback = fallback_upn(row.upn, view.verified_domains, view.initial_domain)
    user = view.user(row.upn) or (view.user(fallback) if fallback else None)
    target = user.upn if user else (fallback or row.upn)
    plan = RowPlan(line=row.line, upn=row.upn, target_upn=target, create=user is None,
                   already_active=user is not None and user.enabled,
                   first_name=row.first_name, last_name=row.last_name)
    if user is None and fallback:
        plan.notes.append(f"{row.upn.rpartition('@')[2]} is not a verified domain of the "
                          f"tenant: created as {fallback}")
    elif user is not None and fallback:
        plan.notes.append(f"linked to {user.upn} (the domain of {row.upn} is not verified)")
    named = " ".join(p for p in (row.first_name, row.last_name) if p)
    plan.display_name = row.display_name or named or row.upn.split("@")[0]
    if user is not None and user.synced:
        refused = _synced_refusal(row, user)
        if refused:
            plan.error = refused
            return plan

    location = row.usage_location or defaults.usage_location
    current_location = user.usage_location if user else None
    if location and (current_location or "").upper() != location:
        plan.usage_location = location
    wanted = row.licenses or defaults.licenses
    skus = [view.sku(p) for p in wanted]
    plan.add = tuple(s for s in skus if s is not None
                     and (user is None or s.sku_id not in user.sku_ids))
    if plan.add and not (location or current_location):
        plan.error = ("no usage location: a licence cannot be assigned without one; give "
                      "the UsageLocation column or --usage-location")
        return plan
    refused = ledger.allocate(plan.add)
    if refused:
        plan.error = refused
        return plan

    plan.enable = row.enabled and (user is None or not user.enabled)
    if plan.create or plan.enable:
        # A password is set when an account is created or switched on, never on an
        # account already in use.
        plan.password = row.password or new_password()
        plan.password_generated = row.password is None
    plan.aliases = _missing_aliases(row.aliases, user)
    return plan


def plan_activation(rows: Iterable[ActivationRow], view: TenantView, defaults: Defaults,
                    new_password: Callable[[], str] = generate_password) -> list[RowPlan]:
    """Every row's plan, seats allocated in CSV order."""
    ledger = SeatLedger(view.skus)
    return [plan_row(row, view, defaults, ledger, new_password) for row in rows]
