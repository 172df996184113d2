"""What the migration commands read from the tenant, on one open connection: the tenant's
migration state and target mailboxes (the plan's facts), and the batches' status."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.core.errors import InputError, PartialFailure
from toolkit.core.jobs import check_role, pipeline_steps
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.session import Connection
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.tasks.migration.batches import TenantFacts
from toolkit.tasks.migration.status import BatchState, parse_status, to_read, with_statistics

TENANT_TEMPLATE = "exchange/migration-tenant"
LICENCE_TEMPLATE = "graph/licensed-users"
STATUS_TEMPLATE = "exchange/migration-status"


def run_template(target: Target, catalog: TemplateCatalog, connection: Connection,
                 template: str, params: Mapping[str, Any]) -> PipelineResult:
    """Run a template without rows on an open connection; its errors end the command."""
    rendered = catalog.render(template)
    check_role(rendered.meta, target)
    result = connection.run(pipeline_steps(target, catalog, rendered.meta, rendered.script,
                                           params, connection))
    if result.errors:
        messages = "; ".join(e.message for e in result.errors[:3])
        raise PartialFailure(f"{template}: {messages}")
    return result


def tenant_facts(target: Target, catalog: TemplateCatalog, connection: Connection,
                 addresses: Sequence[str]) -> TenantFacts:
    """Migration state and target mailboxes from Exchange; the licences of user mailboxes
    from Graph, on a connection of its own (the two modules never share a runspace)."""
    output = list(run_template(target, catalog, connection, TENANT_TEMPLATE,
                               {"Addresses": list(addresses)} if addresses else {}).output)
    unknown = [str(item["UserId"]) for item in output if isinstance(item, dict)
               and item.get("Kind") == "target" and item.get("Found")
               and not item.get("Licensed") and item.get("UserId")]
    if unknown:
        with target.open_connection() as graph:
            output += run_template(target, catalog, graph, LICENCE_TEMPLATE,
                                   {"UserIds": unknown}).output
    return TenantFacts.from_output(output)


def fetch_batches(target: Target, catalog: TemplateCatalog, connection: Connection,
                  names: Sequence[str], previous: Sequence[BatchState] | None = None
                  ) -> list[BatchState]:
    """The batches and their users, with every user's statistics; with ``previous`` (a
    watch poll), the statistics only of users whose state changed since, or who failed:
    a second, small call."""
    params: dict[str, Any] = {"Names": list(names)} if names else {}
    if previous is None:
        params["WithStatistics"] = True
    batches = parse_status(json_records(run_template(target, catalog, connection,
                                                     STATUS_TEMPLATE, params)),
                           names, previous or ())
    if names and not batches:
        raise InputError(f"no migration batch named {', '.join(names)}",
                         hint="'psbridge migrate imap status' lists every batch.")
    changed = to_read(batches, previous) if previous is not None else []
    if changed:
        batches = with_statistics(batches, json_records(run_template(
            target, catalog, connection, STATUS_TEMPLATE, {"Statistics": changed})))
    return batches


def json_records(result: PipelineResult) -> list[Any]:
    """The records a compact template returns as one JSON string."""
    records = json.loads(str(result.output[-1])) if result.output else []
    return records if isinstance(records, list) else [records]
