"""`resnet-inspect inspect`: checkpoints on disk (.pt, .safetensors), live models, safety, errors.

Round trips build every preset with the torch builder (on the meta device: shapes, no memory),
save the names and shapes in real files, inspect them and compare the recovered spec and its
counts with the preset and with the built module's own parameter count.
"""

from __future__ import annotations

import functools
import json
import pickle
import struct
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.counts import analyze
from resnet_inspect.inspect_ckpt import CheckpointError, load
from resnet_inspect.presets import PRESETS, get_preset
from resnet_inspect.recover import recover
from resnet_inspect.specio import parse_spec

torch = pytest.importorskip("torch")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@functools.cache
def built(name: str) -> tuple[dict[str, tuple[int, ...]], int]:
    """State-dict shapes and the parameter count of the preset's built module."""
    from resnet_inspect.nn.builder import build_model

    with torch.device("meta"):
        model = build_model(get_preset(name))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return shapes, sum(p.numel() for p in model.parameters())


def save_pt(path: Path, shapes: dict[str, tuple[int, ...]], wrap: bool = False) -> None:
    """A real torch.save file; every tensor is a zero broadcast to its shape (one stored element),
    so even resnet152's file is a few hundred KB while names and shapes are exact."""
    state = {k: torch.zeros((), dtype=torch.float16).expand(s) for k, s in shapes.items()}
    obj: Any = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 7} if wrap else state
    torch.save(obj, path)


def save_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """A safetensors file in the documented layout (u64 header length, JSON header, data), its
    F16 data left as a sparse hole so large presets cost no disk writes."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for k, s in shapes.items():
        n = 2
        for d in s:
            n *= d
        header[k] = {"dtype": "F16", "shape": list(s), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


def expected(name: str) -> tuple[Any, str | None]:
    """The preset's spec and the --shortcut a user must give (plain nets look like option A)."""
    spec = get_preset(name)
    return spec, ("none" if spec.shortcut == "none" else None)


