"""Reading media files (local or fsspec URLs) with read-ahead; decoders live in the submodules."""

import contextlib
from concurrent.futures import ThreadPoolExecutor


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


PREFETCH_WINDOW = 16  # remote files read ahead of use, at most
PREFETCH_THREADS = 8


@contextlib.contextmanager
def prefetching(uris, storage_options: dict):
    """`read(uri) -> bytes` for files about to be read in the order of `uris` (None entries and
    files that end up unread are fine). Remote files (URLs) are read up to PREFETCH_WINDOW ahead
    in threads, so their latency overlaps decoding; local files are read when asked."""
    remote = [uri for uri in dict.fromkeys(uris) if uri is not None and "://" in uri]
    position = {uri: i for i, uri in enumerate(remote)}
    pending: dict = {}
    ahead = behind = 0  # remote[:ahead] submitted; remote[:behind] used or passed over

    def read(uri: str) -> bytes:
        nonlocal ahead, behind
        i = position.get(uri)
        if i is None:
            return read_bytes(uri, storage_options)
        for skipped in remote[behind:i]:  # passed over: never needed, drop what was read
            future = pending.pop(skipped, None)
            if future:
                future.cancel()
        behind = max(behind, i + 1)
        while ahead < min(len(remote), i + 1 + PREFETCH_WINDOW):
            pending[remote[ahead]] = pool.submit(read_bytes, remote[ahead], storage_options)
            ahead += 1
        future = pending.pop(uri, None)
        return future.result() if future else read_bytes(uri, storage_options)

    with ThreadPoolExecutor(PREFETCH_THREADS) as pool:
        try:
            yield read
        finally:
            for future in pending.values():
                future.cancel()
