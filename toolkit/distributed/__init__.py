"""Work spread over machines: Celery tasks, their workers, and limits shared through Redis.

The CLI (``--distributed``) records the job and its rows in the shared store and sends one
Celery task per chunk (per tenant for audits); workers (``psbridge worker``) run them with
the same runner as a local job. Exactly-once comes from the rows' journal states in the
store (a worker claims pending rows atomically), not from the broker, so a task delivered
twice (late acknowledgement, a worker killed mid-chunk) never sends a row twice.
"""
