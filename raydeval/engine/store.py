"""Shard states persisted as they finish, so a killed run resumes (SPEC §4 `--resume`).

A state directory (local path or object-store URL) holds `ledger.json` — what the states were
computed from: task, raydeval version, input hashes, conventions and the shard cut — and
`shards/<start>-<stop>.json`, one per finished shard. Each file is written whole or not at all
and carries the SHA-256 of its content and of the ledger it belongs to; a file that fails any
check is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import raydeval
from raydeval.engine.shards import decode_cut, encode_cut
from raydeval.errors import InputError
from raydeval.io import fs
from raydeval.state import State, state_from_dict, state_to_dict

LEDGER_SCHEMA = "raydeval.ledger/1"
SHARD_SCHEMA = "raydeval.shard/1"
WRITE_THREADS = 4


def canonical(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def ledger_for(task: str, options: dict, inputs: dict, analysis: dict) -> dict:
    """What a run's states depend on (the cut is added by `StateStore.begin`)."""
    return {"schema": LEDGER_SCHEMA, "raydeval": raydeval.__version__, "task": task,
            "inputs": {side: {"sha256": m["sha256"], "rows": m["rows"]} for side, m in inputs.items()},
            "conventions": json.loads(canonical(options)), "analysis": json.loads(canonical(analysis))}


def differences(stored: dict, ledger: dict) -> list[str]:
    """What differs between a stored ledger and this run's, in words."""
    out = []
    for key, what in (("raydeval", "raydeval version"), ("task", "task")):
        if stored.get(key) != ledger[key]:
            out.append(f"{what} {stored.get(key)} → {ledger[key]}")
    for side, now in ledger["inputs"].items():
        before = (stored.get("inputs") or {}).get(side) or {}
        if before.get("sha256") != now["sha256"]:
            out.append(f"{side} manifest content (sha256 {str(before.get('sha256'))[:12]}… → {now['sha256'][:12]}…)")
    for section, what in (("conventions", "convention"), ("analysis", "analysis option")):
        before, now = stored.get(section) or {}, ledger[section]
        for name in sorted(set(before) | set(now)):
            if before.get(name) != now.get(name):
                out.append(f"{what} {name} {before.get(name)!r} → {now.get(name)!r}")
    return out


