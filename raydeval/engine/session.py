"""Ray for the evaluations of one command: joined or started on first use, stopped at the end.

An embedded Ray keeps its session files (sockets, logs) in a temporary folder of its own, removed
when the command ends well; after a failure other than bad input it is kept and its logs named.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from raydeval.errors import InputError

LONGEST_TEMP_ROOT = 40  # Ray's socket paths must stay short (~107 bytes on Linux)


def ray_address(given: str | None) -> str | None:
    """`--address`, else RAY_ADDRESS as `ray.init` reads it (a Ray job's driver has it set); an
    http(s) dashboard address there is for `raydeval submit`, not for joining."""
    address = given or os.environ.get("RAY_ADDRESS") or None
    if given is None and address and address.startswith(("http://", "https://")):
        return None
    return address


class RaySession:
    """`start()` joins `address` (`local` or None: a new embedded Ray with `cpus` CPUs) unless
    Ray is already up in this process; `close()` stops only a Ray this session started."""

    def __init__(self, address: str | None = None, cpus: int = 0):
        self.address, self.cpus = address, cpus or os.cpu_count() or 1
        self.mode: str | None = None
        self.started = False
        self.temp_dir: str | None = None

    def start(self) -> str:
        if self.mode:
            return self.mode
        import ray

        if ray.is_initialized():
            self.mode = self.address or "local"
        elif self.address and self.address != "local":
            try:
                ray.init(address=self.address, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"--address {self.address}: cannot join the Ray cluster: {e}") from None
            self.started, self.mode = True, self.address
        else:
            root = tempfile.gettempdir()
            self.temp_dir = tempfile.mkdtemp(prefix="raydeval-ray-",
                                             dir=root if len(root) <= LONGEST_TEMP_ROOT else "/tmp")
            ray.init(address="local", num_cpus=self.cpus, include_dashboard=False, logging_level="ERROR",
                     _temp_dir=self.temp_dir)
            self.started, self.mode = True, "local"
        return self.mode

    def close(self, failed: bool = False) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False
        if self.temp_dir:
            if failed:
                print(f"raydeval: Ray's logs of this run are kept in {self.temp_dir}/session_latest/logs",
                      file=sys.stderr)
            else:
                shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None
        self.mode = None

    def __enter__(self) -> "RaySession":
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.close(failed=error is not None and not isinstance(error, InputError))
