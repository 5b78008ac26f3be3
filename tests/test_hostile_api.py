"""The Python API with wrong arguments (issue 16, group 4).

Every public function of ``resnet_inspect`` given the wrong kind of argument (an int where a SPEC
is expected, None, a list, a dict, bytes, a module class, a non-Module to ``trace``) raises a
``TypeError`` naming what it got and what it takes, or a ``ResnetInspectError`` for a value of the
right type that is not valid: never an ``AttributeError`` or ``KeyError`` from deep inside.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

import resnet_inspect as ri
from resnet_inspect.errors import ResnetInspectError, SpecError
from resnet_inspect.spec import ResNetSpec

USERNETS = Path(__file__).parent / "usernets"

#: Values that are not a spec: each must be a TypeError.
NOT_SPECS: list[Any] = [
    5, 5.0, None, True, [], ["resnet50"], ("resnet50",), {}, {"block": "basic"}, {"bogus": 1},
    b"resnet50", object(), ResNetSpec, math.nan, 10**400, {"resnet50"},
]
#: Strings that are not a SPEC: each must be a domain error.
BAD_SPEC_TEXT = ["", "   ", "resnet5O", "resnet50:", "resnet50:bogus=1", "resnet50:widths=-1", "x" * 100_000,
                 "resnet50\x00", "\x1b[2J", "resnet50:layers=3-4-6-" + "9" * 400, "nope.toml", "/"]


def _short(value: Any) -> str:
    """A test id that is the same in every worker (no memory address)."""
    text = repr(value)
    return type(value).__name__ if " at 0x" in text else text[:30]


def _expect_clean(call: Any, *args: Any, **kwargs: Any) -> BaseException:
    """Run ``call``; it must raise a TypeError or a ResnetInspectError with a short, one-line message."""
    with pytest.raises((TypeError, ResnetInspectError)) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message[:1000]
    return info.value


@pytest.mark.parametrize("fn", ["summarize", "summary_json", "build", "verify"])
@pytest.mark.parametrize("value", NOT_SPECS, ids=_short)
def test_a_non_spec_is_a_type_error(fn: str, value: Any) -> None:
    error = _expect_clean(getattr(ri, fn), value)
    assert isinstance(error, TypeError)
    assert f"{fn}() takes a ResNetSpec or a SPEC string" in str(error)


@pytest.mark.parametrize("value", NOT_SPECS, ids=_short)
def test_parse_spec_of_a_non_string_is_a_type_error(value: Any) -> None:
    error = _expect_clean(ri.parse_spec, value)
    assert isinstance(error, TypeError) and "a SPEC must be a string" in str(error)


@pytest.mark.parametrize("fn", ["summarize", "summary_json", "parse_spec"])
@pytest.mark.parametrize("text", BAD_SPEC_TEXT, ids=_short)
def test_a_bad_spec_string_is_a_domain_error(fn: str, text: str) -> None:
    error = _expect_clean(getattr(ri, fn), text)
    assert isinstance(error, ResnetInspectError)


def test_a_dict_gets_a_hint() -> None:
    error = _expect_clean(ri.summarize, {"block": "basic"})
    assert "ResNetSpec(**fields)" in str(error)


@pytest.mark.parametrize("overrides", [
    ["shortcut"], "shortcut=A", 5, {"bogus": 1}, {5: 1}, {"layers": {"a": 1}}, {"layers": object()},
    {"name": 5}, {"input_size": 10**400}, {"input_size": "9" * 400}, {"preact": "maybe"}, {"block": []},
])
def test_parse_spec_overrides(overrides: Any) -> None:
    _expect_clean(ri.parse_spec, "resnet50", overrides)


@pytest.mark.parametrize(("kwargs", "kind"), [
    ({"input_size": "32"}, TypeError), ({"input_size": 32.0}, TypeError), ({"input_size": True}, TypeError),
    ({"in_channels": [3]}, TypeError), ({"input_size": 0}, SpecError), ({"input_size": 10**400}, SpecError),
])
@pytest.mark.parametrize("spec", ["resnet18", ResNetSpec(block="basic", layers=(2, 2, 2, 2))], ids=["text", "spec"])
def test_summarize_size_arguments(kwargs: dict[str, Any], kind: type, spec: Any) -> None:
    assert isinstance(_expect_clean(ri.summarize, spec, **kwargs), kind)


@pytest.mark.parametrize("fields", [
    {"layers": None}, {"layers": "3-4-6-3"}, {"layers": object()}, {"block": 5}, {"block": ["basic"]},
    {"input_size": "224"}, {"input_size": 10**5000}, {"name": None}, {"widths": {"a": 1}}, {"preact": "yes"},
    {"layers": [1] * 10**5},
])
def test_resnetspec_with_wrong_types_is_a_spec_error(fields: dict[str, Any]) -> None:
    _expect_clean(ResNetSpec, **fields)


def test_resnetspec_takes_lists() -> None:
    spec = ResNetSpec(block="basic", layers=[2, 2, 2, 2], widths=[64, 128, 256, 512])  # type: ignore[arg-type]
    assert spec == ResNetSpec(block="basic", layers=(2, 2, 2, 2))
    assert isinstance(hash(spec), int)
    assert ri.summarize(spec).total.params == ri.summarize("resnet18").total.params


@pytest.mark.parametrize("seed", ["0", 1.5, -1, 2**64, 10**400, True])
def test_build_seed(seed: Any) -> None:
    _expect_clean(ri.build, "resnet18", seed=seed)


def test_wrong_types_are_told_before_torch_is_imported() -> None:
    import subprocess

    code = (
        "import sys, resnet_inspect as ri\n"
        "for fn in (ri.build, ri.verify, ri.trace):\n"
        "    try: fn(5)\n"
        "    except TypeError: pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------------------------------------
# trace


@pytest.mark.parametrize("model", [5, None, "resnet50", "models.py:ResNet18", ResNetSpec(), [], {}, object(), b"x"],
                         ids=_short)
def test_trace_of_a_non_module_is_a_type_error(model: Any) -> None:
    error = _expect_clean(ri.trace, model)
    assert isinstance(error, TypeError) and "trace() takes a torch.nn.Module instance" in str(error)


def test_trace_arguments() -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(USERNETS))
    try:
        import torchvision_style as tv
    finally:
        sys.path.remove(str(USERNETS))
    assert "call it" in str(_expect_clean(ri.trace, tv.ResNet))  # the class, not a module
    assert "call it" in str(_expect_clean(ri.trace, torch.nn.Linear))
    model = tv.resnet18()
    for kwargs in ({"input_size": "224"}, {"input_size": None}, {"in_channels": 3.0}, {"name": 5},
                   {"input_size": 0}, {"input_size": 10**6}, {"in_channels": -1}):
        _expect_clean(ri.trace, model, **kwargs)
    model.train()
    assert ri.trace(model, input_size=64).total.params == ri.summarize("resnet18").total.params
    assert model.training  # the caller's mode is kept
    error = _expect_clean(ri.summarize, model)
    assert "use resnet_inspect.trace(model)" in str(error)


# ----------------------------------------------------------------------------------------------
# The right arguments still work


def test_every_public_function_still_works_on_good_input() -> None:
    spec = ri.parse_spec("resnet18", {"input_size": 64})
    assert spec.input_size == 64 and ri.summarize(spec).total.params == ri.summarize("resnet18").total.params
    assert ri.summary_json("resnet18")["spec"]["name"] == "resnet18"
    assert set(ri.__all__) == {"__version__", "build", "parse_spec", "summarize", "summary_json", "trace", "verify"}
