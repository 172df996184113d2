"""Bulk licence changes (``psbridge users license add|remove``), with the free-seat check.

The users come from a CSV (``--users FILE``, its UserPrincipalName column) or from the
tenant (``--where-license SKU``: every user holding that SKU, e.g. extend every Office 365
E3 user with EMS). For ``--where-license`` the list found when the job started is kept in
the job, so a resume works on the same users even after the licences changed.
"""

from __future__ import annotations

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
from toolkit.io.csvfile import Column, CsvFile
from toolkit.tasks.lookups import refuse_unknown
from toolkit.tasks.tenant_reads import read_skus, read_users
from toolkit.tasks.users.activation_plan import DirectoryUser
from toolkit.tasks.users.skus import SeatLedger, Sku, find_sku

KIND = "license_change"  # stored in jobs; tasks/registry.py resumes by it
TEMPLATE = "graph/set-user-licenses"
ACTIONS = ("add", "remove")


@dataclass(frozen=True)
class LicenseRow:
    row: int
    upn: str


@dataclass
class LicensePlan:
    row: int
    upn: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    error: str | None = None

    @property
    def step(self) -> str:
        if self.error:
            return self.error
        if self.add:
            return "add"
        return "remove" if self.remove else "nothing to change"

    def row_data(self) -> dict[str, Any]:
        return {"UserPrincipalName": self.upn, "AddLicenses": list(self.add),
                "RemoveLicenses": list(self.remove), "PlanError": self.error or ""}


def plan_changes(rows: Sequence[LicenseRow], users: dict[str, DirectoryUser], action: str,
                 sku: Sku, skus: Sequence[Sku]) -> list[LicensePlan]:
    """Each user's change; seats for ``add`` are handed out in row order (pure)."""
    ledger = SeatLedger(skus)
    plans: list[LicensePlan] = []
    for row in rows:
        user = users.get(row.upn.casefold())
        plan = LicensePlan(row.row, row.upn)
        if user is None:
            plan.error = f"no user {row.upn} in the tenant"
        elif action == "remove":
            plan.remove = (sku.sku_id,) if sku.sku_id in user.sku_ids else ()
        elif sku.sku_id not in user.sku_ids:
            if not user.usage_location:
                plan.error = ("no usage location: a licence cannot be assigned without one "
                              "(set it with 'psbridge users activate' or in the admin center)")
            else:
                plan.error = ledger.allocate([sku])
                plan.add = () if plan.error else (sku.sku_id,)
        plans.append(plan)
    return plans


def _users_file(path: Path) -> CsvFile:
    return CsvFile(path, [Column("UserPrincipalName", aliases=("UPN",))], allow_extra=True)


def rows_from_file(path: Path) -> tuple[list[LicenseRow], str]:
    source = _users_file(path)
    source.validate()
    rows = [LicenseRow(r.line, str(r.values["UserPrincipalName"])) for r in source.rows()]
    return rows, source.sha256()


def _sku(skus: Sequence[Sku], part: str, option: str) -> Sku:
    found = find_sku(skus, part)
    if found is None:
        known = ", ".join(s.part_number for s in skus) or "none"
        raise InputError(f"{option} {part}: the tenant has no such SKU (it has: {known})",
                         hint="'psbridge users licenses' lists them.")
    return found


@dataclass(frozen=True)
class Request:
    """What the user asked for; stored in the job so a resume plans the same thing."""

    action: str
    sku: str
    users_file: Path | None = None
    where_license: str | None = None


def plan_job(target: Target, catalog: TemplateCatalog, request: Request,
             users: Sequence[str] | None = None, done: set[int] | None = None
             ) -> tuple[JobPlan, list[LicensePlan]]:
    """Read the tenant and plan; ``users``/``done`` come from the job on a resume."""
    skus = read_skus(target, catalog)
    sku = _sku(skus, request.sku, "--sku")
    input_path = sha = None
    if request.users_file is not None:
        rows, sha = rows_from_file(request.users_file)
        input_path = str(request.users_file.resolve())
    else:
        if users is None:
            where = _sku(skus, request.where_license or "", "--where-license")
            everyone = read_users(target, catalog)
            users = sorted((u.upn for u in everyone.values() if where.sku_id in u.sku_ids),
                           key=str.casefold)
        rows = [LicenseRow(i + 1, upn) for i, upn in enumerate(users)]
    todo = [r for r in rows if r.row not in (done or set())]
    directory = read_users(target, catalog, [r.upn for r in todo])
    if request.users_file is not None:
        refuse_unknown(str(request.users_file), "user", "UserPrincipalName",
                       [(r.row, r.upn) for r in todo], set(directory),
                       lambda: (u.upn for u in read_users(target, catalog).values()))
    plans = plan_changes(todo, directory, request.action, sku, skus)

    def work() -> Iterator[WorkRow]:
        for plan in plans:
            yield WorkRow(plan.row, plan.upn, plan.row_data(), {"user": plan.upn})

    options: dict[str, Any] = {"kind": KIND, "action": request.action, "sku": request.sku}
    if request.users_file is None:
        options.update(where_license=request.where_license, users=[r.upn for r in rows])
    return JobPlan(task=f"users license {request.action} {sku.part_number}", template=TEMPLATE,
                   rows=work, total=len(rows), input_path=input_path, input_sha256=sha,
                   options=options), plans


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """Plan again from the tenant for rows without an outcome (so none is applied twice)."""
    options = job.options
    path = Path(job.input_path) if job.input_path else None
    request = Request(str(options["action"]), str(options["sku"]), path,
                      options.get("where_license"))
    current = _users_file(path).sha256() if path else None
    done, _unknown = resume_state(journal, job, path, current)
    users = None if path else [str(u) for u in options.get("users", [])]
    plan, _plans = plan_job(target, catalog, request, users, done)
    return Resumption(plan, done)
