"""Mask decoding equals the independent reference decoder for every documented kind; the fused
counting kernel equals plain NumPy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numba
import numpy as np
import pytest

from raydeval.media import MediaError
from raydeval.media.backend import (CpuOverlapCounter, array_module, byte_mask, forged_pixels,
                                    fused_overlap_counts, overlap_counter)
from raydeval.media.gpu import ALIGN, Batch, padded
from raydeval.media.masks import decode_mask
from raydeval.media.video import luma_frames
from tests import gen, oracle


@pytest.mark.parametrize("kind", gen.MASK_KINDS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 33)])
def test_mask_kinds_match_reference(tmp_path, kind, shape):
    rng = np.random.default_rng(hash((kind, shape)) % 2**32)
    path = gen.random_mask_file(rng, str(tmp_path / "m"), shape, kind)
    got = decode_mask(open(path, "rb").read(), 2**28)
    assert got.dtype == np.uint8 and got.shape == shape
    assert np.array_equal(got > 127, oracle.forged_mask(path))


def test_palette_png_matches_reference(tmp_path):
    from PIL import Image
    index = np.random.default_rng(1).integers(0, 4, (9, 11)).astype(np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette([0, 0, 0, 200, 200, 200, 128, 127, 127, 255, 0, 0])
    image.save(tmp_path / "p.png")
    assert np.array_equal(decode_mask((tmp_path / "p.png").read_bytes(), 2**28) > 127,
                          oracle.forged_mask(str(tmp_path / "p.png")))


@pytest.mark.parametrize("pix_fmt", ["gray", "yuv420p"])
def test_mask_video_frames_match_reference(tmp_path, pix_fmt):
    path = gen.random_mask_video(np.random.default_rng(2), str(tmp_path / "v.mkv"), 5, (8, 10), pix_fmt)
    got = [frame > 127 for frame in luma_frames(path, 2**28)]
    want = oracle.forged_video(path)
    assert len(got) == len(want) == 5
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_pickled_npy_is_refused_without_loading(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[object()]], dtype=object), allow_pickle=True)
    with pytest.raises(MediaError, match="pickled"):
        decode_mask((tmp_path / "o.npy").read_bytes(), 2**28)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0, 0)])
def test_empty_npy_mask_is_refused(tmp_path, shape):
    np.save(tmp_path / "e.npy", np.zeros(shape, np.uint8))
    with pytest.raises(MediaError, match="non-empty 2-D"):
        decode_mask((tmp_path / "e.npy").read_bytes(), 2**28)


def test_bool_npy_bytes_other_than_one_are_true(tmp_path):
    """NumPy reads any nonzero byte of a bool array as True; so does the decoder."""
    np.save(tmp_path / "b.npy", np.zeros((2, 4), bool))
    data = bytearray((tmp_path / "b.npy").read_bytes())
    data[-8:] = bytes([0, 1, 2, 4, 128, 255, 0, 3])
    assert (decode_mask(bytes(data), 2**28) > 127).tolist() == [[False, True, True, True],
                                                                 [True, True, False, True]]


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    path = gen.random_mask_file(np.random.default_rng(3), str(tmp_path / "m"), (40, 40), "gray8")
    with pytest.raises(MediaError, match="max-pixels"):
        decode_mask(open(path, "rb").read(), 1000)


def plain_counts(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """The obvious reference: threshold, AND, count."""
    t, p = truth > 127, pred > 127
    return int((t & p).sum()), int(t.sum()), int(p.sum())


SHAPES = [(1, 1), (1, 7), (1, 8), (1, 9), (7, 13), (64, 33), (1023, 1025), (1024, 1024)]


def byte_pairs(rng, shape):
    """Random bytes, values at the threshold, all-empty, all-full and mixed empty/full pairs."""
    edge = np.array([0, 1, 126, 127, 128, 129, 254, 255], np.uint8)
    zeros, full = np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8)
    return [(rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)),
            (rng.choice(edge, shape), rng.choice(edge, shape)),
            (zeros, zeros), (full, full), (zeros, full), (full, zeros)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fused_counts_equal_plain_numpy(shape):
    rng = np.random.default_rng(shape[0] * 10007 + shape[1])
    for truth, pred in byte_pairs(rng, shape):
        want = plain_counts(truth, pred)
        assert fused_overlap_counts(truth, pred) == want
        assert overlap_counter(array_module("cpu")).add("k", truth, pred) == [("k", want)]
        assert forged_pixels(truth) == want[1]


def test_fused_counts_on_strided_and_unaligned_views():
    rng = np.random.default_rng(6)
    padded = rng.integers(0, 256, (37, 64), dtype=np.uint8)  # a luma plane with line padding
    truth, pred = padded[:, :50], rng.integers(0, 256, (37, 51), dtype=np.uint8)[:, 1:]
    assert not truth.flags.c_contiguous and not pred.flags.c_contiguous
    assert fused_overlap_counts(truth, pred) == plain_counts(truth, pred)
    raw = rng.integers(0, 256, 1 + 40 * 41, dtype=np.uint8)
    unaligned = raw[1:].reshape(40, 41)  # starts one byte past an allocation
    assert fused_overlap_counts(unaligned, unaligned[::-1]) == plain_counts(unaligned, unaligned[::-1])


@pytest.mark.parametrize("kind", gen.MASK_KINDS)
def test_fused_counts_on_every_decoded_mask_kind(tmp_path, kind):
    rng = np.random.default_rng(7)
    shape = (33, 65)
    truth = decode_mask(open(gen.random_mask_file(rng, str(tmp_path / "t"), shape, kind), "rb").read(), 2**28)
    for other in gen.MASK_KINDS:
        path = gen.random_mask_file(rng, str(tmp_path / other), shape, other)
        pred = decode_mask(open(path, "rb").read(), 2**28)
        assert fused_overlap_counts(truth, pred) == plain_counts(truth, pred)


@pytest.mark.skipif(not hasattr(numba.config, "CACHE_LOCATOR_CLASSES"), reason="Numba < 0.66")
def test_kernels_work_where_numba_has_no_writable_cache(tmp_path):
    """As on a read-only install with a read-only home: Numba's IPython locator is the only one
    allowed, and it finds no place for a module's kernels."""
    path = gen.random_mask_file(np.random.default_rng(8), str(tmp_path / "m"), (9, 11), "rgb8")
    script = ("from raydeval.media.backend import fused_overlap_counts\n"
              "from raydeval.media.masks import decode_mask\n"
              f"mask = decode_mask(open({path!r}, 'rb').read(), 99)\n"
              "print(*fused_overlap_counts(mask, mask[::-1]))\n")
    env = os.environ | {"NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    mask = decode_mask(open(path, "rb").read(), 99)
    assert tuple(int(n) for n in done.stdout.split()) == plain_counts(mask, mask[::-1])


def test_byte_mask_of_booleans():
    forged = np.array([[True, False], [False, True]])
    assert byte_mask(forged).dtype == np.uint8
    assert np.array_equal(byte_mask(forged) > 127, forged)


def kernel_on_batch(batch: Batch) -> list:
    """What the GPU kernel computes, in NumPy: popcounts of bit 7 over each pair's 16-byte words."""
    out = []
    for first, words in zip(batch.first, batch.words):
        span = slice(first * ALIGN, (first + words) * ALIGN)
        t, p = batch.truth[span] > 127, batch.pred[span] > 127
        out.append((int((t & p).sum()), int(t.sum()), int(p.sum())))
    return out


def test_gpu_batch_packing_keeps_every_pair_apart():
    """Pairs of odd sizes and strides, packed into reused buffers (stale bytes from an earlier
    batch under the padding), count exactly as each pair alone."""
    rng = np.random.default_rng(8)
    size = 1 << 16
    batch = Batch(np.full(size, 255, np.uint8), np.full(size, 255, np.uint8))  # stale: all forged
    for _ in range(2):
        pairs = []
        for shape in SHAPES[:6] * 3:
            if not batch.fits(shape[0] * shape[1]):
                break
            truth, pred = byte_pairs(rng, shape)[int(rng.integers(6))]
            padded_view = np.zeros((shape[0], shape[1] + 3), np.uint8)
            padded_view[:, :shape[1]] = pred
            batch.add(len(pairs), truth, padded_view[:, :shape[1]])  # a strided view, as video planes
            pairs.append((truth, pred))
        assert batch.first == [sum(batch.words[:i]) for i in range(len(pairs))]  # back to back
        assert batch.fill == sum(padded(t.size) for t, _ in pairs)
        assert kernel_on_batch(batch) == [plain_counts(t, p) for t, p in pairs]
        batch.clear()


CUDA_ON_CPU_MAIN = r"""
#include <cstdio>
int main(int argc, char** argv) {
    FILE* in = std::fopen(argv[1], "rb");
    long long head[4];  // pairs, blocks per pair, threads per block, bytes per side
    std::fread(head, sizeof head[0], 4, in);
    std::vector<uint4> truth(head[3] / 16), pred(head[3] / 16);
    std::fread(truth.data(), 1, head[3], in);
    std::fread(pred.data(), 1, head[3], in);
    std::vector<long long> first(head[0]), words(head[0]);
    std::fread(first.data(), sizeof(long long), head[0], in);
    std::fread(words.data(), sizeof(long long), head[0], in);
    std::vector<unsigned long long> counts(3 * head[0], 0);
    launch(dim3{unsigned(head[1]), unsigned(head[0]), 1}, dim3{unsigned(head[2]), 1, 1}, [&] {
        overlap_counts(truth.data(), pred.data(), first.data(), words.data(), counts.data());
    });
    for (unsigned long long c : counts) std::printf("%llu\n", c);
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_cuda_kernel_source_run_on_the_cpu_equals_numpy(tmp_path):
    """The CUDA source itself (not a stand-in), launched as GpuOverlapCounter launches a batch, run
    by tests/cuda_on_cpu.h: one CPU thread per lane, the lanes of a warp in lock-step at each
    shuffle (warps one after another: a missing atomic would pass here, not on a GPU). A batch of
    small odd pairs (one block each), and one whose longest pair needs every block and the
    grid-stride loop going round three times, beside short pairs."""
    from raydeval.media.gpu import KERNEL, MAX_BLOCKS_PER_PAIR, THREADS, grid_blocks

    source = tmp_path / "kernel.cpp"
    source.write_text(f'#include "{os.path.join(os.path.dirname(__file__), "cuda_on_cpu.h")}"\n'
                      + KERNEL + CUDA_ON_CPU_MAIN)
    built = subprocess.run(["g++", "-std=c++20", "-O1", "-pthread", str(source), "-o", str(tmp_path / "kernel")],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr  # (C++20: std::barrier, std::atomic_ref)

    def counts_on_cpu(pairs: list) -> list:
        size = sum(padded(t.size) for t, _ in pairs)
        batch = Batch(np.full(size, 0xFF, np.uint8), np.full(size, 0xFF, np.uint8))  # stale bytes
        for k, (truth, pred) in enumerate(pairs):
            batch.add(k, truth, pred)
        head = np.array([len(pairs), grid_blocks(max(batch.words)), THREADS, size], np.int64)
        (tmp_path / "input").write_bytes(b"".join(a.tobytes() for a in (
            head, batch.truth, batch.pred, np.array(batch.first, np.int64), np.array(batch.words, np.int64))))
        out = subprocess.run([str(tmp_path / "kernel"), str(tmp_path / "input")], check=True,
                             capture_output=True, text=True, timeout=120).stdout.split()  # a hang: lanes
        # that skip a shuffle wait at its barrier forever
        return [tuple(int(n) for n in out[3 * k:3 * k + 3]) for k in range(len(pairs))]

    rng = np.random.default_rng(9)
    small = [pair for shape in [(1, 1), (7, 13), (1, 17), (64, 33)] for pair in byte_pairs(rng, shape)]
    longest = (1, 3 * MAX_BLOCKS_PER_PAIR * THREADS * ALIGN - 5)
    large = [byte_pairs(rng, longest)[0], byte_pairs(rng, (300, 300))[0], byte_pairs(rng, (1, 1))[0]]
    assert grid_blocks(padded(longest[1]) // ALIGN) == MAX_BLOCKS_PER_PAIR
    for pairs in (small, large):
        assert counts_on_cpu(pairs) == [plain_counts(truth, pred) for truth, pred in pairs]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no CUDA compiler")
def test_cuda_kernel_source_compiles_for_the_gpu(tmp_path):
    """(nvcc includes the CUDA runtime headers, which CuPy's NVRTC does not: the CuPy tests on a GPU
    are the final word.)"""
    from raydeval.media.gpu import KERNEL

    (tmp_path / "kernel.cu").write_text(KERNEL)
    done = subprocess.run(["nvcc", "-arch=sm_80", "-cubin", "-o", str(tmp_path / "kernel.cubin"),
                           str(tmp_path / "kernel.cu")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gpu_counter_host_logic_with_a_numpy_stand_in(monkeypatch):
    """The counter's flow (two buffers, counts matched to their keys across launches, oversized
    pairs, reset) on tests/fake_cupy.py, which runs the kernel's arithmetic in NumPy."""
    from raydeval.media.gpu import GpuOverlapCounter
    from tests import fake_cupy

    monkeypatch.setitem(sys.modules, "cupyx", fake_cupy.cupyx)
    rng = np.random.default_rng(10)
    gpu = GpuOverlapCounter(fake_cupy.cupy, batch_bytes=4096)
    gpu.add("stale", *byte_pairs(rng, (7, 13))[0])
    gpu.reset()  # an interrupted evaluation's pair must not come back
    pairs = [p for shape in SHAPES for p in byte_pairs(rng, shape)]
    launches = fake_cupy.RawKernel.launches
    got = []
    for key, (truth, pred) in enumerate(pairs):
        got += gpu.add(key, truth, pred)
    got += gpu.finish()
    assert sorted(got) == [(key, plain_counts(t, p)) for key, (t, p) in enumerate(pairs)]
    assert fake_cupy.RawKernel.launches - launches > 4  # several batches and oversized pairs
    assert gpu.finish() == []
    empty = np.zeros((0, 5), np.uint8)  # a batch of nothing but empty pairs still launches
    assert gpu.add("e", empty, empty) == [] and gpu.finish() == [("e", (0, 0, 0))]


