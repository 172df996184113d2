"""Reading the directory state the licensing planners work from (read-only templates).

Three small read templates (``graph/list-skus``, ``graph/list-domains``,
``graph/get-users``) run once each; their output is turned into the planners' plain
values here, so that the planners themselves stay free of I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from toolkit.core.errors import PartialFailure
from toolkit.core.jobs import run_once
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.tasks.users.activation_plan import DirectoryUser
from toolkit.tasks.users.skus import Sku, skus_from_output


class TenantReadFailed(PartialFailure):
    """A read-only template reported errors: nothing was planned, nothing changed."""


def _read(target: Target, catalog: TemplateCatalog, template: str,
          params: Mapping[str, Any]) -> list[Any]:
    result: PipelineResult = run_once(target, catalog, template, params)
    if result.errors:
        first = result.errors[0]
        raise TenantReadFailed(f"reading the tenant ({template}) failed: {first.message}",
                               hint="Nothing was changed. Check the profile's rights.")
    return list(result.output)


def read_skus(target: Target, catalog: TemplateCatalog) -> list[Sku]:
    return skus_from_output(_read(target, catalog, "graph/list-skus", {}))


def read_domains(target: Target, catalog: TemplateCatalog) -> tuple[frozenset[str], str]:
    """The verified domain names (lower case) and the initial .onmicrosoft.com domain."""
    output = _read(target, catalog, "graph/list-domains", {})
    verified = frozenset(str(d["Name"]).casefold() for d in output if d.get("IsVerified"))
    initial = next((str(d["Name"]) for d in output if d.get("IsInitial")), "")
    return verified, initial


def _address(proxy: str) -> str:
    return proxy.split(":", 1)[1] if ":" in proxy else proxy


def read_users(target: Target, catalog: TemplateCatalog, upns: Iterable[str] | None = None
               ) -> dict[str, DirectoryUser]:
    """Users by case-folded UPN: the ones named (those that exist), or every user."""
    wanted: Sequence[str] = sorted({u.casefold() for u in upns}) if upns is not None else []
    if upns is not None and not wanted:
        return {}
    output = _read(target, catalog, "graph/get-users", {"UserPrincipalName": list(wanted)})
    users: dict[str, DirectoryUser] = {}
    for item in output:
        if not isinstance(item, Mapping) or not item.get("UserPrincipalName"):
            continue
        upn = str(item["UserPrincipalName"])
        users[upn.casefold()] = DirectoryUser(
            upn=upn,
            enabled=bool(item.get("AccountEnabled")),
            usage_location=item.get("UsageLocation") or None,
            sku_ids=frozenset(str(s).lower() for s in item.get("SkuIds") or []),
            addresses=frozenset(_address(str(p)).casefold()
                                for p in item.get("ProxyAddresses") or []),
            synced=bool(item.get("Synced")),
        )
    return users


def read_mailboxes(target: Target, catalog: TemplateCatalog, identities: Sequence[str],
                   chunk: int = 500) -> set[str]:
    """Which of ``identities`` (returned case-folded) have a mailbox."""
    unique = sorted({i.casefold() for i in identities})
    found: set[str] = set()
    for start in range(0, len(unique), chunk):
        output = _read(target, catalog, "exchange/find-mailboxes",
                       {"Identity": unique[start:start + chunk]})
        found.update(str(o["Identity"]).casefold() for o in output if isinstance(o, Mapping))
    return found


def wait_for_mailboxes(target: Target, catalog: TemplateCatalog, upns: Sequence[str],
                       timeout: float) -> set[str]:
    """Poll until every user has its mailbox or ``timeout`` seconds passed; the users
    (case-folded) whose mailbox exists. Polls back off from 1 s to 30 s; a poll that fails
    (throttled, say) is just tried again."""
    from tenacity import (
        retry,
        retry_if_exception_type,
        retry_if_result,
        stop_after_delay,
        wait_exponential,
    )

    found: set[str] = set()
    wanted = {u.casefold() for u in upns}

    @retry(stop=stop_after_delay(timeout), wait=wait_exponential(min=1, max=30),
           retry=retry_if_result(bool) | retry_if_exception_type(TenantReadFailed),
           retry_error_callback=lambda state: None)
    def missing() -> set[str]:
        left = sorted(wanted - found)
        output = _read(target, catalog, "exchange/find-mailboxes", {"Identity": left})
        found.update(str(o["Identity"]).casefold() for o in output if isinstance(o, Mapping))
        return wanted - found

    missing()
    return found
