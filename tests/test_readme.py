"""What the README tells a user works as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.sandbox.server import SandboxOptions, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_is_exactly_two_commands_and_ci_runs_the_second() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", quickstart, re.DOTALL)
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_the_hand_typed_pypsrp_session_works(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    section = README.split("## The sandbox", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert snippet is not None
    options = SandboxOptions(https=True, seed="demo", tls_dir=tmp_path / "tls")
    with start_sandbox(options) as sandbox:
        code = snippet.group(1).replace("port=5986", f"port={sandbox.port}")
        code = re.sub(r'cert_validation="[^"]+"', f'cert_validation="{sandbox.ca_cert}"', code)
        exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "adele.vance@contoso.com ['FullAccess']" in printed
    assert "S-1-5-21-3623811015-3361044348-30300820-1013" in printed
