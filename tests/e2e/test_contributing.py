"""CONTRIBUTING.md's recipes work as written: the template-only task runs against the
sandbox, and the worked example of a bulk command stays within the files it lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from e2e_cli import Cli, rows_csv

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return GUIDE.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_recipe_1_a_template_only_task_runs_as_written(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    recipe = section("Recipe 1")
    template = next(block for block in re.findall(r"```\n(.*?)```", recipe, re.DOTALL)
                    if block.lstrip().startswith("{#- psbridge"))
    text = "\n".join(line[3:] if line.startswith("   ") else line
                     for line in template.splitlines()) + "\n"  # the list's indent
    name = re.search(r"^name: (\S+)", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    folder = tmp_path / "templates"
    (folder / name).parent.mkdir(parents=True)
    (folder / f"{name}.ps1.j2").write_text(text, encoding="utf-8")
    own = {"PSBRIDGE_TEMPLATES": str(folder)}
    sandbox = serve()
    tags = rows_csv(tmp_path / "tags.csv", "Mailbox,Tag",
                    ["sales@contoso.com,EMEA", "info@contoso.com,Americas"])
    (commands,) = re.findall(r"```sh\n(.*?)```", recipe, re.DOTALL)
    for line in commands.strip().splitlines():
        words = line.split()[1:]  # without "psbridge"
        words = [str(tags) if w == "tags.csv" else str(tmp_path / w) if w.endswith(".csv")
                 else w for w in words]
        cli("--profile", "lab", *words, check=0, extra_env=own)
    changed = [(c["parameters"]["Identity"], c["parameters"]["CustomAttribute1"])
               for c in sandbox.commands("Set-Mailbox") if c["ok"]]
    assert sorted(changed) == [("info@contoso.com", "Americas"), ("sales@contoso.com", "EMEA")]
    outcome = (tmp_path / "tags-out.csv").read_text(encoding="utf-8-sig")
    assert outcome.count(",changed,") == 2
    again = cli("--profile", "lab", "task", "run", name, "--csv", str(tags), "-o", "json",
                check=0, extra_env=own)
    assert '"unchanged"' in again.stdout and len(sandbox.commands("Set-Mailbox")) == 2


def mentions(path: Path, names: list[str]) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    return any(name in text for name in names)


def test_recipe_2_the_worked_example_stays_in_the_files_it_lists(**_: Any) -> None:
    example = section("Recipe 2").split("Worked example", 1)[1].split("\n\nIts end-to-end", 1)[0]
    listed = {ROOT / p for p in re.findall(r"`((?:toolkit|ps_templates)/[\w/.-]+)`", example)}
    assert all(p.exists() for p in listed), sorted(map(str, listed))
    product = {p for p in listed if "sandbox" not in p.parts}
    assert len(product) == 4
    # What only this command's code names: its job kind, its API and its write cmdlet.
    names = ["mailbox_protocols", "plan_protocols", "ws.mailboxes", "Set-CASMailbox"]
    sources = [p for p in [*ROOT.joinpath("toolkit").rglob("*.py"),
                           *ROOT.joinpath("ps_templates").rglob("*.j2")]
               if "sandbox" not in p.parts]
    assert {p for p in sources if mentions(p, names)} == product