class StateStore:
    """The state directory of one run: `begin`, then `save` each finished shard, `flush`, `remove`."""

    def __init__(self, uri: str, storage_options: dict):
        self.uri = uri.rstrip("/")
        self.fs, self.root = fs.filesystem(self.uri, storage_options)
        self.storage_options = storage_options
        self.digest = ""
        self.bounds: list[tuple[int, int]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.writes: list = []

    def _url(self, name: str) -> str:
        return f"{self.uri}/{name}"

    def begin(self, ledger: dict, bounds: list[tuple[int, int]], resume: bool) -> tuple[list, dict[int, State]]:
        """The cut to use and the reusable states by shard index. Resuming keeps the stored cut and
        reuses every intact state of a matching ledger (a different one is an InputError naming
        what changed); otherwise earlier states here are cleared. The ledger is then written."""
        rows = sum(stop - start for start, stop in bounds)
        exists = self.fs.exists(self.root)
        had_ledger, stored = self._read_ledger() if exists else (False, None)
        if resume and stored is not None:
            changed = differences(stored, ledger)
            if changed:
                raise InputError(f"--resume: the states in {self.uri} were computed for other inputs or "
                                 f"conventions: {'; '.join(changed)}. Run without --resume to start afresh "
                                 "(the old states are then replaced).")
            try:
                bounds = decode_cut(stored["cut"], rows)
            except ValueError as e:  # same inputs, so a cut that does not fit is a damaged ledger
                raise InputError(f"--resume: {self.uri}/ledger.json is damaged ({e}); run without --resume "
                                 "to start afresh") from None
        self.bounds = bounds
        full = {**ledger, "cut": encode_cut(bounds)}
        self.digest = hashlib.sha256(canonical(full)).hexdigest()
        if resume and stored is not None:
            reused = self._load_states()
        else:
            if resume:
                print(f"raydeval: --resume: no usable earlier states in {self.uri}; evaluating every shard",
                      file=sys.stderr)
            elif had_ledger:
                print(f"raydeval: starting afresh in {self.uri} (run with --resume to reuse earlier states)",
                      file=sys.stderr)
            if exists:
                self._clear()
            reused = {}
        try:
            fs.write_atomic(self._url("ledger.json"), canonical(full), self.storage_options)
        except Exception as e:  # fsspec backends raise assorted errors (permissions, endpoints)
            raise InputError(f"--state-dir {self.uri}: cannot write shard states: {e}") from None
        return bounds, reused

    def _read_ledger(self) -> tuple[bool, dict | None]:
        """(whether a ledger is there, the ledger if usable); a folder holding other things than a
        state directory is an InputError (raydeval would clear it)."""
        path = f"{self.root}/ledger.json"
        if not self.fs.exists(path):
            if self.fs.ls(self.root, detail=False):
                raise InputError(f"--state-dir {self.uri} exists and holds no raydeval ledger: "
                                 "choose an empty or new folder")
            return False, None
        try:
            stored = json.loads(self.fs.cat_file(path))
            if not isinstance(stored, dict) or stored.get("schema") != LEDGER_SCHEMA:
                raise ValueError("not a raydeval ledger")
            for section in ("inputs", "conventions", "analysis"):
                if not isinstance(stored.get(section), dict):
                    raise ValueError(f"no {section}")
            if not all(isinstance(side, dict) for side in stored["inputs"].values()):
                raise ValueError("inputs are not described")
            return True, stored
        except (ValueError, RecursionError) as e:
            print(f"raydeval: {self.uri}/ledger.json is unreadable ({e}); its states are not used",
                  file=sys.stderr)
            return True, None

    def _clear(self) -> None:
        shards = f"{self.root}/shards"
        if self.fs.exists(shards):
            self.fs.rm(shards, recursive=True)

    def _load_states(self) -> dict[int, State]:
        """Every intact state of this ledger's shards, by shard index."""
        self.fs.invalidate_cache()
        try:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(f"{self.root}/shards", detail=False)]
        except FileNotFoundError:
            names = []
        index = {f"{start:012d}-{stop:012d}.json": i for i, (start, stop) in enumerate(self.bounds)}
        wanted = [n for n in names if n in index]
        contents = self.fs.cat([f"{self.root}/shards/{n}" for n in wanted], on_error="return") if wanted else {}
        reused, rejected = {}, []
        for name in wanted:
            data = contents.get(f"{self.root}/shards/{name}")
            if data is None:  # some filesystems key results by a normalised path
                data = next((v for k, v in contents.items() if k.endswith(f"/shards/{name}")), None)
            try:
                reused[index[name]] = self._parse(data, self.bounds[index[name]])
            except (ValueError, TypeError, KeyError, RecursionError) as e:
                rejected.append(f"{name} ({e})")
        if rejected:
            print(f"raydeval: recomputing {len(rejected)} shard(s) whose saved state is unusable: "
                  f"{', '.join(rejected[:5])}{' …' if len(rejected) > 5 else ''}", file=sys.stderr)
        return reused

    def _parse(self, data, bounds: tuple[int, int]) -> State:
        if not isinstance(data, bytes):
            raise ValueError(f"unreadable: {data}")
        record = json.loads(data)
        body = record["body"]
        if hashlib.sha256(canonical(body)).hexdigest() != record["sha256"]:
            raise ValueError("checksum mismatch")
        if body["schema"] != SHARD_SCHEMA or body["ledger"] != self.digest or tuple(body["rows"]) != bounds:
            raise ValueError("belongs to another run")
        return state_from_dict(body["state"])

    def save(self, index: int, state: State) -> None:
        """Persist one shard's state in the background (`flush` waits for every write)."""
        start, stop = self.bounds[index]
        body = {"schema": SHARD_SCHEMA, "ledger": self.digest, "rows": [start, stop], "state": state_to_dict(state)}
        data = canonical({"sha256": hashlib.sha256(canonical(body)).hexdigest(), "body": body})
        self.pool = self.pool or ThreadPoolExecutor(WRITE_THREADS)
        self.writes.append(self.pool.submit(fs.write_atomic, self._url(f"shards/{start:012d}-{stop:012d}.json"),
                                            data, self.storage_options))

    def flush(self, quietly: bool = False) -> None:
        """Wait for the pending writes; the first failure is an InputError (`quietly`: one line on
        stderr instead, while another error is on its way)."""
        writes, self.writes = self.writes, []
        try:
            for write in writes:
                write.result()
        except Exception as e:  # fsspec backends raise assorted errors
            message = f"--state-dir {self.uri}: cannot write shard states: {e}"
            if not quietly:
                raise InputError(message) from None
            print(f"raydeval: {message}", file=sys.stderr)
        finally:
            if self.pool:
                self.pool.shutdown(wait=True)
                self.pool = None

    def remove(self) -> None:
        self.fs.rm(self.root, recursive=True)
