"""``memory``'s prediction (``resnet_inspect.memory``, no torch) against what autograd really saves
(``resnet_inspect.nn.memory``, ``saved_tensors_hooks`` on the built module): in total and per unit,
for presets and for traced user modules, fp32 / bf16 / fp16, batch 1 and 8; a double-counting
prediction must fail; ``memory`` itself never imports torch.

The issue's bound is 1%; the prediction is exact today, and the tests hold it to that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from math import prod
from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch

from resnet_inspect import memory as predict
from resnet_inspect.counts import Analysis, analyze
from resnet_inspect.errors import UsageError
from resnet_inspect.memory import saved_activations, training_memory
from resnet_inspect.nn import memory as measure
from resnet_inspect.nn.memory import MeasuredMemory, measure_module, measure_saved, measure_spec
from resnet_inspect.sources import load_analysis
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.specio import parse_spec

pytestmark = pytest.mark.torch
ROOT = Path(__file__).resolve().parent.parent
USERNETS = Path(__file__).resolve().parent / "usernets"
BOUND = 0.01  # the issue's: predicted within 1% of measured


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: (SPEC, dtypes): small inputs keep a 2-core CPU quick (bf16 convolutions are 4-5x slower than fp32
#: there, so the larger bottleneck variants run fp32 only); ImageNet stems at 64 keep layer4 at 2x2,
#: so a batch of one still has more than one value per BN channel.
CASES = [
    ("cifar_resnet20", ("fp32", "bf16", "fp16")),
    ("cifar_resnet20:shortcut=B", ("fp32", "bf16")),
    ("cifar_resnet20:block=single,layers=6-6-6", ("fp32", "bf16")),
    ("resnet18:input_size=64", ("fp32", "bf16")),
    ("resnet34:shortcut=A,input_size=64", ("fp32", "bf16")),
    ("resnet50", ("fp32",)),  # full size once
    ("resnet50:input_size=64", ("bf16",)),
    ("resnet50:stride_in=1x1,input_size=64", ("fp32",)),
    ("resnext50_32x4d:input_size=64", ("fp32", "bf16")),
    ("preact_resnet18:input_size=64", ("fp32", "bf16")),
    ("preact_resnet164:input_size=32", ("fp32",)),
    ("resnet50d:input_size=64", ("fp32",)),
    ("wide_resnet50_2:input_size=64", ("fp32",)),
    ("plain18:input_size=64", ("fp32",)),
]
BATCHES = (1, 8)


def _measure(spec: ResNetSpec, model: torch.nn.Module, batch: int, dtype: str) -> MeasuredMemory:
    try:
        return measure_saved(model, (spec.in_channels, spec.input_size, spec.input_size), batch, dtype)
    except UsageError as exc:  # an older torch without CPU half kernels
        if dtype == "fp16" and "needs a GPU" in str(exc):
            pytest.skip(str(exc))
        raise


def _assert_matches(name: str, spec_units: predict.SavedPlan, m: MeasuredMemory, batch: int, predicted: int) -> None:
    error = abs(predicted - m.saved_bytes) / m.saved_bytes
    assert error <= BOUND, f"{name}: predicted {predicted:,} vs measured {m.saved_bytes:,} ({error:.2%})"
    assert predicted == m.saved_bytes, f"{name}: predicted {predicted:,} != measured {m.saved_bytes:,}"
    assert m.stem == spec_units.stem.at(batch), f"{name}: stem"
    assert m.head == spec_units.head.at(batch), f"{name}: head"
    assert m.blocks == {b.name: b.saved.at(batch) for b in spec_units.blocks}, f"{name}: per unit"


@pytest.mark.parametrize(("text", "dtypes"), CASES, ids=[c[0] for c in CASES])
def test_prediction_equals_measurement(text: str, dtypes: tuple[str, ...]) -> None:
    """Total within 1% (and in fact equal), and every unit, the stem and the head equal, at batch 1
    and 8, in each dtype; the same model is cast from one dtype to the next."""
    from resnet_inspect.nn.builder import build_model

    spec = parse_spec(text)
    a = analyze(spec)
    model = build_model(spec, seed=0)
    for dtype in dtypes:
        per_unit = saved_activations(a, dtype)
        for batch in BATCHES:
            m = _measure(spec, model, batch, dtype)
            assert (m.batch, m.dtype, m.device, m.peak_cuda_bytes) == (batch, dtype, "cpu", None)
            predicted = training_memory(a, batch, dtype, "adam").activations_bytes
            _assert_matches(f"{text} {dtype} batch {batch}", per_unit, m, batch, predicted)


def test_measure_spec_builds_and_measures() -> None:
    spec = parse_spec("cifar_resnet20")
    m = measure_spec(spec, 4, "fp32")
    assert m.saved_bytes == training_memory(analyze(spec), 4, "fp32").activations_bytes
    assert list(m.blocks) == [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)]  # execution order


def _no_dedup(self: predict._Storages, value: str, shape: tuple[int, ...]) -> int:
    return prod(shape) * self.nbytes


def test_double_counting_prediction_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: a prediction that charges every save, shared storage or not, is far outside the
    bound, and it equals what the hooks see without dedup: the test catches double counting."""
    for text in ("cifar_resnet20:shortcut=B", "preact_resnet18:input_size=64"):
        spec = parse_spec(text)
        m = measure_spec(spec, 8, "fp32")
        honest = training_memory(analyze(spec), 8, "fp32").activations_bytes
        with monkeypatch.context() as patch:
            patch.setattr(predict._Storages, "save", _no_dedup)
            doubled = training_memory(analyze(spec), 8, "fp32").activations_bytes
        assert honest == m.saved_bytes
        assert m.raw_saved_bytes > m.saved_bytes  # ReLU outputs are saved again by the next conv
        assert doubled == m.raw_saved_bytes
        assert abs(doubled - m.saved_bytes) / m.saved_bytes > BOUND, text
        with pytest.raises(AssertionError):
            _assert_matches(text, saved_activations(analyze(spec), "fp32"), m, 8, doubled)


