"""Mailbox permissions: request rows (``rows``), the tenant as it is (``read``), the planner
of changes (``changes``), the audit into snapshots (``audit``, ``snapshots``), drift between
snapshots (``drift``), reports (``audit_report``) and access through groups
(``group_access``)."""
