"""The built-in demo seed (``--seed demo``) and a generator of large tenants for benchmarks.

Both are produced as seed data (the JSON format of :mod:`toolkit.sandbox.tenant.seed`)
and then loaded, so the demo doubles as an example seed: ``json.dumps(demo_seed())``.

The demo, deterministic:

- ``contoso.onmicrosoft.com`` with the verified custom domain ``contoso.com`` (default) and
  the unverified ``contoso.net``; SKUs ENTERPRISEPACK (free seats), ENTERPRISEPREMIUM
  (one seat left) and EMS (exhausted); 24 licensed users with mailboxes, two of them both
  named "John Smith" (ambiguous display name); six disabled, unlicensed new hires waiting
  for activation (some without usage location); shared mailboxes sales, support, info and
  finance with FullAccess/SendAs/SendOnBehalf grants plus audit noise (a Deny entry and
  orphaned SIDs, on top of SELF and the inherited system entries every mailbox has);
- IMAP sources: ``imap.gmail.com`` (993/SSL) with accounts ``first.last.contoso@gmail.com``
  (app password ``first-app-pw-2024``, e.g. ``adele-app-pw-2024``) for Adele, Alex (two
  items over 35 MB), Christie, Isaiah, Lynne, Miriam, Pradeep and the new hires Nora and
  Omar, and a legacy ``mail.contoso-legacy.com`` (143/TLS); :func:`demo_imap_csv` is a
  batch CSV in which Lynne's password is out of date (her user fails to authenticate);
- a customer tenant ``fabrikam.onmicrosoft.com`` whose partner relationship with the
  ``admin`` and ``helpdesk`` accounts is accepted, and ``tailspintoys.onmicrosoft.com``
  where it is still pending;
- accounts ``admin`` (role admin) and ``helpdesk`` (role helpdesk), and one app
  registration consented in contoso and fabrikam.
"""

from __future__ import annotations

import json
import random
from typing import Any

from toolkit.sandbox.tenant.model import World
from toolkit.sandbox.tenant.seed import load_seed

CONTOSO = "contoso.onmicrosoft.com"
FABRIKAM = "fabrikam.onmicrosoft.com"
TAILSPIN = "tailspintoys.onmicrosoft.com"
CONTOSO_ID = "4a6f3c2e-8d1b-4f7a-9c3e-2b5d8e1f0a61"
FABRIKAM_ID = "7b2e9d4c-1a3f-4e8b-8d6c-5f0a2c9e3b72"
TAILSPIN_ID = "9c1d7e3a-5b2f-4c8d-9e6a-3f1b8d2c4e83"

ADMIN_ACCOUNT = ("admin", "Sandbox-Admin-1!")
HELPDESK_ACCOUNT = ("helpdesk", "Sandbox-Helpdesk-1!")
DEMO_APP_ID = "3f9a2c7e-6b1d-4e8a-9f2c-7d5e1a3b9c04"
DEMO_APP_SECRET = "sandbox-app-secret-0001"

_CONTOSO_PEOPLE = [
    ("Adele", "Vance", "Retail Manager", "Retail"),
    ("Alex", "Wilber", "Marketing Assistant", "Marketing"),
    ("Allan", "Deyoung", "IT Admin", "IT"),
    ("Christie", "Cline", "Buyer", "Retail"),
    ("Debra", "Berger", "Administrative Assistant", "Executive Management"),
    ("Diego", "Siciliani", "HR Manager", "HR"),
    ("Emily", "Braun", "Budget Analyst", "Finance"),
    ("Enrico", "Cattaneo", "Attorney", "Legal"),
    ("Grady", "Archie", "Designer", "R&D"),
    ("Henrietta", "Mueller", "Developer", "R&D"),
    ("Irvin", "Sayers", "Director", "R&D"),
    ("Isaiah", "Langer", "Sales Rep", "Sales"),
    ("Johanna", "Lorenz", "Senior Engineer", "Engineering"),
    ("Joni", "Sherman", "Paralegal", "Legal"),
    ("Lee", "Gu", "Director", "Manufacturing"),
    ("Lidia", "Holloway", "Product Manager", "Engineering"),
    ("Lynne", "Robbins", "Planner", "Retail"),
    ("Megan", "Bowen", "Marketing Manager", "Marketing"),
    ("Miriam", "Graham", "Director", "Sales"),
    ("Nestor", "Wilke", "Director", "Operations"),
    ("Patti", "Fernandez", "President", "Executive Management"),
    ("Pradeep", "Gupta", "Accountant", "Finance"),
]
# Disabled, unlicensed accounts a directory sync just created (second field: usage location).
_NEW_HIRES = [
    ("Nora", "Ahmed", "US"),
    ("Omar", "Haddad", "US"),
    ("Priya", "Raman", None),
    ("Quinn", "Baker", "GB"),
    ("Rosa", "Delgado", None),
    ("Sven", "Larsen", "DE"),
]
_FABRIKAM_PEOPLE = [
    ("Ana", "Bowman"), ("Brian", "Johnson"), ("Carlos", "Slattery"), ("Dana", "Birkby"),
    ("Eric", "Gruber"), ("Fiona", "Walsh"), ("Gerhard", "Sauer"), ("Hannah", "Kim"),
    ("Ivan", "Petrov"), ("Jasmine", "Ortiz"),
]
# Orphaned SIDs left on ACLs by accounts deleted long ago.
_ORPHANS = [
    "S-1-5-21-3623811015-3361044348-30300820-1013",
    "S-1-5-21-3623811015-3361044348-30300820-1027",
    "S-1-5-21-1004336348-1177238915-682003330-2245",
]