def test_auto_device_without_gpu_falls_back_to_numpy(capsys):
    cupy_ok = False
    try:
        import cupy
        cupy_ok = cupy.cuda.is_available()
    except Exception:
        pass
    if cupy_ok:
        pytest.skip("a GPU is visible")
    array_module.cache_clear()
    assert array_module("auto") is np
    assert "NumPy" in capsys.readouterr().err
    assert array_module("auto") is np  # said once per process
    assert capsys.readouterr().err == ""


def test_cupy_older_than_13_is_refused_before_counting(monkeypatch, capsys):
    """CuPy 12 lacks the asynchronous device-to-host copy the counter queues (asnumpy(blocking=))."""
    import types

    from raydeval.errors import InputError

    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(__version__="12.3.0"))
    array_module.cache_clear()
    try:
        with pytest.raises(InputError, match="--device gpu: CuPy 12.3.0 is older than 13"):
            array_module("gpu")
        assert array_module("auto") is np
        assert "CuPy 12.3.0 is older than 13" in capsys.readouterr().err
    finally:
        array_module.cache_clear()


def test_cupy_counts_equal_numpy():
    cupy = pytest.importorskip("cupy")
    if not cupy.cuda.is_available():
        pytest.skip("no GPU visible")
    rng = np.random.default_rng(5)
    gpu, want, got = overlap_counter(cupy), [], []
    for key, (truth, pred) in enumerate(p for shape in SHAPES for p in byte_pairs(rng, shape)):
        want.append((key, plain_counts(truth, pred)))
        got += gpu.add(key, truth, pred)
    got += gpu.finish()
    assert sorted(got) == want


