"""Recovery does not depend on the order a checkpoint stores its tensors in.

``torch.save`` keeps a state_dict's registration order (``conv1``, ``bn1``, ``layer1.0.conv1`` ...),
but the safetensors library writes tensors sorted by dtype, then name: every int64
``num_batches_tracked`` first, then ``bn1.bias`` before ``conv1.weight`` and ``layer1.0.bn1`` before
``layer1.0.conv1``. Read in that order, a post-activation resnet18 looked pre-activation with ~100
tensors unmapped. Here every preset (and option A/C variants) is written both ways and read back
through ``inspect --format json``; the same state_dicts reversed and shuffled recover the same
spec; and with the canonical ordering switched off the sorted files fail again, so these tests
would catch the bug they guard against.
"""

from __future__ import annotations

import functools
import json
import random
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect import ckpt_structure
from resnet_inspect import recover as recover_module
from resnet_inspect.cli import app
from resnet_inspect.inspect_ckpt import load
from resnet_inspect.presets import preset_names
from resnet_inspect.recover import recover
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.specio import parse_spec

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
runner = CliRunner()

Shape = tuple[int, ...]
#: name -> (shape, safetensors dtype), in registration order.
State = dict[str, tuple[Shape, str]]

#: Every preset, and shortcut options the presets do not use on their own.
SPECS = [*preset_names(), "resnet34:shortcut=A", "resnet50:shortcut=C", "preact_resnet18:shortcut=C",
         "cifar_resnet20:shortcut=B"]
#: A representative subset for the slower checks: basic and bottleneck, grouped and wide, deep
#: stem with avg-pool shortcuts, pre-activation, CIFAR, options A and C, and two networks where only
#: the names tell pre- from post-activation (every unit keeps its shape, no projection anywhere).
SUBSET = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "resnet50d", "preact_resnet18",
          "preact_resnet50", "cifar_resnet20", "resnet34:shortcut=A", "resnet50:shortcut=C", "plain18",
          "preact_resnet18:shortcut=A,widths=64-64-64-64", "resnet18:shortcut=A,widths=64-64-64-64"]
_DTYPES = {"torch.float32": "F32", "torch.int64": "I64"}
_WIDTH = {"F32": 4, "I64": 8}
#: The safetensors library orders tensors by dtype, the larger rank first (I64 is ranked above F32
#: in its ``Dtype`` enum), then by name; ``test_library_order_is_what_the_package_writes`` checks it.
_DTYPE_RANK = {"F32": 0, "I64": 1}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@functools.cache
def built(text: str) -> tuple[ResNetSpec, State, int]:
    """The spec, its built module's state_dict (shapes and dtypes) and ``sum(p.numel())`` of its
    parameters; built on the meta device, so even resnet152 costs no memory."""
    from resnet_inspect.nn.builder import build_model

    spec = parse_spec(text)
    with torch.device("meta"):
        model = build_model(spec)
    state = {k: (tuple(v.shape), _DTYPES[str(v.dtype)]) for k, v in model.state_dict().items()}
    return spec, state, sum(p.numel() for p in model.parameters())


def library_order(state: State) -> list[str]:
    """The order ``safetensors.torch.save`` writes these tensors in."""
    return sorted(state, key=lambda k: (-_DTYPE_RANK[state[k][1]], k))


def write_safetensors(path: Path, state: State, order: Sequence[str]) -> None:
    """A safetensors file with its header in ``order`` and the data left as a sparse hole (names,
    shapes and byte ranges exact, no bytes written), so large presets cost no disk."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for k in order:
        shape, dtype = state[k]
        n = _WIDTH[dtype]
        for d in shape:
            n *= d
        header[k] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


def write_pt(path: Path, state: State, order: Sequence[str]) -> None:
    """``torch.save`` of an OrderedDict in ``order``; each tensor a zero broadcast to its shape."""
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    tensors = OrderedDict((k, torch.zeros((), dtype=dtypes[state[k][1]]).expand(state[k][0])) for k in order)
    torch.save(tensors, path)


def inspect_json(path: Path, spec: ResNetSpec) -> dict[str, Any]:
    """``inspect --format json``, told only what weights cannot show (stride placement, input size,
    and for a plain net that it has no shortcuts)."""
    args = ["inspect", str(path), "--format", "json", "--stride-in", spec.stride_in, "--input-size", str(spec.input_size)]
    code, out, err = run(*args, *(["--shortcut", "none"] if spec.shortcut == "none" else []))
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def check(doc: dict[str, Any], spec: ResNetSpec, params: int) -> None:
    """The recovered spec is the source spec (but for its name), nothing is unmapped or missing,
    and the count is the built module's."""
    recovered = dict(doc["recovered"])
    recovered.pop("name")
    want = spec.to_dict()
    want.pop("name")
    assert recovered == want, {k: (v, want[k]) for k, v in recovered.items() if v != want[k]}
    assert doc["unmapped"] == [] and doc["recovery"]["missing"] == []
    assert doc["params"] == doc["spec_params"] == params
    assert doc["difference"] == {"params": 0, "exact": True, "blocks": []}


