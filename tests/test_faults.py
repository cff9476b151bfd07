"""Failures on Ray: a killed worker, a removed node, a killed driver and a shard that keeps failing.

Each run is a driver process (`tests.faults.driver_command`) whose Ray workers carry an injected
fault or slowdown, so the test can act while shards are running.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from raydeval.cli import main
from raydeval.evaluate import RunSettings, evaluate
from tests import gen
from tests.faults import REPO, driver_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    gt, pred, *_ = gen.image_benchmark(str(root), 71, n=12)
    return gt, pred, evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False))


def _argv(images, out, *extra) -> list[str]:
    gt, pred, _ = images
    return ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--shard-size", "1", "--out", str(out), *extra]


def _start(command) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _shard_workers(parent_pid: int) -> list[psutil.Process]:
    """Ray worker processes under `parent_pid` that are running a shard right now."""
    out = []
    for proc in psutil.Process(parent_pid).children(recursive=True):
        try:
            if " ".join(proc.cmdline()).startswith("ray::evaluate_shard"):
                out.append(proc)
        except psutil.Error:
            pass
    return out


def _finish(driver: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = driver.communicate(timeout=300)
    finally:
        _kill_group(driver)
    return driver.returncode, err


def _kill_group(driver: subprocess.Popen) -> None:
    try:
        os.killpg(driver.pid, signal.SIGKILL)  # whatever the driver's Ray left behind
    except ProcessLookupError:
        pass


def _same(result: dict, plain: dict) -> bool:
    return result["metrics"] == plain["metrics"] and result["counts"] == plain["counts"]


def test_a_worker_killed_mid_shard_changes_nothing(images, tmp_path, ray_temp):
    out = tmp_path / "r.json"
    driver = _start(driver_command(_argv(images, out, "--address", "local"), "slow:0.4", temp_dir=ray_temp))
    victim = _wait_for(lambda: _shard_workers(driver.pid), "a worker running a shard")[0]
    victim.send_signal(signal.SIGKILL)
    code, err = _finish(driver)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert _same(result, images[2])
    assert result["run"]["shards_retried"] >= 1 and "retried" in err


def test_a_node_removed_mid_run_changes_nothing(images, tmp_path, ray_temp):
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "temp_dir": ray_temp})
    try:
        nodes = [cluster.add_node(num_cpus=1, temp_dir=ray_temp) for _ in range(2)]
        cluster.wait_for_nodes()
        out = tmp_path / "r.json"
        driver = _start(driver_command(_argv(images, out, "--address", cluster.address), "slow:0.5",
                                       address=cluster.address))
        raylet = nodes[1].all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
        _wait_for(lambda: _shard_workers(raylet), "a shard running on the node to remove")
        cluster.remove_node(nodes[1], allow_graceful=False)
        code, err = _finish(driver)
    finally:
        cluster.shutdown()
    assert code == 0, err
    result = json.loads(out.read_text())
    assert _same(result, images[2]) and result["run"]["workers"] == 2
    assert result["run"]["shards_retried"] >= 1


def test_a_killed_driver_resumes_with_fewer_shards_computed(images, tmp_path, ray_temp):
    out = tmp_path / "r.json"
    driver = _start(driver_command(_argv(images, out, "--address", "local"), "slow:0.3", temp_dir=ray_temp))
    _wait_for(lambda: len(glob.glob(f"{out}.state/shards/*.json")) >= 4, "four saved shard states")
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    _kill_group(driver)
    saved = len(glob.glob(f"{out}.state/shards/*.json"))
    assert not out.exists() and saved < 12
    assert main(_argv(images, out, "--resume", "--quiet")) == 0
    result = json.loads(out.read_text())
    assert _same(result, images[2])
    assert result["run"]["shards_reused"] == saved and result["run"]["shards"] == 12
    assert not os.path.exists(f"{out}.state")


@pytest.mark.parametrize("fault, error", [("raise:71-004", "RuntimeError: injected fault"),
                                          ("exit:71-004", "WorkerCrashedError")])
def test_a_shard_that_keeps_failing_exits_1_naming_its_first_sample(images, tmp_path, ray_temp, fault, error):
    out = tmp_path / "r.json"
    driver = _start(driver_command(_argv(images, out, "--address", "local"), fault, temp_dir=ray_temp))
    code, err = _finish(driver)
    assert code == 1
    last = err.strip().splitlines()[-2:]
    assert any("first id 71-004" in line and "on all 3 attempts" in line and error in line for line in last), err
    assert not out.exists()  # no partial result
    assert "--resume reuses them" in err  # the finished shards' states are kept
