"""Bulk user activation: the CSV, the tenant as it is, the plan, and resuming a job.

``plan_job`` validates the whole file (every problem listed, exit 2, nothing sent), reads
the tenant, plans every row (:mod:`toolkit.tasks.users.activation_plan`) and returns the job.
``jobs resume`` calls :func:`resume_plan`, which re-reads the file and the tenant and plans
only the rows without an outcome: rows waiting for their mailbox get their aliases, rows
in flight at a crash are planned again from what the tenant now holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.core.jobs import JobPlan, Resumption, resume_state
from toolkit.core.journal import Job, Journal
from toolkit.core.runner import WorkRow
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.io.csvfile import Column, CsvFile, CsvInvalid, Problem
from toolkit.tasks.tenant_reads import read_domains, read_skus, read_users
from toolkit.tasks.users.activation_plan import (
    ActivationRow,
    Defaults,
    RowPlan,
    TenantView,
    fallback_upn,
    plan_activation,
)
from toolkit.tasks.users.countries import usage_location

KIND = "activation"  # stored in jobs; tasks/registry.py resumes by it
TEMPLATE = "graph/activate-users"
# Rows with aliases go on to this step, on an Exchange connection of its own: the Exchange
# module and the Graph SDK never share a runspace.
ALIASES_TEMPLATE = "exchange/add-aliases"
NEEDS_PASSWORD_ON_RESUME = (
    "this account still needs its temporary password, which only 'psbridge users "
    "activate' shows: run it again with the same file (rows already done stay unchanged)")
APPLIED_IN_FLIGHT = (
    "this row was in flight when the job stopped and is done in the tenant, but its "
    "temporary password may never have been shown: if so, 'psbridge users reset-password "
    "{upn} --temporary' gives it a new one")


# Microsoft Entra's userPrincipalName policy: before the @ only A-Z a-z 0-9 ' . - _ ! # ^ ~,
# no period just before the @, at most 64 characters before it and 48 after.
_UPN_LOCAL = re.compile(r"[A-Za-z0-9'._!#^~-]{1,64}")
_UPN_DOMAIN = re.compile(r"(?=.{1,48}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _upn(text: str) -> str:
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise ValueError(f"{text!r} is not a user principal name (name@domain)")
    if len(local) > 64 or len(domain) > 48:
        raise ValueError(f"{text!r} is too long: at most 64 characters before the @ and 48 "
                         "after it")
    if not _UPN_LOCAL.fullmatch(local) or local.endswith("."):
        raise ValueError(f"{text!r}: before the @ only letters A-Z, digits and ' . - _ ! # ^ ~ "
                         "are allowed, and no period just before the @")
    if not _UPN_DOMAIN.fullmatch(domain):
        raise ValueError(f"{text!r}: {domain!r} is not a domain name")
    return text


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(";") if item.strip())


def _addresses(text: str) -> tuple[str, ...]:
    items = _list(text)
    for item in items:
        _upn(item.removeprefix("smtp:").removeprefix("SMTP:"))
    return tuple(i.removeprefix("smtp:").removeprefix("SMTP:") for i in items)


def _bool(text: str) -> bool:
    folded = text.strip().casefold()
    if folded in ("true", "yes", "1", "y"):
        return True
    if folded in ("false", "no", "0", "n"):
        return False
    raise ValueError(f"{text!r} is not true or false")


COLUMNS = [
    Column("UserPrincipalName", aliases=("UPN",), parse=_upn),
    Column("DisplayName", required=False),
    Column("FirstName", required=False, aliases=("GivenName",)),
    Column("LastName", required=False, aliases=("Surname",)),
    Column("UsageLocation", required=False, parse=usage_location),
    Column("Licenses", required=False, aliases=("License",), parse=_list, default=()),
    Column("Password", required=False, strip=False),  # spaces are part of a password
    Column("Aliases", required=False, parse=_addresses, default=()),
    Column("Enabled", required=False, parse=_bool, default=True),
]


@dataclass(frozen=True)
class ActivationInput:
    """The validated CSV and the job's options (what a resume needs to plan again)."""

    path: Path
    sha256: str
    rows: list[ActivationRow]


def read_input(path: Path) -> ActivationInput:
    """Every problem of the file at once (CsvInvalid, exit 2), or its rows."""
    source = CsvFile(path, COLUMNS)
    source.validate()
    rows: list[ActivationRow] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for row in source.rows():
        v = row.values
        upn = str(v["UserPrincipalName"])
        if upn.casefold() in seen:
            problems.append(Problem(str(path), row.line, "UserPrincipalName",
                                    f"{upn} is also on line {seen[upn.casefold()]}"))
            continue
        seen[upn.casefold()] = row.line
        rows.append(ActivationRow(
            line=row.line, upn=upn, display_name=v["DisplayName"], first_name=v["FirstName"],
            last_name=v["LastName"], usage_location=v["UsageLocation"],
            licenses=tuple(v["Licenses"]), password=v["Password"],
            aliases=tuple(v["Aliases"]), enabled=bool(v["Enabled"])))
    if problems:
        raise CsvInvalid(str(path), problems)
    return ActivationInput(path, source.sha256(), rows)