# --- files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", SPECS)
def test_every_preset_in_registration_and_library_order(text: str, tmp_path: Path) -> None:
    """The .pt in registration order (what ``torch.save(model.state_dict())`` writes) and the
    .safetensors in the library's sorted order read back to the same, exact spec."""
    spec, state, params = built(text)
    pt, st_file = tmp_path / "w.pt", tmp_path / "w.safetensors"
    write_pt(pt, state, list(state))
    write_safetensors(st_file, state, library_order(state))
    assert list(load(str(st_file)).shapes) == library_order(state)  # the reader sees the sorted order
    docs = [inspect_json(p, spec) for p in (pt, st_file)]
    for doc in docs:
        check(doc, spec, params)
    assert docs[0]["recovered"] == docs[1]["recovered"]


@pytest.mark.parametrize(("text", "names"), [
    ("resnet18", "torchvision"), ("resnet50", "torchvision"), ("resnext50_32x4d", "torchvision"),
    ("wide_resnet50_2", "torchvision"), ("resnet50d", "torchvision"), ("preact_resnet18", "torchvision"),
    ("cifar_resnet20", "torchvision"), ("resnet34:shortcut=A", "torchvision"), ("resnet50:shortcut=C", "torchvision"),
    ("preact_resnet18", "timm"), ("preact_resnet50", "timm"),
])
def test_files_written_by_build(text: str, names: str, tmp_path: Path) -> None:
    """The bug as reported: ``resnet-inspect build NAME -o x.safetensors`` (the safetensors
    package's own writer, sorted) reads back as exactly as ``-o x.pt``; also with timm's resnetv2
    names, where the alphabet puts ``head`` before ``norm`` before ``stages`` before ``stem``."""
    spec, _, params = built(text)
    docs = []
    for suffix in (".pt", ".safetensors"):
        path = tmp_path / f"w{suffix}"
        code, _, err = run("build", text, "-o", str(path), "--names", names, "--seed", "0")
        assert code == 0, err
        doc = inspect_json(path, spec)
        check(doc, spec, params)
        docs.append(doc)
    assert docs[0]["recovered"] == docs[1]["recovered"]
    layouts = {doc["recovery"]["layout"] for doc in docs}
    assert layouts == {"timm-resnetv2"} if names == "timm" else len(layouts) == 1 and "custom" not in layouts


def test_library_order_is_what_the_package_writes(tmp_path: Path) -> None:
    """``library_order`` (used to write the sorted files above without real data) is the order
    ``safetensors.torch.save_file`` really writes: int64 statistics first, then by name."""
    from safetensors.torch import save_file

    from resnet_inspect.nn.builder import build_model

    model = build_model(parse_spec("cifar_resnet20"), seed=0)
    path = tmp_path / "c20.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    header = [k for k in json.loads(path.read_bytes()[8:8 + n]) if k != "__metadata__"]
    state = built("cifar_resnet20")[1]
    assert header == library_order(state) != list(state)
    assert header[0].endswith("num_batches_tracked") and header.index("bn1.bias") < header.index("conv1.weight")


# --- any order ------------------------------------------------------------------------------------------


def _orders(state: State, seed: int) -> dict[str, list[str]]:
    keys = list(state)
    shuffled = keys[:]
    random.Random(seed).shuffle(shuffled)
    return {"reversed": keys[::-1], "shuffled": shuffled, "by name": sorted(keys)}


@pytest.mark.parametrize("text", SUBSET)
def test_reversed_and_shuffled_torch_files(text: str, tmp_path: Path) -> None:
    """The same state_dict saved with torch.save as an OrderedDict reversed, shuffled (seeded) and
    sorted by name recovers the same spec as in registration order."""
    spec, state, params = built(text)
    for how, order in _orders(state, seed=len(text)).items():
        path = tmp_path / f"{how.replace(' ', '_')}.pt"
        write_pt(path, state, order)
        assert list(load(str(path)).shapes) == order
        check(inspect_json(path, spec), spec, params)


