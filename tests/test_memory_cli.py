"""`resnet-inspect memory` and the receptive field in `summary`, from the command line.

The saved-activation bytes themselves are held to PyTorch's own saved_tensors_hooks in
tests/test_memory_measured.py, and the receptive fields to autograd in tests/test_receptive.py;
here the terms around them are derived from published parameter counts and the optimizers'
definitions, and --fit is checked by running the command at the batch it finds and one more.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

from .reference import TORCHVISION

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def memory_json(*args: str) -> dict:
    code, out, err = run("memory", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(("optimizer", "states"), [("sgd", 0), ("momentum", 1), ("adam", 2), ("adamw", 2)])
@pytest.mark.parametrize(("dtype", "size"), [("fp32", 4), ("bf16", 2), ("fp16", 2)])
def test_terms_from_published_params(optimizer: str, states: int, dtype: str, size: int) -> None:
    params = TORCHVISION["resnet50"][0]  # 25,557,032 (torchvision's published count)
    doc = memory_json("resnet50", "--batch", "8", "--dtype", dtype, "--optimizer", optimizer)
    assert doc["params_bytes"] == params * size == doc["grads_bytes"]
    assert doc["optimizer_bytes"] == states * params * size
    terms = ("activations_bytes", "params_bytes", "grads_bytes", "optimizer_bytes")
    assert doc["total_bytes"] == sum(doc[k] for k in terms)
    assert all(isinstance(doc[k], int) for k in (*terms, "total_bytes"))
    blocks = sum(b["activations_bytes"] for b in doc["blocks"])
    assert doc["stem"]["activations_bytes"] + blocks + doc["head"]["activations_bytes"] == doc["activations_bytes"]
    assert len(doc["blocks"]) == 16 and doc["batch"] == 8 and doc["dtype"] == dtype


def test_activations_grow_with_the_batch_and_halve_in_bf16() -> None:
    one, eight = memory_json("resnet18"), memory_json("resnet18", "--batch", "8")
    per_sample = one["activations_per_sample_bytes"]
    # Only batch-norm statistics (4 per channel per BN layer) do not grow with the batch.
    fixed = one["activations_bytes"] - per_sample
    assert eight["activations_bytes"] == 8 * per_sample + fixed
    bn_channels = 64 + 2 * (2 * 64 + 2 * 128 + 2 * 256 + 2 * 512) + 128 + 256 + 512  # stem, 16 main BNs, 3 projections
    assert fixed == 4 * bn_channels * 4
    half = memory_json("resnet18", "--dtype", "bf16")
    # Everything halves but the max-pool's indices, int64 in any dtype (64x56x56 of them).
    assert 2 * half["activations_bytes"] - one["activations_bytes"] == 8 * 64 * 56 * 56


def test_input_batch_and_maxpool_indices_are_in_the_stem() -> None:
    # ResNet-18's stem saves the input (by conv1), conv1's output (by bn1), bn1's output (by the
    # in-place relu, and again by the max-pool: one storage), bn1's statistics and the pool's
    # int64 indices.
    doc = memory_json("resnet18")
    expected = 4 * (3 * 224 * 224 + 2 * 64 * 112 * 112 + 4 * 64) + 8 * 64 * 56 * 56
    assert doc["stem"]["activations_bytes"] == expected


def test_identity_shortcuts_save_nothing_projections_their_bn_input() -> None:
    doc = memory_json("resnet50")
    for b in doc["blocks"]:
        if b["shortcut"] == "identity":
            assert b["shortcut_activations_bytes"] == 0
    first = next(b for b in doc["blocks"] if b["name"] == "layer1.0")
    # The projection's BN saves the 1x1 conv's output (256x56x56) and 4 statistics of 256 channels.
    assert first["shortcut_activations_bytes"] == 4 * (256 * 56 * 56 + 4 * 256)


def test_fit_finds_the_largest_batch() -> None:
    doc = memory_json("resnet50", "--fit", "24GiB", "--dtype", "bf16")
    batch = doc["fit"]["batch"]
    assert doc["fit"]["budget_bytes"] == 24 * 2**30 and batch > 1
    at = memory_json("resnet50", "--dtype", "bf16", "--batch", str(batch))
    over = memory_json("resnet50", "--dtype", "bf16", "--batch", str(batch + 1))
    assert at["total_bytes"] <= 24 * 2**30 < over["total_bytes"]
    code, out, _ = run("memory", "resnet50", "--fit", "24GiB", "--dtype", "bf16")
    assert code == 0 and f"the largest batch that fits is {batch:,}" in out


@pytest.mark.parametrize(("args", "words"), [
    (("--fit", "24 parsecs"), "--fit"),
    (("--fit", "9" * 400), "larger than any memory"),
    (("--fit", "0"), "above zero"),
    (("--batch", "0"), "--batch"),
    (("--dtype", "fp8"), "--dtype"),
    (("--device", "cuda"), "add --measure"),
])
def test_bad_input_one_line_exit_2(args: tuple[str, ...], words: str) -> None:
    code, out, err = run("memory", "resnet18", *args)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_table_views() -> None:
    code, out, _ = run("memory", "resnet152", "--batch", "32")
    assert code == 0
    for text in ("saved activations", "weights", "gradients", "optimizer state", "layer3.1–35 ×35", "by the shortcut"):
        assert text in out, text
    code, out, _ = run("memory", "resnet152", "--batch", "32", "--all-blocks")
    assert code == 0 and "layer3.35 " in out and "×35" not in out


def test_shortcut_options_carry_training_memory() -> None:
    code, out, _ = run("shortcuts", "resnet50", "--view", "network", "--format", "json")
    assert code == 0
    opts = {o["option"]: o for o in json.loads(out)["network"]}
    # A projection's BN keeps a tensor of the block's output shape: more projections, more memory.
    assert opts["A"]["activations_bytes"] < opts["B"]["activations_bytes"] < opts["C"]["activations_bytes"]
    assert opts["none"]["activations_bytes"] == opts["A"]["activations_bytes"]  # identities and zero-pads save nothing
    b = memory_json("resnet50")
    assert opts["B"]["activations_bytes"] == b["activations_bytes"] and opts["B"]["training_bytes"] == b["total_bytes"]


@pytest.mark.parametrize(("spec", "rf"), [("resnet18", 435), ("resnet50", 427)])
def test_summary_receptive_field(spec: str, rf: int) -> None:
    code, out, _ = run("summary", spec, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["receptive_field"] == rf and doc["totals"]["effective_stride"] == 32
    assert doc["blocks"][-1]["receptive_field"] == rf
    assert all(isinstance(b["receptive_field"], int) and isinstance(b["effective_stride"], int) for b in doc["blocks"])
    sizes = [b["receptive_field"] for b in doc["blocks"]]
    assert sizes == sorted(sizes)  # a deeper unit never sees less
    covers = doc["totals"]["receptive_field_covers_input_at"]
    first = next(b["name"] for b in doc["blocks"] if b["receptive_field"] >= 224)
    assert covers == first
    code, out, _ = run("summary", spec)
    assert f"receptive field: {rf} px" in out and f"from {first} on" in out


def test_resnet_d_shortcuts_are_not_centred() -> None:
    code, out, _ = run("summary", "resnet50d", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    off = [b["name"] for b in doc["blocks"] if not b["paths_centred"]]
    assert off == ["layer2.0", "layer3.0", "layer4.0"]  # the three avg-pool projections
    code, out, _ = run("summary", "resnet50d")
    assert code == 0 and "not centred" in out
