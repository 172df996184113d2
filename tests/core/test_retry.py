"""Only transient failures are retried, and never sooner than Retry-After."""

from __future__ import annotations

import contextlib
import random

import pytest

from toolkit.core import retry
from toolkit.core.pipeline_results import short_error_id
from toolkit.core.retry import Outcome, Rule, classify, retry_after, worth_retrying_later

EXO_THROTTLED_ID = ("[Server=SB1PR01MB0001,RequestId=1,TimeStamp=11/29/2026 10:24:10 AM] "
                    "[FailureCategory=Cmdlet-RestClientException] 74E35B8D,"
                    "Microsoft.Exchange.Management.RecipientTasks.SetMailbox")
GRAPH_MESSAGE = ("This request is throttled. Please try again after the value specified in "
                 "the Retry-After header.\n\nStatus: 429 (TooManyRequests)\n"
                 "ErrorCode: TooManyRequests\n\nHeaders:\nRetry-After                   : 7\n")


@pytest.mark.parametrize(
    ("error_id", "category", "message", "throttled", "after"),
    [
        (EXO_THROTTLED_ID, "LimitsExceeded", "Please retry after 30 seconds.", True, 30.0),
        ("TooManyRequests,Microsoft.Graph.PowerShell.Cmdlets.UpdateMgUser_UpdateExpanded",
         "LimitsExceeded", GRAPH_MESSAGE, True, 7.0),
        ("TooManyRequests,Update-MgUser", None, "throttled", True, None),
    ],
)
def test_throttling_is_retried_with_its_hint(error_id: str, category: str | None,
                                             message: str, throttled: bool,
                                             after: float | None) -> None:
    verdict = classify(error_id, category, message)
    assert verdict.retry and verdict.throttled == throttled
    assert verdict.retry_after == after


@pytest.mark.parametrize(
    ("error_id", "category"),
    [
        ("ManagementObjectNotFoundException,Get-Mailbox", "NotSpecified"),
        ("Request_BadRequest,Set-MgUserLicense", "InvalidOperation"),
        ("PSRemotingTransportException,Connect-ExchangeOnline", "AuthenticationError"),
    ],
)
def test_permanent_errors_are_not_retried(error_id: str, category: str) -> None:
    # Even a message that mentions retrying does not make a permanent error transient.
    assert not classify(error_id, category, "Please retry after 5 seconds.").retry


def test_the_connection_limit_means_wait_for_a_free_connection() -> None:
    """Exchange Online's "maximum number of connections allowed : 3" (the connect block's
    OpenError) is not a row failure: the caller gives its connection back and waits."""
    verdict = classify("PSRemotingTransportException,Connect-ExchangeOnline", "OpenError",
                       "Fail to create a runspace because you have exceeded the maximum "
                       "number of connections allowed : 3 for the policy party : "
                       "MaxConcurrency. Please close existing runspace and try again.")
    assert verdict.retry and verdict.throttled and verdict.connection_limit


def test_retry_after_needs_a_number() -> None:
    assert retry_after("Retry-After header.") is None
    assert retry_after(None) is None


# The same "not found", as Exchange Online's V3 module and on-premises remoting write it
# (tests/fidelity/records holds the transcripts).
V3_ID = ("[Server=AM6PR06MB5795,RequestId=7f6f2d5f-726b-5584-2121-922596043d50,"
         "TimeStamp=Tue, 28 Mar 2023 13:55:04 GMT],Write-ErrorMessage")
V3_MESSAGE = ("Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
              "The operation couldn't be performed because object 'x' couldn't be found on 'y'.")
ON_PREMISES_ID = ("[Server=EX01,RequestId=fde5c283-bca6-47f4-839e-d31a84d908ed,TimeStamp=5/25/2019 "
                  "6:06:56 PM] [FailureCategory=Cmdlet-ManagementObjectNotFoundException] "
                  "3CD6CA39,Microsoft.Exchange.Management.RecipientTasks.GetMailbox")