def test_cupy_small_batches_and_oversized_pairs_equal_numpy():
    """Buffers of 4 KiB: many launches through both buffers, and pairs larger than a buffer."""
    cupy = pytest.importorskip("cupy")
    if not cupy.cuda.is_available():
        pytest.skip("no GPU visible")
    from raydeval.media.gpu import GpuOverlapCounter

    rng = np.random.default_rng(9)
    gpu, cpu, want, got = GpuOverlapCounter(cupy, batch_bytes=4096), CpuOverlapCounter(), [], []
    pairs = [p for shape in SHAPES for p in byte_pairs(rng, shape)]
    for key, (truth, pred) in enumerate(pairs):
        want += cpu.add(key, truth, pred)
        got += gpu.add(key, truth, pred)
    got += gpu.finish()
    assert sorted(got) == want


def test_gpu_benchmark_host_code_with_a_numpy_stand_in(monkeypatch):
    """bench.gpu's exactness check and counter loop run (on the stand-in) and agree with the CPU."""
    from bench import gpu as bench_gpu
    from tests import fake_cupy

    monkeypatch.setitem(sys.modules, "cupyx", fake_cupy.cupyx)
    assert bench_gpu.check_exact(fake_cupy.cupy, batch_sizes=(1 << 16, 1 << 23)) == 21
    masks = bench_gpu.blob_masks(np.random.default_rng(2), 4, 64)
    assert {int(m.max()) for m in masks} <= {0, 255}
    rates = bench_gpu.counter_end_to_end(fake_cupy.cupy, masks, masks[::-1], reps=1, batch_bytes=1 << 14)
    assert rates["gpu_pairs_per_s"] > 0 and rates["cpu_pairs_per_s"] > 0


