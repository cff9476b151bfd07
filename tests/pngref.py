"""Minimal, independent PNG codec used as a test reference.

Only zlib, struct and numpy are used (Pillow and PyAV appear only in the self-check
at the bottom).  Plain Python loops on purpose: clarity over speed; test images are
small.

    write_png(path, array, bit_depth, filters=None)
    read_png(path) -> (array, bit_depth)

Supported when reading: non-interlaced PNGs of colour types 0 (gray), 2 (RGB),
3 (palette), 4 (gray+alpha), 6 (RGBA); bit depths 1/2/4/8/16; filter types 0-4.
Samples are returned raw (not scaled): uint8 for depth <= 8, uint16 for depth 16.
Gray images are 2-D, everything else (H, W, C).  Palette images are expanded
through PLTE to RGB, or to RGBA when a tRNS chunk is present (missing tRNS
entries are opaque, 255); the returned bit depth of a palette image is 8 (the
depth of the expanded samples).  A tRNS chunk on a gray/RGB image (single
transparent colour) is ignored: the samples are returned as stored.
"""

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# colour type -> samples per pixel (palette: one index per pixel)
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ALLOWED_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


# ---------------------------------------------------------------------------
# filters (PNG spec section 9)
# ---------------------------------------------------------------------------

def paeth_predictor(a, b, c):
    """The Paeth predictor: a = left, b = up, c = upper-left."""
    p = a + b - c
    pa = abs(p - a)
    pb = abs(p - b)
    pc = abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def _predict(ftype, a, b, c):
    """Prediction of a byte for filter type ftype from left a, up b, upper-left c."""
    if ftype == 0:
        return 0
    if ftype == 1:
        return a
    if ftype == 2:
        return b
    if ftype == 3:
        return (a + b) // 2
    if ftype == 4:
        return paeth_predictor(a, b, c)
    raise ValueError(f"unknown PNG filter type {ftype}")