def check_recovery(name: str, path: Path) -> None:
    spec, shortcut = expected(name)
    shapes, numel = built(name)
    loaded = load(str(path))
    assert loaded.shapes == {k: s for k, s in shapes.items()} or all(
        loaded.shapes.get(f"module.{k}") == s for k, s in shapes.items()
    )
    rec = recover(loaded.shapes, stride_in=spec.stride_in, input_size=spec.input_size, shortcut=shortcut)
    assert rec.exact, (rec.unmapped[:3], rec.missing[:3])
    assert rec.spec_params == numel and not rec.differences
    assert replace(rec.spec, name=spec.name) == spec
    counts, reference = analyze(rec.spec).total, analyze(spec).total
    assert counts.params == numel == rec.checkpoint_params  # identical to the built module
    assert (counts.macs, counts.activations) == (reference.macs, reference.activations)


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_pt(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pt"
    save_pt(path, built(name)[0], wrap=name.startswith("resnet1"))
    check_recovery(name, path)


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_safetensors(name: str, tmp_path: Path) -> None:
    from safetensors import safe_open

    path = tmp_path / f"{name}.safetensors"
    shapes = built(name)[0]
    save_safetensors(path, shapes)
    with safe_open(str(path), framework="pt") as f:  # the safetensors package accepts the file
        assert {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()} == shapes  # noqa: SIM118
    check_recovery(name, path)


def test_safetensors_written_by_the_package(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from resnet_inspect.nn.builder import build_model

    model = build_model(get_preset("cifar_resnet20"), seed=0)
    path = tmp_path / "c20.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert load(str(path)).shapes == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    code, out, _ = run("inspect", str(path), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["recovered"]["shortcut"] == "A" and doc["recovered"]["input_size"] == 32
    assert doc["summary"]["totals"]["params"] == sum(p.numel() for p in model.parameters())


def test_cli_table_json_and_emit_spec(tmp_path: Path) -> None:
    path = tmp_path / "r50.pth"
    save_pt(path, built("resnet50")[0], wrap=True)
    code, out, _ = run("inspect", str(path), "--depth", "stage")
    assert code == 0
    headline = f"{path}: 25,557,032 parameters (25.56 M), exactly those of the recovered spec"
    assert "".join(out.split()).startswith("".join(headline.split()))  # however the table title wrapped
    for text in ("recovered architecture", "not visible in weights", "layer3 (6 blocks)", "25.56 M", "exact"):
        assert text in out
    toml = tmp_path / "net.toml"
    code, out, err = run("inspect", str(path), "-f", "json", "--stride-in", "1x1", "--input-size", "320",
                         "--emit-spec", str(toml))
    assert code == 0 and f"wrote {toml}" in err
    doc = json.loads(out)
    assert set(doc) >= {"schema_version", "source", "recovered", "notes", "unmapped", "summary", "headline", "params",
                        "spec_params", "difference"}
    assert doc["params"] == doc["spec_params"] == 25_557_032 and doc["difference"]["params"] == 0
    assert doc["format"] == "zip"
    assert doc["recovered"]["stride_in"] == "1x1" and doc["summary"]["spec"]["input_size"] == 320
    assert doc["unmapped"] == [] and any("'state_dict'" in n for n in doc["notes"])
    again = parse_spec(str(toml))
    assert replace(again, name="x") == replace(get_preset("resnet50"), stride_in="1x1", input_size=320, name="x")
    assert analyze(again).total.params == 25_557_032  # torchvision's published count


def test_markdown_and_csv_list_unmapped(tmp_path: Path) -> None:
    shapes = dict(built("resnet18")[0])
    shapes["layer1.0.se.fc1.weight"] = (4, 64, 1, 1)
    path = tmp_path / "se.pt"
    save_pt(path, shapes)
    code, out, _ = run("inspect", str(path), "--format", "markdown")
    assert code == 0 and "layer1.0.se.fc1.weight" in out and "not a part of a ResNet" in out
    assert "| difference | +256 |" in out and "|   layer1.0 | +256 |" in out
    code, out, _ = run("inspect", str(path), "--format", "csv")
    assert code == 0 and "difference_block,layer1.0,256," in out
    code, out, _ = run("inspect", str(path), "--format", "csv")
    assert code == 0 and "unmapped,layer1.0.se.fc1.weight" in out
    code, _, err = run("inspect", str(path), "--strict")
    assert code == 1 and err.startswith("error:")


def test_shortcut_override_for_plain_nets(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    save_pt(path, built("plain34")[0])
    code, out, _ = run("inspect", str(path), "-f", "json")
    assert code == 0 and json.loads(out)["recovered"]["shortcut"] == "A"
    assert any("plain" in n for n in json.loads(out)["notes"])
    code, out, _ = run("inspect", str(path), "-f", "json", "--shortcut", "none")
    assert code == 0
    assert json.loads(out)["summary"]["totals"]["params"] == analyze(get_preset("plain34")).total.params


# --- safety -----------------------------------------------------------------------------------------


class WritesAFile:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.target, "w"))


class RunsAShellCommand:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.target}",))


def test_malicious_pickles_are_refused(tmp_path: Path) -> None:
    victim = tmp_path / "pwned.txt"
    zipped = tmp_path / "evil.pt"
    torch.save({"conv1.weight": torch.zeros(1), "payload": WritesAFile(str(victim))}, zipped)
    raw = tmp_path / "evil_raw.pth"
    raw.write_bytes(pickle.dumps({"x": RunsAShellCommand(str(victim))}))
    for path, culprit in ((zipped, "open"), (raw, "system")):
        code, out, err = run("inspect", str(path))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("error:") and "refused" in err and culprit in err
        assert not victim.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load(str(zipped))
    assert not victim.exists()


def test_whole_pickled_module_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    code, _, err = run("inspect", str(path))
    assert code == 2 and "refused" in err and "torch.nn" not in err.split("(")[0]