def test_prefetching_reads_remote_files_ahead_and_raises_only_when_read():
    import fsspec

    from raydeval.media import prefetching

    fs = fsspec.filesystem("memory")
    uris = [f"memory://prefetch/{i}.bin" for i in range(40)]
    for i, uri in enumerate(uris):
        if i not in (7, 30):  # missing: 7 is passed over (no error may surface), 30 is read
            fs.pipe(uri, bytes([i]) * (i + 1))
    with prefetching([None, *uris, uris[3]], {}) as read:
        for i, uri in enumerate(uris):
            if i in (7, 8):
                continue
            if i == 30:
                with pytest.raises(MediaError, match="cannot read"):
                    read(uri)
                continue
            assert read(uri) == bytes([i]) * (i + 1)
        assert read(uris[3]) == bytes([3]) * 4  # a file asked for again is read again
    with prefetching([None, "local/path"], {}) as read:  # local files: read when asked
        with pytest.raises(MediaError, match="cannot read"):
            read("local/path")


@pytest.mark.parametrize("decode_only", [False, True])
@pytest.mark.parametrize("policy", ["exclude", "zero", "one_if_pred_empty"])
def test_image_read_ahead_lists_the_masks_read_in_order(tmp_path, policy, decode_only):
    """The read-ahead list is what `_pixel_counts` reads, in its order; the only files listed but
    not read are predicted masks of samples whose GT mask turns out to be unusable."""
    from raydeval.engine.shards import to_columns
    from raydeval.errors import Problems
    from raydeval.evaluate import RunSettings, prepare
    from raydeval.media import read_bytes
    from raydeval.tasks.base import Context
    from raydeval.tasks.image import files_to_read

    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 31, n=60)
    task, options, g, p, table = prepare("openmmsec-image", gt, pred, {"authentic_policy": policy}, RunSettings())
    shard, ctx = to_columns(table), Context(options, g.uri, p.uri, decode_only=decode_only)
    labels = shard["gt_label"].tolist()
    real = labels.index(0)  # gets a forged GT mask: an input error, its prediction is not scored
    fake = next(i for i, label in enumerate(labels) if label == 1 and shard["pred_mask"][i])
    shard["gt_mask"][real] = gen.random_mask_file(np.random.default_rng(3), str(tmp_path / "forged"), (4, 4), "gray8")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n and nothing else")
    shard["gt_mask"][fake] = str(tmp_path / "broken.png")
    read_in_order = []

    def read(uri):
        read_in_order.append(uri)
        return read_bytes(uri, {})

    task._pixel_counts(shard, ctx, read, overlap_counter(np), Problems(), np.full(len(labels), np.nan), [])
    unusable = set() if decode_only else {shard["pred_mask"][real], shard["pred_mask"][fake]}
    listed = [uri for uri in files_to_read(shard, ctx) if uri is not None]
    assert len(read_in_order) > 10
    assert read_in_order == [uri for uri in listed if uri not in unusable]