def check_against_tenant(data: ActivationInput, view: TenantView, defaults: Defaults) -> None:
    """SKUs the tenant lacks and aliases outside its verified domains are input errors
    (file:line), found before anything is changed."""
    known = ", ".join(s.part_number for s in view.skus) or "none"
    for part in defaults.licenses:
        if view.sku(part) is None:
            raise InputError(f"--license {part}: the tenant has no such SKU (it has: {known})",
                             hint="'psbridge users licenses' lists them.")
    problems = [Problem(str(data.path), row.line, "Licenses",
                        f"the tenant has no SKU {part} (it has: {known})")
                for row in data.rows for part in row.licenses if view.sku(part) is None]
    problems += [Problem(str(data.path), row.line, "Aliases",
                         f"{alias}: {alias.rpartition('@')[2]} is not a verified domain of the "
                         "tenant, so Exchange would refuse the address")
                 for row in data.rows for alias in row.aliases
                 if alias.rpartition("@")[2].casefold() not in view.verified_domains]
    if problems:
        raise CsvInvalid(str(data.path), sorted(problems, key=lambda p: p.line))


def read_view(target: Target, catalog: TemplateCatalog, rows: Sequence[ActivationRow]
              ) -> TenantView:
    """SKUs, domains, and the users the rows name (at their UPN or their fallback UPN)."""
    skus = read_skus(target, catalog)
    verified, initial = read_domains(target, catalog)
    upns = {r.upn for r in rows}
    upns |= {f for r in rows if (f := fallback_upn(r.upn, verified, initial))}
    return TenantView(skus, verified, initial, read_users(target, catalog, upns))


def defaults_of(options: dict[str, Any]) -> Defaults:
    return Defaults(options.get("usage_location"), tuple(options.get("licenses", ())))


def job_plan(data: ActivationInput, plans: Sequence[RowPlan], defaults: Defaults) -> JobPlan:
    by_line = {p.line: p for p in plans}

    def rows() -> Iterator[WorkRow]:
        for row in data.rows:
            plan = by_line.get(row.line)
            if plan is not None:
                yield WorkRow(row.line, row.upn, plan.row_data(), {"user": row.upn})

    return JobPlan(
        task="users activate",
        template=TEMPLATE,
        then=(ALIASES_TEMPLATE,),
        rows=rows,
        total=len(data.rows),
        input_path=str(data.path.resolve()),
        input_sha256=data.sha256,
        options={"kind": KIND, "usage_location": defaults.usage_location,
                 "licenses": list(defaults.licenses)},
    )


def plan_job(target: Target, catalog: TemplateCatalog, data: ActivationInput,
             defaults: Defaults) -> tuple[JobPlan, list[RowPlan]]:
    view = read_view(target, catalog, data.rows)
    check_against_tenant(data, view, defaults)
    plans = plan_activation(data.rows, view, defaults)
    return job_plan(data, plans, defaults), plans


def replan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog, *,
           new_passwords: bool) -> tuple[Resumption, list[RowPlan]]:
    """Plan the rows of ``job`` that have no outcome yet, against the tenant as it is now.

    Without ``new_passwords`` (``jobs resume``, which cannot show passwords), a row that
    would need a new temporary password fails with a message saying how to finish it. A
    row that was in flight at a crash and turns out to be done fails with a message too:
    its password may never have been shown.
    """
    if not job.input_path:
        raise InputError(f"job {job.id} has no input file to resume from")
    data = read_input(Path(job.input_path))
    done, unknown = resume_state(journal, job, data.path, data.sha256)
    todo = [r for r in data.rows if r.line not in done]
    options = dict(job.options)
    defaults = defaults_of(options)
    view = read_view(target, catalog, todo)
    check_against_tenant(data, view, defaults)
    plans = plan_activation(todo, view, defaults)
    for row_plan in plans:
        if row_plan.error:
            continue
        if not new_passwords and row_plan.password and row_plan.password_generated:
            row_plan.error = NEEDS_PASSWORD_ON_RESUME
        elif (row_plan.line in unknown and row_plan.already_active
              and row_plan.steps == ["link", "nothing to change"]):
            # Its result (and so its password) never came back: say so, do not guess.
            row_plan.error = APPLIED_IN_FLIGHT.format(upn=row_plan.target_upn)
    job_run = job_plan(data, plans, defaults)
    return Resumption(job_run, done), plans


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """Rows in flight at a stop are planned again from the tenant: never applied twice."""
    return replan(job, journal, target, catalog, new_passwords=False)[0]
