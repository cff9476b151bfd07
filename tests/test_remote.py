"""Inputs from a real S3 endpoint (moto's server on 127.0.0.1) and a real multi-node Ray cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.engine import MotoServer
from raydeval.evaluate import RunSettings, evaluate
from tests import gen, oracle


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port, with dummy credentials."""
    with MotoServer() as endpoint:
        yield endpoint


def _upload(fs, local_root: str, bucket_root: str) -> None:
    for folder, _, files in os.walk(local_root):
        for name in files:
            local = os.path.join(folder, name)
            fs.put_file(local, f"{bucket_root}/{os.path.relpath(local, local_root)}")


@pytest.mark.slow
@pytest.mark.parametrize("address", [None, "local"], ids=["in-process", "ray"])
@pytest.mark.parametrize("task", ["openmmsec-image", "openmmsec-video"])
def test_s3_manifests_and_media(ray_local, tmp_path, s3_endpoint, task, address):
    import s3fs

    fs = s3fs.S3FileSystem(**s3_endpoint)
    bucket = f"bench-{task.split('-')[1]}"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    gt, pred, gt_rows, pred_rows = gen.BENCHMARKS[task](str(tmp_path), 400, n=8)
    _upload(fs, str(tmp_path), f"{bucket}/openmmsec")
    to_s3 = lambda p: f"s3://{bucket}/openmmsec/{os.path.relpath(p, tmp_path)}"
    settings = RunSettings(address=address, workers=2, storage_options=dict(s3_endpoint), progress=False)
    result = evaluate(task, to_s3(gt), to_s3(pred), {}, settings)
    assert result["run"]["ray"] == (address or "in-process")
    expected = {"openmmsec-image": oracle.oracle_image, "openmmsec-video": oracle.oracle_video}[task](
        gt_rows, pred_rows)
    expected.pop("counts")
    assert result["metrics"] == expected
    assert result["inputs"]["gt"]["uri"].startswith("s3://")
    assert s3_endpoint["secret"] not in json.dumps(result)


@pytest.mark.slow
def test_result_and_states_go_to_s3_and_resume_from_there(tmp_path, s3_endpoint, capsys, monkeypatch):
    """`--out s3://…` writes the object (not a local folder named `s3:`); shard states go to
    `<out>.state/` in the bucket, and a resume reads them back."""
    import s3fs
    from raydeval.cli import main

    fs = s3fs.S3FileSystem(**s3_endpoint)
    fs.mkdir("results")
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 403, n=10)
    options = [arg for key, value in s3_endpoint.items() for arg in ("--storage-option", f"{key}={value}")]
    base = ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", "s3://results/run/r.json",
            "--shard-size", "2", "--quiet", *options]
    monkeypatch.chdir(tmp_path)  # a local folder named `s3:` would appear here
    assert main(base + ["--keep-state"]) == 0
    assert not os.path.exists(tmp_path / "s3:")
    first = json.loads(fs.cat_file("results/run/r.json"))
    states = sorted(fs.ls("results/run/r.json.state/shards"))
    assert len(states) == 5 and fs.exists("results/run/r.json.state/ledger.json")
    fs.rm(states[:2])
    fs.rm("results/run/r.json")
    assert main(base + ["--resume"]) == 0
    resumed = json.loads(fs.cat_file("results/run/r.json"))
    assert resumed["metrics"] == first["metrics"] and resumed["counts"] == first["counts"]
    assert resumed["run"]["shards_reused"] == 3 and not fs.exists("results/run/r.json.state")
    local = evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False))
    assert first["metrics"] == local["metrics"] and first["counts"] == local["counts"]
    out = capsys.readouterr()
    assert s3_endpoint["secret"] not in out.out + out.err + json.dumps(first)


def test_gzip_manifests(ray_local, tmp_path):
    import gzip
    import shutil

    gt, pred, gt_rows, pred_rows = gen.audio_benchmark(str(tmp_path), 401)
    for path in (gt, pred):
        with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    result = evaluate("openmmsec-audio", gt + ".gz", pred + ".gz", {}, RunSettings(workers=2, progress=False))
    expected = oracle.oracle_audio(gt_rows, pred_rows)
    expected.pop("counts")
    assert result["metrics"] == expected


@pytest.mark.slow
def test_joins_a_multi_node_cluster(tmp_path, ray_temp):
    """`--address` joins a running two-node cluster; the result equals the embedded run's."""
    from ray.cluster_utils import Cluster

    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 402, n=10)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": ray_temp})
    cluster.add_node(num_cpus=1, temp_dir=ray_temp)
    address = cluster.address
    try:
        out = tmp_path / "cluster.json"
        proc = subprocess.run([sys.executable, "-m", "raydeval.cli", "eval", "openmmsec-image", "--gt", gt,
                               "--pred", pred, "--address", address, "--shard-size", "3",
                               "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    finally:
        cluster.shutdown()
    clustered = json.loads(out.read_text())
    assert clustered["run"]["ray"] == address and clustered["run"]["workers"] == 2
    local = evaluate("openmmsec-image", gt, pred, {}, RunSettings(workers=1, shard_size=10, progress=False))
    assert clustered["metrics"] == local["metrics"] and clustered["counts"] == local["counts"]


def test_large_label_manifests_on_s3_are_joined_out_of_core(tmp_path, s3_endpoint, monkeypatch, capsys):
    """Both manifests on the same store (one filesystem registered with DuckDB) give the local result."""
    import s3fs
    from raydeval.cli import main

    fs = s3fs.S3FileSystem(**s3_endpoint)
    fs.mkdir("labels")
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 404, n=50, gt_format="parquet", pred_format="csv")
    fs.put_file(gt, "labels/gt.parquet")
    fs.put_file(pred, "labels/pred.csv")
    options = [arg for key, value in s3_endpoint.items() for arg in ("--storage-option", f"{key}={value}")]
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", "0")
    assert main(["eval", "openmmsec-audio", "--gt", "s3://labels/gt.parquet", "--pred", "s3://labels/pred.csv",
                 "--json", *options]) == 0
    out = capsys.readouterr()
    assert "joined and counted out of core" in out.err
    remote, local = json.loads(out.out), evaluate("openmmsec-audio", gt, pred, {}, RunSettings(progress=False))
    assert remote["metrics"] == local["metrics"] and remote["counts"] == local["counts"]
