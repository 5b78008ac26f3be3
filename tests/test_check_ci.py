"""`check --format github|junit`, several SPECs, the line blamed, and `compare --format markdown`
as a pull-request comment.

Expected values come from torchvision's published parameter counts (tests/reference.py): the
drop a blamed key saves is the difference of two published networks, not our own output.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect import blame as blame_mod
from resnet_inspect.cli import app
from resnet_inspect.config import load_config

from .reference import TORCHVISION

runner = CliRunner()
R50, R101, R152 = (TORCHVISION[n][0] for n in ("resnet50", "resnet101", "resnet152"))
R18 = TORCHVISION["resnet18"][0]
ANNOTATION = re.compile(r"^::(error|warning|notice)( [^:]*)?::(.*)$")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding configs/net.toml (ResNet-50 made deeper on line 4) and budget.toml."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "net.toml").write_text(
        '# our backbone\nbase = "resnet50"\nname = "backbone"\nlayers = [3, 4, 23, 3]\n')
    (tmp_path / "budget.toml").write_text(
        'max_params = "26M"\nmax_projections = 4\n\n[specs.backbone]\nspec = "configs/net.toml"\n\n'
        '[specs.mobile]\nspec = "resnet18"\nmax_params = "12M"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def annotations(out: str) -> list[tuple[str, dict[str, str], str]]:
    found = []
    for line in out.splitlines():
        m = ANNOTATION.match(line)
        if m:
            props = dict(p.split("=", 1) for p in (m.group(2) or "").strip().split(",") if p)
            found.append((m.group(1), props, m.group(3)))
    return found


def test_github_annotation_on_the_changed_line(repo: Path) -> None:
    code, out, err = run("check", "--budget", "budget.toml", "--format", "github")
    assert code == 1
    (error, props, message), (notice, _, notice_text) = annotations(out)
    assert (error, notice) == ("error", "notice")
    assert props["file"] == "configs/net.toml" and props["line"] == "4"
    assert props["title"] == "resnet-inspect check%3A params over budget"
    # ResNet-101 (v1.5, torchvision) is what base resnet50 with 23 blocks in layer3 is.
    assert f"params {R101:,}" in message and f"by {R101 - 26_000_000:,}" in message
    assert f"going back saves {R101 - R50:,} params" in message
    assert "limit set at budget.toml:1 (max_params)" in message
    assert "%25" in message and "%" not in message.replace("%25", "")  # "+71.3%" encoded as the runner decodes it
    assert notice_text.startswith("mobile: params 11.69 M of 12.00 M")
    assert out.splitlines()[-1] == "resnet-inspect check: 1 of 2 networks over budget"
    assert err.startswith("over budget: backbone: params")


def test_blame_picks_the_key_that_saves_most_per_metric(repo: Path) -> None:
    (repo / "configs" / "net.toml").write_text(
        'base = "resnet50"\nnum_classes = 10\nlayers = [3, 4, 23, 3]\ninput_size = 448\n')
    code, out, _ = run("check", "configs/net.toml", "--max-params", "26M", "--max-macs", "8G", "--format", "github")
    assert code == 1
    by_title = {p["title"]: (p["line"], m) for _, p, m in annotations(out) if "line" in p}
    # Params: 23 blocks cost more than 10 classes save; input size costs no params.
    assert by_title["resnet-inspect check%3A params over budget"][0] == "3"
    # MACs: four times the pixels (448² against 224²) cost more than the extra 17 blocks.
    assert by_title["resnet-inspect check%3A macs over budget"][0] == "4"
    assert "limit set at the --max-macs flag" in by_title["resnet-inspect check%3A macs over budget"][1]


def test_no_single_key_blames_the_base_line(repo: Path) -> None:
    (repo / "configs" / "net.toml").write_text('# deeper\n\nbase = "resnet152"\n')
    code, out, _ = run("check", "configs/net.toml", "--budget", "budget.toml", "--format", "github")
    assert code == 1
    ((_, props, message),) = annotations(out)
    assert props["line"] == "3" and f"params {R152:,}" in message and "base = 'resnet152'" in message


def test_complete_file_equal_to_a_preset_annotates_the_budget_line(repo: Path) -> None:
    code, text, _ = run("spec", "resnet101", "--format", "toml")
    assert code == 0
    (repo / "configs" / "net.toml").write_text(text)
    code, out, _ = run("check", "--budget", "budget.toml", "--format", "github")
    assert code == 1
    ((_, props, message), _) = annotations(out)
    assert props["file"] == "budget.toml" and props["line"] == "1"
    assert f"params {R101:,}" in message


def test_complete_file_is_blamed_against_the_nearest_preset(repo: Path) -> None:
    code, text, _ = run("spec", "resnet101", "--format", "toml")
    (repo / "configs" / "net.toml").write_text(text.replace("layers = [3, 4, 23, 3]", "layers = [3, 4, 30, 3]"))
    # Every bottleneck preset shares all fields but layers: the closest in blocks is ResNet-101.
    assert blame_mod.nearest_preset(load_config("configs/net.toml"))[0] == "resnet101"
    code, out, _ = run("check", "configs/net.toml", "--max-params", "50M", "--format", "github")
    assert code == 1
    ((_, props, message),) = annotations(out)
    line = text.splitlines().index("layers = [3, 4, 23, 3]") + 1
    assert props["line"] == str(line) and "where resnet101 has [3, 4, 23, 3]" in message
    layer3_block = (R101 - R50) // 17  # ResNet-101 is ResNet-50 with 17 more identity blocks in layer3
    assert layer3_block * 17 == R101 - R50
    assert f"going back saves {7 * layer3_block:,} params" in message


def test_mutation_blame_that_ignores_the_spec_must_lose_the_line(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the counting inside the blame did not follow the candidate spec, the annotation would
    fall back to the budget's line: the assertions above would fail."""
    real = blame_mod.blame_config

    def constant(path, spec, measure, metrics, fixed=None):  # type: ignore[no-untyped-def]
        return real(path, spec, lambda s: measure(spec), metrics, fixed)

    monkeypatch.setattr(blame_mod, "blame_config", constant)
    _, out, _ = run("check", "--budget", "budget.toml", "--format", "github")
    ((_, props, _), _) = annotations(out)
    assert props.get("line") != "4"


