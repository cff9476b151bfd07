"""Counting byte-mask pairs on a GPU in batches (CuPy; imported only for --device gpu|auto).

Masks are copied into a pinned host buffer, each pair at a 16-byte aligned offset with zero padding
(zero is never forged). A full buffer goes to the device asynchronously on its own stream and one
kernel launch counts every pair in it, while the next batch fills the other buffer (two buffers,
two streams). The kernel reads 16 bytes per load and counts forged pixels as popcounts of bit 7:
for bytes, value > 127 iff bit 7 is set.
"""

from __future__ import annotations

import importlib

import numpy as np

ALIGN = 16  # bytes per uint4 load
BATCH_BYTES = 32 << 20  # per side (truth, pred) and buffer: 128 MiB pinned per process
MAX_PAIRS = 65535  # grid y dimension: one row of blocks per pair
THREADS = 256
MAX_BLOCKS_PER_PAIR = 64

KERNEL = r"""
extern "C" __global__ void overlap_counts(const uint4* truth, const uint4* pred,
                                          const long long* first, const long long* words,
                                          unsigned long long* counts) {
    const unsigned int bit7 = 0x80808080u;
    const int pair = blockIdx.y;
    const uint4* t = truth + first[pair];
    const uint4* p = pred + first[pair];
    unsigned int both = 0, ones_t = 0, ones_p = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < words[pair];
         i += (long long)gridDim.x * blockDim.x) {
        uint4 a = t[i], b = p[i];
        both += __popc(a.x & b.x & bit7) + __popc(a.y & b.y & bit7)
              + __popc(a.z & b.z & bit7) + __popc(a.w & b.w & bit7);
        ones_t += __popc(a.x & bit7) + __popc(a.y & bit7) + __popc(a.z & bit7) + __popc(a.w & bit7);
        ones_p += __popc(b.x & bit7) + __popc(b.y & bit7) + __popc(b.z & bit7) + __popc(b.w & bit7);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        both += __shfl_down_sync(0xffffffffu, both, offset);
        ones_t += __shfl_down_sync(0xffffffffu, ones_t, offset);
        ones_p += __shfl_down_sync(0xffffffffu, ones_p, offset);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&counts[3 * pair], (unsigned long long)both);
        atomicAdd(&counts[3 * pair + 1], (unsigned long long)ones_t);
        atomicAdd(&counts[3 * pair + 2], (unsigned long long)ones_p);
    }
}
"""


