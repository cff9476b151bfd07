"""A NumPy stand-in for the few CuPy calls of raydeval.media.gpu, for machines without a GPU.

It runs the GPU counter's host logic (packing, two buffers, which batch's counts come back when,
reset, oversized pairs) with the kernel's arithmetic done in NumPy at once. It proves nothing
about CUDA itself: the kernel's source is run on the CPU by tests/cuda_on_cpu.h, and on a GPU by
the tests with real CuPy (skipped without one).
"""

from __future__ import annotations

import types

import numpy as np


class DeviceArray(np.ndarray):
    def set(self, host, stream=None):
        self[...] = host

    def get(self):
        return np.asarray(self).copy()


def _device(array) -> DeviceArray:
    return np.asarray(array).view(DeviceArray)


class RawKernel:
    launches = 0

    def __init__(self, code: str, name: str):
        self.name = name

    def compile(self):
        return None

    def __call__(self, grid, block, args):
        if min(grid) < 1 or min(block) < 1:
            raise ValueError(f"invalid launch configuration {grid} x {block}")  # as CUDA refuses it
        RawKernel.launches += 1
        truth, pred, first, words, counts = (np.asarray(a) for a in args)
        for pair in range(grid[1]):
            span = slice(int(first[pair]) * 16, (int(first[pair]) + int(words[pair])) * 16)
            t, p = truth[span] > 127, pred[span] > 127
            counts[3 * pair:3 * pair + 3] += np.array([(t & p).sum(), t.sum(), p.sum()], np.uint64)


class Stream:
    def __init__(self, non_blocking=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


def asnumpy(array, stream=None, out=None, blocking=True):
    out[...] = np.asarray(array)
    return out


cupy = types.SimpleNamespace(
    RawKernel=RawKernel, asnumpy=asnumpy, cuda=types.SimpleNamespace(Stream=Stream),
    empty=lambda shape, dtype: _device(np.empty(shape, dtype)),
    zeros=lambda shape, dtype: _device(np.zeros(shape, dtype)),
    asarray=_device,
)
cupyx = types.SimpleNamespace(empty_pinned=lambda shape, dtype: np.empty(shape, dtype))
