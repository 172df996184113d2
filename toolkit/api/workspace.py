"""The Workspace: one profile and tenant, opened once, with the domains as attributes."""

from __future__ import annotations

import contextlib
import functools
from types import TracebackType
from typing import TYPE_CHECKING

from toolkit.api.results import Progress
from toolkit.core.config import Profile, resolve_profile
from toolkit.core.journal import Job
from toolkit.core.target import Target, open_target
from toolkit.core.templates import TemplateCatalog

if TYPE_CHECKING:
    from toolkit.api.jobs import Jobs
    from toolkit.api.mailboxes import Mailboxes
    from toolkit.api.migrations import Migrations
    from toolkit.api.perms import Permissions
    from toolkit.api.tasks import Tasks
    from toolkit.api.users import Users


class Workspace:
    """psbridge as a library.

    ``profile`` and ``tenant`` are resolved as the CLI resolves ``--profile`` and
    ``--tenant`` (None: the environment's profile, the config's default, else the embedded
    sandbox). The connection target is opened on first use and closed with the workspace.
    ``progress`` receives a :class:`~toolkit.api.results.JobEvent` as jobs start and rows
    come back. Errors are the structured ones of :mod:`toolkit.core.errors`.
    """

    def __init__(self, profile: str | None = None, tenant: str | None = None, *,
                 progress: Progress | None = None):
        self.profile_name = profile
        self.tenant = tenant
        self.progress = progress
        self.catalog = TemplateCatalog()
        self._profile: Profile | None = None
        self._target: Target | None = None
        self._opened = contextlib.ExitStack()

    # Each area is imported when first used: a command pays only for its own.
    @functools.cached_property
    def perms(self) -> Permissions:
        from toolkit.api.perms import Permissions
        return Permissions(self)

    @functools.cached_property
    def users(self) -> Users:
        from toolkit.api.users import Users
        return Users(self)

    @functools.cached_property
    def mailboxes(self) -> Mailboxes:
        from toolkit.api.mailboxes import Mailboxes
        return Mailboxes(self)

    @functools.cached_property
    def migrations(self) -> Migrations:
        from toolkit.api.migrations import Migrations
        return Migrations(self)

    @functools.cached_property
    def jobs(self) -> Jobs:
        from toolkit.api.jobs import Jobs
        return Jobs(self)

    @functools.cached_property
    def tasks(self) -> Tasks:
        from toolkit.api.tasks import Tasks
        return Tasks(self)

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = resolve_profile(self.profile_name)
        return self._profile

    @property
    def target(self) -> Target:
        """The profile's management host and tenant, connected on first use."""
        if self._target is None:
            self._target = self._opened.enter_context(open_target(self.profile, self.tenant))
        return self._target

    def for_job(self, job: Job) -> Workspace:
        """The workspace a stored job runs in: the job's tenant, and this workspace's
        profile if one was named, else the job's (opened for this workspace's lifetime)."""
        if self.profile_name is not None and job.tenant == self.tenant:
            return self
        other = Workspace(self.profile_name or job.profile, job.tenant,
                          progress=self.progress)
        self._opened.enter_context(other)
        return other

    def close(self) -> None:
        self._opened.close()
        self._target = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
