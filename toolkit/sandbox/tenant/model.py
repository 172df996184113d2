"""The emulated Microsoft 365 tenants: plain dataclasses, no behaviour beyond lookups.

Identifiers are GUID strings (lower case) so the whole model serializes to JSON as is
(see :mod:`toolkit.sandbox.tenant.codec`). Times are POSIX seconds from the store's clock.
Secrets (passwords, client secrets) are kept out of ``repr`` so they never reach a log.

One directory object per person: a :class:`User` (Entra ID / Graph view). An
Exchange :class:`Mailbox` always belongs to a user (a shared mailbox has a disabled user
behind it, as in Exchange Online), so trustees and recipients resolve through one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SELF_PRINCIPAL = "NT AUTHORITY\\SELF"
MAX_MAILBOX_ACES = 500
CUSTOM_ATTRIBUTE_COUNT = 15


@dataclass
class Domain:
    name: str
    verified: bool = True
    initial: bool = False
    default: bool = False


@dataclass
class ServicePlan:
    name: str
    plan_id: str
    exchange: bool = False  # provisions an Exchange Online mailbox


@dataclass
class Sku:
    part_number: str
    sku_id: str
    enabled: int
    service_plans: list[ServicePlan] = field(default_factory=list)
    suspended: int = 0
    warning: int = 0

    @property
    def includes_exchange(self) -> bool:
        return any(plan.exchange for plan in self.service_plans)


@dataclass
class PasswordProfile:
    password: str = field(default="", repr=False)
    force_change_next_sign_in: bool = True


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    mail_nickname: str
    given_name: str = ""
    surname: str = ""
    enabled: bool = True
    usage_location: str | None = None
    password_profile: PasswordProfile = field(default_factory=PasswordProfile)
    licenses: list[str] = field(default_factory=list)  # sku ids
    job_title: str | None = None
    department: str | None = None
    user_type: str = "Member"
    created: float = 0.0
    # OnPremisesSyncEnabled: mastered in on-premises AD (directory sync); the cloud refuses
    # changes to what AD owns (enabled, password, names, addresses).
    synced: bool = False
    # When an Exchange-including licence was assigned and the mailbox is on its way.
    mailbox_due: float | None = None


@dataclass
class Group:
    """A mail-enabled security group (``MailUniversalSecurityGroup``): the usual trustee
    for a team's FullAccess or SendAs."""

    id: str
    email: str
    display_name: str
    alias: str
    members: list[str] = field(default_factory=list)  # user ids

    @property
    def upn(self) -> str:
        """How an ACL names the group (its primary SMTP address)."""
        return self.email


@dataclass
class MailboxAce:
    """One entry of a mailbox's ACL as Get-MailboxPermission shows it.

    ``trustee_id`` names a directory user; when it is None, ``principal`` holds the raw
    principal (``NT AUTHORITY\\SELF``, a system account or an orphaned SID).
    """

    rights: list[str]
    trustee_id: str | None = None
    principal: str = ""
    deny: bool = False
    inherited: bool = False
    inheritance_type: str = "All"
    automapping: bool = True


@dataclass
class RecipientAce:
    """A SendAs entry (Get-RecipientPermission)."""

    rights: list[str]
    trustee_id: str | None = None
    principal: str = ""
    access_control_type: str = "Allow"
    inherited: bool = False
    inheritance_type: str = "None"


@dataclass
class Mailbox:
    guid: str
    user_id: str
    recipient_type_details: str  # "UserMailbox" | "SharedMailbox"
    name: str
    alias: str
    display_name: str
    primary_smtp: str
    email_addresses: list[str]  # "SMTP:primary", "smtp:secondary"
    exchange_guid: str
    pop_enabled: bool = True
    imap_enabled: bool = True
    mapi_enabled: bool = True
    owa_enabled: bool = True
    activesync_enabled: bool = True
    ews_enabled: bool = True
    custom_attributes: list[str] = field(default_factory=lambda: [""] * CUSTOM_ATTRIBUTE_COUNT)
    hidden_from_address_lists: bool = False
    grant_send_on_behalf_to: list[str] = field(default_factory=list)  # user ids
    aces: list[MailboxAce] = field(default_factory=list)
    recipient_aces: list[RecipientAce] = field(default_factory=list)
    created: float = 0.0
    # items already imported per IMAP source account ("host|user"), for re-runs
    imported_items: dict[str, int] = field(default_factory=dict)


@dataclass
class ImapAccount:
    """A mailbox on an IMAP source: ``items`` messages, ``large_items`` of them over 35 MB
    (Exchange Online skips those)."""

    user: str
    password: str = field(repr=False)
    items: int = 0
    large_items: int = 0
    folder_root: str = "[Gmail]"  # Gmail's system folders; "[Google Mail]" on older accounts
    archived: int = 0  # Gmail: messages with no label left (only in All Mail)


@dataclass
class ImapSource:
    host: str
    port: int = 993
    security: str = "Ssl"
    accounts: list[ImapAccount] = field(default_factory=list)

    def account(self, user: str) -> ImapAccount | None:
        folded = user.casefold()
        return next((a for a in self.accounts if a.user.casefold() == folded), None)


