"""Mask images (PNG, .npy) → byte masks: 2-D uint8, forged iff > 127 (SPEC §1.2).

An 8-bit gray PNG (the common kind) is returned as decoded; other kinds are thresholded by their
own rule into a byte mask of 0 and 128.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pyspng

from raydeval.media import MediaError
from raydeval.media.backend import byte_mask, compiled

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"


def decode_mask(data: bytes, max_pixels: int) -> np.ndarray:
    """The byte mask of a PNG or .npy file's bytes."""
    if data.startswith(PNG_SIGNATURE):
        return _png_mask(data, max_pixels)
    if data.startswith(NPY_MAGIC):
        return _npy_mask(data, max_pixels)
    raise MediaError("not a PNG or .npy file")


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise MediaError("corrupt PNG: no IHDR header")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def _png_mask(data: bytes, max_pixels: int) -> np.ndarray:
    width, height, depth, colour = png_header(data)
    _check_pixels(width * height, max_pixels)
    if colour == 4 and depth == 16:
        raise MediaError("16-bit gray+alpha PNG is not supported (save the mask as 16-bit gray)")
    try:
        # gray+alpha comes out of libspng as RGB (gray repeated), which thresholds identically
        pixels = pyspng.load(data, "RGB" if colour == 4 else None)
    except Exception as e:  # libspng reports corrupt/truncated data with assorted exceptions
        raise MediaError(f"corrupt PNG: {e}") from None
    if pixels.dtype == np.uint8 and pixels.ndim == 2:  # 8-bit gray; 1/2/4-bit arrive scaled to 0..255
        return pixels
    if colour == 0:  # 16-bit gray (pyspng adds an alpha channel): > 32767 iff its high byte > 127
        words = pixels.astype("<u2", copy=False).reshape(pixels.shape[0], pixels.shape[1], -1)
        return np.ascontiguousarray(words.view(np.uint8)[:, :, 1])
    # RGB, RGBA, palette or gray+alpha: mean of the colour channels > half scale, in integers
    return _rgb_byte_mask(pixels, 3 * 32767 if depth == 16 else 3 * 127)


def _npy_mask(data: bytes, max_pixels: int) -> np.ndarray:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
    except (ValueError, SyntaxError) as e:
        raise MediaError(f"corrupt .npy header: {e}") from None
    if dtype.hasobject:
        raise MediaError("pickled .npy (object arrays are never loaded)")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)) or min(shape) < 1:
        raise MediaError(f"expected a non-empty 2-D mask, got shape {shape}")
    _check_pixels(shape[0] * shape[1], max_pixels)
    if not (dtype in (np.bool_, np.uint8) or dtype.kind == "f"):
        raise MediaError(f"unsupported .npy dtype {dtype} (use bool, uint8 or float)")
    pixels = shape[0] * shape[1]
    if len(data) - f.tell() < pixels * dtype.itemsize:
        raise MediaError(f"corrupt .npy: {len(data) - f.tell()} data bytes for {pixels} {dtype} pixels")
    array = np.frombuffer(data, dtype, pixels, f.tell()).reshape(shape[:2], order="F" if fortran else "C")
    if dtype == np.bool_:  # any nonzero byte is True, as NumPy reads it
        return byte_mask(array.view(np.uint8) != 0)
    if dtype == np.uint8:
        return array
    return byte_mask(array > 0.5)


@compiled
def _rgb_byte_mask(pixels, limit):
    """The byte mask of (h, w, channels) pixels whose first three channels sum to > limit."""
    out = np.empty(pixels.shape[:2], np.uint8)
    for i in range(pixels.shape[0]):
        row, out_row = pixels[i], out[i]  # rows indexed from 0: plain vector loads
        for j in range(row.shape[0]):
            total = np.int32(row[j, 0]) + np.int32(row[j, 1]) + np.int32(row[j, 2])
            out_row[j] = np.uint8(128) if total > limit else np.uint8(0)
    return out


def _check_pixels(pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise MediaError(f"declares {pixels} pixels, more than --max-pixels {max_pixels}")