def _upn(first: str, last: str, domain: str) -> str:
    return f"{first}.{last}@{domain}".lower()


def _gmail(first: str, last: str) -> str:
    return f"{first}.{last}.contoso@gmail.com".lower()


def _imap_password(first: str) -> str:
    return f"{first.lower()}-app-pw-2024"


def _contoso() -> dict[str, Any]:
    users: list[dict[str, Any]] = []
    for index, (first, last, title, department) in enumerate(_CONTOSO_PEOPLE):
        licenses = ["ENTERPRISEPREMIUM"] if first == "Megan" else ["ENTERPRISEPACK"]
        if index < 10:
            licenses.append("EMS")
        users.append({
            "upn": _upn(first, last, "contoso.com"), "display_name": f"{first} {last}",
            "given_name": first, "surname": last, "enabled": True, "usage_location": "US",
            "licenses": licenses, "mailbox": "user", "job_title": title,
            "department": department,
        })
    for upn in ("jsmith@contoso.com", "john.smith@contoso.com"):
        users.append({"upn": upn, "display_name": "John Smith", "given_name": "John",
                      "surname": "Smith", "usage_location": "US",
                      "licenses": ["ENTERPRISEPACK"], "mailbox": "user"})
    for first, last, country in _NEW_HIRES:
        users.append({"upn": _upn(first, last, "contoso.com"), "display_name": f"{first} {last}",
                      "given_name": first, "surname": last, "enabled": False,
                      "usage_location": country, "licenses": [], "mailbox": None})
    # Synced from on-premises AD by Entra Connect: one still switched off there, one in use
    # and waiting for a licence.
    for first, enabled in (("Sam", False), ("Kim", True)):
        users.append({"upn": _upn(first, "Onprem", "contoso.com"),
                      "display_name": f"{first} Onprem", "given_name": first,
                      "surname": "Onprem", "enabled": enabled, "usage_location": "US",
                      "licenses": [], "mailbox": None, "synced": True})
    for alias, name in (("sales", "Sales"), ("support", "Support"), ("info", "Info"),
                        ("finance", "Finance")):
        users.append({"upn": f"{alias}@contoso.com", "display_name": name, "mailbox": "shared",
                      "alias": alias})
    permissions = [
        {"mailbox": "sales@contoso.com", "trustee": "adele.vance@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "sales@contoso.com", "trustee": "alex.wilber@contoso.com",
         "right": "FullAccess", "automapping": False},
        {"mailbox": "sales@contoso.com", "trustee": "adele.vance@contoso.com", "right": "SendAs"},
        {"mailbox": "sales@contoso.com", "trustee": _ORPHANS[0], "right": "FullAccess"},
        {"mailbox": "support@contoso.com", "trustee": "diego.siciliani@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "support@contoso.com", "trustee": "grady.archie@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "support@contoso.com", "trustee": "grady.archie@contoso.com",
         "right": "SendOnBehalf"},
        {"mailbox": "info@contoso.com", "trustee": "patti.fernandez@contoso.com",
         "right": "SendAs"},
        {"mailbox": "info@contoso.com", "trustee": _ORPHANS[1], "right": "SendAs"},
        {"mailbox": "finance@contoso.com", "trustee": "emily.braun@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "finance@contoso.com", "trustee": "pradeep.gupta@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "finance@contoso.com", "trustee": "lynne.robbins@contoso.com",
         "right": "FullAccess", "deny": True},
        {"mailbox": "finance@contoso.com", "trustee": _ORPHANS[2], "right": "FullAccess"},
        {"mailbox": "megan.bowen@contoso.com", "trustee": "lidia.holloway@contoso.com",
         "right": "SendOnBehalf"},
        {"mailbox": "patti.fernandez@contoso.com", "trustee": "debra.berger@contoso.com",
         "right": "FullAccess"},
        {"mailbox": "patti.fernandez@contoso.com", "trustee": "debra.berger@contoso.com",
         "right": "SendOnBehalf"},
    ]
    gmail_users = [p for p in _CONTOSO_PEOPLE if p[0] in
                   ("Adele", "Alex", "Christie", "Isaiah", "Lynne", "Miriam", "Pradeep")]
    gmail_accounts = [
        {"user": _gmail(first, last), "password": _imap_password(first),
         "items": 40 + 37 * i, "large_items": 2 if first == "Alex" else 0}
        for i, (first, last, _, _) in enumerate(gmail_users)
    ]
    # New hires bring mail from the old provider; their targets are not licensed yet.
    gmail_accounts += [
        {"user": _gmail(first, last), "password": _imap_password(first), "items": 25}
        for first, last, _ in _NEW_HIRES[:2]
    ]
    return {
        "name": CONTOSO, "id": CONTOSO_ID, "display_name": "Contoso",
        "domains": [{"name": "contoso.com", "verified": True, "default": True},
                    {"name": "contoso.net", "verified": False}],
        "skus": [{"part_number": "ENTERPRISEPACK", "enabled": 40},
                 {"part_number": "ENTERPRISEPREMIUM", "enabled": 2},
                 {"part_number": "EMS", "enabled": 10}],
        "users": users,
        # A mail-enabled security group: the usual trustee for a team's access.
        "groups": [{"email": "sales.team@contoso.com", "display_name": "Sales Team",
                    "members": ["adele.vance@contoso.com", "alex.wilber@contoso.com"]}],
        "permissions": permissions,
        "imap_sources": [
            {"host": "imap.gmail.com", "port": 993, "security": "ssl",
             "accounts": gmail_accounts},
            {"host": "mail.contoso-legacy.com", "port": 143, "security": "tls",
             "accounts": [{"user": "jsmith", "password": "Legacy-Pass-1", "items": 800},
                          {"user": "john.smith", "password": "Legacy-Pass-2", "items": 15}]},
        ],
    }


