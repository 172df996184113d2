"""Directory users (Entra ID) as Graph changes them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.mailboxes import make_alias
from toolkit.sandbox.tenant.model import PasswordProfile, Tenant, User

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore

BadRequest = Callable[[str], errors.TenantError]
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def password_is_complex(password: str) -> bool:
    """Entra ID's default policy: 8-256 characters, three of the four character classes."""
    if not 8 <= len(password) <= 256:
        return False
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return sum(classes) >= 3


COMPLEXITY_ERROR = (
    "The specified password does not comply with password complexity requirements. "
    "Please provide a different password."
)


def _check_upn(tenant: Tenant, upn: str, bad: BadRequest, *, ignore: str | None = None) -> str:
    if upn.count("@") != 1 or not upn.split("@")[0]:
        raise bad("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
    domain = tenant.domain(upn.split("@")[1])
    if domain is None or not domain.verified:
        raise bad(
            "The domain portion of the userPrincipalName property is invalid. You must use "
            "one of the verified domain names in your organization."
        )
    if any(u.upn.casefold() == upn.casefold() and u.id != ignore for u in tenant.users.values()):
        raise bad("Another object with the same value for property userPrincipalName "
                  "already exists.")
    return upn


def _check_usage_location(value: str | None, bad: BadRequest) -> str | None:
    if value is None or value == "":
        return None
    if not _COUNTRY.match(value):
        raise bad("Invalid value specified for property 'usageLocation' of resource 'User'.")
    return value.upper()


@dataclass
class NewUser:
    upn: str
    display_name: str
    password: str
    mail_nickname: str | None = None
    force_change: bool = True
    enabled: bool = True
    given_name: str = ""
    surname: str = ""
    usage_location: str | None = None
    job_title: str | None = None
    department: str | None = None


def create_user(
    store: TenantStore, tenant: Tenant, spec: NewUser,
    bad: BadRequest = errors.graph_bad_request,
) -> User:
    upn = _check_upn(tenant, spec.upn, bad)
    if not password_is_complex(spec.password):
        raise bad(COMPLEXITY_ERROR)
    user = User(
        id=store.new_guid(),
        upn=upn,
        display_name=spec.display_name,
        mail_nickname=spec.mail_nickname or make_alias(upn),
        given_name=spec.given_name,
        surname=spec.surname,
        enabled=spec.enabled,
        usage_location=_check_usage_location(spec.usage_location, bad),
        password_profile=PasswordProfile(spec.password, spec.force_change),
        job_title=spec.job_title,
        department=spec.department,
        created=store.now(),
    )
    tenant.add_user(user)
    return user


CLOUD_OWNED = frozenset({"UsageLocation"})  # writable in the cloud on a synced user
USER_FIELDS = {
    "DisplayName": "display_name",
    "GivenName": "given_name",
    "Surname": "surname",
    "JobTitle": "job_title",
    "Department": "department",
    "MailNickname": "mail_nickname",
    "AccountEnabled": "enabled",
}


def update_user(
    store: TenantStore, tenant: Tenant, user: User, changes: dict[str, Any],
    bad: BadRequest = errors.graph_bad_request,
) -> None:
    """Graph ``Update-MgUser`` properties (keys are the Graph parameter names).

    A user synced from on-premises AD takes only cloud-owned properties (the usage
    location); anything else fails as Graph fails it."""
    if user.synced and set(changes) - CLOUD_OWNED:
        raise errors.synced_object()
    updates: dict[str, Any] = {}
    for key, value in changes.items():
        if key in USER_FIELDS:
            updates[USER_FIELDS[key]] = bool(value) if key == "AccountEnabled" else value
        elif key == "UsageLocation":
            updates["usage_location"] = _check_usage_location(value, bad)
        elif key == "UserPrincipalName":
            updates["upn"] = _check_upn(tenant, str(value), bad, ignore=user.id)
        elif key == "PasswordProfile":
            updates["password_profile"] = _password_profile(value, user, bad)
        else:
            raise bad(f"The sandbox doesn't emulate the user property '{key}'.")
    for attribute, value in updates.items():
        setattr(user, attribute, value)
    if updates.keys() & {"display_name", "mail_nickname", "upn"}:
        tenant.directory_revision += 1


def _password_profile(value: Any, user: User, bad: BadRequest) -> PasswordProfile:
    """``@{Password=...; ForceChangePasswordNextSignIn=$true}`` (keys case-insensitive)."""
    items = {str(k).casefold(): v for k, v in dict(value).items()}
    password = items.get("password")
    if password is not None:
        password = password.reveal() if hasattr(password, "reveal") else str(password)
        if not password_is_complex(password):
            raise bad(COMPLEXITY_ERROR)
    force = items.get("forcechangepasswordnextsignin")
    return PasswordProfile(
        password if password is not None else user.password_profile.password,
        bool(force) if force is not None else user.password_profile.force_change_next_sign_in,
    )


def remove_user(tenant: Tenant, user: User) -> None:
    """Delete the user and its mailbox; grants it held become orphaned SIDs."""
    mailbox = tenant.mailbox_of(user.id)
    if mailbox is not None:
        tenant.remove_mailbox(mailbox)
    tenant.remove_user(user)


def invite_guest(store: TenantStore, tenant: Tenant, email: str, display_name: str | None,
                 bad: BadRequest = errors.graph_bad_request) -> User:
    """``New-MgInvitation``: a guest user ``name_domain#EXT#@tenant``."""
    if email.count("@") != 1:
        raise bad("The specified invitedUserEmailAddress is invalid.")
    upn = f"{email.replace('@', '_')}#EXT#@{tenant.name}"
    existing = next((u for u in tenant.users.values() if u.upn.casefold() == upn.casefold()),
                    None)
    if existing is not None:
        return existing
    user = User(
        id=store.new_guid(),
        upn=upn,
        display_name=display_name or email.split("@")[0],
        mail_nickname=make_alias(email.replace("@", "_")),
        user_type="Guest",
        created=store.now(),
    )
    tenant.add_user(user)
    return user
