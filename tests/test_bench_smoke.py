"""Smoke test of the benchmark harness (bench/) at a tiny scale: every variant runs and the
variants agree on the metrics they share. No timing assertions."""

from __future__ import annotations

import pytest

from bench import endtoend, generate, harness, report

TINY = {"image_pairs": 40, "image_shape": (64, 80), "videos": 1, "video_frames": 8,
        "video_shape": (64, 64), "label_rows": (1000, 3000)}


@pytest.fixture(scope="module")
def results(ray_local, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bench"))
    out = harness.run_all(root, TINY, reps=1, naive_pairs=None, ray_start_reps=0, gen_processes=1,
                          fresh_labels=False, memory=False, log=lambda msg: None)
    return root, out


def test_all_variants_agree(results):
    _, r = results
    for check in r["agreement"]:
        assert check["ok"], check["what"]
    images1, images2 = r["raydeval_images_1"]["metrics"], r["raydeval_images_2"]["metrics"]
    assert images1 == images2
    assert r["naive"]["pairs"] == TINY["image_pairs"]
    assert abs(r["naive"]["pixel_f1_subset"] - images2["pixel_f1"]) <= 1e-12
    # sklearn's macro-F1 is the float mean of two rounded F1s; raydeval rounds the exact value once,
    # so the two may differ in the last bit (they do on this workload)
    assert abs(r["naive"]["macro_f1"] - images2["macro_f1"]) <= 1e-12
    if "pixel_f1" in r["raydata_images"]:
        assert r["raydata_images"]["pixel_f1"] == images2["pixel_f1"]
    assert r["raydeval_videos_1"]["metrics"] == r["raydeval_videos_2"]["metrics"]
    small = r["labels_1000"]["metrics"]
    assert r["naive_labels"]["f1"] == small["f1"]  # one rounding of 2TP / (2TP + FP + FN) in both
    assert abs(r["naive_labels"]["auc"] - small["auc"]) <= 1e-12


def test_every_measurement_ran(results):
    _, r = results
    assert r["floor_images"]["files"] == 2 * TINY["image_pairs"]
    assert r["floor_videos"]["files"] == 2 * TINY["videos"]
    counts = r["raydeval_images_2"]["counts"]
    assert counts["pixel_images"] == TINY["image_pairs"]
    assert counts["samples"] == r["sizes"]["image_rows"]
    assert r["raydeval_videos_2"]["counts"]["mviou_videos"] == TINY["videos"]
    assert r["labels_3000"]["counts"]["samples"] == 3000


def test_memory_run(results):
    root, _ = results
    info = generate.image_workload(root, TINY["image_pairs"], TINY["image_shape"], processes=1)  # reused
    mem = endtoend.memory_run("openmmsec-image", info, 2)
    assert mem["driver_peak_growth_mib"] is not None
    assert mem["worker_processes"] >= 1 and mem["worker_peak_mib"] > 0


def test_report_renders(results):
    root, r = results
    meta = {"date": "today", "command": "python -m bench.harness (smoke)", "data": root, "scale": 0.0,
            "machine": harness.machine_info(), "notes": report.NOTES}
    text = report.render(r, meta)
    assert "## Targets" in text and "DIFFERENT" not in text
    # the fresh-process rows and the start-up split (runs this smoke test leaves out)
    timed = r | {"ray_start": {"seconds": [3.0, 2.0, 4.0], "first_task_seconds": [0.25, 0.5, 0.75],
                               "shutdown_seconds": [1.0]},
                 "fresh_images": {"ray_start": 3.0, "first_shard": 4.25, "wall": 9.0}}
    text = report.render(timed, meta)
    assert "| Start-up (fresh process, images: Ray start to the first shard's state on the driver) | 4.25 s" in text
    assert "Ray's own cost of a first (no-op) task 0.50 s; the rest of the first shard's 4.25 s, 0.75 s" in text
    older = timed | {"ray_start": {"seconds": [3.0], "shutdown_seconds": []}}  # before first tasks were timed
    assert "no-op" not in report.render(older, meta)


def test_one_shot_run(results, capsys):
    """The body of the fresh-process runs (here in this process, on the running Ray)."""
    import json

    root, _ = results
    info = generate.label_workload(root, TINY["label_rows"][0], seed=0)
    endtoend.child_run("openmmsec-audio", info["gt"], info["pred"], 2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    run = json.loads(line)
    assert run["wall"] > 0 and run["driver_growth_mib"] is not None
    assert 0 <= run["first_shard"] <= run["ray_start"] + run["wall"]


def test_workloads_are_reused_and_seeded(tmp_path):
    a = generate.label_workload(str(tmp_path), 50, seed=3)
    again = generate.label_workload(str(tmp_path), 50, seed=3)
    assert a == again
    with pytest.raises(SystemExit):
        generate.refuse_repo_path(generate.__file__)


def test_report_re_rendered_from_json_with_a_gpu_section(results, tmp_path):
    """`--from-json` measures nothing: an earlier run's report, here with a GPU section added."""
    import json

    root, r = results
    meta = {"date": "today", "command": "python -m bench.harness (smoke)", "data": root, "scale": 0.0,
            "machine": harness.machine_info(), "notes": report.NOTES}
    (tmp_path / "run.json").write_text(json.dumps({"meta": meta, "results": r}, default=str))
    (tmp_path / "gpu.md").write_text("Kernel on an H100: 3.1 TB/s\n")
    harness.main(["--from-json", str(tmp_path / "run.json"), "--gpu-section", str(tmp_path / "gpu.md"),
                  "--out", str(tmp_path / "report.md")])
    text = (tmp_path / "report.md").read_text()
    assert "Kernel on an H100: 3.1 TB/s" in text
    assert text == report.render(r, meta | {"gpu_section": "Kernel on an H100: 3.1 TB/s\n"})
    assert "Not measured in this run" in report.render(r, meta)
    with pytest.raises(SystemExit):  # measuring options make no sense without measuring
        harness.main(["--from-json", str(tmp_path / "run.json"), "--reps", "5", "--out", str(tmp_path / "x.md")])
    assert not (tmp_path / "x.md").exists()


def test_image_manifests_at_scale(tmp_path, monkeypatch):
    """(l) at a tiny scale: the streamed and the in-memory join agree, in fresh processes."""
    from bench import manifests

    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", "0")  # the default variant streams even these
    infos = [generate.image_manifest_workload(str(tmp_path), rows) for rows in (300, 600)]
    runs = manifests.images_at_scale(infos, 1, log=lambda msg: None)
    for size in ("300", "600"):
        assert runs[size]["raydeval"]["join"] == "streamed" and runs[size]["in_memory"]["join"] == "in-memory"
        assert runs[size]["raydeval"]["metrics"] == runs[size]["in_memory"]["metrics"]
    figures = manifests.image_figures(runs)
    assert figures["image_sizes"] == ("300", "600") and figures["image_rss_growth_pct_raydeval"] is not None
    assert any("[streamed]" in line for line in manifests.rows_of(runs, "Image rows"))
