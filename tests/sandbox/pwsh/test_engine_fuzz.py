"""Generated PowerShell never reaches an engine defect (SandboxEngineError).

Whatever the combination of operators, members and statements, the engine answers with
output or a PowerShell error record, never a Python exception.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.pwsh.engine import Engine, run_script

ENGINE = Engine(CmdletRegistry())
ATOMS = st.sampled_from(
    ["$x", "$y", "$null", "$true", "1", "0", "-3", "2.5", "'a'", '"b$x"', "@()", "@(1,2)",
     "@{a=1}", "(1..3)", "[pscustomobject]@{P=1}", "$h", "$l", "'1,2'", "[datetime]'2024-01-01'"]
)  # fmt: skip
OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "%", "-eq", "-ne", "-gt", "-lt", "-like", "-match", "-contains", "-in",
     "-join", "-split", "-replace", "-f", "-and", "-or", "..", "-is", "-as", "-band"]
)  # fmt: skip
MEMBERS = st.sampled_from(
    [".Count", ".Length", ".P", "[0]", "[-1]", ".ToString()", ".Trim()", ".Split(',')",
     ".GetType().Name", ".Keys", ".a"]
)  # fmt: skip
PREFIXES = st.sampled_from(["-not ", "!", "-", ",", "[string]", "[int]", "[bool]"])


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, OPERATORS, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    member = st.tuples(children, MEMBERS).map(lambda t: f"({t[0]}){t[1]}")
    unary = st.tuples(PREFIXES, children).map(lambda t: f"{t[0]}{t[1]}")
    wrapped = children.map(lambda x: f"@({x})") | children.map(lambda x: f"$({x})")
    return binary | member | unary | wrapped


EXPRESSIONS = st.recursive(ATOMS, _expressions, max_leaves=6)
STATEMENTS = st.one_of(
    EXPRESSIONS,
    EXPRESSIONS.map(lambda x: f"$x = {x}"),
    EXPRESSIONS.map(lambda x: f"$y += {x}"),
    EXPRESSIONS.map(lambda x: f"if ({x}) {{ 'yes' }} else {{ 'no' }}"),
    EXPRESSIONS.map(lambda x: f"foreach ($i in {x}) {{ $i }}"),
    EXPRESSIONS.map(lambda x: f"{x} | ForEach-Object {{ $_ }} | Where-Object {{ $_ }}"),
    EXPRESSIONS.map(lambda x: f"{x} | Sort-Object | Select-Object -First 2"),
    EXPRESSIONS.map(lambda x: f"switch ({x}) {{ 1 {{ 'one' }} default {{ 'd' }} }}"),
    EXPRESSIONS.map(lambda x: f"try {{ {x} }} catch {{ $_.Exception.Message }}"),
    EXPRESSIONS.map(lambda x: f"$h[{x}] = 1"),
    EXPRESSIONS.map(lambda x: f"{x} | ConvertTo-Json -Compress"),
    EXPRESSIONS.map(lambda x: f"{x} | Group-Object | Measure-Object"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(STATEMENTS, min_size=1, max_size=4))
def test_generated_scripts_never_hit_an_engine_defect(lines: list[str]) -> None:
    script = "$x = 2; $y = 'q'; $h = @{a=1}; $l = @(1)\n" + "\n".join(lines)
    result = run_script(ENGINE, script)
    if result.failed is not None:
        assert result.failed.fully_qualified_error_id != "SandboxEngineError", (
            script,
            result.failed.message,
        )


def _builtin_calls() -> st.SearchStrategy[str]:
    from toolkit.sandbox.pwsh.builtins.registry import _BUILTINS

    infos = {c.info.name: c.info for c in _BUILTINS.values()}
    names = sorted(set(infos) - {"Start-Sleep", "Import-Module"})
    values = st.sampled_from(
        ["1", "'a'", "$null", "@(1,2)", "@{a=1}", "{ $_ }", "$true", "'Name'", "-1", "0",
         "[pscustomobject]@{Name='n';V=2}", "'x,y'", "(Get-Date)"]
    )  # fmt: skip
    inputs = st.sampled_from(
        ["", "1,2,3 | ", "@([pscustomobject]@{Name='a';V=1},[pscustomobject]@{Name='b'}) | ",
         "'{\"a\":1}' | "]
    )  # fmt: skip

    @st.composite
    def call(draw: st.DrawFn) -> str:
        name = draw(st.sampled_from(names))
        args: list[str] = []
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                args.append("-" + draw(st.sampled_from([p.name for p in infos[name].params])))
            if draw(st.booleans()):
                args.append(draw(values))
        return draw(inputs) + name + " " + " ".join(args)

    return call()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_builtin_calls(), min_size=1, max_size=3))
def test_builtin_calls_with_any_arguments_never_hit_an_engine_defect(lines: list[str]) -> None:
    result = run_script(ENGINE, "\n".join(lines))
    if result.failed is not None:
        assert result.failed.fully_qualified_error_id != "SandboxEngineError", (
            lines,
            result.failed.message,
        )
