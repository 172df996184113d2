#!/usr/bin/env python3
"""Break the code on purpose, one named change at a time, and check that a test notices.

Each mutant is a small edit of one file (a snippet of today's code and what it becomes)
plus the tests that claim to cover it. In a temporary copy of the repository every mutant
is applied alone, those tests run, and the mutant is *killed* when they fail, *survived*
when they pass. A snippet that is no longer in the code (someone changed it) is reported
as "no longer applies" and counts as a failure too: update the mutant with the code.

    .venv/bin/python scripts/mutants.py              # every mutant (tens of minutes)
    .venv/bin/python scripts/mutants.py --list       # names, areas and tests
    .venv/bin/python scripts/mutants.py --only quote-curly-dropped --only runner-double-send
    .venv/bin/python scripts/mutants.py --check      # only check that every snippet applies
    .venv/bin/python scripts/mutants.py --every-test --only resume-resends-done-rows

Before the mutants, the tests they name run once on the unchanged copy (``--no-baseline``
skips this): a test that already fails would "kill" every mutant and prove nothing.

Exit status: 0 every mutant killed; 1 a mutant survived, no longer applies, or the
baseline failed; 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".mypy_cache",
                                      ".ruff_cache", ".pytest_cache", ".hypothesis", "build",
                                      "dist")
TEST_TIMEOUT_S = 3600  # a hung test run is reported, not waited for forever


@dataclass(frozen=True)
class Mutant:
    name: str
    area: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


def _m(name: str, area: str, path: str, old: str, new: str, *tests: str) -> Mutant:
    return Mutant(name, area, path, old, new, tests)


TASK_RUN = "tests/e2e/test_task_run.py"
RUNNER = "tests/core/test_runner.py"
SECRETS = "tests/e2e/test_secrets.py"
KNOBS = "tests/sandbox/tenant/test_tenant_knobs.py"

MUTANTS: tuple[Mutant, ...] = (
    # -- the rows of issue 16's table ----------------------------------------------------
    _m("resume-resends-done-rows", "resume", "toolkit/core/jobs.py",
       "    return everything - unknown - pending, unknown\n",
       "    return set(), unknown\n",
       f"{TASK_RUN}::test_kill_9_then_resume_applies_every_change_exactly_once",
       f"{TASK_RUN}::test_unknown_rows_of_a_generic_template_are_reported",
       "tests/e2e/test_users.py::"
       "test_kill_9_mid_activation_then_resume_and_rerun_create_each_user_once"),
    _m("runner-double-send", "runner", "toolkit/core/runner.py",
       "                            running = connection.begin(steps)\n",
       "                            connection.run(steps)\n"
       "                            running = connection.begin(steps)\n",
       RUNNER, TASK_RUN),
    _m("runner-ahead-not-marked-sent", "journal states", "toolkit/core/runner.py",
       "        journal.mark(self.job_id, [w.row for w in rows], SENT)\n",
       "",
       f"{TASK_RUN}::test_kill_9_then_resume_applies_every_change_exactly_once",
       f"{TASK_RUN}::test_unknown_rows_of_a_generic_template_are_reported"),
    _m("runner-ahead-after-ctrl-c", "runner", "toolkit/core/runner.py",
       "        if (self._stopping.is_set() or ahead.chunk is not None or connection.closed\n",
       "        if (ahead.chunk is not None or connection.closed\n",
       f"{RUNNER}::test_no_chunk_is_sent_ahead_after_ctrl_c"),
    _m("access-token-logged", "secret masking", "toolkit/core/auth.py",
       "        return AccessToken(result[\"access_token\"], ",
       "        __import__(\"logging\").getLogger(\"toolkit.core.auth\").info(\n"
       "            \"token %s\", result[\"access_token\"])\n"
       "        return AccessToken(result[\"access_token\"], ",
       SECRETS),
    _m("app-secret-logged", "secret masking", "toolkit/core/auth.py",
       "                credential = conn.client_secret()\n",
       "                credential = conn.client_secret()\n"
       "                __import__(\"logging\").getLogger(\"toolkit.core.auth\").info(\n"
       "                    \"app secret %s\", credential)\n",
       SECRETS),
    _m("quote-curly-dropped", "quoting", "toolkit/core/quoting.py",
       "SINGLE_QUOTES = \"'\\u2018\\u2019\\u201a\\u201b\"",
       "SINGLE_QUOTES = \"'\\u2019\"",
       "tests/core/test_quoting.py::test_any_string_is_one_literal_that_reads_back_exactly"),
    _m("check-role-no-op", "role checks", "toolkit/core/jobs.py",
       "    if meta.role == \"admin\" and target.profile.role == \"helpdesk\":\n",
       "    if False:\n",
       f"{TASK_RUN}::test_helpdesk_profile_is_refused_an_admin_template",
       "tests/e2e/test_users.py::test_helpdesk_resets_passwords_but_cannot_activate"),
    _m("csv-validation-silent", "CSV validation", "toolkit/io/csvfile.py",
       "        if found:\n            raise CsvInvalid(str(self.path), found)\n",
       "        if found:\n            pass\n",
       "tests/io/test_csvfile.py", f"{TASK_RUN}::test_invalid_csv_changes_nothing"),
    # -- quoting ---------------------------------------------------------------------------
    _m("quote-not-doubled", "quoting", "toolkit/core/quoting.py",
       "    doubled = _QUOTE_RE.sub(r\"\\1\\1\", value)\n",
       "    doubled = _QUOTE_RE.sub(r\"\\1\", value)\n",
       "tests/core/test_quoting.py::test_any_string_is_one_literal_that_reads_back_exactly"),
    _m("quote-nul-in-text", "quoting", "toolkit/core/quoting.py",
       "    if \"\\0\" not in doubled:\n",
       "    if True:\n",
       "tests/core/test_quoting.py::test_nul_is_spliced_in_as_a_char_and_the_pieces_read_back"),
    # -- planning --------------------------------------------------------------------------
    _m("plan-regrants-held-rights", "planning", "toolkit/tasks/permissions/changes.py",
       "        if not holds:\n            yield Change(row, \"grant\", box.key, trustee.key)\n",
       "        if True:\n            yield Change(row, \"grant\", box.key, trustee.key)\n",
       "tests/tasks/test_permissions_plan.py"),
    _m("plan-seats-not-counted", "planning", "toolkit/tasks/users/activation_plan.py",
       "    refused = ledger.allocate(plan.add)\n",
       "    refused = None\n",
       "tests/tasks/test_activation_plan.py"),
    # -- journal states --------------------------------------------------------------------
    _m("journal-no-sent-mark", "journal states", "toolkit/core/runner.py",
       "                        journal.mark(self.job_id, [w.row for w in remaining], SENT)\n",
       "",
       f"{TASK_RUN}::test_unknown_rows_of_a_generic_template_are_reported"),
    _m("journal-throttled-stay-sent", "journal states", "toolkit/core/runner.py",
       "            journal.mark(self.job_id, [w.row for w in retry], PENDING)\n",
       "            journal.mark(self.job_id, [w.row for w in retry], SENT)\n",
       f"{RUNNER}::test_throttled_rows_go_back_to_pending_not_unknown"),
    _m("journal-keeps-secret-columns", "secret masking", "toolkit/core/journal.py",
       "                kept = {k: v for k, v in data.items() if k.lower() not in secret}\n",
       "                kept = dict(data)\n",
       "tests/core/test_journal.py", f"{RUNNER}::test_secrets_stay_out_of_the_journal"),
    # -- retry classification --------------------------------------------------------------
    _m("retry-throttling-not-retried", "retry classification", "toolkit/core/retry.py",
       "    retry = outcome in _RETRIED\n",
       "    retry = outcome in _RETRIED and outcome not in _THROTTLED\n",
       "tests/core/test_retry.py", RUNNER),
    _m("retry-permanent-retried", "retry classification", "toolkit/core/retry.py",
       "    retry = outcome in _RETRIED\n",
       "    retry = True\n",
       "tests/core/test_retry.py", RUNNER),
    _m("retry-after-ignored", "retry classification", "toolkit/core/retry.py",
       "    return float(match.group(1) or match.group(2))\n",
       "    return None\n",
       "tests/core/test_retry.py"),
    # -- CSV validation --------------------------------------------------------------------
    _m("csv-unknown-column-accepted", "CSV validation", "toolkit/io/csvfile.py",
       "                if not self.allow_extra and title.strip():\n",
       "                if False:\n",
       "tests/io/test_csvfile.py", f"{TASK_RUN}::test_invalid_csv_changes_nothing"),
    _m("csv-missing-column-accepted", "CSV validation", "toolkit/io/csvfile.py",
       "            if expected.required and expected.name not in seen:\n",
       "            if False:\n",
       "tests/io/test_csvfile.py", f"{TASK_RUN}::test_invalid_csv_changes_nothing"),
    # -- role checks -----------------------------------------------------------------------
    _m("role-check-skipped-for-jobs", "role checks", "toolkit/core/jobs.py",
       "        rendered = catalog.render(name, plan.context)\n"
       "        check_role(rendered.meta, target)\n",
       "        rendered = catalog.render(name, plan.context)\n",
       f"{TASK_RUN}::test_helpdesk_profile_is_refused_an_admin_template",
       f"{TASK_RUN}::test_a_helpdesk_profile_cannot_resume_an_admin_job"),
    # -- secret masking --------------------------------------------------------------------
    _m("log-mask-ignores-type", "secret masking", "toolkit/core/template_meta.py",
       "        hidden = {p.name.casefold() for p in self.params.values() if p.secret}\n",
       "        hidden: set[str] = set()\n",
       "tests/core/test_templates.py", SECRETS),
    _m("log-mask-ignores-secret-columns", "secret masking", "toolkit/core/template_meta.py",
       "        hidden |= {c.casefold() for c in self.secret_columns}\n",
       "",
       "tests/core/test_templates.py",
       "tests/e2e/test_migration.py::test_legacy_gmail_migration_planned_started_watched"),
    _m("export-writes-secrets", "secret masking", "toolkit/core/templates.py",
       "        if spec is not None and spec.secret:\n",
       "        if False:\n",
       "tests/core/test_templates.py::test_export_writes_literals_and_prompts_for_secrets"),
    _m("connect-parameters-unmasked", "secret masking", "toolkit/core/target.py",
       "connect.meta.shown(parameters))",
       "parameters)",
       SECRETS),
    # -- hostile strings -------------------------------------------------------------------
    _m("csv-newlines-translated", "CSV validation", "toolkit/io/csvfile.py",
       "                yield line + \"\\n\"\n",
       "                yield line.rstrip(\"\\r\") + \"\\n\"\n",
       "tests/e2e/test_hostile_strings.py::"
       "test_every_csv_cell_of_a_template_job_arrives_verbatim"),
    # -- runner faults and Ctrl-C ----------------------------------------------------------
    _m("runner-fault-is-fatal", "retry classification", "toolkit/core/runner.py",
       "                            last_failure = TransientFailure(fault.message)\n"
       "                            raise last_failure from fault\n",
       "                            raise\n",
       f"{RUNNER}::test_throttling_and_faults_are_retried_until_every_row_is_right",
       f"{TASK_RUN}::test_throttling_and_faults_still_end_with_every_row_right"),
    _m("ctrl-c-not-reported", "resume", "toolkit/core/runner.py",
       "        if interrupted:\n            raise Interrupted(",
       "        if False:\n            raise Interrupted(",
       f"{TASK_RUN}::test_ctrl_c_records_what_came_back_and_resume_finishes"),
    # -- resume ----------------------------------------------------------------------------
    _m("resume-reruns-unknown-unasked", "resume", "toolkit/tasks/generic.py",
       "    return Resumption(plan, done | unknown, unknown)\n",
       "    return Resumption(plan, done)\n",
       f"{TASK_RUN}::test_unknown_rows_of_a_generic_template_are_reported"),
    _m("resume-ignores-changed-input", "resume", "toolkit/core/jobs.py",
       "    if job.input_sha256 and current_sha256 != job.input_sha256:\n",
       "    if False:\n",
       f"{TASK_RUN}::test_resume_refuses_an_input_file_that_changed"),
    # -- the sandbox's service time (--cmdlet-ms): the benchmarks' bound -------------------
    _m("sandbox-service-time-bills-client-wait", "sandbox service time",
       "toolkit/sandbox/interface.py",
       "        return self._now() - self._started - self._client\n",
       "        return self._now() - self._started\n",
       f"{KNOBS}::test_the_emulators_own_time_counts_toward_cmdlet_ms_and_the_clients_does_not"),
    _m("sandbox-service-time-from-return", "sandbox service time",
       "toolkit/sandbox/tenant/cmdlet_support.py",
       "    clock.service_due = now + wait\n    ctx.stop.wait(wait)\n",
       "    ctx.stop.wait(wait)\n    clock.service_due = clock.host_seconds()\n",
       f"{KNOBS}::test_the_emulators_own_time_counts_toward_cmdlet_ms_and_the_clients_does_not"),
    _m("sandbox-output-wait-not-the-clients", "sandbox service time",
       "toolkit/sandbox/host/runspace_pool.py",
       "                with pipeline_clock().waiting_on_client():\n"
       "                    self._condition.wait()\n",
       "                self._condition.wait()\n",
       "tests/sandbox/host/test_host_lifecycle.py::"
       "test_output_the_client_has_not_taken_is_waited_for_on_the_clients_time"),
)


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed, survived, no longer applies, error
    seconds: float
    detail: str = ""


def applies(mutant: Mutant, root: Path) -> bool:
    """Whether the mutant's snippet stands exactly once in its file under ``root``."""
    path = root / mutant.path
    return path.is_file() and path.read_text(encoding="utf-8").count(mutant.old) == 1