@pytest.mark.parametrize(
    ("error_id", "message", "reason"),
    [
        (V3_ID, V3_MESSAGE, None),  # the |Type| segment of the message
        (V3_ID, "The operation couldn't be performed.", "ManagementObjectNotFoundException"),
        (ON_PREMISES_ID, "The operation couldn't be performed.", None),
    ],
)
def test_both_exchange_shapes_name_the_same_error(error_id: str, message: str,
                                                  reason: str | None) -> None:
    assert short_error_id(error_id, message, reason) == "ManagementObjectNotFoundException"
    verdict = classify(error_id, "NotSpecified", message, reason=reason)
    assert verdict.outcome is Outcome.NOT_FOUND and not verdict.retry


def test_a_new_case_is_one_line_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    message = "The remote server is being upgraded; try again in a few minutes."
    assert classify("InvalidOperationException", "InvalidOperation", message).outcome is (
        Outcome.FATAL)
    monkeypatch.setattr(retry, "RULES", (
        Rule(Outcome.TRANSIENT, phrase="is being upgraded"), *retry.RULES))
    assert classify("InvalidOperationException", "InvalidOperation", message).retry


def test_exchange_budget_back_off_is_in_milliseconds() -> None:
    assert retry_after("Suggested backoff time 2500 ms.") == 2.5
def test_a_failed_row_is_worth_retrying_later_only_when_its_error_was_transient() -> None:
    assert worth_retrying_later("RetriesExhausted", "gave up after retries: throttled")
    assert worth_retrying_later("PSRemotingTransportException,Connect-ExchangeOnline", "")
    assert worth_retrying_later("TooManyRequests,Update-MgUser", "Too many requests")
    assert not worth_retrying_later("ManagementObjectNotFoundException", "not found")
    assert not worth_retrying_later(None, None)


def _waits(progress: list[bool], retry_after: float | None = None) -> list[float]:
    """The sleeps a retry loop takes when its tries fail with ``progress`` in turn."""
    from toolkit.core.retry import TransientFailure, retrying

    slept: list[float] = []
    tries = iter(progress)
    for attempt in retrying(attempts=len(progress) + 1, sleep=slept.append):
        with attempt:
            progressed = next(tries, None)
            if progressed is not None:
                raise TransientFailure("throttled", retry_after=retry_after,
                                       progressed=progressed)
    return slept


def test_backoff_grows_only_over_tries_that_made_no_progress() -> None:
    random.seed(7)
    stalled = [_waits([False] * 8) for _ in range(50)]
    answering = [_waits([True] * 8) for _ in range(50)]
    # Without progress the waits grow towards the cap; with it they stay near the base.
    assert sum(w[-1] for w in stalled) / 50 > 10 * (sum(w[-1] for w in answering) / 50)
    assert max(w for waits in answering for w in waits) <= 0.5
    # The server's Retry-After is a floor either way.
    assert min(_waits([True] * 5, retry_after=1.0)) == 1.0


def _tries(progress: list[bool], attempts: int) -> int:
    """How many tries a retry loop makes when its tries fail with ``progress`` in turn
    and the next one succeeds."""
    from toolkit.core.retry import TransientFailure, retrying

    made = 0
    tries = iter(progress)
    with contextlib.suppress(TransientFailure):
        for attempt in retrying(attempts=attempts, sleep=lambda seconds: None):
            with attempt:
                made += 1
                progressed = next(tries, None)
                if progressed is not None:
                    raise TransientFailure("throttled", progressed=progressed)
    return made


def test_only_tries_without_progress_use_up_the_budget() -> None:
    # A chunk answered a part at a time is followed to its end...
    assert _tries([True] * 10, attempts=3) == 11
    # ...three stalled tries in a row give up, and a progressing try starts the count over.
    assert _tries([False] * 10, attempts=3) == 3
    assert _tries([False, False, True, False, False, True], attempts=3) == 7