@pytest.mark.parametrize("case", ["truncated_pt", "truncated_legacy", "truncated_st", "bad_header", "directory",
                                  "empty", "text_as_pt", "missing", "suffix", "hdf5_as_pt", "zip_not_torch",
                                  "single_tensor", "no_tensors"])
def test_bad_files_give_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"w": torch.zeros(64)}, good)
    data = good.read_bytes()
    path = tmp_path / "x.pt"
    if case == "truncated_pt":
        path.write_bytes(data[: len(data) // 2])
    elif case == "truncated_legacy":
        torch.save({"w": torch.zeros(64)}, path, _use_new_zipfile_serialization=False)
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "truncated_st":
        path = tmp_path / "x.safetensors"
        save_safetensors(path, {"conv1.weight": (64, 3, 7, 7)})
        path.write_bytes(path.read_bytes()[:-100])
    elif case == "bad_header":
        path = tmp_path / "x.safetensors"
        path.write_bytes(struct.pack("<Q", 5) + b"nope!" + b"\0" * 8)
    elif case == "directory":
        path = tmp_path / "ckpts"
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text_as_pt":
        path.write_text("these are not the weights you are looking for\n")
    elif case == "missing":
        path = tmp_path / "nope.pt"
    elif case == "suffix":
        path = tmp_path / "weights.h5"
        path.write_bytes(b"\x89HDF\r\n")
    elif case == "hdf5_as_pt":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    elif case == "zip_not_torch":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("arr_0.npy", b"\x93NUMPY")
    elif case == "single_tensor":
        torch.save(torch.zeros(3), path)
    elif case == "no_tensors":
        torch.save({"epoch": 3, "lr": 0.1}, path)
    code, out, err = run("inspect", str(path))
    assert code == 2 and out == ""
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    if case in ("suffix", "hdf5_as_pt"):
        assert "HDF5" in err  # read by content, whatever the name
    if case == "zip_not_torch":
        assert "not a torch.save checkpoint" in err


def test_not_a_resnet_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "mlp.pt"
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    torch.save(mlp.state_dict(), path)
    code, _, err = run("inspect", str(path))
    assert code == 2 and "not a ResNet: no residual units: 0 conv, 2 linear layers" in err and err.count("\n") == 1


# --- live models --------------------------------------------------------------------------------------


def test_module_callable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_models_for_inspect.py").write_text(textwrap.dedent("""
        import torch
        from resnet_inspect.nn.builder import build_model
        from resnet_inspect.presets import get_preset

        def make_net():
            with torch.device("meta"):
                return build_model(get_preset("resnext50_32x4d"))

        def broken():
            raise RuntimeError("no GPU here")
    """))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("inspect", "my_models_for_inspect:make_net", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["source_kind"] == "module" and doc["recovered"]["groups"] == 32  # traced, then matched
    assert doc["recovered"]["width_per_group"] == 4
    assert doc["summary"]["totals"]["params"] == 25_028_904  # torchvision's published count
    code, _, err = run("inspect", "my_models_for_inspect:broken")
    assert code == 2 and "no GPU here" in err and err.count("\n") == 1
    code, _, err = run("inspect", "my_models_for_inspect:nothing")
    assert code == 2 and "has no 'nothing'" in err
    code, _, err = run("inspect", "no_such_module_xyz:make")
    assert code == 2 and "cannot import" in err


def test_help_says_callables_run_user_code() -> None:
    code, out, _ = run("inspect", "--help")
    assert code == 0 and "runs your code" in out.replace("\n", " ").lower() and "Examples" in out


def test_safetensors_inspect_never_imports_torch(tmp_path: Path) -> None:
    """The header is enough: inspecting a .safetensors file loads neither torch nor tensor data."""
    import subprocess
    import sys

    path = tmp_path / "r18.safetensors"
    save_safetensors(path, built("resnet18")[0])
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from resnet_inspect.cli import app\n"
        f"r = CliRunner().invoke(app, ['inspect', {str(path)!r}, '-f', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
