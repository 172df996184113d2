"""--distributed, psbridge worker and the shared store, with the real services.

The CLI, two workers and the sandbox are separate processes; the store is a PostgreSQL
database of the test's own and the broker a Redis database of its own (tests/services.py:
skipped with the reason when a service is unreachable, failed under CI=true). Exactly-once
is judged by the sandbox's command log, the connection cap by the sandbox itself (it refuses
a 4th concurrent Exchange connection of one account, as Exchange Online does).
"""

from __future__ import annotations

import contextlib
import csv
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli, ServedSandbox, bulk_seed, rows_csv
from services import amqp_queue, postgres_database, redis_broker


@dataclass
class Worker:
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def text(self) -> str:
        return "".join(self.output)

    def ran(self, task: str) -> bool:
        """Whether this worker ran ``task`` (its banner lists every task it knows)."""
        return re.search(rf"{re.escape(task)}\[[0-9a-f-]+\] succeeded", self.text()) is not None


@contextmanager
def broker_queue(kind: str) -> Iterator[str]:
    """The [queue] settings of a test: a Redis database of its own, or (``amqp``) a queue
    of its own on RabbitMQ."""
    if kind == "amqp":
        with amqp_queue() as (broker, queue):
            yield f'broker = "{broker}"\nqueue = "{queue}"\n'
        return
    with redis_broker() as broker:
        yield f'broker = "{broker}"\nredelivery_seconds = 10\n'


@pytest.fixture
def shared(cli: Cli, isolated_home: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """[store] and [queue] in the test's config, on a fresh database and a broker of its
    own (Redis unless the test is parametrised with ``amqp``)."""
    with postgres_database() as store, broker_queue(getattr(request, "param", "redis")) as queue:
        (isolated_home / "config.toml").write_text(
            f'[store]\nurl = "{store}"\n\n[queue]\n{queue}', encoding="utf-8")
        cli("store", "migrate", check=0)
        yield queue


@pytest.fixture
def workers(cli: Cli) -> Iterator[Any]:
    started: list[Worker] = []

    def start(name: str, concurrency: int = 1, *options: str,
              env: dict[str, str] | None = None) -> Worker:
        # A node name of its own: RabbitMQ's per-node control queue (NAME.celery.pidbox) is
        # exclusive on the broker, which two test runs at once share.
        process = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "-v", "worker", "--concurrency",
             str(concurrency), "--name", f"{name}-{uuid.uuid4().hex[:8]}@test", *options],
            env={**cli.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, stdin=subprocess.DEVNULL)
        worker = Worker(process)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                worker.output.append(line)
                if " ready." in line:
                    worker.ready.set()

        threading.Thread(target=pump, daemon=True).start()
        while not worker.ready.wait(0.2):
            assert process.poll() is None, worker.text()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.terminate()  # warm shutdown: it finishes the task it is running
    for worker in started:
        try:
            worker.process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # that task, slowed by a loaded machine: the test
            worker.process.kill()  # is over, and a late-acknowledged task loses nothing
            worker.process.wait()


def applied(sandbox: ServedSandbox) -> Counter[str]:
    """How many times each mailbox was changed by a successful Set-Mailbox."""
    return Counter(c["parameters"]["Identity"] for c in sandbox.commands("Set-Mailbox")
                   if c["ok"])


def bulk_job(tmp_path: Path, serve: Any, rows: int, cmdlet_ms: int) -> tuple[ServedSandbox,
                                                                             Path]:
    sandbox = serve("--cmdlet-ms", str(cmdlet_ms),
                    seed=str(bulk_seed(tmp_path / "seed.json", rows)))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      [f"bulk{i:04d}@contoso.com,v{i}" for i in range(rows)])
    return sandbox, source


