"""Jobs resume by the kind they stored: every kind a released psbridge wrote still resumes."""

from __future__ import annotations

from toolkit.core.journal import Job
from toolkit.tasks.registry import resumable, resumer

# Kinds stored in job stores by earlier versions: renaming one strands their jobs.
STORED_KINDS = {"activation", "generic", "license_change", "mailbox_protocols", "migration",
                "permissions"}


def test_every_stored_kind_resumes_and_an_unknown_one_does_not() -> None:
    assert set(resumable()) >= STORED_KINDS
    job = Job(id="j", task="t", profile="p", tenant=None, input_path=None, input_sha256=None,
              options={"kind": "toolkit.tasks.permissions.changes"}, started=0.0, ended=None,
              status="failed")
    assert resumer(job) is None  # a module path is not a kind
