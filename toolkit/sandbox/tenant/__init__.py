"""The emulated Microsoft 365 tenant behind the sandbox's Exchange Online and Graph cmdlets
(MSOnline, retired by Microsoft in 2025, is not emulated).

Layers, bottom up:

- :mod:`.model` — dataclasses (tenants, users, mailboxes, ACEs, SKUs, migrations);
- :mod:`.store` — the thread-safe :class:`~.store.TenantStore` (one lock, lazy time
  advance from an injectable clock, atomic JSON persistence);
- operations with the services' semantics and texts: :mod:`.identity_resolution`,
  :mod:`.permissions`, :mod:`.mailboxes`, :mod:`.licensing`, :mod:`.directory`,
  :mod:`.migration` (its CSVData in :mod:`.migration_csv`, its progress over time in
  :mod:`.migration_sync`; errors in :mod:`.errors`, filter languages in :mod:`.filters`);
- :mod:`.objects` — model -> the PowerShell objects clients deserialize;
- :mod:`.seed` / :mod:`.demo` — seed files, the built-in demo, large benchmark tenants;
- the cmdlet adapters (:mod:`.cmdlets_connect`, :mod:`.cmdlets_exchange`,
  :mod:`.cmdlets_graph`) over :mod:`.cmdlet_support`, all
  registered by :func:`.registration.tenant_registry`.

``toolkit.sandbox.app.build_backend`` puts it together with the PowerShell engine.
"""
