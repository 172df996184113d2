"""The Celery application: the broker from ``[queue] broker``, tasks that survive workers.

Settings that make a worker's death harmless: late acknowledgement (a task is acknowledged
when it ends, not when it starts), ``reject_on_worker_lost`` (a task whose worker process
died goes back to the queue), a prefetch of one (a worker holds no more tasks than it
runs), and, on Redis, a visibility timeout after which a task a dead worker held is
delivered again. Results go to the broker's Redis (or back over AMQP with ``rpc://``): the
CLI follows its tasks through them and the rows through the store.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from toolkit.distributed.settings import RESULT_SECONDS, broker_settings

CHUNK_TASK = "psbridge.run_chunk"
AUDIT_TASK = "psbridge.audit_tenant"
DRIFT_TASK = "psbridge.drift_tenant"


@cache
def celery_app() -> Any:
    """The process's Celery app, with psbridge's tasks registered."""
    from celery import Celery

    from toolkit.distributed import schedule, tasks

    settings = broker_settings()
    broker, redelivery = settings.broker, settings.redelivery_seconds
    backend = broker if broker.startswith(("redis://", "rediss://")) else "rpc://"
    app = Celery("psbridge", broker=broker, backend=backend)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,  # where send_task puts psbridge's tasks
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=RESULT_SECONDS,
        # Redis: a task unacknowledged for `redelivery` seconds goes back to the queue; look
        # for such tasks every few seconds (kombu's default looks every ~100s).
        broker_transport_options={"visibility_timeout": redelivery,
                                  "unacked_restore_interval": min(60, max(1, redelivery // 5)),
                                  "unacked_restore_throttle": 1},
        result_backend_transport_options={"visibility_timeout": redelivery},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    @app.task(name=CHUNK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_chunk(task: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return tasks.run_chunk(payload, task_id=task.request.id)

    @app.task(name=AUDIT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def audit_tenant(task: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return tasks.audit_tenant(payload, task_id=task.request.id)

    # A drift check only reads the store: a second delivery simply compares again.
    app.task(name=DRIFT_TASK, acks_late=True, reject_on_worker_lost=True)(tasks.drift_tenant)

    # A schedule that fired is not run again when its worker dies: the next one comes.
    app.task(name=schedule.SCHEDULE_TASK, acks_late=False)(schedule.run_scheduled)
    return app
