"""``psbridge worker``: a Celery worker for ``--distributed`` jobs (and ``--beat`` schedules)."""

from __future__ import annotations

import socket

import click

from toolkit.cli.context import AppContext


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Tasks (chunks or tenant audits) this worker runs at once, each on its "
              "own connection.")
@click.option("--queues", default=None, metavar="Q1,Q2",
              help="Queues to take tasks from (comma separated; default: [queue] queue, "
              "psbridge unless set).")
@click.option("--name", default=None, metavar="NAME",
              help="Worker name (default: psbridge@<host name>; unique per machine).")
@click.option("--beat", is_flag=True,
              help="Also run the [[schedule]] entries of the configuration (Celery beat); "
              "run exactly one worker with --beat.")
@click.pass_obj
def worker(app: AppContext, concurrency: int, queues: str | None, name: str | None,
           beat: bool) -> None:
    """Run a worker: it takes chunks of bulk jobs and tenant audits from the broker.

    The configuration must name the broker ([queue] broker) and the shared store
    ([store] url), and hold the profiles the jobs use (secrets come from this machine's
    environment or keyring, never through the broker). Stop it with Ctrl-C: tasks in
    flight finish first. If it dies instead, its tasks go back to the queue (late
    acknowledgement) and its connection leases lapse; rows it had sent are left for
    'psbridge jobs resume'.

    \b
    Examples:
      psbridge worker --concurrency 4
      psbridge worker --beat
    """
    from toolkit.api.workers import worker_app

    celery = worker_app(concurrency=concurrency, beat=beat)
    queues = queues or celery.conf.task_default_queue  # [queue] queue
    argv = ["worker", "--pool=threads", f"--concurrency={concurrency}", f"--queues={queues}",
            f"--hostname={name or 'psbridge@' + socket.gethostname()}",
            "--loglevel=INFO" if app.verbose else "--loglevel=WARNING", "--without-gossip",
            "--without-mingle"]
    if beat:
        argv.append("--beat")
    celery.worker_main(argv)
