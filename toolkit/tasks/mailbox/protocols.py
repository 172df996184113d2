"""POP and IMAP client access per mailbox (Set-CASMailbox), from a CSV or the command line.

The template compares before it sets, so a row run twice reports ``unchanged``: rows in
flight at a crash are simply run again on resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from toolkit.tasks.permissions.read import every_mailbox
from toolkit.tasks.tenant_reads import read_mailboxes

KIND = "mailbox_protocols"  # stored in jobs; tasks/registry.py resumes by it
TEMPLATE = "exchange/mailbox-protocols"
_ON = {"on", "true", "yes", "1", "enabled", "$true"}
_OFF = {"off", "false", "no", "0", "disabled", "$false"}


def parse_switch(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _ON:
        return True
    if lowered in _OFF:
        return False
    raise ValueError(f"{text!r}: expected on or off (or empty to leave as is)")


def _columns() -> list[Column]:
    return [Column("Mailbox", aliases=("Identity", "EmailAddress", "PrimarySmtpAddress")),
            Column("Pop", required=False, aliases=("PopEnabled",), parse=parse_switch),
            Column("Imap", required=False, aliases=("ImapEnabled",), parse=parse_switch)]


def plan_request(path: Path | None, mailboxes: Sequence[str], pop: bool | None,
                 imap: bool | None) -> JobPlan:
    """The job for a CSV or for mailboxes named one by one (exactly one of the two);
    ``pop``/``imap`` (None: leave as is) fill the CSV's empty cells."""
    if (path is None) == (not mailboxes):
        raise InputError("give either a CSV file or --mailbox (not both)",
                         hint="psbridge mailbox protocols --help shows examples.")
    if path is None and pop is None and imap is None:
        raise InputError("nothing to change: give --pop on|off and/or --imap on|off")
    return (plan_from_csv(path, pop, imap) if path is not None
            else plan_for_mailboxes(mailboxes, pop, imap))


def plan_from_csv(path: Path, pop: bool | None, imap: bool | None) -> JobPlan:
    """Validate the whole file (nothing runs on a problem); ``pop``/``imap`` fill empty
    cells."""
    source = CsvFile(path, _columns())
    total = source.validate()

    def rows() -> Iterator[WorkRow]:
        for row in source.rows():
            values = row.values
            yield WorkRow(row.line, str(values["Mailbox"]), {
                "Mailbox": values["Mailbox"],
                "Pop": pop if values["Pop"] is None else values["Pop"],
                "Imap": imap if values["Imap"] is None else values["Imap"]},
                {"mailbox": str(values["Mailbox"])})

    return JobPlan(task="mailbox protocols", template=TEMPLATE, rows=rows, total=total,
                   input_path=str(path.resolve()), input_sha256=source.sha256(),
                   options={"kind": KIND, "pop": pop, "imap": imap})


def plan_for_mailboxes(mailboxes: Sequence[str], pop: bool | None, imap: bool | None
                       ) -> JobPlan:
    listed = list(mailboxes)

    def rows() -> Iterator[WorkRow]:
        for index, mailbox in enumerate(listed, start=1):
            yield WorkRow(index, mailbox, {"Mailbox": mailbox, "Pop": pop, "Imap": imap},
                          {"mailbox": mailbox})

    return JobPlan(task="mailbox protocols", template=TEMPLATE, rows=rows, total=len(listed),
                   options={"kind": KIND, "pop": pop, "imap": imap, "mailboxes": listed})


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """Rows without an outcome run again: the template leaves a done row unchanged."""
    options: Mapping[str, Any] = job.options
    if job.input_path:
        plan = plan_from_csv(Path(job.input_path), options.get("pop"), options.get("imap"))
        done, _ = resume_state(journal, job, Path(job.input_path), plan.input_sha256)
    elif options.get("mailboxes"):
        plan = plan_for_mailboxes(options["mailboxes"], options.get("pop"), options.get("imap"))
        done, _ = resume_state(journal, job, None, None)
    else:
        raise InputError(f"job {job.id} has no rows to resume")
    return Resumption(plan, done)


def refuse_unknown_mailboxes(target: Target, catalog: TemplateCatalog, plan: JobPlan,
                             source: str) -> None:
    """Refuse the whole input (exit 2, nothing changed) when a row names no mailbox."""
    rows = [(row.row, str(row.data["Mailbox"])) for row in plan.rows()]
    refuse_unknown(source, "mailbox", "Mailbox", rows,
                   read_mailboxes(target, catalog, [name for _, name in rows]),
                   lambda: every_mailbox(target, catalog))