def _fabrikam() -> dict[str, Any]:
    users: list[dict[str, Any]] = []
    for index, (first, last) in enumerate(_FABRIKAM_PEOPLE):
        licensed = index < 8
        users.append({
            "upn": _upn(first, last, "fabrikam.com"), "display_name": f"{first} {last}",
            "given_name": first, "surname": last, "enabled": licensed,
            "usage_location": "NL" if licensed else None,
            "licenses": ["O365_BUSINESS_PREMIUM"] + (["EMS"] if index < 5 else [])
            if licensed else [],
            "mailbox": "user" if licensed else None,
        })
    users.append({"upn": "office@fabrikam.com", "display_name": "Office", "mailbox": "shared",
                  "alias": "office"})
    return {
        "name": FABRIKAM, "id": FABRIKAM_ID, "display_name": "Fabrikam",
        "partners": ["admin", "helpdesk"],
        "domains": [{"name": "fabrikam.com", "verified": True, "default": True}],
        "skus": [{"part_number": "O365_BUSINESS_PREMIUM", "enabled": 15},
                 {"part_number": "EMS", "enabled": 5}],
        "users": users,
        "permissions": [
            {"mailbox": "office@fabrikam.com", "trustee": "ana.bowman@fabrikam.com",
             "right": "FullAccess"},
            {"mailbox": "office@fabrikam.com", "trustee": "brian.johnson@fabrikam.com",
             "right": "SendAs"},
        ],
    }


def _tailspin() -> dict[str, Any]:
    return {
        "name": TAILSPIN, "id": TAILSPIN_ID, "display_name": "Tailspin Toys",
        # The partner asked for a relationship; the customer has not accepted it yet.
        "partners": [{"account": "admin", "role": "admin", "accepted": False}],
        "skus": [{"part_number": "ENTERPRISEPACK", "enabled": 5}],
        "users": [{"upn": f"owner@{TAILSPIN}", "display_name": "Tailspin Owner",
                   "usage_location": "US", "licenses": ["ENTERPRISEPACK"], "mailbox": "user"}],
    }


