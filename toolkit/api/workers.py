"""What a Celery worker for ``--distributed`` jobs (and ``--beat`` schedules) needs before
it starts: the broker and the shared store checked, the Celery app with psbridge's tasks."""

from __future__ import annotations

from typing import Any

from toolkit.api.store import check_store
from toolkit.core.errors import InputError
from toolkit.distributed.app import celery_app
from toolkit.distributed.settings import broker_settings
from toolkit.distributed.submit import require_shared_store


def worker_app(*, concurrency: int, beat: bool = False) -> Any:
    """The Celery app a worker runs, once the configuration was checked: a ``[queue]``
    broker, a shared ``[store] url`` at this psbridge's schema version (a store behind is
    refused now, not at the first task). With ``beat``, the configuration's
    ``[[schedule]]`` entries are installed; they need ``concurrency`` 2 or more, as a
    scheduled audit waits for the tenant audits it sends to the workers.

    Raises :class:`~toolkit.core.errors.InputError` or
    :class:`~toolkit.core.errors.ConfigError`.
    """
    if beat and concurrency < 2:
        raise InputError("--beat needs --concurrency 2 or more: a scheduled audit waits for "
                         "the tenant audits it sends to the workers")
    broker_settings()
    require_shared_store()
    check_store()
    celery = celery_app()
    if beat:
        from toolkit.distributed.schedule import install_schedule

        install_schedule(celery)
    return celery
