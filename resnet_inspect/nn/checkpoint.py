"""``torch.load`` of a checkpoint, and nothing else: the one call of ``inspect`` that needs torch.

``inspect_ckpt`` reads the file's content first (safetensors headers it reads itself, without
torch), checks that a zip archive holds a ``data.pkl``, and imports this module only for a
``torch.save`` file; it then turns whatever ``torch.load`` raises into one ``CheckpointError`` line
and finds the state_dict in what it returns.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import torch


def load_weights_only(path: Path, *, open_first: bool, mmap: bool) -> Any:
    """``torch.load(path, weights_only=True, map_location="cpu")``: PyTorch's restricted
    unpickler, which refuses any pickle that would import or call code, and nothing else. torch's
    warnings (about pickle protocols) are silenced: the outcome is what matters. ``open_first``
    hands torch an open file instead of the path (torch.load picks its safetensors reader by the
    name alone, so a torch file named ``.safetensors`` goes in this way); ``mmap`` memory-maps a zip
    archive so that only the shapes are touched. Raises whatever torch.load raises."""
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")
        source: Any = stack.enter_context(path.open("rb")) if open_first else path
        return torch.load(source, weights_only=True, map_location="cpu", mmap=mmap)