def test_measurement_charges_first_saver_not_later_ones() -> None:
    """A unit's output is saved by its last ReLU and again by the next unit's convs: it is charged
    once, to the unit that made it, so the next unit's bytes do not include its input."""
    spec = parse_spec("cifar_resnet20:shortcut=B")
    m = measure_spec(spec, 2, "fp32")
    per_unit = {b.name: b for b in saved_activations(analyze(spec), "fp32").blocks}
    # layer2.0 projects its input with a 1x1 conv: that conv saves layer1.2's output, already counted.
    assert per_unit["layer2.0"].shortcut.at(2) > 0
    assert m.blocks["layer2.0"] == per_unit["layer2.0"].saved.at(2)


def _user(path: str, size: int) -> tuple[str, Analysis]:
    text = f"{USERNETS / path}"
    return text, load_analysis(text, {"input_size": size})


@pytest.mark.parametrize("target", ["cifar_option_b.py:ResNet18", "preact.py:PreActResNet18", "resnext.py:ResNeXt"])
def test_traced_user_module(target: str) -> None:
    """The user's module, traced: the prediction from the trace equals the measurement of the real
    module (built by its own code), per unit named as the trace names them."""
    text, a = _user(target, 32)
    for batch in (2, 8):
        m = measure_module(text, a, batch, "fp32")
        predicted = training_memory(a, batch, "fp32").activations_bytes
        _assert_matches(f"{target} batch {batch}", saved_activations(a, "fp32"), m, batch, predicted)
        assert list(m.blocks) == [b.name for b in a.plan.blocks]


