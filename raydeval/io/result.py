"""The result file (SPEC §3.1): built from a finalized state, written atomically; its table."""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata

SCHEMA = "raydeval.result/1"
VERSIONED = ("ray", "numpy", "pyarrow", "av", "pyspng", "soundfile", "fsspec")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def redact(uri: str) -> str:
    """A URI without credentials (`scheme://user:secret@host/...` -> `scheme://host/...`)."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1", uri)


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2, allow_nan=False) + "\n"


def write_atomic(uri: str, text: str, storage_options: dict | None = None) -> None:
    """Write a text file (local path or object-store URL) whole or not at all."""
    from raydeval.io import fs

    fs.write_atomic(uri, text.encode("utf-8"), storage_options)


def format_table(results: list[dict]) -> str:
    """A plain metrics table: one block per result."""
    lines = []
    for result in results:
        lines.append(f"{result['task']}  ({result['counts']['samples']} samples, "
                     f"{result['run']['seconds']:.2f} s, {result['run']['workers']} worker"
                     f"{'s' if result['run']['workers'] != 1 else ''})")
        for name, value in result["metrics"].items():
            lines.append(f"  {name:<16} {'n/a' if value is None else f'{value:.6f}'}")
        for note in result["notes"]:
            lines.append(f"  note: {note}")
    return "\n".join(lines)
