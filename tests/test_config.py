"""Config files: round trips through TOML, YAML and JSON, the two document shapes, and a table of
malformed files (tests/fixtures/configs/bad/) that must each fail with a clear message and exit 2."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.config import FORMATS, dump_spec, load_config
from resnet_inspect.counts import analyze
from resnet_inspect.document import MAX_CONFIG_BYTES
from resnet_inspect.errors import SpecError
from resnet_inspect.presets import PRESETS
from resnet_inspect.specio import parse_spec

from .reference import TORCHVISION

runner = CliRunner()
BAD = Path(__file__).parent / "fixtures" / "configs" / "bad"
SUFFIX = {"toml": ".toml", "yaml": ".yaml", "json": ".json"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# ----------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_preset_round_trips(fmt: str, tmp_path: Path) -> None:
    """Writing a preset's spec and loading it back gives the same spec and the same counts."""
    for name, preset in PRESETS.items():
        path = tmp_path / f"{name}{SUFFIX[fmt]}"
        path.write_text(dump_spec(preset.spec, fmt), encoding="utf-8")  # type: ignore[arg-type]
        loaded = load_config(path)
        assert loaded == preset.spec, name
        before, after = analyze(preset.spec).total, analyze(loaded).total
        assert (after.params, after.macs, after.activations) == (before.params, before.macs, before.activations), name


@pytest.mark.parametrize("fmt", FORMATS)
def test_spec_command_output_loads_back(fmt: str, tmp_path: Path) -> None:
    """`resnet-inspect spec resnet50 --format F > net.F` is a working starting file."""
    code, out, _ = run("spec", "resnet50", "--format", fmt)
    assert code == 0
    path = tmp_path / f"net{SUFFIX[fmt]}"
    path.write_text(out, encoding="utf-8")
    spec = load_config(path)
    assert spec == PRESETS["resnet50"].spec
    assert analyze(spec).total.params == TORCHVISION["resnet50"][0]
    # ... and printing the file again gives the same text.
    code, again, _ = run("spec", str(path), "--format", fmt)
    assert code == 0 and again == out


