"""Where a job runs (this process or Ray) and what a run leaves behind in the temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from raydeval.engine import plan
from raydeval.engine.session import ray_address
from raydeval.evaluate import RunSettings, evaluate, prepare
from raydeval.tasks.base import Context
from tests import gen
from tests.faults import REPO


def _decision(task_name, gt, pred, decode_only=False) -> bool:
    task, options, g, p, table = prepare(task_name, gt, pred, {}, RunSettings())
    return plan.runs_in_process(task, table, Context(options, g.uri, p.uri, {}, "cpu", decode_only))


def test_label_jobs_run_in_process_at_any_size(tmp_path, monkeypatch):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 91, n=50)
    monkeypatch.setattr(plan, "SMALL_JOB_FILES", 0)
    monkeypatch.setattr(plan, "SMALL_JOB_BYTES", 0)
    assert _decision("openmmsec-audio", gt, pred)


def test_media_jobs_run_in_process_only_while_small(tmp_path, monkeypatch):
    gt, pred, gt_rows, pred_rows = gen.image_benchmark(str(tmp_path), 92, n=12)
    files = [r["mask"] for r in gt_rows + pred_rows if r.get("mask")]
    size = sum(os.path.getsize(f) for f in files)
    assert _decision("openmmsec-image", gt, pred)
    monkeypatch.setattr(plan, "SMALL_JOB_BYTES", size)
    assert _decision("openmmsec-image", gt, pred)
    monkeypatch.setattr(plan, "SMALL_JOB_BYTES", size - 1)
    assert not _decision("openmmsec-image", gt, pred)
    monkeypatch.setattr(plan, "SMALL_JOB_BYTES", size)
    monkeypatch.setattr(plan, "SMALL_JOB_FILES", len(files) - 1)
    assert not _decision("openmmsec-image", gt, pred)


def test_mask_video_frames_count_against_the_rule(tmp_path, monkeypatch):
    gt, pred, gt_rows, pred_rows = gen.video_benchmark(str(tmp_path), 93, n=8)
    by_id = {r["id"]: r for r in gt_rows}
    frames = sum(by_id[r["id"]]["num_frames"] for r in gt_rows + pred_rows if r.get("mask"))
    monkeypatch.setattr(plan, "SMALL_JOB_FRAMES", frames)
    assert _decision("openmmsec-video", gt, pred)
    monkeypatch.setattr(plan, "SMALL_JOB_FRAMES", frames - 1)
    assert not _decision("openmmsec-video", gt, pred)


def test_audio_decoding_reads_media(tmp_path, monkeypatch):
    from raydeval.demo import make_audio_benchmark
    import numpy as np
    gt, pred = make_audio_benchmark(str(tmp_path), 6, np.random.default_rng(0))
    monkeypatch.setattr(plan, "SMALL_JOB_FILES", 5)
    assert _decision("openmmsec-audio", gt, pred) and not _decision("openmmsec-audio", gt, pred, decode_only=True)


def test_address_picks_ray_and_workers_alone_do_not(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_address(None) is None and ray_address("local") == "local"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # as a Ray job's driver has it
    assert ray_address(None) == "10.0.0.1:6379"
    monkeypatch.setenv("RAY_ADDRESS", "http://10.0.0.1:8265")  # a dashboard, for `raydeval submit`
    assert ray_address(None) is None


@pytest.mark.slow
@pytest.mark.parametrize("task", list(gen.BENCHMARKS))
def test_in_process_and_ray_give_identical_bytes(ray_local, tmp_path, task):
    gt, pred, *_ = gen.BENCHMARKS[task](str(tmp_path), 94, n=16)
    inline = evaluate(task, gt, pred, {}, RunSettings(workers=2, progress=False))
    on_ray = evaluate(task, gt, pred, {}, RunSettings(address="local", workers=2, shard_size=3, progress=False))
    assert inline["run"]["ray"] == "in-process" and on_ray["run"]["ray"] == "local"
    assert (json.dumps([inline["metrics"], inline["counts"], inline["notes"]])
            == json.dumps([on_ray["metrics"], on_ray["counts"], on_ray["notes"]]))


def _clean_run(tmp_path, *extra) -> tuple[list[str], list[str], subprocess.CompletedProcess]:
    """A CLI run with its own TMPDIR: what it leaves there and what appears under /tmp/ray."""
    import tempfile
    temp = tempfile.mkdtemp(prefix="rdc", dir="/tmp")  # short: Ray's session folder goes here
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 95, n=6)
    before = set(os.listdir("/tmp/ray")) if os.path.isdir("/tmp/ray") else set()
    proc = subprocess.run([sys.executable, "-m", "raydeval", "eval", "openmmsec-image", "--gt", gt, "--pred", pred,
                           "--out", str(tmp_path / "r.json"), "--quiet", *extra], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TMPDIR": temp})
    after = set(os.listdir("/tmp/ray")) if os.path.isdir("/tmp/ray") else set()
    left = os.listdir(temp)
    os.rmdir(temp) if not left else None
    return left, sorted(after - before), proc


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--address", "local"]], ids=["in-process", "embedded-ray"])
def test_a_successful_run_leaves_nothing_in_the_temp_folder(tmp_path, extra):
    left, new_in_ray, proc = _clean_run(tmp_path, *extra)
    assert proc.returncode == 0, proc.stderr
    assert left == [] and new_in_ray == []
    assert json.loads((tmp_path / "r.json").read_text())["run"]["ray"] == ("local" if extra else "in-process")
    assert os.listdir(tmp_path) and not os.path.exists(tmp_path / "r.json.state")


@pytest.mark.slow
def test_a_failed_session_keeps_rays_logs_and_names_them(ray_temp):
    script = ("from raydeval.engine.session import RaySession\n"
              "session = RaySession('local', 1)\nsession.start()\nsession.close(failed=True)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": ray_temp})
    assert proc.returncode == 0, proc.stderr
    [folder] = os.listdir(ray_temp)
    assert f"{ray_temp}/{folder}/session_latest/logs" in proc.stderr
    assert os.path.isdir(f"{ray_temp}/{folder}/session_latest/logs")