class Batch:
    """Pairs packed into one pair of host buffers: where each pair starts and how long it is, in
    16-byte words."""

    def __init__(self, truth: np.ndarray, pred: np.ndarray):
        self.truth, self.pred = truth, pred  # 1-D uint8, capacity a multiple of ALIGN
        self.keys: list = []
        self.first: list[int] = []
        self.words: list[int] = []
        self.fill = 0  # bytes used

    def fits(self, pixels: int) -> bool:
        return len(self.keys) < MAX_PAIRS and self.fill + padded(pixels) <= self.truth.size

    def add(self, key, truth: np.ndarray, pred: np.ndarray) -> None:
        """Copies one pair (byte masks of one shape, any strides) in, zero-padded to ALIGN."""
        n, end = truth.size, self.fill + padded(truth.size)
        for side, mask in ((self.truth, truth), (self.pred, pred)):
            side[self.fill:self.fill + n].reshape(mask.shape)[...] = mask
            side[self.fill + n:end] = 0
        self.keys.append(key)
        self.first.append(self.fill // ALIGN)
        self.words.append((end - self.fill) // ALIGN)
        self.fill = end

    def clear(self) -> None:
        self.keys, self.first, self.words, self.fill = [], [], [], 0


def padded(pixels: int) -> int:
    return -(-pixels // ALIGN) * ALIGN


def grid_blocks(words: int) -> int:
    """Blocks per pair for pairs of at most `words` words: enough threads for one word each, at
    most MAX_BLOCKS_PER_PAIR, and at least one (CUDA refuses an empty grid; empty pairs count 0)."""
    return max(1, min(MAX_BLOCKS_PER_PAIR, -(-words // THREADS)))


class GpuOverlapCounter:
    """overlap_counts of many pairs on the GPU: `add` returns the counts of pairs that are done
    (those of the batch before last), `finish` the rest. Identical integers to the CPU kernel."""

    def __init__(self, cupy, batch_bytes: int = BATCH_BYTES):
        cupyx = importlib.import_module("cupyx")

        self.cp = cupy
        self.kernel = cupy.RawKernel(KERNEL, "overlap_counts")
        self.kernel.compile()  # a compile error surfaces here, not mid-shard
        self.slots = [{"host": Batch(cupyx.empty_pinned(batch_bytes, np.uint8),
                                     cupyx.empty_pinned(batch_bytes, np.uint8)),
                       "host_index": cupyx.empty_pinned((2, MAX_PAIRS), np.int64),
                       "host_counts": cupyx.empty_pinned(3 * MAX_PAIRS, np.uint64),
                       "truth": cupy.empty(batch_bytes, np.uint8), "pred": cupy.empty(batch_bytes, np.uint8),
                       "index": cupy.empty((2, MAX_PAIRS), np.int64),
                       "counts": cupy.empty(3 * MAX_PAIRS, np.uint64),
                       "stream": cupy.cuda.Stream(non_blocking=True), "keys": None}
                      for _ in range(2)]
        self.current = 0

    def count(self, truth, pred, first, words, counts, longest: int) -> None:
        """One kernel launch on the current stream: adds the counts of pair k (its 16-byte words
        first[k] to first[k] + words[k] of the device buffers) to counts[3k:3k + 3]; `longest`
        is the largest words[k]."""
        self.kernel((grid_blocks(longest), counts.size // 3), (THREADS,), (truth, pred, first, words, counts))

    def reset(self) -> "GpuOverlapCounter":
        """Empty, as new (drops whatever an interrupted evaluation left queued)."""
        for slot in self.slots:
            slot["stream"].synchronize()
            slot["keys"] = None
            slot["host"].clear()
        self.current = 0
        return self

    def add(self, key, truth: np.ndarray, pred: np.ndarray) -> list:
        host = self.slots[self.current]["host"]
        if host.fits(truth.size):
            host.add(key, truth, pred)
            return []
        if not host.keys:  # a pair larger than a whole buffer: counted on its own
            return [(key, self._count_alone(truth, pred))]
        done = self._launch()
        return done + self.add(key, truth, pred)

    def finish(self) -> list:
        done = self._launch() if self.slots[self.current]["host"].keys else []
        for slot in self.slots:
            done += self._collect(slot)
        return done

    def _launch(self) -> list:
        """Queues the current batch on its stream (copies in, count, counts out) without waiting,
        then switches to the other buffer, collecting that buffer's previous batch first."""
        slot = self.slots[self.current]
        host, stream, pairs = slot["host"], slot["stream"], len(slot["host"].keys)
        slot["host_index"][0, :pairs], slot["host_index"][1, :pairs] = host.first, host.words
        with stream:
            slot["truth"][:host.fill].set(host.truth[:host.fill], stream=stream)
            slot["pred"][:host.fill].set(host.pred[:host.fill], stream=stream)
            slot["index"].set(slot["host_index"], stream=stream)
            counts = slot["counts"][:3 * pairs]
            counts.fill(0)
            self.count(slot["truth"], slot["pred"], slot["index"][0], slot["index"][1], counts, max(host.words))
            self.cp.asnumpy(counts, stream=stream, out=slot["host_counts"][:3 * pairs], blocking=False)
        slot["keys"] = host.keys
        host.clear()
        self.current = 1 - self.current
        return self._collect(self.slots[self.current])

    def _collect(self, slot) -> list:
        """The counts of a slot's queued batch (waiting for its stream), freeing its buffers."""
        if slot["keys"] is None:
            return []
        slot["stream"].synchronize()
        counts = slot["host_counts"][:3 * len(slot["keys"])].reshape(-1, 3).tolist()
        done = [(key, tuple(c)) for key, c in zip(slot["keys"], counts)]
        slot["keys"] = None
        return done

    def _count_alone(self, truth: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
        cp, size = self.cp, padded(truth.size)
        one = Batch(np.empty(size, np.uint8), np.empty(size, np.uint8))
        one.add(None, truth, pred)
        index = cp.asarray(np.array([one.first, one.words], np.int64))
        counts = cp.zeros(3, np.uint64)
        self.count(cp.asarray(one.truth), cp.asarray(one.pred), index[0], index[1], counts, one.words[0])
        return tuple(counts.get().tolist())