def filter_row(ftype, raw, prev, bpp):
    """Filter one raw scanline (bytes) given the previous raw scanline."""
    out = bytearray(len(raw))
    for i in range(len(raw)):
        a = raw[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        out[i] = (raw[i] - _predict(ftype, a, b, c)) % 256
    return bytes(out)


def unfilter_row(ftype, filt, prev, bpp):
    """Undo the filter of one scanline given the previous reconstructed scanline."""
    out = bytearray(len(filt))
    for i in range(len(filt)):
        a = out[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        out[i] = (filt[i] + _predict(ftype, a, b, c)) % 256
    return bytes(out)


# ---------------------------------------------------------------------------
# sample packing
# ---------------------------------------------------------------------------

def _pack_row(samples, bit_depth):
    """Pack a flat list of integer samples into the bytes of one scanline."""
    if bit_depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    if bit_depth == 8:
        return bytes(int(s) for s in samples)
    per_byte = 8 // bit_depth
    out = bytearray()
    for start in range(0, len(samples), per_byte):
        byte = 0
        group = samples[start:start + per_byte]
        for k in range(per_byte):
            value = int(group[k]) if k < len(group) else 0
            byte |= value << (8 - bit_depth * (k + 1))   # MSB first
        out.append(byte)
    return bytes(out)


def _unpack_row(row, bit_depth, count):
    """Unpack `count` integer samples from the bytes of one scanline."""
    if bit_depth == 16:
        return [struct.unpack(">H", row[2 * i:2 * i + 2])[0] for i in range(count)]
    if bit_depth == 8:
        return list(row[:count])
    per_byte = 8 // bit_depth
    mask = (1 << bit_depth) - 1
    samples = []
    for i in range(count):
        byte = row[i // per_byte]
        shift = 8 - bit_depth * (i % per_byte + 1)
        samples.append((byte >> shift) & mask)
    return samples


def _chunk(ctype, data):
    """Serialise one chunk: length, type, data, CRC over type + data."""
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


# ---------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------

def write_png(path, array, bit_depth, filters=None):
    """Write `array` as a PNG file.

    array: uint8 / uint16 / bool.  2-D -> gray (colour type 0); (H, W, 2) -> gray+alpha (4);
    (H, W, 3) -> RGB (2); (H, W, 4) -> RGBA (6).
    bit_depth: 1 (gray only, values 0/1), 8 or 16 (samples written big-endian).
    filters: None cycles filter types 0,1,2,3,4 over the rows; an int uses that type on
    every row; a sequence gives the type of each row (cycled).
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        color_type, channels = 0, 1
    elif arr.ndim == 3 and arr.shape[2] in (2, 3, 4):
        channels = arr.shape[2]
        color_type = {2: 4, 3: 2, 4: 6}[channels]
    else:
        raise ValueError(f"unsupported array shape {arr.shape}")
    if bit_depth not in (1, 8, 16):
        raise ValueError(f"unsupported bit depth {bit_depth}")
    if bit_depth == 1 and color_type != 0:
        raise ValueError("bit depth 1 is only allowed for gray images")
    height, width = arr.shape[0], arr.shape[1]
    if height == 0 or width == 0:
        raise ValueError("PNG images must have at least one pixel")
    values = arr.astype(np.int64)
    if values.min() < 0 or values.max() >= (1 << bit_depth):
        raise ValueError(f"sample values out of range for bit depth {bit_depth}")

    if filters is None:
        filters = [0, 1, 2, 3, 4]
    elif isinstance(filters, int):
        filters = [filters]
    bpp = max(1, channels * bit_depth // 8)

    raw_rows = []
    for y in range(height):
        flat = [int(v) for v in values[y].reshape(-1)]
        raw_rows.append(_pack_row(flat, bit_depth))
    payload = bytearray()
    prev = bytes(len(raw_rows[0]))
    for y, raw in enumerate(raw_rows):
        ftype = filters[y % len(filters)]
        payload.append(ftype)
        payload += filter_row(ftype, raw, prev, bpp)
        prev = raw

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as fh:
        fh.write(PNG_SIGNATURE)
        fh.write(_chunk(b"IHDR", ihdr))
        fh.write(_chunk(b"IDAT", zlib.compress(bytes(payload), 9)))
        fh.write(_chunk(b"IEND", b""))


# ---------------------------------------------------------------------------
# reader
# ---------------------------------------------------------------------------

def _read_chunks(data):
    """Yield (type, payload) for every chunk, checking lengths and CRCs."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated PNG chunk header")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        crc_bytes = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise ValueError(f"truncated PNG chunk {ctype!r}")
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != struct.unpack(">I", crc_bytes)[0]:
            raise ValueError(f"bad CRC in PNG chunk {ctype!r}")
        yield ctype, body
        pos += 12 + length
        if ctype == b"IEND":
            return
    raise ValueError("PNG has no IEND chunk")


def read_png(path):
    """Decode a PNG file; return (array, bit_depth) with raw sample values."""
    with open(path, "rb") as fh:
        data = fh.read()

    header = None
    palette = None
    trns = None
    idat = bytearray()
    for ctype, body in _read_chunks(data):
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif ctype == b"tRNS":
            trns = bytes(body)
        elif ctype == b"IDAT":
            idat += body
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    width, height, bit_depth, color_type, compression, filter_method, interlace = header
    if color_type not in CHANNELS or bit_depth not in ALLOWED_DEPTHS[color_type]:
        raise ValueError(f"invalid colour type {color_type} / bit depth {bit_depth}")
    if compression != 0 or filter_method != 0:
        raise ValueError("unknown PNG compression or filter method")
    if interlace != 0:
        raise NotImplementedError("interlaced PNGs are not supported by pngref")
    if color_type == 3 and palette is None:
        raise ValueError("palette PNG without PLTE chunk")

    channels = CHANNELS[color_type]
    bpp = max(1, channels * bit_depth // 8)
    row_bytes = (width * channels * bit_depth + 7) // 8
    raw = zlib.decompress(bytes(idat))
    if len(raw) < height * (row_bytes + 1):
        raise ValueError("PNG image data is truncated")

    rows = []
    prev = bytes(row_bytes)
    pos = 0
    for _ in range(height):
        ftype = raw[pos]
        filt = raw[pos + 1:pos + 1 + row_bytes]
        pos += 1 + row_bytes
        row = unfilter_row(ftype, filt, prev, bpp)
        rows.append(_unpack_row(row, bit_depth, width * channels))
        prev = row

    if color_type == 3:
        alpha = list(trns) if trns is not None else None
        out = []
        for samples in rows:
            pixels = []
            for index in samples:
                if index >= len(palette):
                    raise ValueError("palette index out of range")
                rgb = list(palette[index])
                if alpha is not None:
                    rgb.append(alpha[index] if index < len(alpha) else 255)
                pixels.append(rgb)
            out.append(pixels)
        return np.array(out, dtype=np.uint8), 8

    dtype = np.uint16 if bit_depth == 16 else np.uint8
    arr = np.array(rows, dtype=dtype)
    if channels == 1:
        return arr.reshape(height, width), bit_depth
    return arr.reshape(height, width, channels), bit_depth


# ---------------------------------------------------------------------------
# self-check
# ---------------------------------------------------------------------------

def _self_check():
    """Round-trip random arrays of every kind and compare with Pillow where it can."""
    import os
    import tempfile

    from PIL import Image

    rng = np.random.default_rng(12345)
    tmp = tempfile.mkdtemp(prefix="pngref-")
    checked = 0

    def path(name):
        return os.path.join(tmp, name)

    # our writer -> our reader, every kind, every filter type
    kinds = [(None, 1), (None, 8), (None, 16), (2, 8), (2, 16), (3, 8), (3, 16), (4, 8), (4, 16)]
    for trial in range(3):
        for channels, depth in kinds:
            h, w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
            shape = (h, w) if channels is None else (h, w, channels)
            dtype = np.uint16 if depth == 16 else np.uint8
            arr = rng.integers(0, 1 << depth, size=shape).astype(dtype)
            if trial == 2:    # many repeated values / flat areas exercise the filters differently
                arr = (arr // max(1, (1 << depth) // 2)) * ((1 << depth) - 1)
                arr = arr.astype(dtype)
            for filters in (None, 0, 1, 2, 3, 4, [4, 3, 2, 1, 0]):
                p = path("rt.png")
                write_png(p, arr, depth, filters=filters)
                got, got_depth = read_png(p)
                assert got_depth == depth, (got_depth, depth)
                assert got.dtype == dtype and got.shape == arr.shape, (got.dtype, got.shape)
                assert np.array_equal(got, arr), (channels, depth, filters)
                checked += 1
    # bool input, 1-bit
    b = rng.random((7, 13)) > 0.5
    write_png(path("b.png"), b, 1)
    got, depth = read_png(path("b.png"))
    assert depth == 1 and np.array_equal(got, b.astype(np.uint8))

    # our writer -> Pillow reader
    for _ in range(5):
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        for shape, depth, mode in [((h, w), 8, "L"), ((h, w, 2), 8, "LA"), ((h, w, 3), 8, "RGB"),
                                   ((h, w, 4), 8, "RGBA"), ((h, w), 16, None), ((h, w), 1, "1")]:
            dtype = np.uint16 if depth == 16 else np.uint8
            arr = rng.integers(0, 1 << depth, size=shape).astype(dtype)
            write_png(path("w.png"), arr, depth)
            with Image.open(path("w.png")) as im:
                im.load()
                if mode is not None:
                    assert im.mode == mode, (im.mode, mode)
                pil = np.array(im)
            if depth == 1:
                pil = pil.astype(np.uint8)       # Pillow gives bool for mode "1"
            assert np.array_equal(pil.astype(np.int64), arr.astype(np.int64)), (shape, depth, im.mode)
            checked += 1

    # Pillow writer -> our reader
    for _ in range(5):
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        for mode in ("L", "LA", "RGB", "RGBA"):
            nch = len(mode)
            shape = (h, w) if nch == 1 else (h, w, nch)
            arr = rng.integers(0, 256, size=shape).astype(np.uint8)
            Image.fromarray(arr, mode=mode).save(path("p.png"), optimize=True)
            got, depth = read_png(path("p.png"))
            assert depth == 8 and np.array_equal(got, arr), mode
            checked += 1
        # 16-bit gray
        arr16 = rng.integers(0, 65536, size=(h, w)).astype(np.uint16)
        Image.fromarray(arr16).save(path("p16.png"))
        got, depth = read_png(path("p16.png"))
        assert depth == 16 and np.array_equal(got, arr16)
        # 1-bit
        bits = rng.random((h, w)) > 0.5
        Image.fromarray(bits).save(path("p1.png"))
        got, depth = read_png(path("p1.png"))
        assert depth == 1 and np.array_equal(got, bits.astype(np.uint8))
        # palette, 8/4/2/1-bit indices, with and without transparency
        for ncolors, bits_opt in ((200, 8), (16, 4), (4, 2), (2, 1)):
            idx = rng.integers(0, ncolors, size=(h, w)).astype(np.uint8)
            pal = rng.integers(0, 256, size=(ncolors, 3)).astype(np.uint8)
            im = Image.fromarray(idx, mode="P")
            im.putpalette(pal.reshape(-1).tolist())
            im.save(path("pal.png"), bits=bits_opt)
            got, depth = read_png(path("pal.png"))
            with Image.open(path("pal.png")) as ref:
                ref_rgb = np.array(ref.convert("RGB"))
            assert depth == 8 and got.shape == (h, w, 3), got.shape
            assert np.array_equal(got, ref_rgb), ("palette", bits_opt)
            # with tRNS
            alphas = rng.integers(0, 256, size=ncolors).astype(np.uint8)
            im.info["transparency"] = bytes(alphas.tolist())
            im.save(path("palt.png"), bits=bits_opt, transparency=bytes(alphas.tolist()))
            got, depth = read_png(path("palt.png"))
            with Image.open(path("palt.png")) as ref:
                ref_rgba = np.array(ref.convert("RGBA"))
            assert got.shape == (h, w, 4), got.shape
            assert np.array_equal(got, ref_rgba), ("palette+tRNS", bits_opt)
            checked += 2

    # cross-check 16-bit colour and gray+alpha kinds, which Pillow cannot read,
    # with FFmpeg's PNG decoder through PyAV (if it is available)
    try:
        import av
    except ImportError:          # pragma: no cover
        av = None
    if av is not None:
        ffmpeg_formats = {(1, 8): "gray", (2, 8): "ya8", (3, 8): "rgb24", (4, 8): "rgba",
                          (1, 16): "gray16be", (2, 16): "ya16be", (3, 16): "rgb48be",
                          (4, 16): "rgba64be"}
        for (nch, depth), fmt in ffmpeg_formats.items():
            h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
            shape = (h, w) if nch == 1 else (h, w, nch)
            dtype = np.uint16 if depth == 16 else np.uint8
            arr = rng.integers(0, 1 << depth, size=shape).astype(dtype)
            write_png(path("f.png"), arr, depth)
            with av.open(path("f.png")) as container:
                frame = next(container.decode(video=0))
                assert frame.format.name == fmt, (frame.format.name, fmt)
                plane = frame.planes[0]
                rows = np.frombuffer(bytes(plane), np.uint8).reshape(-1, plane.line_size)
                pixel_bytes = rows[:h, :w * nch * depth // 8].copy()
            if depth == 16:
                ref = pixel_bytes.view(">u2")
            else:
                ref = pixel_bytes
            assert np.array_equal(ref.reshape(shape).astype(np.int64), arr.astype(np.int64)), fmt
            checked += 1

    # corrupted CRC is rejected
    write_png(path("c.png"), np.zeros((2, 2), np.uint8), 8)
    blob = bytearray(open(path("c.png"), "rb").read())
    blob[30] ^= 0xFF
    open(path("c.png"), "wb").write(bytes(blob))
    try:
        read_png(path("c.png"))
    except ValueError:
        pass
    else:
        raise AssertionError("corrupt PNG was accepted")

    import shutil
    shutil.rmtree(tmp)
    print(f"pngref self-check OK ({checked} comparisons)")


if __name__ == "__main__":
    _self_check()