@pytest.mark.parametrize("shared", ["redis", "amqp"], indirect=True)
def test_a_distributed_job_runs_on_the_workers_and_reports_like_a_local_one(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 200, cmdlet_ms=5)
    first, second = workers("one"), workers("two")
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "10", "--distributed", "--results",
                 str(tmp_path / "out.csv"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "200 changed" in result.stdout
    header, *rows = (tmp_path / "out.csv").read_text().splitlines()
    assert header == "row,Mailbox,status,message,error_id" and len(rows) == 200
    changes = applied(sandbox)
    assert len(changes) == 200 and set(changes.values()) == {1}
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "completed"
    assert all(w.ran("psbridge.run_chunk") for w in (first, second)), "both took chunks"


def test_perms_apply_distributed_grants_each_row_once_on_both_workers(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox = serve("--cmdlet-ms", "5", seed=str(bulk_seed(tmp_path / "seed.json", 60)))
    grants = [f"bulk{i:04d}@contoso.com,bulk{i + 1 + k:04d}@contoso.com,{right}"
              for i in range(50) for k, right in enumerate(("FullAccess", "SendAs"))]
    source = rows_csv(tmp_path / "grants.csv", "Mailbox,Trustee,Right", grants)
    first, second = workers("one"), workers("two")
    result = cli("--profile", "lab", "perms", "apply", str(source), "--chunk-size", "10",
                 "--distributed", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sent = Counter((c["cmdlet"], c["parameters"]["Identity"],
                    str(c["parameters"].get("User") or c["parameters"].get("Trustee")))
                   for c in sandbox.commands()
                   if c["cmdlet"] in ("Add-MailboxPermission", "Add-RecipientPermission"))
    wanted = {("Add-MailboxPermission" if right == "FullAccess" else "Add-RecipientPermission",
               mailbox, trustee)
              for mailbox, trustee, right in (line.split(",") for line in grants)}
    assert set(sent) == wanted and set(sent.values()) == {1}, sent
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "completed"
    assert Counter(r["status"] for r in cli.json("jobs", "show", job["id"])) == {"changed": 100}
    assert all(w.ran("psbridge.run_chunk") for w in (first, second)), "both took chunks"


def row_states() -> Counter[str]:
    """The rows' states of every job in the test's shared store."""
    from toolkit.core.journal import Journal

    with Journal() as journal:
        return sum((Counter(journal.counts(job.id)) for job in journal.jobs()), Counter())


def ctrl_c_once_changed(process: subprocess.Popen[str], rows: int) -> str:
    """Press Ctrl-C in a running command once ``rows`` rows are changed in the store; its
    output, after it exited 130."""
    while row_states()["changed"] < rows:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    return output


@pytest.mark.slow
def test_kill_9_of_a_worker_mid_job_applies_every_change_exactly_once(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 500, cmdlet_ms=10)
    doomed, survivor = workers("doomed"), workers("survivor")
    job = cli.popen("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                    str(source), "--chunk-size", "10", "--distributed")
    # Kill once a fifth is done and both workers have a chunk in flight (each runs one task at
    # a time, so 20 rows sent means both). Both are frozen while the store is read: a chunk
    # that ends between the read and the kill would leave nothing in flight to lose.
    while True:
        for worker in (doomed, survivor):
            worker.process.send_signal(signal.SIGSTOP)
        states = row_states()
        if states["changed"] >= 100 and states["sent"] >= 20:
            break
        for worker in (doomed, survivor):
            worker.process.send_signal(signal.SIGCONT)
        assert job.poll() is None, job.communicate()[0]
        time.sleep(0.05)
    doomed.process.send_signal(signal.SIGKILL)
    survivor.process.send_signal(signal.SIGCONT)
    output, _ = job.communicate(timeout=300)
    assert "job " in output and job.returncode in (0, 1), output
    assert " ready." in survivor.text()
    (listed,) = cli.json("jobs", "list")
    shown = cli.json("jobs", "show", listed["id"])
    # The rows the doomed worker had claimed stay unknown: its task, delivered again to the
    # survivor, does not send them a second time. They are reported, and resumed locally.
    unknown = [r for r in shown if r["status"] == "unknown"]
    assert unknown, "the doomed worker's chunk in flight was sent again"
    assert job.returncode == 1 and f"psbridge jobs resume {listed['id']}" in output
    cli("--profile", "lab", "jobs", "resume", listed["id"], "--rerun-unknown", check=0,
        timeout=300)
    final = Counter(r["status"] for r in cli.json("jobs", "show", listed["id"]))
    assert final["changed"] + final["unchanged"] == 500 and final["failed"] == 0
    changes = applied(sandbox)
    assert len(changes) == 500 and set(changes.values()) == {1}
    # No row was sent twice, but those in flight at the kill (re-read by the resume).
    reads = Counter(c["parameters"]["Identity"] for c in sandbox.commands("Get-Mailbox"))
    in_flight = {r["key"] for r in unknown}
    assert {m for m, n in reads.items() if n > 1} <= in_flight


def test_the_connection_cap_holds_across_workers(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 240, cmdlet_ms=5)
    workers("left", concurrency=3), workers("right", concurrency=3)
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "10", "--distributed", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    connects = sandbox.commands("Connect-ExchangeOnline")
    assert len(connects) >= 4, "six worker threads should have connected more than 3 times"
    refused = [c for c in connects if not c["ok"]]
    assert refused == [], "the sandbox refused a connection over Exchange's limit of 3"
    assert len(applied(sandbox)) == 240


def msp_sandbox(serve: Any, tmp_path: Path, home: Path, *extra: str) -> ServedSandbox:
    """A sandbox of 4 customer tenants (40 mailboxes, 60 grants each): profile lab's home
    tenant is customer00, and it lists customer01-03 as its customers."""
    import json

    import tomlkit

    from toolkit.sandbox.tenant import demo

    seed = tmp_path / "msp.json"
    seed.write_text(json.dumps(demo.msp_seed(tenants=4, mailboxes=40, grants=60)))
    sandbox = serve(*extra, seed=str(seed))
    config = home / "config.toml"
    document = tomlkit.parse(config.read_text())
    document["profiles"]["lab"]["tenants"] = [  # type: ignore[index]
        f"customer{n:02d}.onmicrosoft.com" for n in (1, 2, 3)]
    config.write_text(tomlkit.dumps(document))
    return sandbox


def test_an_all_tenants_audit_spreads_over_two_workers(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    import json

    sandbox = msp_sandbox(serve, tmp_path, isolated_home, "--cmdlet-ms", "20")
    first, second = workers("first"), workers("second")
    result = cli("--profile", "lab", "perms", "audit", "--all", "--all-tenants",
                 "--distributed", "--chunk-size", "10", "--out",
                 str(tmp_path / "audit.json"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    audited = {c["tenant"] for c in sandbox.commands("Get-MailboxPermission")}
    assert audited == {f"customer{n:02d}.onmicrosoft.com" for n in range(4)}
    for n in range(4):  # one snapshot and one report per tenant, read back from the store
        tenant = f"customer{n:02d}.onmicrosoft.com"
        (snapshot,) = cli.json("--profile", "lab", "--tenant", tenant, "perms", "snapshots")
        assert snapshot["mailboxes"] == 40
        report = json.loads((tmp_path / f"audit-{tenant if n else 'home'}.json").read_text())
        assert report["summary"]["snapshot"]["grants"] == 60, report["summary"]
    ran = [w for w in (first, second) if w.ran("psbridge.audit_tenant")]
    assert len(ran) == 2, "both workers should have taken tenants"


def changed_tenant(cli: Cli) -> str:
    """Audit every tenant, grant one right in one of them, audit again: that tenant drifted."""
    tenant = "customer02.onmicrosoft.com"
    cli("--profile", "lab", "perms", "audit", "--all", "--all-tenants", check=0, timeout=300)
    cli("--profile", "lab", "--tenant", tenant, "perms", "grant", "user00001@customer02.example",
        "user00039@customer02.example", "--right", "SendAs", check=0)
    return tenant


def test_an_all_tenants_diff_on_two_workers_reports_like_a_local_one(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    import json

    msp_sandbox(serve, tmp_path, isolated_home)
    tenant = changed_tenant(cli)
    cli("--profile", "lab", "perms", "audit", "--all", "--all-tenants", check=0, timeout=300)
    diff = ("--profile", "lab", "--output", "json", "perms", "diff", "--all-tenants")
    local = cli(*diff, "--out", str(tmp_path / "local.json"), check=3)
    first, second = workers("first"), workers("second")
    remote = cli(*diff, "--distributed", "--out", str(tmp_path / "remote.json"), check=3)
    assert (remote.stdout, remote.stderr) == (local.stdout, local.stderr)
    changes = json.loads(remote.stdout)
    assert changes == [{"tenant": tenant, "change": "added", "mailbox": "user00001@customer02.example",
                        "trustee": "user00039@customer02.example", "right": "SendAs",
                        "kind": "grant", "source": "recipient"}]
    for name in (f"customer{n:02d}.onmicrosoft.com" for n in range(4)):  # one report each
        assert (tmp_path / f"remote-{name}.json").read_text() \
            == (tmp_path / f"local-{name}.json").read_text()
    assert all(w.ran("psbridge.drift_tenant") for w in (first, second)), \
        "both workers should have compared tenants"


@dataclass
class Webhook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    url: str
    posts: list[dict[str, Any]]
    posted: threading.Event


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hook = Webhook("", [], threading.Event())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.posts.append(json.loads(body))
            self.send_response(204)
            self.end_headers()
            hook.posted.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/drift"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hook
    server.shutdown()
    server.server_close()


def wait_for(what: str, done: Any, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.slow
def test_a_beat_worker_audits_on_schedule_and_posts_the_drift(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, webhook: Webhook, tmp_path: Path,
        isolated_home: Path) -> None:
    msp_sandbox(serve, tmp_path, isolated_home)
    tenant = changed_tenant(cli)
    with (isolated_home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[[schedule]]\nname = "every-minute"\ncron = "* * * * *"\n'
                     f'command = "audit"\nprofile = "lab"\ntenants = ["all"]\n'
                     f'webhook = "{webhook.url}"\n')
    beat = workers("beat", 2, "--beat")
    assert webhook.posted.wait(180), "no drift was posted within 180 s:\n" + beat.text()
    ran = re.compile(r"schedule every-minute: psbridge .*perms diff .*: exit (\d+)")
    wait_for("the scheduled diff did not end:\n" + beat.text(),
             lambda: ran.search(beat.text()))
    assert ran.findall(beat.text())[0] == "3", beat.text()
    (post,) = webhook.posts
    assert post["tenant"] == tenant and (post["added"], post["removed"]) == (1, 0), post
    assert post["changes"] == [{"change": "added", "mailbox": "user00001@customer02.example",
                                "trustee": "user00039@customer02.example", "right": "SendAs",
                                "kind": "grant", "source": "recipient"}]
    for name in (f"customer{n:02d}.onmicrosoft.com" for n in range(4)):
        newest, *older = cli.json("--profile", "lab", "--tenant", name, "perms", "snapshots")
        assert older and newest["status"] == "complete" and newest["mailboxes"] == 40
    assert beat.ran("psbridge.audit_tenant") and beat.ran("psbridge.scheduled")


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_chunks_and_resume_finishes_locally(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 300, cmdlet_ms=10)
    workers("only")
    job = cli.popen("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                    str(source), "--chunk-size", "10", "--distributed")
    output = ctrl_c_once_changed(job, 30)
    (listed,) = cli.json("jobs", "list")
    assert listed["status"] == "interrupted"
    assert f"hint: psbridge jobs resume {listed['id']}" in output
    stopped = row_states()
    assert stopped["sent"] == 0, "Ctrl-C waits for the chunks in flight"
    assert stopped["pending"] > 0, "chunks not started were not run"
    time.sleep(2)
    assert row_states() == stopped, "no worker went on with the job"
    cli("--profile", "lab", "jobs", "resume", listed["id"], check=0, timeout=300)
    final = Counter(r["status"] for r in cli.json("jobs", "show", listed["id"]))
    assert final == {"changed": 300}
    changes = applied(sandbox)
    assert len(changes) == 300 and set(changes.values()) == {1}


def test_distributed_without_a_shared_store_or_broker_changes_nothing(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 5, cmdlet_ms=0)
    run = ("--profile", "lab", "task", "run", "custom/set-attribute", "--csv", str(source),
           "--distributed")
    no_queue = cli(*run, check=2)
    assert "need a [queue] broker" in no_queue.stderr
    config = isolated_home / "config.toml"
    config.write_text('[queue]\nbroker = "redis://127.0.0.1:6379/0"\n' + config.read_text())
    no_store = cli(*run, check=2)
    assert "--distributed and 'psbridge worker' need a shared job store" in no_store.stderr
    assert "[store] url" in no_store.stderr
    assert sandbox.commands("Set-Mailbox") == []


def test_throttling_seen_by_one_worker_slows_the_tenant_on_every_worker(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    seed = bulk_seed(tmp_path / "seed.json", 60)
    sandbox = serve("--throttle-rate", "0.1", "--random-seed", "7", "--throttle-retry-s", "2",
                    seed=str(seed))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      [f"bulk{i:04d}@contoso.com,v{i}" for i in range(60)])
    pair = workers("east", concurrency=2), workers("west", concurrency=2)
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "5", "--distributed", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c for c in sandbox.commands() if not c["ok"]], "the sandbox should have throttled"
    changes = applied(sandbox)
    assert len(changes) == 60 and set(changes.values()) == {1}
    held = "".join(w.text() for w in pair)
    assert "is throttled; holding the next pipeline" in held


@pytest.mark.slow
def test_an_audit_redis_delivers_again_is_not_run_twice(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    """Redis delivers a task again when it has not ended within the visibility timeout
    (here 10 s), while the first delivery still runs: the second hands back the first's
    outcome. One snapshot per tenant, every mailbox read once.

    Source: Celery, "Using Redis", Caveats ("If a task isn't acknowledged within the
    Visibility Timeout the task will be redelivered to another worker and executed"),
    https://docs.celeryq.dev/en/latest/getting-started/backends-and-brokers/redis.html
    #redis-caveats; this test sees it happen (each audit received twice)."""
    import json

    import tomlkit

    from toolkit.sandbox.tenant import demo

    seed = tmp_path / "msp.json"
    seed.write_text(json.dumps(demo.msp_seed(tenants=2, mailboxes=20, grants=30)))
    sandbox = serve("--cmdlet-ms", "900", seed=str(seed))  # 20 mailboxes: over 18 s each
    config = isolated_home / "config.toml"
    document = tomlkit.parse(config.read_text())
    document["profiles"]["lab"]["tenants"] = ["customer01.onmicrosoft.com"]  # type: ignore[index]
    config.write_text(tomlkit.dumps(document))
    first, second = workers("first"), workers("second")
    result = cli("--profile", "lab", "perms", "audit", "--all", "--all-tenants",
                 "--distributed", "--concurrency", "1", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

    def deliveries(state: str) -> Counter[str]:
        text = first.text() + second.text()
        return Counter(re.findall(rf"psbridge\.audit_tenant\[([0-9a-f-]+)\] {state}", text))

    # The copies Redis delivered again wait in the queue for a free worker, and may run
    # after the CLI has its outcomes: wait until every delivery has ended.
    deadline = time.monotonic() + 300
    while max(deliveries("received").values(), default=0) < 2 \
            or deliveries("received") != deliveries("succeeded"):
        assert time.monotonic() < deadline, "Redis should have delivered an audit again"
        time.sleep(0.2)
    reads = Counter((c["tenant"], c["parameters"]["Identity"])
                    for c in sandbox.commands("Get-MailboxPermission"))
    assert len(reads) == 40 and set(reads.values()) == {1}, reads
    for tenant in ("customer00.onmicrosoft.com", "customer01.onmicrosoft.com"):
        (snapshot,) = cli.json("--profile", "lab", "--tenant", tenant, "perms", "snapshots")
        assert snapshot["mailboxes"] == 20


# users activate --distributed: two steps (Graph, then Exchange) and sealed passwords.

HIRES_HEADER = ("UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,Licenses,"
                "Password,Aliases")
MUTATING = ("New-MgUser", "Update-MgUser", "Set-MgUserLicense", "Set-Mailbox")
LAB = ("--profile", "lab")
PASSWORD = re.compile(r"^\s*│?\s*(\S+@\S+)\s+│\s+(\S+)\s+│\s*$")  # a shown password


def hires_sandbox(serve: Any, tmp_path: Path, *extra: str) -> ServedSandbox:
    """The demo tenant with enough ENTERPRISEPACK seats for every new hire of a test."""
    import json

    from toolkit.sandbox.tenant import demo

    seed = demo.demo_seed()
    contoso = next(t for t in seed["tenants"] if t["name"] == demo.CONTOSO)
    for sku in contoso["skus"]:
        if sku["part_number"] == "ENTERPRISEPACK":
            sku["enabled"] = 80
    path = tmp_path / "hires-seed.json"
    path.write_text(json.dumps(seed))
    return serve(*extra, seed=str(path))  # type: ignore[no-any-return]


@dataclass
class Hires:
    source: Path
    upns: list[str]
    typed: dict[str, str]  # passwords from the file's Password cells (never handed out)


def hires_csv(tmp_path: Path, count: int) -> Hires:
    """``count`` new users with an alias each; every fourth has a Password cell."""
    upns = [f"hire{i:02d}@contoso.com" for i in range(count)]
    typed = {upn: f"Typed{uuid.uuid4().hex[:12]}!9" for upn in upns[::4]}
    source = rows_csv(tmp_path / "hires.csv", HIRES_HEADER, [
        f"{upn},Hire {i},Hire,N{i},US,ENTERPRISEPACK,{typed.get(upn, '')},"
        f"{upn.replace('@', '.alias@')}" for i, upn in enumerate(upns)])
    return Hires(source, upns, typed)


def with_queue_key(home: Path) -> str:
    """A queue key for the CLI and the workers: ``[queue] secret_key_file``."""
    import tomlkit
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    (home / "queue.key").write_text(key + "\n", encoding="utf-8")
    config = home / "config.toml"
    document = tomlkit.parse(config.read_text())
    document["queue"]["secret_key_file"] = "queue.key"  # type: ignore[index]
    config.write_text(tomlkit.dumps(document))
    return key


def configured(home: Path, table: str, key: str) -> str:
    import tomllib

    with (home / "config.toml").open("rb") as handle:
        return str(tomllib.load(handle)[table][key])


def redis_dump(url: str) -> bytes:
    """Every key and value of the test's Redis database; the body of each Celery message
    waiting in a queue is base64 inside its JSON envelope, so it is decoded too."""
    import base64
    import json

    import redis

    db = redis.Redis.from_url(url)
    dump = []
    for key in db.scan_iter():
        kind = db.type(key).decode()
        values: list[bytes] = (
            [db.get(key) or b""] if kind == "string" else
            db.lrange(key, 0, -1) if kind == "list" else
            [b for pair in db.hgetall(key).items() for b in pair] if kind == "hash" else
            list(db.smembers(key)) if kind == "set" else
            [m for m, _ in db.zrange(key, 0, -1, withscores=True)])
        dump.append(key)
        for value in values:
            dump.append(value)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                dump.append(base64.b64decode(json.loads(value)["body"]))
    return b"\n".join(dump)


def waiting_messages(home: Path) -> int:
    """How many messages wait in the test's queue, on Redis or on RabbitMQ."""
    broker = configured(home, "queue", "broker")
    if broker.startswith("redis"):
        import redis

        return int(redis.Redis.from_url(broker).llen("psbridge"))
    from kombu import Connection

    with Connection(broker) as connection:
        try:
            declared = connection.default_channel.queue_declare(
                configured(home, "queue", "queue"), passive=True)
        except connection.channel_errors:  # not declared yet: nothing sent so far
            return 0
        return int(declared.message_count)


def broker_dump(home: Path) -> bytes:
    """What the test's broker holds: every key of its Redis database, or the body of every
    message waiting in its RabbitMQ queue (each read and handed back: a channel that
    closes without acknowledging them returns them to the queue)."""
    broker = configured(home, "queue", "broker")
    if broker.startswith("redis"):
        return redis_dump(broker)
    from kombu import Connection

    bodies = []
    with Connection(broker) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(configured(home, "queue", "queue"),
                                            no_ack=False)) is not None:
            body = message.body
            bodies.append(body if isinstance(body, bytes) else body.encode())
        channel.close()
    return b"\n".join(bodies)


def store_dump(home: Path) -> str:
    """Every row of every table of the test's PostgreSQL store, as text."""
    import psycopg

    with psycopg.connect(configured(home, "store", "url")) as db:
        tables = [r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(row) for table in tables
                         for row in db.execute(f'SELECT * FROM "{table}"'))


def mutations(sandbox: ServedSandbox, upn: str) -> Counter[str]:
    """The changes sent to the sandbox that name ``upn``, by cmdlet (refused ones too: a
    second Set-Mailbox adding the same alias is refused, yet was sent twice)."""
    import json

    return Counter(c["cmdlet"] for c in sandbox.commands()
                   if c["cmdlet"] in MUTATING and upn in json.dumps(c["parameters"]).lower())


def assert_no_secret(secrets: list[str], **places: str | bytes) -> None:
    assert secrets
    for name, text in places.items():
        data = text.encode() if isinstance(text, str) else text
        leaked = sum(s.encode() in data for s in secrets)
        if leaked:  # the count only: a failing run prints no password
            pytest.fail(f"{leaked} of {len(secrets)} password(s) in plain text in {name}")


@pytest.mark.parametrize("shared", ["redis", "amqp"], indirect=True)
def test_users_activate_distributed_activates_each_user_once_and_hands_over_the_passwords(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    """20 new users over 2 workers: Graph changes and aliases (on Exchange runspaces) once
    per user, generated passwords in --credentials-out only, no password in plain text in
    the broker's messages (on Redis and on RabbitMQ), the broker's database, the store,
    the worker logs or the CLI's output."""
    # Mailboxes at once: the workers add every alias (no row waits for the local pass).
    sandbox = hires_sandbox(serve, tmp_path, "--cmdlet-ms", "20", "--mailbox-delay-s", "0")
    with_queue_key(isolated_home)
    hires = hires_csv(tmp_path, 20)
    creds, results = tmp_path / "creds.csv", tmp_path / "results.csv"
    run = cli.popen(*LAB, "users", "activate", str(hires.source), "--distributed",
                    "--chunk-size", "2", "--credentials-out", str(creds), "--results",
                    str(results))
    while waiting_messages(isolated_home) < 10:  # every chunk waits queued
        assert run.poll() is None, run.communicate()[0]
        time.sleep(0.05)
    queued = broker_dump(isolated_home)
    assert b"hire00@contoso.com" in queued, "the scan reads the queued messages"
    first, second = workers("one"), workers("two")
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output
    assert "20 changed" in output and "waiting up to" not in output

    for upn in hires.upns:
        assert mutations(sandbox, upn) == {"New-MgUser": 1, "Set-MgUserLicense": 1,
                                           "Update-MgUser": 1, "Set-Mailbox": 1}, upn
    aliasing = {c["runspace"] for c in sandbox.commands("Set-Mailbox")}
    assert {c["service"] for c in sandbox.commands() if c["runspace"] in aliasing} \
        == {"exchange"}, "aliases are added on Exchange-only runspaces"
    assert all(w.ran("psbridge.run_chunk") for w in (first, second)), "both took chunks"

    with creds.open(newline="") as handle:
        handed = {r["UserPrincipalName"]: r["TemporaryPassword"] for r in csv.DictReader(handle)}
    assert set(handed) == set(hires.upns) - set(hires.typed)
    secrets = [*handed.values(), *hires.typed.values()]
    assert_no_secret(secrets, queued_messages=queued, broker=broker_dump(isolated_home),
                     store=store_dump(isolated_home), output=output,
                     worker_logs=first.text() + second.text(), results=results.read_text(),
                     command_log=sandbox.command_log.read_text())
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "completed"


def test_users_activate_distributed_without_a_queue_key_changes_and_sends_nothing(  # type: ignore[no-untyped-def]
        cli: Cli, serve, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    import redis

    sandbox = hires_sandbox(serve, tmp_path)
    hires = hires_csv(tmp_path, 3)
    refused = cli(*LAB, "users", "activate", str(hires.source), "--distributed", check=2)
    assert "none is set (PSBRIDGE_QUEUE_KEY or [queue] secret_key_file)" in refused.stderr
    assert "Fernet.generate_key().decode()" in refused.stderr
    assert [c for c in sandbox.commands() if c["cmdlet"] in MUTATING] == []
    assert cli.json("jobs", "list") == []
    assert redis.Redis.from_url(configured(isolated_home, "queue", "broker")).llen(
        "psbridge") == 0


def test_a_worker_with_another_queue_key_fails_the_rows_and_logs_no_secret(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    from cryptography.fernet import Fernet

    sandbox = hires_sandbox(serve, tmp_path)
    with_queue_key(isolated_home)
    hires = hires_csv(tmp_path, 4)
    wrong = workers("wrong", env={"PSBRIDGE_QUEUE_KEY": Fernet.generate_key().decode()})
    run = cli(*LAB, "users", "activate", str(hires.source), "--distributed",
              "--credentials-out", str(tmp_path / "creds.csv"), check=1, timeout=300)
    assert "4 failed" in run.stdout
    (job,) = cli.json("jobs", "list")
    rows = cli.json("jobs", "show", job["id"])
    assert {r["status"] for r in rows} == {"failed"} and len(rows) == 4
    assert all("cannot open the task's sealed secrets" in r["message"] for r in rows), rows
    assert "cannot open the task's sealed secrets" in wrong.text()
    assert [c for c in sandbox.commands() if c["cmdlet"] in MUTATING] == []
    assert not (tmp_path / "creds.csv").exists()
    assert_no_secret(list(hires.typed.values()), worker_log=wrong.text(),
                     output=run.stdout + run.stderr, store=store_dump(isolated_home))


def test_distributed_activation_rows_that_wait_for_their_mailbox_are_finished_here(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    """Mailboxes that come late: the workers leave the rows waiting, the CLI waits for the
    mailboxes and finishes those rows itself (a local pass of the same job); the passwords
    are shown once, as a local run shows them."""
    sandbox = hires_sandbox(serve, tmp_path, "--mailbox-delay-s", "3")
    with_queue_key(isolated_home)
    hires = hires_csv(tmp_path, 3)
    only = workers("only")
    run = cli(*LAB, "users", "activate", str(hires.source), "--distributed",
              "--mailbox-timeout", "120s", check=0, timeout=300)
    assert "waiting up to 120s for the mailbox of 3 user(s)" in run.stderr
    assert "3 waiting" in run.stdout and "3 changed" in run.stdout
    shown = {m.group(1): m.group(2) for m in map(PASSWORD.match, run.stdout.splitlines()) if m}
    assert set(shown) == set(hires.upns) - set(hires.typed)
    for upn in hires.upns:
        assert mutations(sandbox, upn) == {"New-MgUser": 1, "Set-MgUserLicense": 1,
                                           "Update-MgUser": 1, "Set-Mailbox": 1}, upn
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "completed"
    assert_no_secret([*shown.values(), *hires.typed.values()], worker_log=only.text(),
                     store=store_dump(isolated_home), stderr=run.stderr,
                     redis=redis_dump(configured(isolated_home, "queue", "broker")))


@pytest.mark.slow
def test_ctrl_c_of_a_distributed_activation_hands_over_what_came_back_and_resume_finishes(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path, isolated_home: Path) -> None:
    """Ctrl-C: exit 130 with the resume hint, the passwords of the rows done handed over;
    'jobs resume' finishes the job locally as it does a local activation's: rows with a
    Password cell are done, rows that need a generated password fail saying to run
    'users activate' again (only it shows passwords). No user is changed twice."""
    sandbox = hires_sandbox(serve, tmp_path, "--cmdlet-ms", "150", "--mailbox-delay-s", "0")
    with_queue_key(isolated_home)
    hires = hires_csv(tmp_path, 8)
    creds = tmp_path / "creds.csv"
    workers("only")
    run = cli.popen(*LAB, "users", "activate", str(hires.source), "--distributed",
                    "--chunk-size", "1", "--credentials-out", str(creds))
    output = ctrl_c_once_changed(run, 2)
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "interrupted" and f"psbridge jobs resume {job['id']}" in output
    done = {r["key"] for r in cli.json("jobs", "show", job["id"]) if r["status"] == "changed"}
    assert 2 <= len(done) < 8
    with creds.open(newline="") as handle:
        handed = {r["UserPrincipalName"]: r["TemporaryPassword"] for r in csv.DictReader(handle)}
    assert set(handed) == done - set(hires.typed), "each row done hands its password over"

    cli(*LAB, "jobs", "resume", job["id"], check=1, timeout=300)
    final = {r["key"]: r for r in cli.json("jobs", "show", job["id"])}
    for upn in hires.upns:
        if upn in done or upn in hires.typed:
            assert final[upn]["status"] == "changed", final[upn]
        else:
            assert final[upn]["status"] == "failed"
            assert "only 'psbridge users activate' shows" in final[upn]["message"]
        assert set(mutations(sandbox, upn).values()) <= {1}, upn
    assert_no_secret([*handed.values(), *hires.typed.values()], output=output,
                     store=store_dump(isolated_home))


@pytest.mark.slow
def test_a_chunk_redis_delivers_again_hands_back_the_first_deliverys_outcome(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    """One chunk outlasting the visibility timeout (10 s here): Redis delivers it again to
    the other worker while it runs. The copy waits for the first delivery and hands back
    its outcome, so the CLI follows the chunk to its end (no row left unknown) and every
    row is sent once."""
    sandbox, source = bulk_job(tmp_path, serve, 16, cmdlet_ms=900)
    first, second = workers("first"), workers("second")
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "16", "--concurrency", "1", "--distributed",
                 timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "16 changed" in result.stdout
    changes = applied(sandbox)
    assert len(changes) == 16 and set(changes.values()) == {1}
    wait_for("the copy should hand back the first delivery's outcome",
             lambda: "delivered again; the first delivery's outcome is handed back"
             in first.text() + second.text())
