"""Spec validation and SPEC parsing: precise messages naming field, value and what is allowed."""

from __future__ import annotations

import pytest

from resnet_inspect.errors import SpecError
from resnet_inspect.presets import get_preset
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.specio import parse_spec, split_overrides


def test_overrides_apply() -> None:
    spec = parse_spec("resnet50:stride_in=1x1,input_size=320")
    assert spec.stride_in == "1x1" and spec.input_size == 320
    assert spec.layers == get_preset("resnet50").layers
    assert parse_spec("resnet34:shortcut=a").shortcut == "A"
    assert parse_spec("resnet34:shortcut=None").shortcut == "none"


def test_list_values_with_commas_or_dashes() -> None:
    assert split_overrides("layers=3,4,6,3,shortcut=A") == {"layers": "3,4,6,3", "shortcut": "A"}
    assert parse_spec("resnet50:layers=2,2,2,2").layers == (2, 2, 2, 2)
    assert parse_spec("resnet50:layers=2-2-2,widths=64-128-256").layers == (2, 2, 2)


def test_flag_overrides_apply_last() -> None:
    spec = parse_spec("resnet34:shortcut=A", {"shortcut": "C", "num_classes": 10})
    assert spec.shortcut == "C" and spec.num_classes == 10


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("resnet5", ["unknown preset 'resnet5'", "did you mean", "resnet50"]),
        ("resnet34:shortcuts=A", ["unknown key 'shortcuts'", "did you mean shortcut?", "valid keys are"]),
        ("resnet34:shortcut=E", ["shortcut='E' is not allowed", "A, B, C, D, none"]),
        ("resnet50:stride_in=2x2", ["stride_in='2x2'", "1x1, 3x3"]),
        ("resnet50:input_size=big", ["input_size='big' is not an integer"]),
        ("resnet50:input_size=0", ["input_size=0 must be at least 1"]),
        ("resnet50:layers=3-4-6", ["layers has 3 stages but widths has 4"]),
        ("resnet50:layers=1-1-1-1-1-1-1,widths=1-1-1-1-1-1-1", ["at most 6"]),
        ("resnet18:groups=32", ["grouped convs need block=bottleneck"]),
        ("resnet50:widths=64-128-256-0", ["widths[3]=0 must be at least 1"]),
        ("resnet50:shortcut=A,widths=64-32-256-512", ["shortcut=A zero-pads channels", "stage 2 narrows 256->128"]),
        ("resnet50:", ["nothing after ':'"]),
        ("", ["empty SPEC"]),
        ("resnet50:shortcut", ["is not KEY=VALUE"]),
        ("resnet50:layers=100000-1-1-1", ["above the limit"]),
        ("resnet50:widths=2000000-1-1-1", ["above the limit"]),
    ],
)
def test_bad_specs_name_the_problem(text: str, fragments: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_all_problems_collected() -> None:
    with pytest.raises(SpecError) as info:
        ResNetSpec(block="tiny", shortcut="Z", input_size=-1)
    assert len(info.value.problems) == 3


def test_spec_is_frozen_and_hashable() -> None:
    spec = get_preset("resnet50")
    with pytest.raises(AttributeError):
        spec.shortcut = "A"  # type: ignore[misc]
    assert hash(spec) == hash(get_preset("resnet50"))
