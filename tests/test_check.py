"""`check`: budgets from flags and files, exit codes 0/1/2, and the CI workflow's own commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from resnet_inspect.budget import Limits, load_budget, parse_limit
from resnet_inspect.cli import app
from resnet_inspect.errors import SpecError

from .reference import TORCHVISION

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "configs"
R50_PARAMS = TORCHVISION["resnet50"][0]  # 25,557,032
R50_GMACS = TORCHVISION["resnet50"][1]  # 4.09


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("text", "value"),
    [("26M", 26_000_000), ("4.2G", 4_200_000_000), ("1_000", 1000), ("25557032", 25_557_032), ("1.5k", 1500),
     (26_000_000, 26_000_000), (4.2e9, 4_200_000_000), ("0", 0)],
)
def test_parse_limit(text: object, value: int) -> None:
    assert parse_limit("max_params", text) == value


@pytest.mark.parametrize("text", ["26 MB", "-5", -5, True, "", "four", float("nan"), [1]])
def test_parse_limit_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="max_params"):
        parse_limit("max_params", text)


# ----------------------------------------------------------------------------------------------
# Exit codes from flags


def test_within_budget_exit_0() -> None:
    code, out, err = run("check", "resnet50", "--max-params", "26M", "--max-macs", "4.2G")
    assert code == 0 and err == ""
    assert "within budget" in out and "OVER" not in out


def test_over_budget_exit_1_one_line_per_limit() -> None:
    code, out, err = run("check", "resnet50", "--max-params", "25M", "--max-macs", "4G", "--max-projections", "4")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2  # params and MACs over; 4 projections is within max 4
    assert lines[0] == (
        f"over budget: resnet50: params {R50_PARAMS:,} (25.56 M) exceeds max_params 25,000,000 (25.00 M) "
        f"by {R50_PARAMS - 25_000_000:,}, +2.2%"
    )
    assert lines[1].startswith("over budget: resnet50: macs ") and "exceeds max_macs 4,000,000,000 (4.00 G) by " in lines[1]
    assert f"{R50_GMACS:.2f} G" in lines[1]
    assert "2 limits exceeded" in out and "OVER" in out


def test_limit_is_inclusive() -> None:
    assert run("check", "resnet50", "--max-params", str(R50_PARAMS))[0] == 0
    code, _, err = run("check", "resnet50", "--max-params", str(R50_PARAMS - 1))
    assert code == 1 and err.strip().endswith("by 1, +0.0%")


def test_projection_limit() -> None:
    """Option C puts a projection on all 16 blocks of ResNet-34; option B only on the three
    stage-changing ones (layer2.0, layer3.0, layer4.0)."""
    assert run("check", "resnet34", "--max-projections", "3")[0] == 0
    code, _, err = run("check", "resnet34:shortcut=C", "--max-projections", "3")
    assert code == 1 and "projections 16 exceeds max_projections 3 by 13" in err
    assert run("check", "resnet34", "--shortcut", "A", "--max-projections", "0")[0] == 0


def test_json_report() -> None:
    code, out, _ = run("check", "resnet50", "--max-params", "25M", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    (result,) = doc["results"]
    assert result["values"]["params"] == R50_PARAMS
    assert result["limits"]["max_params"] == 25_000_000 and result["limits"]["max_macs"] is None
    assert result["violations"] == [
        {"limit": "max_params", "metric": "params", "value": R50_PARAMS, "max": 25_000_000, "excess": R50_PARAMS - 25_000_000}
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["check", "resnet50", "--max-params", "26MB"], "--max-params: '26MB' is not a count"),
        (["check", "resnet50", "--max-macs", "-1"], "--max-macs: '-1' is not a count"),
        (["check", "resnet50"], "no limits for resnet50"),
        (["check"], "give a SPEC to check"),
        (["check", "resnet5", "--max-params", "1G"], "did you mean resnet50"),
        (["check", str(FIXTURES / "bad" / "negative_width.toml"), "--max-params", "1G"], "widths[1]=-128"),
    ],
)
def test_bad_input_exit_2(args: list[str], fragment: str) -> None:
    code, out, err = run(*args)
    assert code == 2 and fragment in err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in out + err


# ----------------------------------------------------------------------------------------------
# Budget files


def test_budget_file_within_and_over(tmp_path: Path) -> None:
    budget = tmp_path / "budget.toml"
    budget.write_text('max_params = "26M"\nmax_macs = "4.2G"\n')
    assert run("check", "resnet50", "--budget", str(budget))[0] == 0
    budget.write_text('max_params = "25M"\n')
    code, _, err = run("check", "resnet50", "--budget", str(budget))
    assert code == 1 and err.count("\n") == 1 and "exceeds max_params 25,000,000" in err
    # A flag overrides the file's limit.
    assert run("check", "resnet50", "--budget", str(budget), "--max-params", "26M")[0] == 0


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_named_specs_with_their_own_limits(suffix: str, tmp_path: Path) -> None:
    """Named specs take the top-level limits as defaults; config paths are relative to the budget
    file (the test runs from another folder)."""
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "backbone.toml").write_text('base = "resnet50"\n')
    doc: dict[str, Any] = {
        "max_params": "26M",
        "specs": {
            "backbone": {"spec": "nets/backbone.toml", "max_macs": "4.2G"},
            "small": {"spec": "resnet18", "max_params": "11M"},
        },
    }
    budget = tmp_path / f"budget{suffix}"
    if suffix == ".toml":
        budget.write_text(
            'max_params = "26M"\n[specs.backbone]\nspec = "nets/backbone.toml"\nmax_macs = "4.2G"\n'
            '[specs.small]\nspec = "resnet18"\nmax_params = "11M"\n'
        )
    elif suffix == ".yaml":
        budget.write_text(yaml.safe_dump(doc))
    else:
        budget.write_text(json.dumps(doc))
    loaded = load_budget(budget)
    assert [e.name for e in loaded.entries] == ["backbone", "small"]
    assert loaded.limits_for(loaded.entries[0]) == Limits(max_params=26_000_000, max_macs=4_200_000_000)
    assert loaded.limits_for(loaded.entries[1]) == Limits(max_params=11_000_000)

    code, out, err = run("check", "--budget", str(budget), "--format", "json")
    assert code == 1  # resnet18 has 11,689,512 parameters > 11M
    doc_out = json.loads(out)
    assert [(r["name"], r["ok"]) for r in doc_out["results"]] == [("backbone", True), ("small", False)]
    assert doc_out["results"][0]["values"]["params"] == R50_PARAMS
    assert err == (
        f"over budget: small: params {TORCHVISION['resnet18'][0]:,} (11.69 M) exceeds max_params 11,000,000 (11.00 M) "
        f"by {TORCHVISION['resnet18'][0] - 11_000_000:,}, +6.3%\n"
    )


def test_docs_example_budget_is_valid() -> None:
    code, out, _ = run("check", "--budget", str(ROOT / "docs" / "examples" / "budget.toml"))
    assert code == 0 and "backbone" in out and "mobile" in out


BAD_BUDGETS = [
    ("bad_count.toml", "bad_count.toml:1: max_params: '26 MB' is not a count"),
    ("bool_limit.toml", "max_macs=True is not a count"),
    ("empty.toml", 'is empty; write e.g. max_params = "26M"'),
    ("negative.yaml", "negative.yaml:1: max_params=-5 is negative"),
    ("no_limits.toml", "specs.small has no limits"),
    ("spec_missing.toml", "specs.backbone needs spec = SPEC"),
    ("spec_file_missing.toml", "no_such_net.toml: no such config file"),
    ("specs_not_table.toml", "specs must be a table of named specs"),
    ("syntax.json", "syntax.json:1:22: invalid JSON"),
    ("unknown_key.toml", "unknown key 'max_param': did you mean max_params?"),
]


def test_bad_budget_table_covers_fixtures() -> None:
    assert {p.name for p in (FIXTURES / "budgets" / "bad").iterdir()} == {n for n, _ in BAD_BUDGETS}


@pytest.mark.parametrize(("name", "fragment"), BAD_BUDGETS)
def test_malformed_budget_exit_2(name: str, fragment: str) -> None:
    code, out, err = run("check", "--budget", str(FIXTURES / "budgets" / "bad" / name))
    assert code == 2, err
    assert fragment in err and err.startswith("error: ") and "Traceback" not in out + err


def test_budget_lists_every_problem(tmp_path: Path) -> None:
    budget = tmp_path / "b.toml"
    budget.write_text('max_param = "26M"\nmax_macs = "lots"\n[specs.x]\nmax_params = 5\n')
    with pytest.raises(SpecError) as info:
        load_budget(budget)
    assert len(info.value.problems) == 3
    code, _, err = run("check", "--budget", str(budget))
    assert code == 2 and len(err.splitlines()) == 3


# ----------------------------------------------------------------------------------------------
# The example workflow in docs/examples uses the Action (tests/test_action.py runs the Action).

WORKFLOW = ROOT / "docs" / "examples" / "ci-workflow.yml"


def test_example_workflow_uses_the_action_at_this_version() -> None:
    from resnet_inspect import __version__

    doc = yaml.safe_load(WORKFLOW.read_text())
    (job,) = doc["jobs"].values()
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("OWNER/resnet-inspect@")]
    assert step["uses"] == f"OWNER/resnet-inspect@v{__version__}"
    assert set(step["with"]) <= set(action["inputs"])
    post = job["steps"][-1]
    assert post["env"]["REPORT"] == f"${{{{ steps.{step['id']}.outputs.report }}}}"
    assert "always()" in post["if"]
