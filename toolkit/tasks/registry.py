"""Which job kinds can be resumed, and by what: a job stores its kind, never a module path.

A kind is the string a task writes into ``JobPlan.options["kind"]``; stored jobs keep it,
so a kind keeps its name for as long as jobs of it may be waiting in a store.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from toolkit.core.jobs import Resumption
from toolkit.core.journal import Job, Journal
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog

ResumePlan = Callable[[Job, Journal, Target, TemplateCatalog, bool], Resumption]


def resumable() -> dict[str, ResumePlan]:
    """Every resumable kind: each task module of this package that declares a ``KIND`` and
    a ``resume_plan`` (a new bulk task registers itself by having both)."""
    import toolkit.tasks

    kinds: dict[str, ResumePlan] = {}
    for found in pkgutil.walk_packages(toolkit.tasks.__path__, "toolkit.tasks."):
        module = importlib.import_module(found.name)
        kind, plan = getattr(module, "KIND", None), getattr(module, "resume_plan", None)
        if isinstance(kind, str) and callable(plan):
            if kind in kinds:
                raise RuntimeError(f"two task modules declare the job kind {kind!r}")
            kinds[kind] = plan
    return kinds


def resumer(job: Job) -> ResumePlan | None:
    """The function that plans the rest of ``job``, or None for a kind this version does
    not know."""
    return resumable().get(str(job.options.get("kind", "")))
