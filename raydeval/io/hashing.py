"""Content hashes of manifests at any fsspec URL, streamed in chunks."""

from __future__ import annotations

import hashlib

import fsspec

from raydeval.errors import InputError, first_line

CHUNK = 1 << 20


def sha256_of(uri: str, storage_options: dict | None = None) -> str:
    """SHA-256 of the raw bytes at `uri` (as `read_manifest` hashes them), read 1 MiB at a time."""
    digest = hashlib.sha256()
    try:
        with fsspec.open(uri, "rb", **(storage_options or {})) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    except Exception as e:  # fsspec backends raise assorted errors (OSError, BadZipFile, SDK errors)
        raise InputError(f"{uri}: cannot read manifest: {first_line(e)}") from None
    return digest.hexdigest()
