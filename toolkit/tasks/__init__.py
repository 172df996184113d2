"""The domain: rows to plans, results to reports; no network code of its own.

Every bulk task records ``options["kind"]`` in its job; ``psbridge jobs resume`` imports
``toolkit.tasks.<kind>`` and calls its ``resume_plan(job, journal, target, catalog,
rerun_unknown) -> toolkit.core.jobs.Resumption``. A task with a planner re-reads the
tenant there and plans only what is still missing, so rows in flight at a crash are
neither lost nor applied twice; the generic task can only report them as unknown.
"""