def test_flag_on_a_preset_has_no_file(repo: Path) -> None:
    code, out, _ = run("check", "resnet18", "resnet50", "--max-params", "20M", "--format", "github")
    assert code == 1
    notice, error = annotations(out)
    assert notice[0] == "notice" and "resnet18" in notice[2]
    assert error[0] == "error" and "file" not in error[1] and "limit set at the --max-params flag" in error[2]


def test_config_override_flag_is_never_blamed(repo: Path) -> None:
    (repo / "configs" / "net.toml").write_text('base = "resnet50"\ninput_size = 448\nlayers = [3, 4, 23, 3]\n')
    # --input-size replaces the file's value, so the MACs over budget are blamed on layers.
    _, out, _ = run("check", "configs/net.toml", "--max-macs", "4G", "--input-size", "224", "--format", "github")
    ((_, props, _),) = annotations(out)
    assert props["line"] == "3"


def test_hostile_names_cannot_inject_workflow_commands(repo: Path) -> None:
    odd = repo / "configs" / "a,b:c%d.toml"
    odd.write_text('base = "resnet50"\nname = "x\\n::error::pwned"\nlayers = [3, 4, 23, 3]\n')
    code, out, _ = run("check", str(odd.relative_to(repo)), "--max-params", "26M", "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert not any(line.startswith("::error::pwned") for line in lines)
    ((_, props, message),) = annotations(out)
    assert props["file"] == "configs/a%2Cb%3Ac%25d.toml" and props["line"] == "3"
    assert "\n" not in message


def test_several_specs_and_budget_file_as_spec(repo: Path) -> None:
    import json

    code, out, _ = run("check", "configs/net.toml", "resnet18", "--budget", "budget.toml", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    named = {r["name"]: r for r in doc["results"]}
    # A named config gets that spec's label and limits; another SPEC gets the top-level limits.
    assert named["backbone"]["values"]["params"] == R101 and named["backbone"]["limits"]["max_params"] == 26_000_000
    assert named["resnet18"]["values"]["params"] == R18 and named["resnet18"]["limits"]["max_params"] == 26_000_000
    # The budget file stands for every spec it names (what a pre-commit hook passes when it changes),
    # and a config named twice is checked once.
    code, out, _ = run("check", "budget.toml", "configs/net.toml", "--budget", "budget.toml", "--format", "json")
    assert [r["name"] for r in json.loads(out)["results"]] == ["backbone", "mobile"]
    assert json.loads(out)["results"][1]["limits"]["max_params"] == 12_000_000


def test_junit_report(repo: Path) -> None:
    code, out, _ = run("check", "--budget", "budget.toml", "--format", "junit", "-o", "budget.xml")
    assert code == 1 and out == ""
    root = ET.parse(repo / "budget.xml").getroot()
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "0")
    suites = {s.get("name"): s for s in root}
    backbone = suites["backbone"]
    assert (backbone.get("tests"), backbone.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in backbone}
    failure = cases["max_params"].find("failure")
    assert failure is not None and failure.get("type") == "over budget"
    assert f"params {R101:,}" in (failure.get("message") or "")
    assert (cases["max_params"].get("file"), cases["max_params"].get("line")) == ("configs/net.toml", "4")
    assert cases["max_projections"].find("failure") is None
    assert cases["max_projections"].findtext("system-out") == "projections 4 <= 4"
    assert {c.get("name") for c in suites["mobile"]} == {"max_params", "max_projections"}


def test_junit_escapes_names(repo: Path) -> None:
    (repo / "configs" / "net.toml").write_text('base = "resnet50"\nname = "<a & \\u0007b>"\n')
    code, out, _ = run("check", "configs/net.toml", "--max-params", "1M", "--format", "junit")
    assert code == 1
    suite = ET.fromstring(out)[0]
    assert suite.get("name") == "<a & ?b>"


def test_compare_markdown_is_a_pr_comment() -> None:
    code, md, _ = run("compare", "resnet50", "resnet101", "--format", "markdown")
    assert code == 0
    lines = md.splitlines()
    assert lines[0] == "### resnet-inspect compare: resnet50 → resnet101"
    headline = lines[2]
    assert headline.startswith("**params +18.99 M (+74.3%) · MACs ") and headline.endswith("· projections 4**")
    assert md.count('<details markdown="1">') == md.count("</details>") == 1  # layouts differ: stages only
    assert md.index("| params | 25.56 M | 44.55 M |") < md.index("<details")
    code, md, _ = run("compare", "resnet34:shortcut=A", "resnet34:shortcut=C", "--format", "markdown")
    assert md.count("<details") == 2 and "<summary>Per block: 16 of 16 blocks differ</summary>" in md
    code, md, _ = run("compare", "resnet50", "resnet50", "--format", "markdown")
    assert "**No difference in params, MACs or activations.**" in md


def test_compare_markdown_escapes_names(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text('base = "resnet50"\nname = "</details><img src=x>[link](https://e.x)`"\n')
    code, md, _ = run("compare", str(a), "resnet50", "--format", "markdown")
    assert code == 0
    assert "</details><img" not in md and "[link](" not in md
    assert "\\</details\\>\\<img src=x\\>\\[link\\](https://e.x)\\`" in md
    assert md.count("<details") == md.count("</details>")


def test_paths_outside_the_working_directory_stay_as_given(tmp_path: Path) -> None:
    inside = Path("x.toml")
    assert blame_mod.relative(str(inside.resolve())) == "x.toml"
    outside = str(Path(os.sep, "elsewhere", "x.toml"))
    assert blame_mod.relative(outside) == outside


@pytest.mark.parametrize("suffix", ["toml", "yaml"])
def test_an_entry_limit_is_annotated_at_its_own_line(repo: Path, suffix: str) -> None:
    """A complete config equal to ResNet-101 has no line to blame: the annotation goes to the line
    of the named spec's own max_params in the budget file, in TOML as in YAML."""
    code, text, _ = run("spec", "resnet101", "--format", "toml")
    (repo / "configs" / "net.toml").write_text(text)
    budget = {
        "toml": 'max_params = "99M"\n\n[specs.other]\nspec = "resnet18"\n\n[specs.backbone]\nspec = "configs/net.toml"\n'
                'max_macs = "9G"\nmax_params = "40M"\n',
        "yaml": 'max_params: 99M\nspecs:\n  other:\n    spec: resnet18\n  backbone:\n    spec: configs/net.toml\n'
                '    max_macs: 9G\n    max_params: 40M\n',
    }[suffix]
    (repo / f"b.{suffix}").write_text(budget)
    code, out, _ = run("check", "--budget", f"b.{suffix}", "--format", "github")
    assert code == 1
    ((_, props, message),) = [a for a in annotations(out) if a[0] == "error"]
    line = budget.splitlines().index(next(ln for ln in budget.splitlines() if "40M" in ln)) + 1
    assert (props["file"], props["line"]) == (f"b.{suffix}", str(line))
    assert f"params {R101:,}" in message and f"limit set at b.{suffix}:{line} (specs.backbone.max_params)" in message
