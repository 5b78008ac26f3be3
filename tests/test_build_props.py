"""Property: for any valid spec, analytic counts == the built module's parameters == fvcore per op,
block by block, and the output is ``[1, num_classes]``.

Widths are tiny (1..16 channels) so each example builds and traces in a few hundredths of a
second; input sizes are mostly 32..64 with some up to 256 to cover large and odd spatial sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("fvcore")

import torch

from resnet_inspect.errors import SpecError
from resnet_inspect.nn.verify import verify_spec
from resnet_inspect.spec import ResNetSpec

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@st.composite
def specs(draw: st.DrawFn) -> ResNetSpec:
    block = draw(st.sampled_from(["basic", "bottleneck", "single"]))
    stages = draw(st.integers(1, 6))
    layers = tuple(draw(st.lists(st.integers(1, 4), min_size=stages, max_size=stages)))
    shortcut = draw(st.sampled_from(["A", "B", "C", "D", "none"]))
    expansion = 4 if block == "bottleneck" else 1
    stem_width = draw(st.integers(2, 16))
    if shortcut == "A":  # zero-padding cannot narrow: widths grow from the stem's
        start = -(-stem_width // expansion)
        steps = draw(st.lists(st.integers(0, 6), min_size=stages, max_size=stages))
        widths = tuple(start + sum(steps[: i + 1]) for i in range(stages))
    else:
        widths = tuple(draw(st.lists(st.integers(1, 16), min_size=stages, max_size=stages)))
    extra: dict[str, Any] = {}
    if block == "bottleneck":
        extra["stride_in"] = draw(st.sampled_from(["1x1", "3x3"]))
        extra["groups"] = draw(st.integers(1, 4))
        # at least one channel per group for every width: int(w * wpg / 64) >= 1
        extra["width_per_group"] = draw(st.integers(-(-64 // min(widths)), 128))
    size = draw(st.one_of(st.integers(32, 64), st.integers(65, 256)))
    try:
        return ResNetSpec(
            block=block, layers=layers, widths=widths, stem=draw(st.sampled_from(["imagenet", "cifar", "deep"])),
            stem_width=stem_width, shortcut=shortcut, preact=draw(st.booleans()), input_size=size,
            in_channels=draw(st.integers(1, 4)), num_classes=draw(st.integers(1, 20)), name="random", **extra,
        )
    except SpecError:
        assume(False)
        raise


@settings(max_examples=200, deadline=None)
@given(specs())
def test_analytic_equals_module_equals_fvcore(spec: ResNetSpec) -> None:
    report = verify_spec(spec)
    assert report.ok, (spec, report.failure_lines())
    assert report.output_shape == (1, spec.num_classes)
    assert {c.scope for c in report.checks if c.scope.startswith("layer")} == {
        f"layer{s + 1}.{i}" for s, n in enumerate(spec.layers) for i in range(n)
    }
