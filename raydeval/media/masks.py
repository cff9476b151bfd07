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
from raydeval.media.backend import byte_mask

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
    if pixels.ndim == 2:  # 8-bit gray; 1/2/4-bit gray arrive scaled to 0..255
        return pixels
    if colour == 0:  # 16-bit gray arrives with an alpha channel
        return byte_mask(pixels[:, :, 0] > 32767)
    # RGB, RGBA, palette or gray+alpha: mean of the colour channels > half scale, in integers
    total = pixels[:, :, 0].astype(np.uint32 if depth == 16 else np.uint16)
    total += pixels[:, :, 1]
    total += pixels[:, :, 2]
    return byte_mask(total > (3 * 32767 if depth == 16 else 3 * 127))


def _npy_mask(data: bytes, max_pixels: int) -> np.ndarray:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
    except (ValueError, SyntaxError) as e:
        raise MediaError(f"corrupt .npy header: {e}") from None
    if dtype.hasobject:
        raise MediaError("pickled .npy (object arrays are never loaded)")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)):
        raise MediaError(f"expected a 2-D mask, got shape {shape}")
    _check_pixels(shape[0] * shape[1], max_pixels)
    f.seek(0)
    try:
        array = np.load(f, allow_pickle=False)
    except ValueError as e:
        raise MediaError(f"corrupt .npy: {e}") from None
    array = array.reshape(shape[0], shape[1])
    if array.dtype == np.bool_:
        return byte_mask(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        return byte_mask(array > 0.5)
    raise MediaError(f"unsupported .npy dtype {array.dtype} (use bool, uint8 or float)")


def _check_pixels(pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise MediaError(f"declares {pixels} pixels, more than --max-pixels {max_pixels}")
