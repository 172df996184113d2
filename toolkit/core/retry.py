"""Which failures are worth retrying, and how long to wait before the next try.

Only what is transient is retried: throttling (Exchange's budget, Graph's 429 and the Graph
SDK's "Too many retries performed") and transport faults. An error is classified by its
stable parts (see :func:`toolkit.core.pipeline_results.short_error_id`): the exception's short name
for Exchange (``CategoryInfo.Reason`` or the ``|Type|`` segment of a V3 message), the code
before the first comma of a Graph id, the HTTP status a Graph message carries, and the
error category. A fixed phrase is matched only for errors that carry no code at all. The
Retry-After interval is read from the message (Graph's ``Headers:`` block, Exchange's
"Retry after N seconds").
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from toolkit.core.pipeline_results import short_error_id


class Outcome(StrEnum):
    THROTTLED = "throttled"  # wait (Retry-After if given) and try again
    TRANSIENT = "transient"  # try again with backoff
    NOT_FOUND = "not_found"
    ALREADY = "already"  # the change is already so: unchanged, not failed
    # Exchange Online's limit of concurrent connections per account: release this
    # connection and wait for a free one (a throttling of connections, retried the same way)
    CONNECTION_LIMIT = "connection_limit"
    FATAL = "fatal"


@dataclass(frozen=True)
class Rule:
    """One line of the classification table: the first rule whose given parts all match wins.

    ``name`` is the stable error name, ``status`` the HTTP status of a Graph error,
    ``category`` the PowerShell error category, ``phrase`` a fixed text for errors that
    carry no code (matched case-insensitively anywhere in the message).
    """

    outcome: Outcome
    name: str | None = None
    status: int | None = None
    category: str | None = None
    phrase: str | None = None


RULES: tuple[Rule, ...] = (
    # "Fail to create a runspace because you have exceeded the maximum number of connections
    # allowed : 3 for the policy party : MaxConcurrency", from the connect block.
    Rule(Outcome.CONNECTION_LIMIT, name="PSRemotingTransportException", category="OpenError"),
    Rule(Outcome.CONNECTION_LIMIT, phrase="exceeded the maximum number of connections allowed"),
    Rule(Outcome.THROTTLED, status=429),
    Rule(Outcome.THROTTLED, name="TooManyRequests"),  # Graph's code for a 429
    Rule(Outcome.THROTTLED, phrase="Too many retries performed"),  # Graph SDK gave up on 429s
    Rule(Outcome.THROTTLED, phrase="exceeds the throttling budget"),  # Exchange budget
    Rule(Outcome.THROTTLED, name="ServerBusyException"),
    Rule(Outcome.THROTTLED, name="MicroDelayException"),
    Rule(Outcome.THROTTLED, category="LimitsExceeded"),
    Rule(Outcome.THROTTLED, category="QuotaExceeded"),
    Rule(Outcome.THROTTLED, category="ResourceBusy"),
    Rule(Outcome.TRANSIENT, status=503),
    Rule(Outcome.TRANSIENT, status=504),
    Rule(Outcome.TRANSIENT, category="OperationTimeout"),
    Rule(Outcome.TRANSIENT, category="ConnectionError"),
    Rule(Outcome.NOT_FOUND, name="ManagementObjectNotFoundException"),
    Rule(Outcome.NOT_FOUND, name="Request_ResourceNotFound"),
    Rule(Outcome.NOT_FOUND, status=404),
    Rule(Outcome.ALREADY, name="ManagementObjectAlreadyExistsException"),
)
_RETRIED = frozenset({Outcome.THROTTLED, Outcome.TRANSIENT, Outcome.CONNECTION_LIMIT})
_THROTTLED = frozenset({Outcome.THROTTLED, Outcome.CONNECTION_LIMIT})

# "... Please retry after 30 seconds." Graph PowerShell prints the response headers under
# the message: "Retry-After                   : 30" (seconds, no unit). Exchange's budget
# message: "Suggested backoff time 30000 ms."
_RETRY_AFTER = re.compile(
    r"retry[ -]after\D{0,40}?(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)"
    r"|^\s*Retry-After\s*:\s*(\d+(?:\.\d+)?)\s*$"
    r"|Suggested backoff time (\d+) ms",
    re.IGNORECASE | re.MULTILINE,
)
# Graph PowerShell: "Status: 404 (NotFound)" on a line of its own.
_HTTP_STATUS = re.compile(r"^Status:\s*(\d{3})\b", re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    retry: bool
    throttled: bool = False
    retry_after: float | None = None
    outcome: Outcome = Outcome.FATAL

    @property
    def connection_limit(self) -> bool:
        """Release this connection and wait for a free one."""
        return self.outcome is Outcome.CONNECTION_LIMIT


def classify(error_id: str | None, category: str | None, message: str | None, *,
             reason: str | None = None) -> Verdict:
    """What a failed row or pipeline means: retry (throttled or not), not found, already so,
    or fatal."""
    name = short_error_id(error_id, message, reason)
    status = http_status(message)
    text = (message or "").casefold()
    for rule in RULES:
        if ((rule.name is None or rule.name == name)
                and (rule.status is None or rule.status == status)
                and (rule.category is None or rule.category == category)
                and (rule.phrase is None or rule.phrase.casefold() in text)):
            outcome = rule.outcome
            break
    else:
        outcome = Outcome.FATAL
    retry = outcome in _RETRIED
    return Verdict(retry, outcome in _THROTTLED,
                   retry_after(message) if retry else None, outcome)


def http_status(message: str | None) -> int | None:
    match = _HTTP_STATUS.search(message or "")
    return int(match.group(1)) if match else None


GAVE_UP = "RetriesExhausted"  # the runner's error id for rows whose retries ran out


def worth_retrying_later(error_id: str | None, message: str | None) -> bool:
    """Whether a failed row's recorded error (id and message; the category is not kept)
    was transient: its retries ran out, or it was throttling or the connection limit."""
    return (short_error_id(error_id, message) in (GAVE_UP, "PSRemotingTransportException")
            or classify(error_id, None, message).retry)


def retry_after(message: str | None) -> float | None:
    match = _RETRY_AFTER.search(message or "")
    if match is None:
        return None
    if match.group(3) is not None:
        return int(match.group(3)) / 1000
    return float(match.group(1) or match.group(2))


class TransientFailure(Exception):
    """Raised inside a retry loop: try again, after ``retry_after`` seconds if given.

    ``progressed``: this try settled part of its work (rows applied, mailboxes read) and
    only the rest is tried again; the backoff starts over (see :class:`WaitRetryAfter`).
    """

    def __init__(self, reason: str, *, retry_after: float | None = None,
                 throttled: bool = False, connection_limit: bool = False,
                 progressed: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.throttled = throttled
        self.connection_limit = connection_limit
        self.progressed = progressed


class WaitRetryAfter(wait_base):
    """Exponential backoff with jitter over the tries in a row that made no progress, never
    less than the server's Retry-After.

    A try that settled part of its work starts the backoff over: the service is answering,
    and waiting longer than it asks only slows the job down (with the backoff growing on
    every try, 80 grants at 30% throttling took 140 s, most of it asleep).
    """

    def __init__(self, base_delay: float, cap: float):
        self.base_delay = base_delay
        self.cap = cap
        self._stalled = 0  # tries in a row without progress

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        failure = _last_failure(retry_state)
        self._stalled = 1 if _progressed(failure) else self._stalled + 1
        delay = random.uniform(0, min(self.cap, self.base_delay * 2 ** (self._stalled - 1)))
        hint = getattr(failure, "retry_after", None)
        return min(self.cap, max(delay, hint or 0.0))


class StalledTries(stop_base):
    """Stop after ``attempts`` tries in a row that made no progress.

    A try that settled part of its work does not use up the budget, as it starts the
    backoff over: a chunk that is answered a part at a time under heavy throttling is not
    given up while the service still answers. The time budget still bounds it all.
    """

    def __init__(self, attempts: int):
        self.attempts = attempts
        self._stalled = 0  # tries in a row without progress

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        self._stalled = 0 if _progressed(_last_failure(retry_state)) else self._stalled + 1
        return self._stalled >= self.attempts


def _last_failure(retry_state: tenacity.RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None else None


def _progressed(failure: BaseException | None) -> bool:
    """Whether the failed try settled part of its work (:class:`TransientFailure`)."""
    return bool(getattr(failure, "progressed", False))


# One retry budget for every bulk read and write: a unit of work (a chunk of rows, a batch
# of mailboxes) gets up to ATTEMPTS tries in a row without progress, within MAX_SECONDS.
# Six tries gave up on about one row in 150 with 10% throttling and 5% dropped
# connections; twenty do not.
ATTEMPTS = 20
MAX_SECONDS = 600.0


def retrying(*, attempts: int = ATTEMPTS, max_seconds: float = MAX_SECONDS,
             base_delay: float = 0.5, max_delay: float = 30.0,
             sleep: Callable[[float], Any] = time.sleep) -> tenacity.Retrying:
    """The retry policy of bulk work: bounded tries in a row without progress, and total
    time.

    ``sleep`` lets a caller cut a backoff short (an Event's ``wait`` on Ctrl-C).
    """
    return tenacity.Retrying(
        sleep=sleep,
        retry=tenacity.retry_if_exception_type(TransientFailure),
        wait=WaitRetryAfter(base_delay, max_delay),
        stop=StalledTries(attempts) | tenacity.stop_after_delay(max_seconds),
        reraise=True,
    )
