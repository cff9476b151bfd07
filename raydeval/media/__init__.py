"""Decoding of mask images, mask videos and audio clips; the numpy|cupy array backend."""


class MediaError(Exception):
    """A media file that cannot be used; the message says why (the caller names file and id)."""


def read_bytes(uri: str, storage_options: dict) -> bytes:
    """All bytes of a local path or fsspec URL; MediaError if unreadable."""
    import fsspec

    try:
        if "://" not in uri:
            with open(uri, "rb") as f:
                return f.read()
        with fsspec.open(uri, "rb", **storage_options) as f:
            return f.read()
    except Exception as e:  # fsspec backends raise assorted errors (OSError, BadZipFile, ...)
        raise MediaError(f"cannot read: {e.strerror or e}" if isinstance(e, OSError) else f"cannot read: {e}") from None


def open_file(uri: str, storage_options: dict):
    """A local path as is, or an open binary file object for a URL (for PyAV)."""
    import fsspec

    if "://" not in uri:
        return uri
    try:
        return fsspec.open(uri, "rb", **storage_options).open()
    except Exception as e:  # fsspec backends raise assorted errors (OSError, BadZipFile, ...)
        raise MediaError(f"cannot open: {e}") from None
