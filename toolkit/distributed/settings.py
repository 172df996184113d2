"""The ``[queue]`` settings the workers, the tasks and the submitting CLI all read."""

from __future__ import annotations

from toolkit.core.errors import ConfigError
from toolkit.core.shared_config import QueueSettings

# How long a task's result (and a tenant audit's kept outcome) outlives the task: a copy
# Redis delivered again may wait in the queue long after the first delivery ended.
RESULT_SECONDS = 7 * 24 * 3600


def broker_settings() -> QueueSettings:
    """The ``[queue]`` settings: broker URL, connections per scope, redelivery seconds and
    the default queue; refuses a configuration without them."""
    from toolkit.core.config import load

    config = load()
    if config.queue is None:
        raise ConfigError(
            f"{config.path}: --distributed and 'psbridge worker' need a [queue] broker",
            hint='Add [queue] broker = "redis://host:6379/0" (see README, Teams and MSPs).',
        )
    return config.queue
