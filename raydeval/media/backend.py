"""The array backend: NumPy everywhere, CuPy on a GPU, one counting code path for both."""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def array_module(device: str):
    """numpy for "cpu"; cupy for "gpu"; cupy if usable else numpy for "auto" (saying so once per
    process on stderr)."""
    if device == "cpu":
        return np
    try:
        import cupy

        if cupy.cuda.is_available():
            return cupy
        reason = "no GPU is visible"
    except ImportError:
        reason = "CuPy is not installed (pip install 'raydeval[gpu]')"
    except Exception as e:  # a broken CUDA install raises assorted errors
        reason = f"CUDA error: {e}"
    if device == "gpu":
        from raydeval.errors import InputError

        raise InputError(f"--device gpu: {reason}")
    print(f"raydeval: --device auto: {reason}; counting with NumPy", file=sys.stderr)
    return np


def overlap_counts(xp, truth, pred) -> tuple[int, int, int]:
    """(|truth ∩ pred|, |truth|, |pred|) of two boolean masks of one shape."""
    truth, pred = xp.asarray(truth), xp.asarray(pred)
    return (int(xp.count_nonzero(truth & pred)), int(xp.count_nonzero(truth)),
            int(xp.count_nonzero(pred)))
