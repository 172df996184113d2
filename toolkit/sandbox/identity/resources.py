"""The resources (APIs) the sandbox issues tokens for, and how scopes map onto them."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Resource:
    """A Microsoft API as the identity platform sees it.

    ``app_roles`` are the application permissions that belong to this API: an app's
    seeded roles are split between resources by this list (a role no resource claims
    is a Graph permission, since nearly all of them are). ``default_delegated_scopes``
    is what a ``/.default`` delegated request gets, standing in for what an admin has
    consented to for the sign-in client.
    """

    uri: str
    app_id: str
    display_name: str
    app_roles: frozenset[str]
    default_delegated_scopes: tuple[str, ...]

    def audiences(self) -> frozenset[str]:
        """``aud`` values Entra may put in a token for this resource."""
        return frozenset({self.uri, self.uri + "/", self.app_id})


EXCHANGE_ONLINE = Resource(
    uri="https://outlook.office365.com",
    app_id="00000002-0000-0ff1-ce00-000000000000",
    display_name="Office 365 Exchange Online",
    app_roles=frozenset({"Exchange.ManageAsApp", "Exchange.ManageAsAppV2", "full_access_as_app"}),
    default_delegated_scopes=("Exchange.Manage",),
)

MICROSOFT_GRAPH = Resource(
    uri="https://graph.microsoft.com",
    app_id="00000003-0000-0000-c000-000000000000",
    display_name="Microsoft Graph",
    app_roles=frozenset(),
    default_delegated_scopes=(
        "Directory.ReadWrite.All",
        "Domain.Read.All",
        "Organization.Read.All",
        "User.ReadWrite.All",
    ),
)

# The same APIs in the national clouds (GCC High, DoD, 21Vianet): a token is for one cloud's
# endpoint only. Sources: learn.microsoft.com/graph/deployments (Graph); the Exchange Online
# module's environments (outlook.office365.us, webmail.apps.mil, partner.outlook.cn).
NATIONAL_RESOURCES: tuple[Resource, ...] = tuple(
    replace(base, uri=uri) for base, uri in (
        (EXCHANGE_ONLINE, "https://outlook.office365.us"),
        (EXCHANGE_ONLINE, "https://webmail.apps.mil"),
        (EXCHANGE_ONLINE, "https://partner.outlook.cn"),
        (MICROSOFT_GRAPH, "https://graph.microsoft.us"),
        (MICROSOFT_GRAPH, "https://dod-graph.microsoft.us"),
        (MICROSOFT_GRAPH, "https://microsoftgraph.chinacloudapi.cn"),
    )
)

RESOURCES: tuple[Resource, ...] = (EXCHANGE_ONLINE, MICROSOFT_GRAPH, *NATIONAL_RESOURCES)

# Scopes OpenID Connect adds to user sign-ins (msal adds them to every delegated request).
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def resource_for_audience(audience: str) -> Resource | None:
    """The resource a token audience (URI with or without a slash, or app id) names."""
    wanted = audience.lower()
    for resource in RESOURCES:
        if wanted in {a.lower() for a in resource.audiences()}:
            return resource
    return None


def resource_for_scope(scope: str) -> tuple[Resource | None, str]:
    """Split a scope into (resource, permission); bare permissions are Graph's, as in Entra.

    ``https://graph.microsoft.com/User.Read.All`` -> (Graph, "User.Read.All");
    ``User.Read`` -> (Graph, "User.Read"); ``https://unknown/x`` -> (None, "x").
    """
    if "://" not in scope:
        return MICROSOFT_GRAPH, scope
    base, _, permission = scope.rpartition("/")
    return resource_for_audience(base), permission


def app_roles_for(resource: Resource, roles: tuple[str, ...]) -> list[str]:
    """The subset of an app's granted roles that belong to *resource*."""
    claimed = set().union(*(r.app_roles for r in RESOURCES))
    if resource.app_roles:
        return [r for r in roles if r in resource.app_roles]
    return [r for r in roles if r not in claimed]
