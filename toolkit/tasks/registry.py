"""Which job kinds can be resumed, and by what: a job stores its kind, never a module path.

A kind is the string a task writes into ``JobPlan.options["kind"]``; stored jobs keep it,
so a kind keeps its name for as long as jobs of it may be waiting in a store.
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.core.jobs import Resumption
from toolkit.core.journal import Job, Journal
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog

ResumePlan = Callable[[Job, Journal, Target, TemplateCatalog, bool], Resumption]


def _resumable() -> dict[str, ResumePlan]:
    from toolkit.tasks import (
        activation,
        generic,
        license_change,
        mailbox_protocols,
        migration,
        permissions,
    )

    modules = (activation, generic, license_change, mailbox_protocols, migration, permissions)
    return {module.KIND: module.resume_plan for module in modules}


def resumer(job: Job) -> ResumePlan | None:
    """The function that plans the rest of ``job``, or None for a kind this version does
    not know."""
    return _resumable().get(str(job.options.get("kind", "")))
