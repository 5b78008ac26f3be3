"""Fuzzing the inputs a user controls: SPEC strings, inline overrides, config documents, CLI args.

Every outcome must be a valid result or a clean ``SpecError`` / exit 2 with an ``error:`` line,
never another exception or a traceback. Example counts are fixed so CI time is bounded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.counts import analyze
from resnet_inspect.errors import ResnetInspectError, SpecError
from resnet_inspect.presets import preset_names
from resnet_inspect.spec import FIELD_NAMES, ResNetSpec
from resnet_inspect.specio import parse_spec

runner = CliRunner()
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Values a user might type: numbers (some absurd), lists, words, option-like strings.
values = st.one_of(
    st.integers(-5, 300).map(str),
    st.sampled_from(["0", "-1", "10**9", "99999999999", "1e3", "3.5", "", " ", "true", "no", "A", "b", "none",
                     "C", "D", "1x1", "3x3", "basic", "bottleneck", "single", "cifar", "deep", "imagenet",
                     "3-4-6-3", "1-1", "64-128-256-512", "[1,2]", "1048577", "100001-1-1-1"]),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(min_size=1, max_size=10))


def accept_or_spec_error(text: str) -> None:
    try:
        spec = parse_spec(text)
    except SpecError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(spec, ResNetSpec)
    # a spec that validates is also one the engine can count
    a = analyze(spec)
    assert a.total.params > 0


@FUZZ
@given(st.text(max_size=60))
def test_random_spec_strings(text: str) -> None:
    if text.strip().lower().endswith((".toml", ".yaml", ".yml", ".json")):
        text += "x"  # file paths are fuzzed below, with real files
    accept_or_spec_error(text)


@FUZZ
@given(st.sampled_from(preset_names()), st.lists(st.tuples(keys, values), max_size=4))
def test_random_overrides(preset: str, pairs: list[tuple[str, str]]) -> None:
    text = preset + ":" + ",".join(f"{k}={v}" for k, v in pairs) if pairs else preset
    accept_or_spec_error(text)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**7), st.floats(allow_nan=False, width=32),
              st.text(max_size=10), st.sampled_from(["resnet50", "cifar_resnet20", "A", "bottleneck", "3x3"])),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(st.one_of(st.sampled_from([*FIELD_NAMES, "base"]), st.text(min_size=1, max_size=8)),
                            json_values, max_size=6)


def _toml_value(v: object) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return "[" + ", ".join(map(str, v)) + "]"
    return None


@FUZZ
@given(documents, st.sampled_from(["json", "yaml", "toml"]))
def test_random_config_documents(tmp_path_factory: pytest.TempPathFactory, doc: dict[str, object], fmt: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"net.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(doc))
    elif fmt == "yaml":
        path.write_text(yaml.safe_dump(doc))
    else:
        lines = []
        for k, v in doc.items():
            value = _toml_value(v)
            if value is not None:
                lines.append(f"{json.dumps(k)} = {value}")
        path.write_text("\n".join(lines) + "\n")
    accept_or_spec_error(str(path))


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["json", "yaml", "yml", "toml"]))
def test_random_bytes_as_config(tmp_path_factory: pytest.TempPathFactory, data: bytes, fmt: str) -> None:
    path = tmp_path_factory.mktemp("fuzzb") / f"net.{fmt}"
    path.write_bytes(data)
    accept_or_spec_error(str(path))


cli_args = st.lists(
    st.one_of(
        st.sampled_from(["--shortcut", "--stride-in", "--input-size", "--num-classes", "--format", "--depth",
                         "-f", "--collapse", "--all-blocks", "--bogus", "-", "--"]),
        values,
    ),
    max_size=5,
)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["summary", "shortcuts", "compare", "spec", "check", "presets", "diagram"]),
       st.sampled_from([*preset_names()[:6], "resnet5", "", "resnet50:shortcut=Q"]), cli_args)
def test_random_cli_invocations(command: str, spec: str, args: list[str]) -> None:
    argv = [command, spec, *args]
    if command == "compare":
        argv = [command, spec, spec, *args]
    if command == "diagram":
        argv = [command, spec, *args]  # without -o it prints DOT to stdout; never renders
    result = runner.invoke(app, argv)
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.output)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (argv, repr(result.exception))
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.strip(), argv  # a message says what was wrong


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("resnet50:layers=100001-1-1-1", "above the limit of 100,000"),
        ("resnet50:layers=30000-30000-30000-30000", "blocks in all, above the limit"),
        ("resnet50:widths=1048577-1-1-1", "above the limit"),
        ("resnet50:widths=300000-1-1-1", "channels, above the limit"),  # 4x expansion passes 2^20
        ("resnet50:input_size=100000", "above the limit"),
        ("resnet50:num_classes=999999999999", "above the limit"),
        ("resnet50:input_size=9999999999999", "not an integer"),
    ],
)
def test_absurd_sizes_are_stopped_before_work(text: str, fragment: str) -> None:
    with pytest.raises(ResnetInspectError) as info:
        parse_spec(text)
    assert fragment in str(info.value)


def test_config_path_that_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        parse_spec(str(tmp_path / "missing.toml"))


def test_yaml_with_control_character_is_a_clear_error(tmp_path: Path) -> None:
    """Found by the fuzzer: PyYAML rejects unprintable characters when its loader is created."""
    path = tmp_path / "net.yaml"
    path.write_bytes(b"base: resnet50\x01\n")
    with pytest.raises(SpecError) as info:
        parse_spec(str(path))
    assert "invalid YAML" in str(info.value) and "\n" not in str(info.value)
