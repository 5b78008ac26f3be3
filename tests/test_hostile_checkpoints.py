"""``inspect`` on hostile and broken checkpoints, and on flags that are wrong for a good one.

Every case runs the real CLI in a subprocess and asserts: exit 2; exactly one line on stderr,
under 300 characters, with no traceback; nothing on stdout; no file created or changed. The
safetensors checks follow the ``safetensors`` library's own (``SafeTensors::read_metadata`` and
``Metadata::validate`` in its ``tensor.rs``): the header length within the file, a JSON object,
each tensor's bytes equal to dtype x elements, and the byte ranges, sorted, tiling the data
section exactly, from its first byte to the file's last.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from resnet_inspect.inspect_ckpt import CheckpointError, read_safetensors_shapes
from resnet_inspect.presets import get_preset
from resnet_inspect.recover import expected_shapes

LIMIT = 60


def cli(*args: str, cwd: Path | None = None) -> tuple[int, bytes, bytes, float]:
    """The CLI in a subprocess: exit code, stdout, stderr and the seconds it took."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "resnet_inspect", *args], cwd=cwd, capture_output=True,
                          timeout=LIMIT)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - start


def refused(path: Path, *flags: str) -> str:
    """``inspect path *flags`` refused as this suite requires; the message, without ``error: ``."""
    folder = path.parent
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if not p.is_fifo()}
    code, out, err, _ = cli("inspect", str(path), *flags)
    assert code == 2 and out == b"", (code, out[:300], err[-2000:])
    assert err.endswith(b"\n") and err.count(b"\n") == 1 and len(err) < 300, err[-2000:]
    assert b"Traceback" not in err and b"\x1b" not in err and err.startswith(b"error: "), err
    after = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if not p.is_fifo()}
    assert after == before
    return err.decode()[len("error: "):].strip()


def safetensors_bytes(header: Any, data: int, raw: bytes | None = None) -> bytes:
    """A safetensors file: the u64 header length, the header (``raw`` as given, or ``header`` as
    JSON) and ``data`` zero bytes."""
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"\0" * data


def entry(start: int, end: int, shape: list[int], dtype: str = "F32") -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}


# --- zips -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["random.zip", "random.pt", "random"])
def test_a_zip_of_random_files(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", os.urandom(200))
        zf.writestr("deep/er/blob.bin", os.urandom(200))
    message = refused(path)
    assert "zip archive but not a torch.save checkpoint" in message and "notes.txt" in message


def test_a_zip_whose_data_pkl_is_noise(tmp_path: Path) -> None:
    path = tmp_path / "noise.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", os.urandom(500))
        zf.writestr("archive/version", b"3\n")
    refused(path)


def test_a_pickle_that_runs_code_is_refused_not_run(tmp_path: Path) -> None:
    """``weights_only=True`` and nothing else: the payload (``os.mkdir``) must never run."""
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> Any:
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.pt"
    torch.save({"conv1.weight": torch.zeros(2), "x": Payload()}, path)
    message = refused(path)
    assert "refused" in message and "mkdir" in message
    assert not marker.exists()


# --- safetensors headers --------------------------------------------------------------------------------


