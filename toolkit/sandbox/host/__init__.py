"""The sandbox management host: a WSMan/PSRP server that the unmodified pypsrp client uses.

Layers, outermost first: ``http`` (server, routing, TLS) -> ``auth`` and
``message_encryption`` -> ``soap`` and ``wsman`` (actions on shells) -> ``runspace_pool``
(psrpcore state machines, outboxes, runspace slots) -> ``psrp_bridge`` and
``clixml_values`` (the seam to the backend's :class:`~toolkit.sandbox.interface.Runspace`).
Start it through :mod:`toolkit.sandbox.server`.
"""