def demo_seed() -> dict[str, Any]:
    return {
        "accounts": [
            {"username": ADMIN_ACCOUNT[0], "password": ADMIN_ACCOUNT[1], "role": "admin",
             "tenants": [CONTOSO, FABRIKAM, TAILSPIN]},
            {"username": HELPDESK_ACCOUNT[0], "password": HELPDESK_ACCOUNT[1],
             "role": "helpdesk", "tenants": [CONTOSO, FABRIKAM, TAILSPIN]},
        ],
        "apps": [{
            "client_id": DEMO_APP_ID, "client_secret": DEMO_APP_SECRET,
            "display_name": "psbridge automation", "tenants": [CONTOSO, FABRIKAM],
            "roles": ["Exchange.ManageAsApp", "User.ReadWrite.All", "Directory.ReadWrite.All",
                      "Organization.Read.All"],
        }],
        "tenants": [_contoso(), _fabrikam(), _tailspin()],
    }


def demo_world() -> World:
    return load_seed(demo_seed())


def demo_imap_csv() -> bytes:
    """An IMAP batch CSV for the demo's Gmail users; Lynne's password is out of date."""
    lines = ["EmailAddress,UserName,Password"]
    for first, last, _, _ in _CONTOSO_PEOPLE:
        if first in ("Adele", "Alex", "Lynne"):
            password = "lynne-old-password" if first == "Lynne" else _imap_password(first)
            lines.append(f"{_upn(first, last, 'contoso.com')},{_gmail(first, last)},{password}")
    return ("\r\n".join(lines) + "\r\n").encode()


def large_seed(mailboxes: int = 5000, grants: int = 20000, random_seed: int = 0
               ) -> dict[str, Any]:
    """A tenant of ``mailboxes`` licensed users with ``grants`` random FullAccess/SendAs
    grants (plus a few orphaned SIDs), for benchmarks of audits and bulk plans."""
    rng = random.Random(random_seed)
    domain = "bench.example"
    upns = [f"user{i:05d}@{domain}" for i in range(mailboxes)]
    users = [{"upn": upn, "display_name": f"User {i:05d}", "usage_location": "US",
              "licenses": ["ENTERPRISEPACK"], "mailbox": "user"}
             for i, upn in enumerate(upns)]
    seen: set[tuple[int, int, str]] = set()
    permissions: list[dict[str, Any]] = []
    while len(permissions) < grants and mailboxes > 1:
        owner, trustee = rng.randrange(mailboxes), rng.randrange(mailboxes)
        right = "SendAs" if rng.random() < 0.25 else "FullAccess"
        if owner == trustee or (owner, trustee, right) in seen:
            continue
        seen.add((owner, trustee, right))
        permissions.append({"mailbox": upns[owner], "trustee": upns[trustee], "right": right})
    permissions.extend(
        {"mailbox": upns[i], "trustee": _ORPHANS[i % len(_ORPHANS)], "right": "FullAccess"}
        for i in range(0, mailboxes, max(1, mailboxes // 50))
    )
    return {
        "tenants": [{
            "name": "bench.onmicrosoft.com",
            "domains": [{"name": domain, "verified": True, "default": True}],
            "skus": [{"part_number": "ENTERPRISEPACK", "enabled": mailboxes + 100}],
            "users": users,
            "permissions": permissions,
        }],
    }


def msp_seed(tenants: int = 12, mailboxes: int = 1000, grants: int = 2000) -> dict[str, Any]:
    """``tenants`` customer tenants (``customerNN.onmicrosoft.com``) shaped like
    :func:`large_seed`, for audits across the tenants of a managed-service provider."""
    made = []
    for number in range(tenants):
        tenant = large_seed(mailboxes, grants, random_seed=number)["tenants"][0]
        domain = f"customer{number:02d}.example"
        text = json.dumps(tenant).replace("bench.example", domain)
        tenant = json.loads(text.replace("bench.onmicrosoft.com",
                                         f"customer{number:02d}.onmicrosoft.com"))
        made.append(tenant)
    return {"tenants": made,
            "apps": [{"client_id": DEMO_APP_ID, "client_secret": DEMO_APP_SECRET,
                      "display_name": "psbridge msp", "tenants": [t["name"] for t in made],
                      "roles": ["Exchange.ManageAsApp"]}]}


def with_bulk_mailboxes(seed: dict[str, Any], count: int) -> dict[str, Any]:
    """``seed`` (a demo seed) with ``count`` more user mailboxes in contoso,
    ``bulk0000@contoso.com`` upwards: input for bulk-job tests and benchmarks."""
    contoso = next(t for t in seed["tenants"] if t["name"] == CONTOSO)
    contoso["users"] += [{"upn": f"bulk{i:04d}@contoso.com", "display_name": f"Bulk {i:04d}",
                          "mailbox": "user"} for i in range(count)]
    return seed