def test_traced_user_module_by_hand() -> None:
    """The same through importlib and ``measure_saved`` with the trace's unit names, as a caller
    outside the CLI would do it."""
    import importlib.util

    _, a = _user("cifar_option_b.py:ResNet18", 32)
    loader = importlib.util.spec_from_file_location("_memory_test_cifar_option_b", USERNETS / "cifar_option_b.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    model = module.ResNet18()
    units = {b.name: b.name for b in a.plan.blocks}
    m = measure_saved(model, (3, 32, 32), 4, "fp32", units)
    assert m.saved_bytes == training_memory(a, 4, "fp32").activations_bytes


def test_traced_se_module() -> None:
    """The squeeze-excitation product ``x * y.expand_as(x)`` saves both operands, unit by unit as
    predicted. The one gap is the head's dropout: a plan traced in eval mode never sees it, and a
    training forward on the CPU saves its fp32 mask, one per input element (2048 features x batch 8)."""
    text, a = _user("se_bottleneck.py:se_resnet_small", 32)
    m = measure_module(text, a, 8, "fp32")
    predicted = training_memory(a, 8, "fp32")
    assert {u.name: u.saved.at(8) for u in predicted.saved.blocks} == m.blocks
    assert m.saved_bytes - predicted.activations_bytes == 2048 * 8 * 4 == m.head - predicted.saved.head.at(8)


def test_units_mapping_and_stem_head_names() -> None:
    """``units`` names any module a unit; the names stem and head count toward those; a save
    between two units belongs to the unit before."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),  # 0, 1: "stem" by default (before any unit)
        torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU(),  # 2: unit a; 3: runs between a and b
        torch.nn.Conv2d(4, 4, 3, padding=1),  # 4: unit b
        torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 2),  # 6: head
    )
    m = measure_saved(model, (3, 8, 8), 2, "fp32", {"2": "a", "4": "b", "6": "head"})
    act = 2 * 4 * 8 * 8 * 4
    assert m.stem == 2 * 3 * 8 * 8 * 4 + act  # the input (saved by conv 0) and ReLU 1's output
    # conv 2 saves ReLU 1's output (the stem's already); ReLU 3's output is new, saved between a and b,
    # so a's; conv 4 saves it again, so b adds nothing.
    assert m.blocks == {"a": act, "b": 0}
    assert m.head == act  # the linear's input: a view of conv 4's output, a new storage
    assert m.saved_bytes == m.stem + m.head + sum(m.blocks.values())
    with pytest.raises(UsageError, match=r"no module 'layer9\.0'"):
        measure_saved(model, (3, 8, 8), 1, "fp32", {"layer9.0": "layer9.0"})


def test_refuses_before_allocating_when_memory_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prediction is checked against 3/4 of the memory available before the module is built."""
    monkeypatch.setattr(measure, "available_bytes", lambda device="cpu": 1 << 30)

    def no_build(*_args: object, **_kw: object) -> None:
        raise AssertionError("built a module it should have refused")

    monkeypatch.setattr("resnet_inspect.nn.builder.build_model", no_build)
    with pytest.raises(UsageError) as err:
        measure_spec(parse_spec("resnet152"), 256, "fp32")
    text = str(err.value)
    assert "\n" not in text and "above the limit of 0.75 GiB" in text and "--batch" in text
    with pytest.raises(UsageError, match="above the limit"):
        measure_saved(torch.nn.Linear(2, 2), (1, 1, 2), 1, predicted_bytes=1 << 30)


def test_available_bytes_reads_this_machine() -> None:
    assert measure.available_bytes("cpu") > 1 << 20


def test_clear_errors() -> None:
    """fp16 without CPU kernels, a batch norm over one value, an unknown dtype: one line each."""

    class NoHalf(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("\"slow_conv2d_cpu\" not implemented for 'Half'")

    with pytest.raises(UsageError, match="fp16 needs a GPU"):
        measure_saved(NoHalf(), (3, 4, 4), 2, "fp16")
    spec = parse_spec("resnet18")
    with pytest.raises(UsageError, match=r"one value per channel.*--batch 2"):
        measure_saved(torch.nn.Sequential(torch.nn.BatchNorm2d(3)), (3, 1, 1), 1, "fp32")
    with pytest.raises(UsageError, match="unknown dtype"):
        measure_spec(spec, 1, "fp8")
    with pytest.raises(UsageError, match="at least one sample"):
        measure_spec(spec, 0, "fp32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_peak() -> None:
    spec = parse_spec("resnet18:input_size=64")
    m = measure_spec(spec, 8, "fp32", device="cuda")
    assert m.device.startswith("cuda") and m.peak_cuda_bytes is not None
    assert m.peak_cuda_bytes >= m.saved_bytes


def test_memory_command_never_imports_torch() -> None:
    """``memory SPEC --batch N`` is arithmetic on the plan: no torch, whatever the batch."""
    if subprocess.run([sys.executable, "-m", "resnet_inspect", "memory", "--help"], capture_output=True,
                      cwd=ROOT).returncode != 0:
        pytest.skip("the memory command does not exist yet")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "resnet_inspect", "memory", "resnet152", "--batch", "256",
         "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "resnet_inspect.memory" in imported  # the import log is read right
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")]
    spec = parse_spec("resnet152")
    assert json.loads(proc.stdout)["activations_bytes"] == training_memory(analyze(spec), 256).activations_bytes


def test_spec_override_keeps_prediction_exact_at_other_sizes() -> None:
    """The prediction scales with the input size as the module does (odd sizes round like convs)."""
    from resnet_inspect.nn.builder import build_model

    base = parse_spec("resnet18")
    model = build_model(base, seed=0)
    for size in (65, 97):
        spec = replace(base, input_size=size)
        m = measure_saved(model, (3, size, size), 2, "fp32")
        assert m.saved_bytes == training_memory(analyze(spec), 2, "fp32").activations_bytes, size
