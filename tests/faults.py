"""Faults injected into Ray's worker processes for the fault tests, through Ray's public
`worker_process_setup_hook`: a driver process (`driver_command`) starts or joins Ray with a
runtime env whose hook wraps the image task's shard evaluation, then runs raydeval's CLI.

RAYDEVAL_TEST_FAULT in the workers' environment says what to do:
  slow:SECONDS      every shard sleeps that long first (so a test can act mid-run)
  raise:ID          a shard holding sample ID raises RuntimeError("injected fault")
  exit:ID           a shard holding sample ID ends its worker process (os._exit)
"""

from __future__ import annotations

import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install() -> None:
    """The setup hook (runs in each worker process before it evaluates anything)."""
    from raydeval.tasks import image

    kind, _, arg = os.environ.get("RAYDEVAL_TEST_FAULT", "").partition(":")
    original = image.ImageTask.evaluate

    def evaluate(self, shard, ctx):
        if kind == "slow":
            time.sleep(float(arg))
        elif kind == "raise" and arg in shard["id"]:
            raise RuntimeError("injected fault")
        elif kind == "exit" and arg in shard["id"]:
            os._exit(1)
        return original(self, shard, ctx)

    image.ImageTask.evaluate = evaluate


def driver_command(argv: list[str], fault: str, address: str = "local", temp_dir: str | None = None) -> list[str]:
    """A Python command that starts (or joins) Ray with the fault hook and runs `raydeval ARGV`."""
    init = {"address": address, "logging_level": "ERROR",
            "runtime_env": {"worker_process_setup_hook": "tests.faults.install",
                            "env_vars": {"RAYDEVAL_TEST_FAULT": fault, "PYTHONPATH": REPO}}}
    if address == "local":
        init.update(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir)
    script = (f"import sys, ray\nray.init(**{init!r})\n"
              "from raydeval.cli import main\n"
              f"code = main({argv!r})\nray.shutdown()\nsys.exit(code)\n")
    return [sys.executable, "-c", script]
