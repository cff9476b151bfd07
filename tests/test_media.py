"""Mask decoding equals the independent reference decoder for every documented kind."""

from __future__ import annotations

import numpy as np
import pytest

from raydeval.media import MediaError
from raydeval.media.backend import array_module, overlap_counts
from raydeval.media.masks import decode_mask
from raydeval.media.video import luma_frames
from tests import gen, oracle


@pytest.mark.parametrize("kind", gen.MASK_KINDS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 33)])
def test_mask_kinds_match_reference(tmp_path, kind, shape):
    rng = np.random.default_rng(hash((kind, shape)) % 2**32)
    path = gen.random_mask_file(rng, str(tmp_path / "m"), shape, kind)
    got = decode_mask(open(path, "rb").read(), 2**28)
    assert got.dtype == bool and got.shape == shape
    assert np.array_equal(got, oracle.forged_mask(path))


def test_palette_png_matches_reference(tmp_path):
    from PIL import Image
    index = np.random.default_rng(1).integers(0, 4, (9, 11)).astype(np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette([0, 0, 0, 200, 200, 200, 128, 127, 127, 255, 0, 0])
    image.save(tmp_path / "p.png")
    assert np.array_equal(decode_mask((tmp_path / "p.png").read_bytes(), 2**28),
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


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (1023, 1025)])
def test_overlap_counts_numpy_backend(shape):
    rng = np.random.default_rng(4)
    xp = array_module("cpu")
    for truth, pred in [(rng.random(shape) < 0.3, rng.random(shape) < 0.6),
                        (np.zeros(shape, bool), np.zeros(shape, bool)),
                        (np.ones(shape, bool), np.ones(shape, bool))]:
        assert overlap_counts(xp, truth, pred) == (int((truth & pred).sum()), int(truth.sum()), int(pred.sum()))


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
    truth, pred = rng.random((1023, 1025)) < 0.3, rng.random((1023, 1025)) < 0.6
    assert overlap_counts(cupy, truth, pred) == overlap_counts(np, truth, pred)
