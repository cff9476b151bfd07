"""Where raydeval writes (results, shard states): local paths or object storage through fsspec."""

from __future__ import annotations

import os

from raydeval.errors import InputError

WRITABLE = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory")  # stores whose one PUT is atomic
TEMP_PREFIX = ".raydeval-"  # temporary files of local writes (left behind only by a killed process)


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def local_path(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


def check_destination(uri: str, option: str) -> None:
    """A place raydeval can write to: a local path or a URL of an object store fsspec knows."""
    if is_local(uri):
        if os.path.isdir(local_path(uri)):
            raise InputError(f"{option} {uri} is a directory; give a file name such as result.json")
        return
    protocol = uri.split("://", 1)[0]
    if "::" in uri or protocol not in WRITABLE:
        raise InputError(f"{option} {uri}: cannot write to {protocol}:// URLs (use a local path or one of "
                         f"{', '.join(p + '://' for p in WRITABLE)})")
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as e:
        raise InputError(f"{option} {uri}: {e}") from None


def filesystem(uri: str, storage_options: dict):
    """(fsspec filesystem, path) of a URL or local path."""
    import fsspec.core

    return fsspec.core.url_to_fs(local_path(uri) if is_local(uri) else uri, **storage_options)


def write_atomic(uri: str, data: bytes, storage_options: dict | None = None) -> None:
    """Write all of `data` or nothing: a local file via a temporary file in the same directory and
    a rename; an object store in one PUT (an object appears whole or not at all)."""
    if is_local(uri):
        _write_local(local_path(uri), data)
        return
    fs, path = filesystem(uri, storage_options or {})
    fs.pipe_file(path, data)


def _write_local(path: str, data: bytes) -> None:
    import uuid

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any new file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def total_size(uris: list[str], storage_options: dict) -> int:
    """Combined size in bytes of files (local: stat; remote: one batched request per filesystem).
    Files that cannot be found count as 0: the evaluation reports them."""
    total, remote = 0, {}
    for uri in uris:
        if is_local(uri):
            try:
                total += os.path.getsize(local_path(uri))
            except OSError:
                pass
        else:
            remote.setdefault(uri.split("://", 1)[0], []).append(uri)
    for group in remote.values():
        try:
            fs, _ = filesystem(group[0], storage_options)
            total += sum(s or 0 for s in fs.sizes(group))
        except Exception:  # fsspec backends raise assorted errors; unknown sizes count as 0
            pass
    return total
