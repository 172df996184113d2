"""The sandbox emits what Microsoft's modules emit, and the product reads it right.

Each record of the evidence corpus (``records/``, see ``corpus.py``) is a real error record
or object shape with its public source. Over the real pypsrp client, the sandbox must
produce each record that says how to provoke it, field by field in the same shape; and
the product's classifier must read every error record as the record expects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from corpus import ERROR_FIELDS, OUTCOMES, Record, load, shape
from psrpcore.types import ErrorCategory
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.core.retry import classify
from toolkit.core.session import plain
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox
from toolkit.sandbox.tenant.demo import HELPDESK_ACCOUNT

RECORDS = load()
ERRORS = [r for r in RECORDS if r.fields]
PROVOKED = [r for r in RECORDS if r.sandbox]


def test_the_corpus_is_sourced_and_large_enough() -> None:
    assert len(RECORDS) >= 25
    for record in RECORDS:
        assert record.source.startswith("https://"), record.name
        assert record.outcome in (*OUTCOMES, None), record.name
        assert set(record.fields) <= set(ERROR_FIELDS), record.name
        assert bool(record.fields) != bool(record.properties), record.name


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, RunningSandbox]]:
    """A calm sandbox, and one where every service call is throttled."""
    root = tmp_path_factory.mktemp("fidelity")
    calm = SandboxOptions(password="Fidelity-1!", seed="demo", mailbox_delay_s=0,
                          state=root / "calm.json")
    stormy = SandboxOptions(password="Fidelity-1!", seed="demo", mailbox_delay_s=0,
                            state=root / "stormy.json", throttle_rate=1.0, random_seed=1)
    with start_sandbox(calm) as quiet, start_sandbox(stormy) as throttled:
        yield {False: quiet, True: throttled}


def _run(sandbox: RunningSandbox, record: Record) -> PowerShell:
    spec: dict[str, Any] = record.sandbox or {}
    username, password = sandbox.username, sandbox.password
    if spec.get("account") == "helpdesk":
        username, password = HELPDESK_ACCOUNT
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth="basic", encryption="never",
                  username=username, password=password)
    with RunspacePool(wsman) as pool:
        if spec.get("connect", True):
            connect = PowerShell(pool)
            connect.add_script("Connect-ExchangeOnline -ShowBanner:$false; "
                               "Connect-MgGraph -NoWelcome")
            connect.invoke()
        shell = PowerShell(pool)
        shell.add_script(str(spec["script"]))
        shell.invoke()
        return shell


def _fields(error: Any) -> dict[str, str]:
    exception = error.exception
    props = {**exception.adapted_properties, **exception.extended_properties}
    types = getattr(exception, "types", None) or []
    return {
        "FullyQualifiedErrorId": str(error.fq_error),
        "Category": ErrorCategory(error.category).name,
        "Reason": str(error.reason),
        "Activity": str(error.activity),
        "ExceptionType": types[0].removeprefix("Deserialized.") if types else "",
        "Message": str(props.get("Message")),
    }


@pytest.mark.parametrize("record", PROVOKED, ids=[r.name for r in PROVOKED])
def test_the_sandbox_emits_the_record(record: Record,
                                      sandboxes: dict[bool, RunningSandbox]) -> None:
    shell = _run(sandboxes[bool((record.sandbox or {}).get("throttled"))], record)
    if record.properties:
        assert not shell.streams.error, [str(e) for e in shell.streams.error]
        assert shell.output, record.name
        for item in shell.output:
            assert set(record.properties) <= set(plain(item)), record.name
        return
    assert shell.streams.error, f"{record.name}: the sandbox raised no error"
    emitted = _fields(shell.streams.error[-1])
    for name, real in record.fields.items():
        assert shape(real, record.varies).fullmatch(emitted[name]), (
            f"{record.name}: {name}\n  real:    {real!r}\n  sandbox: {emitted[name]!r}")
    for header in record.headers:
        assert f"\n{header} " in emitted["Message"], f"{record.name}: no {header} header"


@pytest.mark.parametrize("record", [r for r in ERRORS if r.outcome],
                         ids=[r.name for r in ERRORS if r.outcome])
def test_the_product_classifies_the_record(record: Record) -> None:
    fields = record.fields
    verdict = classify(fields.get("FullyQualifiedErrorId"), fields.get("Category"),
                       fields.get("Message"), reason=fields.get("Reason"))
    assert verdict.outcome == record.outcome
    assert verdict.retry == (record.outcome in ("throttled", "transient"))
    if record.retry_after is not None:
        assert verdict.retry_after == record.retry_after
