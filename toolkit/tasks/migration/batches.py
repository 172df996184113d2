"""IMAP migrations: CSV rows and tenant facts -> endpoints and batches to create.

Pure planning, no network: the CLI reads the tenant with the ``exchange/migration-tenant``
template and hands the facts in. Rules, from Exchange Online's limits and practice:

- one source server per batch, so rows naming several servers are split by server;
- at most ``--batch-size`` users (default 500, never above 50,000) and 10 MB of CSV data
  per batch; batch names are at most 64 characters. The first batch of a plan is called
  NAME, the next ones NAME-2, NAME-3... (the batch's *family*);
- an endpoint is reused only when its server, port and security match;
- pre-flight: every target mailbox exists and is licensed, no address is already in
  another migration batch.

Re-running for a family that exists does nothing, unless ``--add-users``: then the CSV's
users that are in no batch yet go into new batches of the family.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.core.jobs import JobPlan, Resumption, resume_state
from toolkit.core.journal import Job, Journal
from toolkit.core.runner import WorkRow
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.io.csvfile import Problem
from toolkit.tasks.migration.csv_formats import (
    MigrationInput,
    SourceRow,
    csv_data,
    csv_data_size,
    read_migration_csv,
)
from toolkit.tasks.migration.hosts import (
    GMAIL_ALL_MAIL,
    GMAIL_ALL_MAIL_NOTE,
    GMAIL_ARCHIVE_NOTE,
    GMAIL_EXCLUDED_FOLDERS,
    GMAIL_IMAP,
    Server,
    UnknownPopHost,
    imap_host_for,
)

KIND = "migration"  # stored in jobs; tasks/registry.py resumes by it
BATCH_TEMPLATE = "exchange/migration-batches"
MAX_BATCH_USERS = 50_000
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_BATCH_NAME = 64
DEFAULT_BATCH_SIZE = 500
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
_HEADER_BYTES = 64  # the CSV data's header line, generously


@dataclass(frozen=True)
class MigrationOptions:
    server: str | None = None
    port: int = 993
    security: str = "ssl"
    gmail: bool = False
    gmail_all_mail: bool = False  # Gmail: keep [Gmail]/All Mail (duplicates labelled mail)
    batch_size: int = DEFAULT_BATCH_SIZE
    exclude_folders: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    auto_start: bool = True
    add_users: bool = False

    @property
    def folders_excluded(self) -> tuple[str, ...]:
        gmail = GMAIL_EXCLUDED_FOLDERS if self.gmail else ()
        if self.gmail_all_mail:
            gmail = tuple(f for f in gmail if f not in GMAIL_ALL_MAIL)
        extra = tuple(f for f in gmail if f not in self.exclude_folders)
        return (*self.exclude_folders, *extra)

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "port": self.port, "security": self.security,
                "gmail": self.gmail, "gmail_all_mail": self.gmail_all_mail,
                "batch_size": self.batch_size,
                "exclude_folders": list(self.exclude_folders), "notify": list(self.notify),
                "auto_start": self.auto_start, "add_users": self.add_users}


# ---------------------------------------------------------------------- tenant facts


@dataclass(frozen=True)
class TargetMailbox:
    found: bool
    kind: str = ""
    licensed: bool = False


@dataclass(frozen=True)
class EndpointFact:
    name: str
    host: str
    port: int
    security: str  # ssl | tls | none


@dataclass
class TenantFacts:
    """What ``exchange/migration-tenant`` and ``graph/licensed-users`` reported."""

    targets: dict[str, TargetMailbox] = field(default_factory=dict)  # casefolded address
    migration_users: dict[str, str] = field(default_factory=dict)  # address -> batch
    batches: dict[str, str] = field(default_factory=dict)  # batch name -> status
    endpoints: list[EndpointFact] = field(default_factory=list)

    @classmethod
    def from_output(cls, objects: Sequence[Mapping[str, Any]]) -> TenantFacts:
        facts = cls()
        licensed = {str(item["UserId"]) for item in objects
                    if item.get("Kind") == "licence" and item.get("Licensed")}
        for item in objects:
            kind = item.get("Kind")
            if kind == "target":
                facts.targets[str(item["Email"]).casefold()] = TargetMailbox(
                    bool(item.get("Found")), str(item.get("Type") or ""),
                    bool(item.get("Licensed")) or str(item.get("UserId")) in licensed)
            elif kind == "user":
                facts.migration_users[str(item["Email"]).casefold()] = str(item["Batch"])
            elif kind == "batch":
                facts.batches[str(item["Name"])] = str(item.get("Status") or "")
            elif kind == "endpoint":
                facts.endpoints.append(EndpointFact(
                    str(item["Name"]), str(item.get("RemoteServer") or "").casefold(),
                    int(item.get("Port") or 0), str(item.get("Security") or "").lower()))
        return facts


# ---------------------------------------------------------------------- naming


def batch_name(base: str, index: int) -> str:
    return base if index == 1 else f"{base}-{index}"


def in_family(base: str, name: str) -> bool:
    """NAME and the batches split off from it (NAME-2, NAME-3...)."""
    if name.casefold() == base.casefold():
        return True
    head, _, tail = name.rpartition("-")
    return head.casefold() == base.casefold() and tail.isdigit()


def name_problem(name: str) -> str | None:
    if not _NAME_RE.match(name):
        return (f"batch name {name!r}: use letters, digits, spaces, '.', '_' and '-', "
                "starting with a letter or digit")
    if len(name) > MAX_BATCH_NAME:
        return f"batch name {name!r} is {len(name)} characters; the maximum is {MAX_BATCH_NAME}"
    return None


def default_batch_name(path: Path) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "migration"
    return cleaned[:MAX_BATCH_NAME - 4]


# ---------------------------------------------------------------------- plan


@dataclass(frozen=True)
class PlannedBatch:
    name: str
    server: Server
    endpoint: str
    rows: tuple[SourceRow, ...]

    @property
    def lines(self) -> list[int]:
        return [r.line for r in self.rows]

    @property
    def size(self) -> int:
        return len(csv_data(self.rows))


@dataclass
class MigrationPlan:
    base_name: str
    batches: list[PlannedBatch]
    existing: dict[str, str]  # the family's batches already in the tenant -> status
    warnings: list[str]
    problems: list[Problem]  # by CSV line
    conflicts: list[str]  # not tied to a line: batch name, endpoint settings
    new_endpoints: dict[str, Server]  # endpoint name -> server, to be created
    already_in_family: int = 0  # rows skipped by --add-users: their user is in the family

    @property
    def users(self) -> int:
        return sum(len(b.rows) for b in self.batches)


def resolve_servers(source: MigrationInput, options: MigrationOptions
                    ) -> tuple[dict[int, Server], list[str], list[Problem]]:
    """The IMAP server of every row, warnings for mapped POP hosts, problems by line."""
    if options.server is None and not source.legacy and not options.gmail:
        raise InputError(
            f"{source.path}: today's CSV format names no source server",
            hint="Give --server HOST (and --port/--security), or --gmail for Gmail.")
    servers: dict[int, Server] = {}
    mapped: dict[str, list[int]] = {}
    problems: list[Problem] = []
    for row in source.rows:
        host = options.server or row.server or GMAIL_IMAP
        try:
            imap, was_pop = imap_host_for(host)
        except UnknownPopHost as exc:
            problems.append(Problem(str(source.path), row.line, "SourceServer",
                                    f"{exc}; give --server IMAPHOST to name it"))
            continue
        if was_pop:
            mapped.setdefault(f"{host.strip().lower()} -> {imap}", []).append(row.line)
        known = was_pop or imap == GMAIL_IMAP
        servers[row.line] = (Server(imap) if known
                             else Server(imap, options.port, options.security))
    warnings = [
        f"{pair.split(' -> ')[0]} is a POP server and Exchange Online migrates from IMAP "
        f"only: using {pair.split(' -> ')[1]} (port 993, SSL) for {len(lines)} row(s), "
        f"lines {_ranges(lines)}" for pair, lines in mapped.items()]
    return servers, warnings, problems


def _ranges(lines: list[int]) -> str:
    parts: list[str] = []
    start = previous = lines[0]
    for line in [*lines[1:], None]:
        if line is not None and line == previous + 1:
            previous = line
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if line is not None:
            start = previous = line
    return ", ".join(parts)


def build_plan(source: MigrationInput, options: MigrationOptions, base_name: str,
               facts: TenantFacts) -> MigrationPlan:
    """Batches to create, or the problems that stop the migration (nothing is created)."""
    path = str(source.path)
    email_column = "TargetIdentity" if source.legacy else "EmailAddress"
    servers, warnings, problems = resolve_servers(source, options)
    conflicts = [p for p in [name_problem(base_name)] if p]
    existing = {n: s for n, s in facts.batches.items() if in_family(base_name, n)}
    rows: list[SourceRow] = []
    in_family_count = 0
    for row in source.rows:
        batch = facts.migration_users.get(row.email.casefold())
        if batch is not None and in_family(base_name, batch):
            in_family_count += 1
            continue
        if batch is not None:
            problems.append(Problem(path, row.line, email_column,
                                    f"{row.email} is already in migration batch {batch!r}"))
            continue
        target = facts.targets.get(row.email.casefold())
        if target is None or not target.found:
            problems.append(Problem(path, row.line, email_column,
                                    f"no mailbox {row.email} in the tenant: create and "
                                    "license it first"))
        elif not target.licensed:
            problems.append(Problem(path, row.line, email_column,
                                    f"mailbox {row.email} has no Exchange Online licence"))
        rows.append(row)
    if existing and not options.add_users:
        rows = []  # the family exists: report it, change nothing
        problems = [p for p in problems if p.column != email_column]
    endpoints, endpoint_problems = _endpoints({servers[r.line] for r in rows
                                               if r.line in servers}, facts)
    conflicts.extend(endpoint_problems)
    from_gmail = any(s.is_gmail for s in servers.values())
    if options.gmail is False and from_gmail:
        warnings.append("the source is Gmail but its [Gmail] system folders are not excluded: "
                        "labelled mail would arrive two or more times; add --gmail")
    elif from_gmail:
        warnings.append(GMAIL_ALL_MAIL_NOTE if options.gmail_all_mail else GMAIL_ARCHIVE_NOTE)
    taken = {n.casefold() for n in facts.batches}
    batches = _split([r for r in rows if r.line in servers], servers, endpoints, base_name,
                     options.batch_size, taken)
    for planned in batches:
        problem = name_problem(planned.name)
        if problem and planned.name != base_name:
            conflicts.append(problem)
    return MigrationPlan(base_name, batches, existing, warnings, problems, conflicts,
                         {name: server for name, (server, create) in endpoints.items()
                          if create}, in_family_count if options.add_users else 0)


def _endpoints(servers: set[Server], facts: TenantFacts
               ) -> tuple[dict[str, tuple[Server, bool]], list[str]]:
    """Endpoint name per server (reused when its settings match), and conflicts."""
    chosen: dict[str, tuple[Server, bool]] = {}
    problems: list[str] = []
    for server in sorted(servers, key=lambda s: (s.host, s.port)):
        match = next((e for e in facts.endpoints if (e.host, e.port, e.security) ==
                      (server.host, server.port, server.security)), None)
        if match is not None:
            chosen[match.name] = (server, False)
            continue
        clash = next((e for e in facts.endpoints
                      if e.name.casefold() == server.endpoint_name.casefold()), None)
        if clash is not None:
            problems.append(
                f"migration endpoint {clash.name!r} exists with other settings "
                f"({clash.host}, port {clash.port}, {clash.security.upper()}); remove it or "
                "change its settings")
            continue
        chosen[server.endpoint_name] = (server, True)
    return chosen, problems


def _split(rows: list[SourceRow], servers: Mapping[int, Server],
           endpoints: Mapping[str, tuple[Server, bool]], base: str, batch_size: int,
           taken: set[str]) -> list[PlannedBatch]:
    by_server: dict[Server, list[SourceRow]] = {}
    for row in rows:
        by_server.setdefault(servers[row.line], []).append(row)
    endpoint_of = {server: name for name, (server, _) in endpoints.items()}
    limit = min(batch_size, MAX_BATCH_USERS)
    names = (batch_name(base, i) for i in range(1, 1_000_000))
    batches: list[PlannedBatch] = []

    def next_name() -> str:
        return next(n for n in names if n.casefold() not in taken)

    for server, server_rows in by_server.items():
        if server not in endpoint_of:
            continue  # its endpoint conflicts: reported as a problem
        current: list[SourceRow] = []
        size = _HEADER_BYTES
        for row in server_rows:
            grown = size + csv_data_size(row)
            if current and (len(current) >= limit or grown > MAX_CSV_BYTES):
                batches.append(PlannedBatch(next_name(), server, endpoint_of[server],
                                            tuple(current)))
                current, grown = [], _HEADER_BYTES + csv_data_size(row)
            current.append(row)
            size = grown
        if current:
            batches.append(PlannedBatch(next_name(), server, endpoint_of[server],
                                        tuple(current)))
    return batches


def raise_problems(plan: MigrationPlan, path: Path) -> None:
    """Exit 2 listing every problem (lines first); nothing has been created."""
    found = [str(p) for p in plan.problems] + plan.conflicts
    if found:
        shown = "\n".join(f"  {p}" for p in found)
        raise InputError(f"{path}: {len(found)} problem(s), nothing was changed:\n{shown}",
                         hint="Fix what is listed and run the command again.")


# ---------------------------------------------------------------------- job


def job_plan(source: MigrationInput, options: MigrationOptions, plan: MigrationPlan
             ) -> JobPlan:
    """One runner row per batch; the CSV data is a secret column (never journaled)."""
    layout = [{"name": b.name, "endpoint": b.endpoint, "host": b.server.host,
               "port": b.server.port, "security": b.server.security, "lines": b.lines}
              for b in plan.batches]
    return _job_plan(source.path, source.sha256, options, layout, plan.base_name)


def _job_plan(path: Path, sha256: str, options: MigrationOptions,
              layout: list[dict[str, Any]], base_name: str) -> JobPlan:
    def rows() -> Iterator[WorkRow]:
        by_line = {r.line: r for r in read_migration_csv(path).rows}
        for index, batch in enumerate(layout, start=1):
            users = [by_line[line] for line in batch["lines"]]
            server = Server(batch["host"], batch["port"], batch["security"])
            yield WorkRow(index, batch["name"], {
                "Name": batch["name"], "Endpoint": batch["endpoint"],
                "RemoteServer": server.host, "Port": server.port,
                "Security": server.exchange_security, "Users": len(users),
                "CSVData": csv_data(users),
            }, {"batch": batch["name"]})

    return JobPlan(
        task=f"migrate imap start {base_name}",
        template=BATCH_TEMPLATE,
        rows=rows,
        total=len(layout),
        params={"ExcludeFolders": list(options.folders_excluded),
                "NotificationEmails": list(options.notify),
                "AutoStart": options.auto_start},
        input_path=str(path.resolve()),
        input_sha256=sha256,
        options={"kind": KIND, "base_name": base_name, "batches": layout,
                 "migration": options.to_json()},
    )


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """The same batches again; the template skips a batch the tenant already has, so
    batches in flight at a crash are re-run safely (created at most once)."""
    if not job.input_path:
        raise InputError(f"job {job.id} has no input file to resume from")
    path = Path(job.input_path)
    source = read_migration_csv(path)
    raw = dict(job.options.get("migration", {}))
    options = MigrationOptions(**{**raw, "exclude_folders": tuple(raw.get("exclude_folders", ())),
                                  "notify": tuple(raw.get("notify", ()))})
    plan = _job_plan(path, source.sha256, options, list(job.options["batches"]),
                     str(job.options["base_name"]))
    done, _unknown = resume_state(journal, job, path, source.sha256)
    return Resumption(plan, done)
