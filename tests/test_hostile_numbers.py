"""Hostile numbers and SPEC strings (issue 16, groups 2 and 3).

A 400-digit number as a budget flag, in a budget file or as a spec field is a number, refused in one
line (no OverflowError); a negative width is reported as negative (``widths=-64-128-256-512`` is not
read as four positive widths); a limit is a whole count, so ``--max-projections 2.5`` and
``--max-params 0.5`` are refused while ``4.2G`` and ``0.5M`` are limits; a 100 KB SPEC is refused
without being repeated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_inspect.budget import MAX_LIMIT, parse_limit
from resnet_inspect.errors import SpecError
from resnet_inspect.specio import MAX_SPEC_CHARS, parse_spec
from resnet_inspect.units import parse_count

from .test_hostile_configs import refused, run_cli

BIG = "9" * 400


# ----------------------------------------------------------------------------------------------
# 400-digit numbers


@pytest.mark.parametrize("flag", ["--max-params", "--max-macs", "--max-activations", "--max-projections"])
def test_a_400_digit_budget_flag_is_refused(flag: str, tmp_path: Path) -> None:
    line, _ = refused("check", "resnet50", flag, BIG, cwd=tmp_path)
    assert "above the largest limit, 10^18" in line


@pytest.mark.parametrize(("name", "body"), [
    ("budget.toml", f"max_params = {BIG}\n"),
    ("budget.toml", f'max_params = "{BIG}"\n'),
    ("budget.toml", f'max_params = "{BIG}G"\n'),
    ("budget.yaml", f"max_macs: {BIG}\n"),
    ("budget.json", f'{{"max_activations": {BIG}}}'),
    ("budget.toml", "max_params = 1e308\n"),
    ("budget.toml", f'[specs.a]\nspec = "resnet18"\nmax_params = {BIG}\n'),
])
def test_a_400_digit_limit_in_a_budget_file_is_refused(name: str, body: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(body)
    args = ("check", "--budget", name) if "specs" in body else ("check", "resnet50", "--budget", name)
    line, _ = refused(*args, cwd=tmp_path)
    assert "above the largest limit" in line


@pytest.mark.parametrize("body", ["max_params: .inf\n", "max_params: .nan\n", "max_params: -.inf\n"])
def test_infinite_limits_are_not_counts(body: str, tmp_path: Path) -> None:
    (tmp_path / "budget.yaml").write_text(body)
    line, _ = refused("check", "resnet50", "--budget", "budget.yaml", cwd=tmp_path)
    assert "is not a count" in line


def test_a_json_integer_past_pythons_digit_limit(tmp_path: Path) -> None:
    (tmp_path / "budget.json").write_text(f'{{"max_params": {"9" * 5000}}}')
    line, _ = refused("check", "resnet50", "--budget", "budget.json", cwd=tmp_path)
    assert "invalid JSON" in line


@pytest.mark.parametrize("spec", [
    f"resnet50:input_size={BIG}", f"resnet50:widths={BIG}", f"resnet50:layers=3-4-6-{BIG}",
    f"resnet50:num_classes={BIG}", f"resnet50:groups=-{BIG}", "resnet50:input_size=1e400",
])
def test_a_400_digit_spec_field_is_refused(spec: str, tmp_path: Path) -> None:
    line, _ = refused("summary", spec, cwd=tmp_path)
    assert line.count("9") < 120


@pytest.mark.parametrize(("name", "body"), [
    ("net.toml", f'base = "resnet50"\ninput_size = {BIG}\n'),
    ("net.toml", f'base = "resnet50"\nwidths = [64, 128, 256, {BIG}]\n'),
    ("net.yaml", f"base: resnet50\nstem_width: {BIG}\n"),
    ("net.json", f'{{"base": "resnet50", "num_classes": -{BIG}}}'),
    ("net.yaml", f"base: resnet50\ninput_size: {BIG}.0\n"),
])
def test_a_400_digit_config_field_is_refused(name: str, body: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(body)
    line, _ = refused("summary", name, cwd=tmp_path)
    assert line.count("9") < 120
    assert "limit" in line or "at least 1" in line or "input_size=inf is not an integer" in line  # YAML: 9...9.0 is inf


def test_parse_count_is_exact() -> None:
    assert parse_count(BIG) == int(BIG)
    assert parse_count("4.2G") == 4_200_000_000
    assert parse_count("1.1T") == 1_100_000_000_000
    assert parse_count(".5K") == 500
    with pytest.raises(ValueError, match="not a whole number"):
        parse_count("1.0000005M")
    with pytest.raises(ValueError, match="is not a count"):
        parse_count("9" * 5000)


# ----------------------------------------------------------------------------------------------
# Fractions: a limit is a whole count


@pytest.mark.parametrize(("flag", "value"), [
    ("--max-projections", "2.5"), ("--max-params", "0.5"), ("--max-macs", "1.0000005M"), ("--max-params", "1e6"),
])
def test_a_fractional_limit_is_refused(flag: str, value: str, tmp_path: Path) -> None:
    line, _ = refused("check", "resnet50", flag, value, cwd=tmp_path)
    assert line.startswith(f"error: {flag}")
    assert "whole number" in line or "not a count" in line


@pytest.mark.parametrize(("raw", "value"), [("0.5M", 500_000), ("4.2G", 4_200_000_000), (4.2e9, 4_200_000_000), ("2", 2)])
def test_whole_counts_with_a_point_are_limits(raw: object, value: int) -> None:
    assert parse_limit("max_params", raw) == value


@pytest.mark.parametrize("raw", [2.5, 0.5, "2.5", "0.5", float("inf"), MAX_LIMIT + 1, str(MAX_LIMIT + 1), -1])
def test_parse_limit_refuses(raw: object) -> None:
    with pytest.raises(ValueError, match="max_projections"):
        parse_limit("max_projections", raw)


def test_a_fractional_limit_in_a_budget_file(tmp_path: Path) -> None:
    (tmp_path / "budget.toml").write_text("max_projections = 2.5\n")
    line, _ = refused("check", "resnet50", "--budget", "budget.toml", cwd=tmp_path)
    assert "budget.toml:1: max_projections=2.5 is not a whole number" in line


def test_the_projection_limit_still_works(tmp_path: Path) -> None:
    run = run_cli("check", "resnet50", "--max-projections", "4", cwd=tmp_path)
    assert run.code == 0, run.err
    run = run_cli("check", "resnet50", "--max-projections", "3", cwd=tmp_path)
    assert run.code == 1 and "projections 4 exceeds max_projections 3" in run.err


# ----------------------------------------------------------------------------------------------
# Negative widths are negative


@pytest.mark.parametrize(("spec", "fragment"), [
    ("resnet50:widths=-1", "widths[0]=-1 must be at least 1"),
    ("resnet50:widths=-64-128-256-512", "widths[0]=-64 must be at least 1"),
    ("resnet50:widths=64,-128,256,512", "widths[1]=-128 must be at least 1"),
    ("resnet50:widths=64--128-256-512", "widths[1]=-128 must be at least 1"),
    ("resnet50:layers=3-4-6--3", "layers[3]=-3 must be at least 1"),
    ("resnet50:input_size=-224", "input_size=-224 must be at least 1"),
])
def test_a_negative_value_is_reported_as_negative(spec: str, fragment: str, tmp_path: Path) -> None:
    line, _ = refused("summary", spec, cwd=tmp_path)
    assert fragment in line


@pytest.mark.parametrize(("text", "value"), [
    ("64-128-256-512", (64, 128, 256, 512)), ("64,128,256,512", (64, 128, 256, 512)),
    ("[64, 128, 256, 512]", (64, 128, 256, 512)), ("64 128 256 512", (64, 128, 256, 512)),
    ("64-128-256-512-", (64, 128, 256, 512)),
])
def test_positive_lists_read_as_before(text: str, value: tuple[int, ...]) -> None:
    assert parse_spec(f"resnet50:widths={text}").widths == value


def test_a_negative_width_in_a_config(tmp_path: Path) -> None:
    (tmp_path / "net.toml").write_text('base = "resnet50"\nwidths = "-64-128-256-512"\n')
    line, _ = refused("summary", "net.toml", cwd=tmp_path)
    assert "net.toml:2: widths[0]=-64 must be at least 1" in line


# ----------------------------------------------------------------------------------------------
# Long and odd SPEC strings


@pytest.mark.parametrize("spec", [
    "x" * 100_000,
    "resnet50:stem=" + "x" * 100_000,
    "resnet50:" + "k" * 3000 + "=1",
    "resnet50:stem=" + "x" * 3000,
    "x" * 3000,
    "d/" * 1500 + "net.toml",
    "resnet50:input_size=²",
])
def test_a_long_or_odd_spec_is_refused_in_one_short_line(spec: str, tmp_path: Path) -> None:
    line, _ = refused("summary", spec, cwd=tmp_path)
    assert max(line.count("x"), line.count("k"), line.count("d/")) < 120


def test_the_spec_length_limit() -> None:
    with pytest.raises(SpecError, match=f"at most {MAX_SPEC_CHARS:,}"):
        parse_spec("resnet50:name=" + "n" * MAX_SPEC_CHARS)
    assert parse_spec("resnet50:name=" + "n" * 1000).name == "n" * 1000
