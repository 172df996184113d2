"""The use cases, by domain: ``permissions``, ``users``, ``migration``, ``mailbox``; with
``generic`` (any row template), and reads every domain shares (``tenant_reads``,
``lookups``).

Planners are pure (rows and the tenant as read -> a plan); reads go through the engine of
``toolkit.core`` (no threads or retry loops here). Every bulk task records
``options["kind"]`` in its job; ``psbridge jobs resume`` finds the module that declares that
``KIND`` and a ``resume_plan`` (``registry.py``), which re-reads the tenant and plans only
what is still missing, so rows in flight at a crash are neither lost nor applied twice;
the generic task can only report them as unknown.
"""