def apply(mutant: Mutant, root: Path) -> str | None:
    """Apply ``mutant`` under ``root``; the original text, or None when it cannot apply."""
    if not applies(mutant, root):
        return None
    path = root / mutant.path
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
    return original


def run_tests(root: Path, tests: Sequence[str], *, stop_first: bool = True
              ) -> tuple[int, str]:
    """pytest on ``tests`` in the copy at ``root``; its exit status and its failures."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    # One process (-n 0): with xdist's workers, -x ends the run as "interrupted" (exit 2).
    command = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "-n", "0",
               *(["-x"] if stop_first else []), *tests]
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                              timeout=TEST_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, f"no result after {TEST_TIMEOUT_S} s"
    failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", done.stdout, re.MULTILINE)
    summary = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else [done.stderr]
    return done.returncode, ", ".join(failed) or summary[0]


def make_copy(target: Path) -> Path:
    """A copy of the repository in which ``import toolkit`` (and its templates) resolves."""
    copy = target / "repo"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORED, symlinks=True)
    # ps_templates ships as toolkit.ps_templates (a package-dir mapping); the editable
    # install would find the original folder, so the copy gets its own mapping.
    (copy / "toolkit" / "ps_templates").symlink_to(copy / "ps_templates",
                                                   target_is_directory=True)
    probe = ("import toolkit, importlib.resources as r; "
             "print(toolkit.__file__); print(r.files('toolkit.ps_templates'))")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=copy, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(copy)}, check=True)
    if any(not line.startswith(str(copy)) for line in shown.stdout.splitlines()):
        raise SystemExit(f"the copy is not what gets imported:\n{shown.stdout}")
    return copy


def mutate_and_test(mutant: Mutant, copy: Path, *, every_test: bool = False) -> Outcome:
    started = time.monotonic()
    original = apply(mutant, copy)
    if original is None:
        return Outcome(mutant, "no longer applies", 0.0,
                       f"mutation no longer applies: snippet not found exactly once in "
                       f"{mutant.path}")
    try:
        status, failures = run_tests(copy, mutant.tests, stop_first=not every_test)
    finally:
        (copy / mutant.path).write_text(original, encoding="utf-8")
    elapsed = time.monotonic() - started
    if status == 1:
        return Outcome(mutant, "killed", elapsed, failures)
    if status == 0:
        return Outcome(mutant, "survived", elapsed, "every claimed test passed")
    return Outcome(mutant, "error", elapsed, f"pytest exit {status}: {failures}")


def table(outcomes: Iterable[Outcome]) -> str:
    rows = [("mutant", "area", "result", "time", "caught by / detail")]
    rows += [(o.mutant.name, o.mutant.area, o.verdict, f"{o.seconds:.0f} s", o.detail)
             for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r[:4], widths, strict=True))
             + "  " + r[4] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true",
                        help="only check that every mutant still applies (fast)")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run this mutant (repeatable)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run of the claimed tests on the unchanged copy")
    parser.add_argument("--every-test", action="store_true",
                        help="run every claimed test of a mutant, not only up to the first "
                             "failure, to see each test that catches it (slower)")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTANTS}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        parser.error(f"no mutant named {', '.join(unknown)} (see --list)")
    chosen = [known[name] for name in args.only] or list(MUTANTS)
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name}  [{mutant.area}]  {mutant.path}")
            for test in mutant.tests:
                print(f"    {test}")
        return 0
    if args.check:
        stale = [m for m in chosen if not applies(m, ROOT)]
        for mutant in stale:
            print(f"{mutant.name}: mutation no longer applies ({mutant.path})")
        print(f"{len(chosen) - len(stale)} of {len(chosen)} mutant(s) apply")
        return 1 if stale else 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="psbridge-mutants-") as scratch:
        copy = make_copy(Path(scratch))
        if not args.no_baseline:
            claimed = sorted({t for m in chosen for t in m.tests})
            print(f"baseline: {len(claimed)} test target(s) on the unchanged copy ...",
                  flush=True)
            status, failures = run_tests(copy, claimed, stop_first=False)
            if status != 0:
                print(f"baseline failed (pytest exit {status}): {failures}")
                return 1
        outcomes = []
        for mutant in chosen:
            print(f"{mutant.name} ...", end=" ", flush=True)
            outcome = mutate_and_test(mutant, copy, every_test=args.every_test)
            print(f"{outcome.verdict} ({outcome.seconds:.0f} s)", flush=True)
            outcomes.append(outcome)
    print()
    print(table(outcomes))
    bad = [o for o in outcomes if o.verdict != "killed"]
    print(f"\n{len(outcomes) - len(bad)} of {len(outcomes)} mutant(s) killed in "
          f"{time.monotonic() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