CASES: dict[str, tuple[bytes, str]] = {
    "duplicate key": (
        safetensors_bytes(None, 16, b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, '
                                    b'"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'),
        "lists 'a' twice"),
    "duplicate field": (
        safetensors_bytes(None, 16, b'{"a": {"dtype": "F32", "shape": [4], "shape": [2, 2], "data_offsets": [0, 16]}}'),
        "lists 'shape' twice"),
    "overlapping offsets": (
        safetensors_bytes({"a": entry(0, 16, [4]), "b": entry(8, 24, [4])}, 24), "overlap"),
    "same offsets twice": (
        safetensors_bytes({"a": entry(0, 16, [4]), "b": entry(0, 16, [4])}, 16), "overlap"),
    "a gap between tensors": (
        safetensors_bytes({"a": entry(0, 16, [4]), "b": entry(32, 48, [4])}, 48), "belong to no tensor"),
    "data past the last tensor": (
        safetensors_bytes({"a": entry(0, 16, [4])}, 116), "must cover the whole file"),
    "a tensor past the data": (
        safetensors_bytes({"a": entry(0, 16, [4])}, 8), "truncated"),
    "bytes that do not match the shape": (
        safetensors_bytes({"a": entry(0, 12, [4])}, 12), "12 bytes for shape [4] F32"),
    "a header of [ x 100000": (safetensors_bytes(None, 0, b"[" * 100_000), "not a JSON object"),
    "a header nested 100000 deep": (safetensors_bytes(None, 0, b'{"a": ' + b"[" * 100_000), "nests deeper"),
    "a header length beyond the file": (struct.pack("<Q", 5000) + b'{"a": 1}', "its header needs 5,008 bytes"),
    "a header length of 2**63": (struct.pack("<Q", 2**63) + b'{"a": 1}', "implausible"),
    "a header that is not UTF-8": (safetensors_bytes(None, 0, b'{"\xff\xfe": 1}'), "not JSON"),
    "a 5000-digit number": (safetensors_bytes(None, 0, b'{"a": {"shape": [' + b"9" * 5000 + b"]}}"),
                            "not a valid safetensors file"),
    "a boolean dimension": (safetensors_bytes({"a": entry(0, 4, [True])}, 4), "lacks dtype/shape/data_offsets"),
    "no tensors": (safetensors_bytes({"__metadata__": {"format": "pt"}}, 0), "holds no tensors"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_safetensors_header(case: str, tmp_path: Path) -> None:
    data, expected = CASES[case]
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    message = refused(path)
    assert expected in message and "model.safetensors" in message


def test_a_deep_header_is_refused_quickly(tmp_path: Path) -> None:
    """A header of 100,000 open brackets is refused in the time a start-up takes, not after a
    RecursionError's traceback (or a crash)."""
    path = tmp_path / "deep.safetensors"
    path.write_bytes(safetensors_bytes(None, 0, b'{"a": ' + b"[" * 100_000))
    code, _, err, seconds = cli("inspect", str(path))
    assert code == 2 and b"RecursionError" not in err and seconds < 30


def test_the_layout_checks_in_process(tmp_path: Path) -> None:
    """Tensors listed out of order are fine when their ranges tile the data, as the library allows."""
    path = tmp_path / "ok.safetensors"
    path.write_bytes(safetensors_bytes({"b": entry(16, 24, [2]), "a": entry(0, 16, [4]), "z": entry(24, 24, [0])}, 24))
    assert read_safetensors_shapes(path) == {"b": (2,), "a": (4,), "z": (0,)}
    path.write_bytes(safetensors_bytes({"b": entry(16, 24, [2]), "a": entry(0, 16, [4])}, 25))
    with pytest.raises(CheckpointError, match="last 1 bytes belong to no tensor"):
        read_safetensors_shapes(path)


def test_the_library_agrees(tmp_path: Path) -> None:
    """Where the ``safetensors`` package is installed, it refuses every header we refuse but two:
    a tensor listed twice (it keeps the last silently) and a file of no tensors (a valid file, but
    no checkpoint)."""
    safetensors = pytest.importorskip("safetensors")
    for case, (data, _) in CASES.items():
        if case in ("duplicate key", "no tensors"):
            continue
        path = tmp_path / "model.safetensors"
        path.write_bytes(data)
        with pytest.raises(Exception), safetensors.safe_open(str(path), "numpy") as fh:  # noqa: B017 - its own error type
            list(fh.keys())


# --- flags: the user's own fault is named as the user typed it ------------------------------------------


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A resnet18 checkpoint as safetensors (no torch needed)."""
    path = tmp_path / "resnet18.safetensors"
    header: dict[str, Any] = {}
    offset = 0
    for key, shape in expected_shapes(get_preset("resnet18")).items():
        n = 4
        for d in shape:
            n *= d
        header[key] = entry(offset, offset + n, list(shape))
        offset += n
    raw = json.dumps(header).encode()
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)
    return path


@pytest.mark.parametrize(("flags", "start"), [
    (["--stride-in", "5x5"], "--stride-in 5x5 "),
    (["--shortcut", "Q"], "--shortcut Q "),
    (["--input-size", "0"], "--input-size 0 "),
    (["--input-size", "99999999"], "--input-size 99999999 "),
    (["--depth", "layer"], "--depth layer "),
])
def test_a_bad_flag_is_blamed_not_the_checkpoint(flags: list[str], start: str, checkpoint: Path) -> None:
    message = refused(checkpoint, *flags)
    assert message.startswith(start) and "checkpoint" not in message.split(";")[0]


def test_a_flag_that_does_not_fit_the_checkpoint(tmp_path: Path) -> None:
    """``--shortcut A`` (zero-padding) on a net whose first stage narrows 64 -> 32 channels: the
    message starts with the flag, then says why it cannot describe these weights."""
    spec = replace(get_preset("resnet18"), widths=(32, 64, 128, 256))
    path = tmp_path / "narrow.safetensors"
    header: dict[str, Any] = {}
    offset = 0
    for key, shape in expected_shapes(spec).items():
        n = 4
        for d in shape:
            n *= d
        header[key] = entry(offset, offset + n, list(shape))
        offset += n
    path.write_bytes(safetensors_bytes(header, offset))
    message = refused(path, "--shortcut", "A")
    assert message.startswith("--shortcut A does not fit this checkpoint: ") and "narrows 64->32" in message
