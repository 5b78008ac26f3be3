"""Module SPECs (``FILE.py:CALLABLE``, ``package.module:CALLABLE``, literal arguments): what they parse
to, what is refused, and that a SPEC never runs code by itself. Pure: no torch."""

from __future__ import annotations

import os
import sys

import pytest

from resnet_inspect.errors import SpecError
from resnet_inspect.sources import is_module_spec, load_plan
from resnet_inspect.specio import parse_spec
from resnet_inspect.target import MAX_TARGET_CHARS, ModuleTarget, looks_like_target, parse_target


@pytest.mark.parametrize(("text", "kind", "location", "attr", "args", "kwargs"), [
    ("models/resnet.py:ResNet18", "file", "models/resnet.py", "ResNet18", (), {}),
    ("resnet.py:resnet20", "file", "resnet.py", "resnet20", (), {}),
    ("models/resnet.py:ResNet(depth=20, num_classes=10)", "file", "models/resnet.py", "ResNet", (),
     {"depth": 20, "num_classes": 10}),
    ("mypkg.models:resnet20", "module", "mypkg.models", "resnet20", (), {}),
    ("mypkg.models:zoo.resnet20", "module", "mypkg.models", "zoo.resnet20", (), {}),
    ("models:ResNet()", "module", "models", "ResNet", (), {}),
    ("net.py:ResNet(20, [3, 3, 3])", "file", "net.py", "ResNet", (20, [3, 3, 3]), {}),
    ('net.py:R(widths=(16, 32), opts={"a": None}, x=-1.5, s="hi", b=True, n=None)', "file", "net.py", "R", (),
     {"widths": (16, 32), "opts": {"a": None}, "x": -1.5, "s": "hi", "b": True, "n": None}),
    ("  a.py : ResNet ( depth = 2 )  ", "file", "a.py", "ResNet", (), {"depth": 2}),
    ("C:/models/net.py:ResNet", "file", "C:/models/net.py", "ResNet", (), {}),
    ("dir.v2/my-net.py:build", "file", "dir.v2/my-net.py", "build", (), {}),
])
def test_forms(text: str, kind: str, location: str, attr: str, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    t = parse_target(text)
    assert isinstance(t, ModuleTarget)
    assert (t.kind, t.location, t.attr, t.args, t.kwargs) == (kind, location, attr, args, kwargs)
    assert t.text == text.strip()
    assert looks_like_target(text.strip(), is_preset=False)


def test_call_text_shows_what_will_be_called() -> None:
    assert parse_target("m.py:ResNet(18, depth=20, name='x')").call_text == "ResNet(18, depth=20, name='x')"
    assert parse_target("m.py:resnet18").call_text == "resnet18()"


@pytest.mark.parametrize(("text", "message"), [
    ("m.py:ResNet(depth=os.system('x'))", "is not a literal"),
    ("m.py:ResNet(depth=__import__('os').system('x'))", "is not a literal"),
    ("m.py:ResNet(block=Bottleneck)", "is not a literal"),
    ("m.py:ResNet(layers=list(range(3)))", "is not a literal"),
    ("m.py:ResNet(layers=[i for i in range(3)])", "is not a literal"),
    ("m.py:ResNet(depth=10 ** 100)", "is not a literal"),
    ("m.py:ResNet(x=(1).__class__)", "is not a literal"),
    ("m.py:ResNet(**cfg)", "give each keyword argument by name"),
    ("m.py:(lambda: 1)()", "call a name"),
    ("m.py:getattr(m, 'x')()", "call a name"),
    ("m.py:ResNet(depth=20", "cannot read"),
    ("m.py:ResNet(depth=20); import os", "cannot read"),
    ("m.py:ResNet[0]", "is not a Python name"),
    ("m.py:1+2", "is not a Python name"),
    ("m.py:", "nothing after ':'"),
    ("m.py:ResNet(x=" + "-" * 3000 + "1)", "nested too deeply"),
    ("m.py:ResNet(x=" + "1+" * 1500 + "1)", "nested too deeply"),
    ("m.py:" + "a." * 1500 + "b()", "nested too deeply"),
    ("bad-name:foo", "neither a .py file nor a dotted module name"),
])
def test_refused_with_a_spec_error(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_target(text)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 400  # the offending text is shortened


def test_non_literal_argument_runs_nothing(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Refused before the file is imported: neither the file's own code nor the argument runs."""
    marker = tmp_path / "imported"
    model_file = tmp_path / "evil_net.py"
    model_file.write_text(f"open({str(marker)!r}, 'w').close()\ndef ResNet(**kw):\n    raise SystemExit\n")
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    modules = set(sys.modules)
    with pytest.raises(SpecError, match="is not a literal"):
        load_plan(f"{model_file}:ResNet(depth=os.system('touch {tmp_path}/ran'))")
    assert calls == []
    assert not marker.exists() and not (tmp_path / "ran").exists()
    assert not any("evil_net" in m for m in set(sys.modules) - modules)


def test_over_long_spec_refused() -> None:
    text = "m.py:ResNet(name=" + repr("x" * MAX_TARGET_CHARS) + ")"
    with pytest.raises(SpecError, match=f"characters long; a module SPEC has at most {MAX_TARGET_CHARS:,}"):
        parse_target(text)
    # Just within the limit is read.
    fits = "m.py:ResNet(name=" + repr("x" * (MAX_TARGET_CHARS - 30)) + ")"
    assert len(parse_target(fits).kwargs["name"]) == MAX_TARGET_CHARS - 30


@pytest.mark.parametrize(("text", "is_module"), [
    ("resnet50:stride_in=1x1", False),
    ("resnet50:shortcut=A,input_size=64", False),
    ("resnet50", False),
    ("resnet50:foo", False),  # a preset before the colon is always a preset
    ("my_net.toml", False),
    ("configs/net.yaml", False),
    ("mypkg.models:shortcut=A", False),  # '=' in the callable: overrides, not a callable
    ("mypkg.models:resnet20", True),
    ("mypkg.models:ResNet(depth=2)", True),
    ("models/resnet.py:ResNet18", True),
    ("x.py:f", True),
    ("C:/models/net.py:ResNet", True),  # a colon in the path: split after the last ".py:"
])
def test_module_spec_or_preset(text: str, is_module: bool) -> None:
    assert is_module_spec(text) is is_module


def test_preset_overrides_stay_overrides() -> None:
    spec = parse_spec("resnet50:stride_in=1x1")
    assert spec.stride_in == "1x1" and spec.layers == (3, 4, 6, 3)


def test_parse_spec_refuses_module_targets() -> None:
    for text in ("mypkg.models:resnet20", "models/resnet.py:ResNet18"):
        with pytest.raises(SpecError, match="names a Python module"):
            parse_spec(text)
