"""Mask decoding equals the independent reference decoder for every documented kind; the fused
counting kernel equals plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from raydeval.media import MediaError
from raydeval.media.backend import (array_module, array_overlap_counts, byte_mask, forged_pixels,
                                    fused_overlap_counts, overlap_counts)
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
        assert array_overlap_counts(np, truth, pred) == want
        assert overlap_counts(array_module("cpu"), truth, pred) == want
        assert forged_pixels(np, truth) == want[1]


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


def test_byte_mask_of_booleans():
    forged = np.array([[True, False], [False, True]])
    assert byte_mask(forged).dtype == np.uint8
    assert np.array_equal(byte_mask(forged) > 127, forged)


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


def test_cupy_counts_equal_numpy():
    cupy = pytest.importorskip("cupy")
    if not cupy.cuda.is_available():
        pytest.skip("no GPU visible")
    rng = np.random.default_rng(5)
    for shape in SHAPES:
        for truth, pred in byte_pairs(rng, shape):
            assert overlap_counts(cupy, truth, pred) == overlap_counts(np, truth, pred) == plain_counts(truth, pred)