def test_spec_command_applies_overrides_and_writes_file(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    code, out, err = run("spec", "resnet34:shortcut=A", "--input-size", "112", "-f", "yaml", "-o", str(target))
    assert code == 0 and out == "" and "wrote" in err
    spec = load_config(target)
    assert (spec.shortcut, spec.input_size, spec.block, spec.layers) == ("A", 112, "basic", (3, 4, 6, 3))


@settings(max_examples=40, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    name=st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip() and "\x00" not in s),
    input_size=st.integers(32, 512),
    shortcut=st.sampled_from(["B", "C", "D", "none"]),
    fmt=st.sampled_from(FORMATS),
)
def test_round_trip_any_name_and_fields(preset: str, name: str, input_size: int, shortcut: str, fmt: str,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Names with quotes, backslashes, control characters or non-ASCII text survive every format."""
    spec = replace(PRESETS[preset].spec, name=name, input_size=input_size, shortcut=shortcut)
    path = tmp_path_factory.mktemp("rt") / f"net{SUFFIX[fmt]}"
    path.write_text(dump_spec(spec, fmt), encoding="utf-8")  # type: ignore[arg-type]
    assert load_config(path) == spec


# ----------------------------------------------------------------------------------------------
# Document shapes


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("net.toml", 'base = "resnet34"\nshortcut = "A"\ninput_size = 112\n'),
        ("net.yaml", "base: resnet34\nshortcut: A\ninput_size: 112\n"),
        ("net.yml", "base: resnet34\nshortcut: a\ninput_size: '112'\n"),
        ("net.json", '{"base": "resnet34", "shortcut": "A", "input_size": 112}'),
        ("net.toml", 'base = "resnet34:shortcut=A"\ninput_size = 112\n'),
    ],
)
def test_base_plus_overrides(filename: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / filename
    path.write_text(text)
    spec = load_config(path)
    expected = replace(parse_spec("resnet34:shortcut=A,input_size=112"), name="net")
    assert spec == expected  # name defaults to the file's stem


def test_complete_file_without_base(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(
        '{"block": "basic", "layers": [1, 1], "widths": [8, 16], "stem": "cifar", "stem_width": 8, '
        '"stride_in": "3x3", "shortcut": "B", "groups": 1, "width_per_group": 64, "preact": false, '
        '"input_size": 8, "in_channels": 1, "num_classes": 2}'
    )
    spec = load_config(path)
    assert spec.name == "tiny"
    # Hand count: stem 3x3 conv 1->8 (72) + BN (16); layer1.0 two 3x3 convs 8->8 (576 each) + 2 BN (16 each);
    # layer2.0 3x3 8->16 (1152) + BN (32) + 3x3 16->16 (2304) + BN (32) + projection 1x1 8->16 (128) + BN (32);
    # fc 16*2 + 2.
    expected = 72 + 16 + 2 * (576 + 16) + 1152 + 32 + 2304 + 32 + 128 + 32 + 34
    assert analyze(spec).total.params == expected


def test_summary_accepts_a_config_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('base = "resnet50"\n')
    code, out, _ = run("summary", str(path), "--format", "json")
    assert code == 0
    assert '"name": "mine"' in out and f'"params": {TORCHVISION["resnet50"][0]}' in out


# ----------------------------------------------------------------------------------------------
# Malformed files: (fixture, fragments the message must contain, location prefix or None)

MALFORMED: list[tuple[str, tuple[str, ...], str | None]] = [
    ("syntax.toml", ("invalid TOML", "Unclosed array"), "syntax.toml:4:"),
    ("syntax.yaml", ("invalid YAML", "expected ',' or ']'"), "syntax.yaml:4:"),
    ("syntax.json", ("invalid JSON", "double quotes"), "syntax.json:4:1:"),
    ("wrong_type_layers.toml", ("layers[0]='three' is not an integer", "e.g. 3-4-6-3"), "wrong_type_layers.toml:2:"),
    ("wrong_type_preact.yaml", ("preact='maybe'", "use true or false"), "wrong_type_preact.yaml:2:"),
    ("wrong_type_input_size.json", ("input_size=[224, 224] is not an integer", "positive integer"), "wrong_type_input_size.json:3:"),
    ("unknown_key.toml", ("unknown key 'shortcutt'", "did you mean shortcut?", "valid keys are base, block"), "unknown_key.toml:3:"),
    ("unknown_key_no_base.yaml", ("unknown key 'bsae'", "did you mean base?", "missing keys block, layers"), "unknown_key_no_base.yaml:1:"),
    ("negative_width.toml", ("widths[1]=-128 must be at least 1",), "negative_width.toml:2:"),
    ("zero_input_size.yaml", ("input_size=0 must be at least 1",), "zero_input_size.yaml:2:"),
    ("zero_blocks.json", ("layers[1]=0 must be at least 1",), "zero_blocks.json:3:"),
    ("groups_on_basic_blocks.toml", ("grouped convs need block=bottleneck", "basic blocks take groups=1"), "groups_on_basic_blocks.toml:2:"),
    ("groups_too_thin.json", ("widths[0]=32 with width_per_group=1 leaves under one channel per group",), "groups_too_thin.json:4:"),
    ("wrong_stage_count.toml", ("layers has 3 stages but widths has 4", "one width per stage"), "wrong_stage_count.toml:2:"),
    ("too_many_stages.yaml", ("layers has 7 stages; at most 6", "widths has 7 stages"), "too_many_stages.yaml:2:"),
    ("empty.toml", ("is empty", 'base = "resnet50"'), None),
    ("blank.yaml", ("is empty",), None),
    ("comments_only.toml", ("has no keys",), None),
    ("binary.json", ("is a binary file", "TOML, YAML or JSON"), None),
    ("latin1.yaml", ("is not UTF-8 text", "save the file as UTF-8"), "latin1.yaml:2:"),
    ("incomplete.toml", ("missing keys widths, stem,", "every field", 'base = "resnet50"'), None),
    ("unknown_preset.toml", ("unknown preset 'resnet05'", "did you mean resnet50"), "unknown_preset.toml:1:"),
    ("base_is_a_file.yaml", ("names a file", "base must be a preset"), "base_is_a_file.yaml:1:"),
    ("not_a_mapping.json", ("top level is a list, not a mapping",), None),
    ("duplicate_key.json", ("key 'input_size' is given twice",), "duplicate_key.json:4:"),
    ("two_documents.yaml", ("single document",), "two_documents.yaml:2:"),
    ("bad_shortcut.toml", ("shortcut='E' is not allowed", "A, B, C, D, none"), "bad_shortcut.toml:2:"),
    ("nested_table.toml", ("'spec' is a table", "at the top level"), "nested_table.toml:1:"),
    ("several_problems.toml", ("stride_in='2x2'", "num_classes=-10", "did you mean width_per_group?"), "several_problems.toml:2:"),
]


def test_table_covers_every_fixture() -> None:
    on_disk = {p.name for p in BAD.iterdir()}
    assert on_disk == {name for name, _, _ in MALFORMED}
    assert len(on_disk) >= 15


@pytest.mark.parametrize(("name", "fragments", "where"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_is_one_line_exit_2(name: str, fragments: tuple[str, ...], where: str | None, tmp_path: Path) -> None:
    """Through the shared handler (`summary`): one `error:` line per problem, each with file, line,
    problem and fix, exit 2, nothing written."""
    path = str(BAD / name)
    target = tmp_path / "out.json"
    code, out, err = run("summary", path, "-f", "json", "-o", str(target))
    assert code == 2
    lines = err.splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines)
    for fragment in fragments:
        assert fragment in err
    if where is not None:
        assert f"{BAD / where}" in err
    assert "Traceback" not in out + err and not target.exists()


@pytest.mark.parametrize(("name", "fragments", "where"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_problem_per_line(name: str, fragments: tuple[str, ...], where: str | None) -> None:
    """`spec` (and compare, check) print each problem on its own `error: FILE[:LINE]:` line."""
    path = str(BAD / name)
    code, out, err = run("spec", path)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines)
    for fragment in fragments:
        assert fragment in err


def test_every_problem_is_reported_with_its_line() -> None:
    with pytest.raises(SpecError) as info:
        load_config(BAD / "several_problems.toml")
    problems = info.value.problems
    assert len(problems) == 3
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "4"]
    assert "\n" not in str(info.value)


def test_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    with path.open("w") as fh:
        fh.write('base = "resnet50"\n')
        fh.write(("# padding " + "x" * 90 + "\n") * (MAX_CONFIG_BYTES // 100 + 10))
    code, _, err = run("summary", str(path))
    assert code == 2 and "above the 1,048,576-byte limit" in err and err.count("\n") == 1


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"layers": ' + "[" * 200_000 + "]" * 200_000 + "}")
    code, _, err = run("summary", str(path))
    assert code == 2 and "nested too deeply" in err


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: d / "missing.toml", "no such config file"),
        (lambda d: (d / "folder.yaml").mkdir() or d / "folder.yaml", "is a folder"),
    ],
)
def test_missing_file_or_folder(make: object, fragment: str, tmp_path: Path) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, _, err = run("summary", str(path))
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_config_values_go_through_the_same_checks_as_spec_strings(tmp_path: Path) -> None:
    """A value rejected in a SPEC string is rejected in a file, with the same words."""
    path = tmp_path / "n.toml"
    path.write_text('base = "resnet34"\nshortcut = "E"\n')
    with pytest.raises(SpecError) as from_file:
        load_config(path)
    with pytest.raises(SpecError) as from_string:
        parse_spec("resnet34:shortcut=E")
    assert str(from_string.value) in str(from_file.value)
