"""`raydeval submit` and `raydeval jobs` against a real Ray head started by `ray start --head`
(token authentication on, as Ray 2.60 has it by default), in its own process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from raydeval.evaluate import RunSettings, evaluate
from tests import gen
from tests.faults import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head with its dashboard (the Jobs API) on a free loopback port; ended by killing its
    process group, never by `ray stop` (which would stop every Ray on the machine)."""
    import shutil
    import tempfile

    temp = tempfile.mkdtemp(prefix="rdh", dir="/tmp")  # Ray's socket paths must stay short
    dashboard = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    log = open(tmp_path_factory.mktemp("head") / "head.log", "w")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--num-cpus", "2",
         "--port", str(_free_port()), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--ray-client-server-port", str(_free_port()), "--dashboard-agent-listen-port", str(_free_port()),
         "--temp-dir", temp], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{address}/api/version", timeout=2)
                break
            except urllib.error.HTTPError:  # it answers (401 without a token): it is up
                break
            except OSError as e:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Ray head did not start: {e}") from None
                time.sleep(0.5)
        yield {"address": address, "env": env}
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
                head.wait(5)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _raydeval(argv: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raydeval", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_submit_wait_runs_the_eval_on_the_cluster(ray_head, tmp_path):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 81, n=10)
    out = tmp_path / "cluster.json"
    proc = _raydeval(["submit", "--address", ray_head["address"], "--wait", "--", "eval", "openmmsec-image",
                      "--gt", gt, "--pred", pred, "--out", str(out), "--shard-size", "3", "--address", "auto"],
                     ray_head["env"])
    assert proc.returncode == 0, proc.stderr
    assert "macro_f1" in proc.stdout and "SUCCEEDED" in proc.stderr
    remote = json.loads(out.read_text())
    local = evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False))
    assert remote["metrics"] == local["metrics"] and remote["counts"] == local["counts"]
    assert remote["run"]["ray"] not in ("in-process", "local") and remote["run"]["shards"] == 4


def test_a_job_with_a_broken_manifest_exits_2_with_the_message(ray_head, tmp_path):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 82, n=4)
    broken = tmp_path / "broken.csv"
    broken.write_text("id,label\na,1\na,7\n")
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"]}  # instead of --address
    proc = _raydeval(["submit", "--wait", "--", "eval", "openmmsec-image", "--gt", gt, "--pred", str(broken)], env)
    assert proc.returncode == 2, proc.stderr
    assert "duplicate id" in proc.stdout and "expected 0 or 1" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr and "exit status 2" in proc.stderr

    job = _raydeval(["submit", "--", "eval", "openmmsec-image", "--gt", gt, "--pred", str(broken)], env)
    assert job.returncode == 0 and job.stdout.startswith("raysubmit_")
    job_id = job.stdout.strip()
    followed = _raydeval(["jobs", "logs", job_id, "--follow"], env)
    assert followed.returncode == 2 and "duplicate id" in followed.stdout
    status = _raydeval(["jobs", "status", job_id], env)
    assert status.returncode == 0 and f"{job_id}: FAILED, exit status 2" in status.stdout
    logs = _raydeval(["jobs", "logs", job_id], env)
    assert "duplicate id" in logs.stdout
    listed = _raydeval(["jobs", "list"], env)
    assert job_id in listed.stdout and "FAILED" in listed.stdout
    unknown = _raydeval(["jobs", "status", "raysubmit_nope"], env)
    assert unknown.returncode == 2 and "no job raysubmit_nope" in unknown.stderr


@pytest.mark.parametrize("change, expect", [
    ({"RAY_AUTH_MODE": ""}, "Authentication required"),
    ({"RAY_AUTH_TOKEN": "not-the-token"}, "Authentication failed"),
    ({"ADDRESS": "http://127.0.0.1:9"}, "cannot use the Ray head at http://127.0.0.1:9"),
])
def test_an_unreachable_head_or_a_refused_token_is_one_line(ray_head, change, expect):
    env = {**ray_head["env"], **{k: v for k, v in change.items() if k != "ADDRESS"}}
    proc = _raydeval(["jobs", "list", "--address", change.get("ADDRESS", ray_head["address"])], env, timeout=120)
    assert proc.returncode == 2
    assert expect in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_submit_refuses_a_credential_on_the_job_command_line(ray_head, tmp_path):
    proc = _raydeval(["submit", "--address", ray_head["address"], "--", "eval", "openmmsec-audio", "--gt", "s3://b/gt.csv",
                      "--pred", "s3://b/p.csv", "--storage-option", "secret=hunter2"], ray_head["env"])
    assert proc.returncode == 2 and "credential" in proc.stderr and "hunter2" not in proc.stderr


def test_submit_runs_a_nightly_sweep_on_the_cluster(ray_head, tmp_path):
    import pyarrow.dataset as ds

    gt, pred, *_ = gen.image_benchmark(str(tmp_path / "data"), 84, n=8)
    sweep = tmp_path / "nightly.toml"
    sweep.write_text(f'[defaults]\nhistory = "{tmp_path / "history"}"\n\n[[job]]\nname = "image/team-a"\n'
                     f'task = "openmmsec-image"\ngt = "{gt}"\npred = "{pred}"\ngroup_by = ["group"]\n')
    proc = _raydeval(["submit", "--address", ray_head["address"], "--wait", "--", "sweep", str(sweep)], ray_head["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [row] = ds.dataset(str(tmp_path / "history"), format="parquet", partitioning="hive").to_table().to_pylist()
    local = evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False))
    assert row["status"] == "ok" and json.loads(row["metrics_json"]) == local["metrics"]