@settings(max_examples=40)
@given(text=st.sampled_from(SUBSET), data=st.data())
def test_any_permutation_recovers_the_same_spec(text: str, data: st.DataObject) -> None:
    """Property: recovery is a function of the names and shapes, not of their order."""
    spec, state, params = built(text)
    order = data.draw(st.permutations(list(state)))
    rec = recover({k: state[k][0] for k in order}, stride_in=spec.stride_in, input_size=spec.input_size,
                  shortcut="none" if spec.shortcut == "none" else None)
    assert rec.exact and rec.checkpoint_params == params
    assert rec.spec.to_dict() | {"name": spec.name} == spec.to_dict()
    assert not any("order the file stores" in n for n in rec.notes)


# --- the tests catch the bug -------------------------------------------------------------------------------


def _sorted_recovery(text: str) -> Any:
    spec, state, _ = built(text)
    return recover({k: state[k][0] for k in library_order(state)}, stride_in=spec.stride_in,
                   input_size=spec.input_size)


def _registered_recovery(text: str) -> Any:
    spec, state, _ = built(text)
    return recover({k: s for k, (s, _) in state.items()}, stride_in=spec.stride_in, input_size=spec.input_size)


def test_with_the_ordering_switched_off_the_reported_bug_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: with no canonical order and no pairing of norms with convs (the code before the
    fix), the sorted files fail exactly as reported (resnet18 pre-activation with 100 tensors
    unmapped, resnet50 265, cifar_resnet20 95), while registration order still reads right."""
    identity: Callable[[Any], tuple[Any, ...]] = tuple
    monkeypatch.setattr(recover_module, "canonical_order", identity)
    monkeypatch.setattr(ckpt_structure, "norm_partners", lambda modules: {})
    for text, unmapped in (("resnet18", 100), ("resnet50", 265), ("cifar_resnet20", 95)):
        bad = _sorted_recovery(text)
        assert len(bad.unmapped) == unmapped and bad.spec.preact == (text != "cifar_resnet20"), text
        assert _registered_recovery(text).exact, text


def test_without_the_canonical_order_sorted_files_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: pairing norms with convs by name is not enough on its own: a Sequential's norm
    (``downsample.1``, ``conv1.1`` of the deep stem) has no name to pair by, and sorted it lands
    among the other statistics, far from its conv."""
    identity: Callable[[Any], tuple[Any, ...]] = tuple
    monkeypatch.setattr(recover_module, "canonical_order", identity)
    for text in ("resnet18", "resnet50", "resnet50d", "preact_resnet18"):
        assert not _sorted_recovery(text).exact, text
        assert _registered_recovery(text).exact, text


def test_without_name_pairing_sorted_files_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: sorting alone is not enough either, since ``layer1.0.bn1`` and ``bn2`` sort
    before ``layer1.0.conv1``; without pairing a norm with the conv named like it, the sorted order
    fails for post- and pre-activation alike."""
    monkeypatch.setattr(ckpt_structure, "norm_partners", lambda modules: {})
    for text in ("resnet18", "resnet50", "cifar_resnet20", "preact_resnet50"):
        assert not _sorted_recovery(text).exact, text


def test_without_pre_activation_placement_preact_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: pairing norms with convs but always reading the norm after its conv loses
    pre-activation where only the order said it (every unit keeps its shape, no projections)."""
    place = ckpt_structure.place_norms
    monkeypatch.setattr(ckpt_structure, "place_norms", lambda items, partners, before=(): place(items, partners))
    rec = _sorted_recovery("preact_resnet18:shortcut=A,widths=64-64-64-64")
    assert not (rec.exact and rec.spec.preact)


def test_misleading_names_keep_the_registration_order() -> None:
    """Where the names mislead (a main-path conv called ``downsample.0``), the order the file stores
    the tensors in is read instead, with a note; a correctly named file needs no such note."""
    _, state, _ = built("resnet18")
    shapes = {k.replace("layer1.0.conv1.", "layer1.0.downsample.0."): s for k, (s, _) in state.items()}
    rec = recover(shapes)
    assert rec.exact and any("order the file stores" in n for n in rec.notes)
    assert not any("order the file stores" in n for n in _registered_recovery("resnet18").notes)
