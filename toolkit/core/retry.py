"""Which failures are worth retrying, and how long to wait before the next try.

Only what is transient is retried: throttling (Exchange's REST budget, Graph's 429) and
transport faults. Classification goes by the error record's category and the short
FullyQualifiedErrorId, never by wildcard on the message; only the Retry-After interval,
which Microsoft's modules give in the message alone, is read from the text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity
from tenacity.wait import wait_base

from toolkit.core.session import short_error_id

THROTTLING_CATEGORIES = frozenset({"LimitsExceeded", "QuotaExceeded", "ResourceBusy"})
THROTTLING_IDS = frozenset({
    "TooManyRequests",  # Graph
    "RestClientException",  # REST-backed Exchange cmdlets when the budget is exceeded
    "ServerBusyException",
    "MicroDelayException",
})
TRANSIENT_CATEGORIES = frozenset({"OperationTimeout", "ConnectionError"})
# Exchange Online's limit of concurrent connections per account ("Fail to create a runspace
# because you have exceeded the maximum number of connections allowed : 3 for the policy
# party : MaxConcurrency"), raised by the connect block before any row ran: wait for a slot.
CONNECTION_LIMIT = ("PSRemotingTransportException", "OpenError")
# Exchange: "... Please retry after 30 seconds." Graph PowerShell prints the response
# headers under the message: "Retry-After                   : 30" (seconds, no unit).
_RETRY_AFTER = re.compile(
    r"retry[ -]after\D{0,40}?(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)"
    r"|^\s*Retry-After\s*:\s*(\d+(?:\.\d+)?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Verdict:
    retry: bool
    throttled: bool = False
    retry_after: float | None = None
    connection_limit: bool = False  # release this connection and wait for a free one


def classify(error_id: str | None, category: str | None, message: str | None) -> Verdict:
    """Whether a failed row or pipeline should be tried again."""
    short = short_error_id(error_id)
    if (short, category) == CONNECTION_LIMIT:
        return Verdict(True, True, retry_after(message), connection_limit=True)
    if category in THROTTLING_CATEGORIES or short in THROTTLING_IDS:
        return Verdict(True, True, retry_after(message))
    if category in TRANSIENT_CATEGORIES:
        return Verdict(True, False, retry_after(message))
    return Verdict(False)


GAVE_UP = "RetriesExhausted"  # the runner's error id for rows whose retries ran out


def worth_retrying_later(error_id: str | None, message: str | None) -> bool:
    """Whether a failed row's recorded error (id and message; the category is not kept)
    was transient: its retries ran out, or it was throttling or the connection limit."""
    short = short_error_id(error_id)
    return (short in (GAVE_UP, CONNECTION_LIMIT[0])
            or classify(error_id, None, message).retry)


def retry_after(message: str | None) -> float | None:
    match = _RETRY_AFTER.search(message or "")
    if match is None:
        return None
    return float(match.group(1) or match.group(2))


class TransientFailure(Exception):
    """Raised inside a retry loop: try again, after ``retry_after`` seconds if given."""

    def __init__(self, reason: str, *, retry_after: float | None = None,
                 throttled: bool = False, connection_limit: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.throttled = throttled
        self.connection_limit = connection_limit


class WaitRetryAfter(wait_base):
    """Exponential backoff with jitter, but never less than the server's Retry-After."""

    def __init__(self, backoff: wait_base, cap: float):
        self.backoff = backoff
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = self.backoff(retry_state)
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        hint = getattr(failure, "retry_after", None)
        return min(self.cap, max(delay, hint or 0.0))


# One retry budget for every bulk read and write: a unit of work (a chunk of rows, a batch
# of mailboxes) gets up to ATTEMPTS tries within MAX_SECONDS. Six tries gave up on about
# one row in 150 with 10% throttling and 5% dropped connections; twenty do not.
ATTEMPTS = 20
MAX_SECONDS = 600.0


def retrying(*, attempts: int = ATTEMPTS, max_seconds: float = MAX_SECONDS,
             base_delay: float = 0.5, max_delay: float = 30.0,
             sleep: Callable[[float], Any] = time.sleep) -> tenacity.Retrying:
    """The retry policy of bulk work: bounded attempts and total time.

    ``sleep`` lets a caller cut a backoff short (an Event's ``wait`` on Ctrl-C).
    """
    return tenacity.Retrying(
        sleep=sleep,
        retry=tenacity.retry_if_exception_type(TransientFailure),
        wait=WaitRetryAfter(
            tenacity.wait_random_exponential(multiplier=base_delay, max=max_delay), max_delay
        ),
        stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(max_seconds),
        reraise=True,
    )
