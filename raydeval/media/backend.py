"""Counting forged pixels of byte masks: one fused pass on the CPU (Numba), batches on a GPU.

A byte mask is a 2-D uint8 array whose pixel is forged iff its value is > 127, i.e. bit 7 is set:
8-bit gray PNGs and video luma planes are byte masks as decoded, with no thresholding pass.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numba
import numpy as np

FORGED = 127  # a pixel is forged iff its byte is > FORGED


@lru_cache(maxsize=None)
def array_module(device: str):
    """numpy for "cpu"; cupy for "gpu"; cupy if usable else numpy for "auto" (saying so once per
    process on stderr)."""
    if device == "cpu":
        return np
    try:
        import cupy

        if int(cupy.__version__.split(".")[0]) < 13:  # asynchronous copies to the host need 13
            reason = f"CuPy {cupy.__version__} is older than 13 (pip install 'raydeval[gpu]')"
        elif cupy.cuda.is_available():
            return cupy
        else:
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


def byte_mask(forged: np.ndarray) -> np.ndarray:
    """The byte mask (0 or 128) of a boolean forged-pixel array."""
    return np.multiply(forged.view(np.uint8), np.uint8(128))  # 3-6x faster than a left shift


def overlap_counter(xp):
    """The counter of byte-mask pairs for an array module: numpy counts each pair at once on the
    CPU, cupy counts pairs in batches on the GPU (falling back to the CPU on a CUDA error)."""
    if xp is np:
        return CpuOverlapCounter()
    try:
        return _gpu_counter(xp).reset()
    except Exception as e:  # CUDA reports compile and launch failures with assorted errors
        _say_once(f"raydeval: CUDA error ({type(e).__name__}: {e}); counting with NumPy")
        return CpuOverlapCounter()


class CpuOverlapCounter:
    """`add(key, truth, pred)` returns [(key, (|truth ∩ pred|, |truth|, |pred|))] at once;
    `finish()` returns the counts still pending (none here, some for the GPU's batches)."""

    def add(self, key, truth: np.ndarray, pred: np.ndarray) -> list:
        return [(key, fused_overlap_counts(truth, pred))]

    def finish(self) -> list:
        return []


@lru_cache(maxsize=None)
def _gpu_counter(cupy):
    from raydeval.media.gpu import GpuOverlapCounter

    return GpuOverlapCounter(cupy)


@lru_cache(maxsize=None)
def _say_once(message: str) -> None:
    print(message, file=sys.stderr)


def forged_pixels(mask: np.ndarray) -> int:
    """|mask|: the forged pixels of one byte mask (on the CPU)."""
    return fused_overlap_counts(mask, mask)[1]


def fused_overlap_counts(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """overlap_counts in one pass over both masks, 8 pixels per 64-bit word, on the CPU."""
    a, b = (_aligned(np.ascontiguousarray(mask).reshape(-1)) for mask in (truth, pred))
    whole = a.size - a.size % 8
    both, t, p = (int(n) for n in _word_counts(a[:whole].view(np.uint64), b[:whole].view(np.uint64)))
    if whole == a.size:
        return both, t, p
    ta, pa = a[whole:] > FORGED, b[whole:] > FORGED  # the last (< 8) pixels
    return (both + int(np.count_nonzero(ta & pa)), t + int(np.count_nonzero(ta)),
            p + int(np.count_nonzero(pa)))


def _aligned(flat: np.ndarray) -> np.ndarray:
    """`flat`, copied if it does not start on an 8-byte boundary (the kernel reads uint64 words)."""
    return flat.copy() if flat.ctypes.data % 8 else flat


_BIT7_TO_LANES = np.uint64(0x0101010101010101)  # bit 7 of each byte, shifted to bit 0 of its lane
_EVEN_BYTES = np.uint64(0x00FF00FF00FF00FF)
_ONES_16 = np.uint64(0x0001000100010001)
_LANE_LIMIT = 255  # words per block: a byte lane counts at most 255 before it could overflow


@numba.njit(inline="always")
def _lane_sum(lanes):
    """The sum of the eight byte lanes of a uint64."""
    pairs = (lanes & _EVEN_BYTES) + ((lanes >> np.uint64(8)) & _EVEN_BYTES)
    return (pairs * _ONES_16) >> np.uint64(48)


def compiled(kernel):
    """`kernel` compiled by Numba, running without the GIL. Its machine code is cached on disk where
    Numba can write (NUMBA_CACHE_DIR if set, else next to the package, else the user's cache
    folder); where none is writable (a read-only install and home) it is compiled in each process
    instead (0.5–1 s per worker), not refused."""
    try:
        return numba.njit(cache=True, nogil=True)(kernel)
    except RuntimeError as e:
        if "no locator available" not in str(e):  # e.g. a misspelt NUMBA_CACHE_LOCATOR_CLASSES
            raise
        return numba.njit(nogil=True)(kernel)


@compiled
def _word_counts(a, b):
    """(|a ∩ b|, |a|, |b|) of two byte masks viewed as uint64 words: per block of 255 words,
    each byte lane adds up its bit 7, then the lanes are summed. (The inner loop indexes slices
    from 0, so the compiler knows no index is negative and vectorises plain loads.)"""
    both = ones_a = ones_b = np.uint64(0)  # uint64 throughout: int64 + uint64 would be float64
    for start in range(0, a.size, _LANE_LIMIT):
        block_a, block_b = a[start:start + _LANE_LIMIT], b[start:start + _LANE_LIMIT]
        lanes_both = lanes_a = lanes_b = np.uint64(0)
        for i in range(block_a.size):
            x = (block_a[i] >> np.uint64(7)) & _BIT7_TO_LANES
            y = (block_b[i] >> np.uint64(7)) & _BIT7_TO_LANES
            lanes_both += x & y
            lanes_a += x
            lanes_b += y
        both += _lane_sum(lanes_both)
        ones_a += _lane_sum(lanes_a)
        ones_b += _lane_sum(lanes_b)
    return both, ones_a, ones_b
