"""The command line: demo, tasks, eval output and validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from raydeval.cli import main
from tests import gen


@pytest.mark.slow
def test_demo_runs_end_to_end_in_a_fresh_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "raydeval.cli", "demo", "--samples", "24", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("image", "video", "audio"):
        result = json.loads((tmp_path / "results" / f"{name}.json").read_text())
        assert result["schema"] == "raydeval.result/1" and result["counts"]["samples"] == 24
    assert "macro_f1" in proc.stdout and "mviou" in proc.stdout and "Traceback" not in proc.stderr


def test_tasks_lists_metrics_and_conventions(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for word in ("openmmsec-image", "openmmsec-video", "openmmsec-audio", "pixel_f1", "mviou",
                 "authentic_policy", "real_video_policy"):
        assert word in out


def test_eval_writes_result_file_and_table(ray_local, tmp_path, capsys):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 7)
    out = tmp_path / "res" / "r.json"
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result) >= {"schema", "task", "metrics", "counts", "conventions", "inputs", "run"}
    assert result["inputs"]["gt"]["rows"] == 14 and len(result["inputs"]["gt"]["sha256"]) == 64
    assert result["conventions"]["weights"] == {"macro_f1": 0.5, "pixel_f1": 0.5}
    assert f"{result['metrics']['macro_f1']:.6f}" in printed
    assert [p for p in os.listdir(out.parent) if p != "r.json"] == []


def test_storage_options_never_reach_the_result(ray_local, tmp_path, capsys):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 8)
    assert main(["eval", "openmmsec-audio", "--gt", gt, "--pred", pred, "--json", "--quiet",
                 "--storage-option", "secret=hunter2"]) == 0
    assert "hunter2" not in capsys.readouterr().out


def test_validate_checks_manifests_without_ray(tmp_path, capsys):
    gt, pred, *_ = gen.video_benchmark(str(tmp_path), 9)
    assert main(["validate", "openmmsec-video", "--gt", gt, "--pred", pred]) == 0
    assert "ok: 10 samples" in capsys.readouterr().out


def test_validate_decode_reports_audio(ray_local, tmp_path, capsys):
    from raydeval.demo import make_audio_benchmark
    import numpy as np
    gt, pred = make_audio_benchmark(str(tmp_path), 6, np.random.default_rng(0))
    assert main(["validate", "openmmsec-audio", "--gt", gt, "--pred", pred, "--decode", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "audio_files" in out and "sample_rate_16000" in out


@pytest.mark.parametrize("where", [[], ["--address", "local"]], ids=["in-process", "ray"])
def test_device_gpu_without_a_gpu_is_a_clear_error(ray_local, tmp_path, capsys, where):
    import ray
    if ray.cluster_resources().get("GPU"):
        pytest.skip("a GPU is in the cluster")
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 10)
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--device", "gpu", "--quiet", *where]) == 2
    err = capsys.readouterr().err
    assert "--device gpu:" in err and "Traceback" not in err
    if where:
        assert "no GPU" in err


def test_device_auto_without_a_gpu_counts_with_numpy(ray_local, tmp_path, capsys):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 11)
    base = ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--json", "--quiet"]
    assert main(base + ["--device", "cpu"]) == 0
    cpu = json.loads(capsys.readouterr().out)
    assert main(base + ["--device", "auto"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert auto["metrics"] == cpu["metrics"] and auto["counts"] == cpu["counts"]


def test_validate_decode_reads_masks_no_metric_needs(ray_local, tmp_path, capsys):
    """A predicted mask for a real image is never scored, but `validate --decode` still reads it."""
    from raydeval.demo import write_manifest
    (tmp_path / "garbage.png").write_bytes(b"not a png")
    write_manifest(tmp_path / "gt.csv", [{"id": "r", "label": 0, "mask": None}])
    write_manifest(tmp_path / "pred.csv", [{"id": "r", "label": 0, "mask": "garbage.png"}])
    args = ["--gt", str(tmp_path / "gt.csv"), "--pred", str(tmp_path / "pred.csv"), "--quiet"]
    assert main(["eval", "openmmsec-image", *args]) == 0
    capsys.readouterr()
    assert main(["validate", "openmmsec-image", *args, "--decode"]) == 2
    err = capsys.readouterr().err
    assert "garbage.png" in err and "r (" in err


def test_pred_video_with_extra_frames_is_blamed_on_the_prediction(ray_local, tmp_path, capsys):
    import numpy as np
    from raydeval.demo import write_manifest, write_mask_video
    frame = np.zeros((8, 8), bool)
    write_mask_video(str(tmp_path / "gt.mkv"), [frame] * 3)
    write_mask_video(str(tmp_path / "pred.mkv"), [frame] * 4)
    write_manifest(tmp_path / "gt.jsonl", [{"id": "v", "label": 1, "num_frames": 3, "fake_frames": [[0, 3]],
                                            "mask": "gt.mkv"}])
    write_manifest(tmp_path / "pred.jsonl", [{"id": "v", "label": 1, "fake_frames": [[0, 1]], "mask": "pred.mkv"}])
    assert main(["eval", "openmmsec-video", "--gt", str(tmp_path / "gt.jsonl"),
                 "--pred", str(tmp_path / "pred.jsonl"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pred.jsonl" in err and "pred.mkv" in err and "more" in err and "gt.mkv" not in err


@pytest.mark.parametrize("weights", ["0.5,0.6", "1/2,1/2", "-0.5,1.5", "1e400,0", "nan,1"])
def test_weights_must_be_decimals_summing_to_one(tmp_path, capsys, weights):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 13)
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--weights", weights]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_out_that_is_a_directory_fails_before_evaluating(tmp_path, capsys):
    gt, pred, *_ = gen.image_benchmark(str(tmp_path), 14)
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_result_uris_carry_no_credentials():
    from raydeval.io.result import redact
    assert redact("https://user:token@host/gt.csv") == "https://host/gt.csv"
    assert redact("s3://bucket/gt.csv") == "s3://bucket/gt.csv" and redact("/a@b/gt.csv") == "/a@b/gt.csv"


def test_categorical_parquet_columns_are_plain_values(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from raydeval.evaluate import RunSettings, prepare
    ids = pa.array(["a", "b"]).dictionary_encode()
    pq.write_table(pa.table({"id": ids, "label": [1, 0]}), tmp_path / "gt.parquet")
    pq.write_table(pa.table({"id": ids, "score": [0.9, 0.1]}), tmp_path / "pred.parquet")
    *_, table = prepare("openmmsec-audio", str(tmp_path / "gt.parquet"), str(tmp_path / "pred.parquet"), {},
                        RunSettings())
    assert table.column("id").to_pylist() == ["a", "b"]


def test_zipped_submission_cannot_point_outside_its_archive(tmp_path, capsys):
    import zipfile
    from raydeval.demo import write_manifest
    write_manifest(tmp_path / "gt.csv", [{"id": "a", "label": 1, "mask": "m.png"}])
    write_manifest(tmp_path / "pred.csv", [{"id": "a", "label": 1, "mask": "/etc/hostname"}])
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as z:
        z.write(tmp_path / "pred.csv", "pred.csv")
    assert main(["validate", "openmmsec-image", "--gt", str(tmp_path / "gt.csv"),
                 "--pred", f"zip://pred.csv::{tmp_path / 'sub.zip'}"]) == 2
    assert "outside the" in capsys.readouterr().err


def test_deeply_nested_jsonl_is_refused_before_parsing(tmp_path, capsys):
    """pyarrow's JSON reader crashes the process on ~10k nesting levels: refuse them first."""
    (tmp_path / "gt.jsonl").write_text('{"id": "a", "label": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    (tmp_path / "pred.jsonl").write_text('{"id": "a", "label": 1}\n')
    assert main(["validate", "openmmsec-audio", "--gt", str(tmp_path / "gt.jsonl"),
                 "--pred", str(tmp_path / "pred.jsonl")]) == 2
    assert "nested" in capsys.readouterr().err


def test_closed_stdout_pipe_is_not_an_error():
    """`raydeval tasks | head`: the reader goes away early; no traceback, exit status 0."""
    proc = subprocess.Popen([sys.executable, "-m", "raydeval.cli", "tasks"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # like `head` exiting before raydeval writes
    stderr = proc.stderr.read().decode()
    assert proc.wait(60) == 0, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr


@pytest.mark.parametrize("argv", [
    ["--storage-opt", "secret=hunter2"],  # an abbreviation argparse accepts
    ["--storage-option", "account_key=hunter2"],
    ["--storage-option", "connection_string=hunter2"],
])
def test_submit_refuses_credentials_before_reaching_a_head(argv, capsys):
    assert main(["submit", "--address", "http://127.0.0.1:9", "--", "eval", "openmmsec-audio", "--gt",
                 "s3://b/gt.csv", "--pred", "s3://b/pred.csv", *argv]) == 2
    err = capsys.readouterr().err
    assert "credential" in err and "hunter2" not in err and "cannot use the Ray head" not in err


def test_submit_refuses_a_password_in_a_url(capsys):
    assert main(["submit", "--address", "http://127.0.0.1:9", "--", "eval", "openmmsec-audio", "--gt",
                 "https://me:hunter2@host/gt.csv", "--pred", "s3://b/pred.csv"]) == 2
    assert "credential" in capsys.readouterr().err