@dataclass
class MigrationEndpoint:
    name: str
    guid: str
    remote_server: str
    port: int
    security: str
    authentication: str = "Basic"
    max_concurrent_migrations: int = 20
    max_concurrent_incremental_syncs: int = 10
    endpoint_type: str = "IMAP"
    created: float = 0.0


@dataclass
class MigrationUser:
    """One CSV row of an IMAP batch moving through the migration states."""

    guid: str
    email: str
    batch: str
    username: str
    password: str = field(repr=False)
    user_root: str = ""
    status: str = "Queued"
    phase_elapsed: float = 0.0  # service seconds spent in the current status
    items_total: int = 0
    items_synced: int = 0
    items_skipped: int = 0
    distinct_items: int = 0  # distinct messages among items_total (folders repeat mail)
    error: str = ""
    mailbox_guid: str | None = None
    last_successful_sync: float | None = None
    next_incremental: float | None = None  # service seconds until the next daily re-sync


@dataclass
class MigrationBatch:
    name: str
    guid: str
    endpoint: str
    state: str = "Created"  # Created, Started, Stopped, Removing; user states give the rest
    created: float = 0.0
    started: float | None = None
    exclude_folders: list[str] = field(default_factory=list)
    notification_emails: list[str] = field(default_factory=list)
    removing_elapsed: float = 0.0
    user_guids: list[str] = field(default_factory=list)


@dataclass
class Partner:
    """A partner's (CSP/MSP) delegated admin relationship (GDAP) with a customer tenant.

    ``account`` is the partner's sandbox account, ``role`` what the relationship lets it
    do there (``admin`` or ``helpdesk``); until the customer has ``accepted`` the request,
    it grants nothing.
    """

    account: str
    role: str = "admin"
    accepted: bool = True


@dataclass
class Tenant:
    id: str
    name: str  # the initial domain, e.g. contoso.onmicrosoft.com
    display_name: str
    domains: list[Domain] = field(default_factory=list)
    skus: list[Sku] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)  # by id
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)  # by mailbox guid
    mailbox_by_user: dict[str, str] = field(default_factory=dict)  # user id -> mailbox guid
    imap_sources: list[ImapSource] = field(default_factory=list)
    endpoints: dict[str, MigrationEndpoint] = field(default_factory=dict)  # by name
    batches: dict[str, MigrationBatch] = field(default_factory=dict)  # by name
    migration_users: dict[str, MigrationUser] = field(default_factory=dict)  # by guid
    # Partners' delegated admin relationships with this tenant, accepted or pending.
    partners: list[Partner] = field(default_factory=list)
    # Bumped whenever a name, address or UPN changes: identity lookup tables follow it.
    directory_revision: int = 0

    @property
    def short_name(self) -> str:
        """``contoso`` for ``contoso.onmicrosoft.com`` (Graph's subscribedSku accountName)."""
        return self.name.split(".", 1)[0]

    def active_partners(self) -> list[str]:
        """Accounts whose relationship the customer has accepted."""
        return [p.account for p in self.partners if p.accepted]

    def domain(self, name: str) -> Domain | None:
        folded = name.casefold()
        return next((d for d in self.domains if d.name.casefold() == folded), None)

    def sku_by_id(self, sku_id: str) -> Sku | None:
        folded = sku_id.casefold()
        return next((s for s in self.skus if s.sku_id.casefold() == folded), None)

    def sku_by_part_number(self, part_number: str) -> Sku | None:
        folded = part_number.casefold()
        return next((s for s in self.skus if s.part_number.casefold() == folded), None)

    def consumed_units(self, sku: Sku) -> int:
        return sum(1 for user in self.users.values() if sku.sku_id in user.licenses)

    def mailbox_of(self, user_id: str) -> Mailbox | None:
        guid = self.mailbox_by_user.get(user_id)
        return self.mailboxes.get(guid) if guid is not None else None

    def add_mailbox(self, mailbox: Mailbox) -> None:
        self.mailboxes[mailbox.guid] = mailbox
        self.mailbox_by_user[mailbox.user_id] = mailbox.guid
        self.directory_revision += 1

    def remove_mailbox(self, mailbox: Mailbox) -> None:
        del self.mailboxes[mailbox.guid]
        self.mailbox_by_user.pop(mailbox.user_id, None)
        self.directory_revision += 1

    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        self.directory_revision += 1

    def remove_user(self, user: User) -> None:
        del self.users[user.id]
        self.directory_revision += 1


@dataclass
class Account:
    """A sandbox sign-in (the partner's or admin's own credentials).

    ``tenants`` lists the tenant names the account may manage; the first is its home
    tenant. Empty means every tenant of the sandbox.
    """

    username: str
    password: str = field(repr=False)
    role: str = "admin"  # "admin" | "helpdesk"
    tenants: list[str] = field(default_factory=list)


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_pem: str | None = None
    tenants: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    display_name: str = "psbridge automation"


@dataclass
class World:
    """Everything the sandbox serves: tenants, sign-in accounts, app registrations."""

    tenants: dict[str, Tenant] = field(default_factory=dict)  # by tenant name
    accounts: list[Account] = field(default_factory=list)
    apps: list[AppRegistration] = field(default_factory=list)
    last_tick: float | None = None  # clock time the timed processes were advanced to
