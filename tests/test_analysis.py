"""Breakdowns, shared negatives, bootstrap intervals and per-sample rows (SPEC §2.6, §3.1),
checked against evaluating hand-built subsets, replicates built as manifests, and the oracle."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from raydeval.analysis import Analysis
from raydeval.analysis import bootstrap
from raydeval.cli import main
from raydeval.demo import write_manifest
from raydeval.evaluate import RunSettings, evaluate
from tests import gen, oracle

QUIET = RunSettings(progress=False)


def _rows(path: str) -> list[dict]:
    if path.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in open(path, encoding="utf-8")]
    import pyarrow.csv as pacsv
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)).to_pylist()


def _subset(tmp_path, name: str, gt: str, pred: str, keep) -> tuple[str, str]:
    """GT and prediction manifests of the GT rows `keep(row)` accepts, beside the originals (media
    paths stay valid); CSV list cells stay JSON text."""
    gt_rows = [r for r in _rows(gt) if keep(r)]
    ids = {r["id"] for r in gt_rows}
    pred_rows = [r for r in _rows(pred) if r["id"] in ids]
    gt_out = os.path.join(os.path.dirname(gt), f"{name}-gt{os.path.splitext(gt)[1]}")
    pred_out = os.path.join(os.path.dirname(pred), f"{name}-pred{os.path.splitext(pred)[1]}")
    write_manifest(gt_out, gt_rows)
    write_manifest(pred_out, pred_rows)
    return gt_out, pred_out


def _with_group(path: str, values) -> None:
    """Add a `group` metadata column to a GT manifest."""
    rows = _rows(path)
    for i, row in enumerate(rows):
        row["group"] = values[i % len(values)]
    write_manifest(path, rows)


@pytest.fixture(scope="module")
def benches(tmp_path_factory):
    out = {}
    for task in gen.BENCHMARKS:
        root = tmp_path_factory.mktemp(task)
        gt, pred, gt_rows, pred_rows = gen.BENCHMARKS[task](str(root), 501, n=30)
        if task != "openmmsec-image":  # the image benchmark has one already
            _with_group(gt, ["x", "y", "z"])
        out[task] = (gt, pred, gt_rows, pred_rows)
    return out


@pytest.mark.parametrize("task", list(gen.BENCHMARKS))
def test_each_group_equals_evaluating_its_subset_alone(benches, task):
    gt, pred, *_ = benches[task]
    result = evaluate(task, gt, pred, {}, QUIET, analysis=Analysis(group_by=("group",)))
    cells = result["breakdown"]["group"]
    assert sum(cell["n"] for cell in cells.values()) == result["counts"]["samples"] and len(cells) >= 2
    for value, cell in cells.items():
        sub_gt, sub_pred = _subset(os.path.dirname(gt), f"only-{value}", gt, pred, lambda r: r["group"] == value)
        alone = evaluate(task, sub_gt, sub_pred, {}, QUIET)
        assert cell["metrics"] == alone["metrics"], value
        assert cell["n"] == alone["counts"]["samples"] and cell["notes"] == alone["notes"]


@pytest.mark.parametrize("task", ["openmmsec-image", "openmmsec-audio"])
def test_shared_negatives_equal_each_fake_group_with_every_real_sample(benches, task):
    gt, pred, *_ = benches[task]
    result = evaluate(task, gt, pred, {}, QUIET, analysis=Analysis(group_by=("group",), shared_negatives=True))
    cells = result["breakdown"]["group"]
    fake_groups = {r["group"] for r in _rows(gt) if int(r["label"]) == 1}
    assert set(cells) == fake_groups
    for value, cell in cells.items():
        sub_gt, sub_pred = _subset(os.path.dirname(gt), f"shared-{value}", gt, pred,
                                   lambda r: int(r["label"]) == 0 or r["group"] == value)
        assert cell["metrics"] == evaluate(task, sub_gt, sub_pred, {}, QUIET)["metrics"], value
    assert result["conventions"]["shared_negatives"] is True


def test_groups_by_numbers_and_nulls_are_one_cell_each(tmp_path):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 502, n=12)
    _with_group(gt, [1, 2, None])
    rows = _rows(gt)
    write_manifest(gt.replace(".csv", ".parquet"), rows)  # typed: ints with nulls
    result = evaluate("openmmsec-audio", gt.replace(".csv", ".parquet"), pred, {},
                      RunSettings(shard_size=1, progress=False), analysis=Analysis(group_by=("group",)))
    assert {k: v["n"] for k, v in result["breakdown"]["group"].items()} == {"1": 4, "2": 4, "(missing)": 4}


def test_unknown_group_column_names_the_available_ones(benches, capsys):
    gt, pred, *_ = benches["openmmsec-video"]
    assert main(["eval", "openmmsec-video", "--gt", gt, "--pred", pred, "--group-by", "categry"]) == 2
    err = capsys.readouterr().err
    assert "categry" in err and "available: group" in err and "Traceback" not in err
    assert main(["eval", "openmmsec-video", "--gt", gt, "--pred", pred, "--shared-negatives"]) == 2
    assert "--shared-negatives needs --group-by" in capsys.readouterr().err


def _bootstrap_json(result: dict) -> str:
    return json.dumps([result["intervals"], result["breakdown"], result["metrics"], result["counts"]])


@pytest.mark.slow
@pytest.mark.parametrize("task", list(gen.BENCHMARKS))
def test_bootstrap_is_identical_for_any_sharding_and_workers(ray_local, benches, task):
    gt, pred, *_ = benches[task]
    analysis = Analysis(group_by=("group",), bootstrap=50, seed=7)
    seen = set()
    for address, workers, shard_size in ((None, 0, 1), (None, 0, 5), (None, 0, 0), ("local", 1, 5),
                                         ("local", 2, 1)):
        settings = RunSettings(address=address, workers=workers, shard_size=shard_size, progress=False)
        seen.add(_bootstrap_json(evaluate(task, gt, pred, {}, settings, analysis=analysis)))
    assert len(seen) == 1
    other = evaluate(task, gt, pred, {}, QUIET, analysis=Analysis(group_by=("group",), bootstrap=50, seed=8))
    assert _bootstrap_json(other) != seen.pop()


def test_a_replicate_equals_evaluating_its_draws_as_a_manifest(benches):
    """Replicate r weights sample i by w_ri: the same as a manifest holding w_ri copies of it."""
    from raydeval.state import State
    from raydeval.tasks import get_task

    gt, pred, *_ = benches["openmmsec-image"]
    gt_rows, pred_rows = _rows(gt), {r["id"]: r for r in _rows(pred)}
    draws = bootstrap.weights(bootstrap.sample_keys([r["id"] for r in gt_rows], 11), 0, 3)
    replicates = _replicates(gt, pred, Analysis(bootstrap=3, seed=11))
    task = get_task("openmmsec-image")
    folder = os.path.dirname(gt)
    for r in range(3):
        copies = [(f"{row['id']}#{k}", row) for row, w in zip(gt_rows, draws[r].tolist()) for k in range(w)]
        write_manifest(f"{folder}/draw{r}-gt.parquet", [{**row, "id": i} for i, row in copies])
        write_manifest(f"{folder}/sub/draw{r}-pred.csv", [{**pred_rows[row["id"]], "id": i} for i, row in copies])
        drawn = evaluate("openmmsec-image", f"{folder}/draw{r}-gt.parquet", f"{folder}/sub/draw{r}-pred.csv", {}, QUIET)
        state = State({k: int(v[r]) for k, v in replicates.counts.items()},
                      {k: v[r] for k, v in replicates.sums.items()})
        values, _ = task.finalize(state, task.options())
        for name in ("macro_f1", "pixel_f1", "score", "pixel_f1_pooled"):
            assert values[name] == drawn["metrics"][name], (r, name)


def _replicates(gt, pred, analysis):
    """The replicates of one evaluation in one shard, as the driver finalizes them."""
    from raydeval.analysis import prepare as prepare_analysis
    from raydeval.analysis.shard import analysed_state
    from raydeval.engine.shards import to_columns
    from raydeval.evaluate import prepare
    from raydeval.tasks.base import Context

    task, options, g, p, table = prepare("openmmsec-image", gt, pred, {}, QUIET)
    table, analysis = prepare_analysis(task, g, table, analysis)
    shard = {**to_columns(table), "_rows": (0, table.num_rows)}
    return analysed_state(task, shard, Context(options, g.uri, p.uri, analysis=analysis))[0].replicates


def test_intervals_contain_the_point_estimate_on_a_well_behaved_case(tmp_path):
    rng = np.random.default_rng(5)
    gt_rows = [{"id": f"c{i:04d}", "label": int(i % 2)} for i in range(400)]
    pred_rows = [{"id": r["id"], "score": float(np.clip(0.3 + 0.4 * r["label"] + rng.normal(0, 0.2), 0, 1).round(2))}
                 for r in gt_rows]
    write_manifest(tmp_path / "gt.parquet", gt_rows)
    write_manifest(tmp_path / "pred.parquet", pred_rows)
    result = evaluate("openmmsec-audio", str(tmp_path / "gt.parquet"), str(tmp_path / "pred.parquet"), {}, QUIET,
                      analysis=Analysis(bootstrap=200, seed=1))
    for name, interval in result["intervals"].items():
        assert interval["lo"] <= result["metrics"][name] <= interval["hi"], name
        assert 0 < interval["se"] < 0.1 and interval["replicates"] == 200
    assert set(result["intervals"]) == {"f1", "precision", "recall", "auc", "ap", "eer"}


def test_rank_metrics_are_not_bootstrapped_over_many_distinct_scores(tmp_path):
    gt_rows = [{"id": f"s{i:04d}", "label": int(i % 2)} for i in range(300)]
    pred_rows = [{"id": r["id"], "score": (i + 0.5) / 300} for i, r in enumerate(gt_rows)]
    write_manifest(tmp_path / "gt.parquet", gt_rows)
    write_manifest(tmp_path / "pred.parquet", pred_rows)
    result = evaluate("openmmsec-audio", str(tmp_path / "gt.parquet"), str(tmp_path / "pred.parquet"), {}, QUIET,
                      analysis=Analysis(bootstrap=20))
    assert set(result["intervals"]) == {"f1", "precision", "recall"}


@pytest.mark.parametrize("task", ["openmmsec-image", "openmmsec-video"])
def test_per_sample_rows_equal_the_oracle_and_their_means_the_metrics(benches, tmp_path, task):
    import duckdb
    gt, pred, gt_rows, pred_rows = benches[task]
    folder = tmp_path / "rows"
    result = evaluate(task, gt, pred, {}, RunSettings(shard_size=4, progress=False),
                      analysis=Analysis(per_sample=str(folder)))
    expected = {}
    {"openmmsec-image": oracle.oracle_image, "openmmsec-video": oracle.oracle_video}[task](
        gt_rows, pred_rows, per_sample=expected)
    table = pads.dataset(str(folder), format="parquet").to_table()
    assert table.num_rows == len(gt_rows) == result["per_sample"]["rows"]
    assert sorted(os.listdir(folder)) == sorted(n for n in os.listdir(folder) if n.endswith(".parquet"))
    rows = {r["id"]: r for r in table.to_pylist()}
    metric_of = {"pixel_f1": "pixel_f1", "tiou": "mtiou", "viou": "mviou"}
    for column, by_id in expected.items():
        assert {i: r[column] for i, r in rows.items() if r[column] is not None} == by_id
        mean = duckdb.sql(f"SELECT sum({column}::DECIMAL(38, 30)) / count({column}) FROM "
                          f"read_parquet('{folder}/*.parquet')").fetchall()[0][0]
        assert abs(float(mean) - result["metrics"][metric_of[column]]) < 1e-15
    pred_by_id = {r["id"]: r for r in pred_rows}
    for sample_id, row in rows.items():
        assert row["score"] == pred_by_id[sample_id]["score"] or "score" not in pred_by_id[sample_id]
        assert row["tp"] + row["fp"] + row["fn"] + row["tn"] == 1
    counted = duckdb.sql(f"SELECT sum(tp), sum(fp), sum(fn), sum(tn) FROM read_parquet('{folder}/*.parquet')").fetchall()[0]
    assert list(counted) == [result["counts"][k] for k in ("tp", "fp", "fn", "tn")]


def test_per_sample_rows_carry_the_gt_metadata_with_its_types(tmp_path):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 503, n=9)
    rows = _rows(gt)
    for i, row in enumerate(rows):
        row.update(speaker=i % 3 if i != 4 else None, dataset="d1")
    write_manifest(tmp_path / "gt.parquet", rows)
    evaluate("openmmsec-audio", str(tmp_path / "gt.parquet"), pred, {}, RunSettings(shard_size=2, progress=False),
             analysis=Analysis(per_sample=str(tmp_path / "rows")))
    table = pads.dataset(str(tmp_path / "rows"), format="parquet").to_table().sort_by("id")
    assert table.schema.field("speaker").type == pa.int64() and table.column("speaker").null_count == 1
    assert table.column("dataset").to_pylist() == ["d1"] * 9


def test_resume_gives_the_same_intervals_breakdown_and_rows(benches, tmp_path):
    gt, pred, *_ = benches["openmmsec-image"]
    out, folder = tmp_path / "r.json", tmp_path / "rows"
    analysis = Analysis(group_by=("group",), bootstrap=30, seed=2, per_sample=str(folder))
    settings = RunSettings(shard_size=3, keep_state=True, progress=False)
    first = evaluate("openmmsec-image", gt, pred, {}, settings, out=str(out), analysis=analysis)
    rows_first = pads.dataset(str(folder)).to_table().sort_by("id")
    states = sorted(os.listdir(f"{out}.state/shards"))
    for name in states[::2]:
        os.remove(f"{out}.state/shards/{name}")
    os.remove(folder / sorted(os.listdir(folder))[0])  # a part lost with its state
    settings.resume = True
    again = evaluate("openmmsec-image", gt, pred, {}, settings, out=str(out), analysis=analysis)
    assert _bootstrap_json(again) == _bootstrap_json(first)
    assert again["run"]["shards_reused"] == len(states) - len(states[::2])
    assert pads.dataset(str(folder)).to_table().sort_by("id").equals(rows_first)
    other = Analysis(group_by=("group",), bootstrap=30, seed=3, per_sample=str(folder))
    from raydeval.errors import InputError
    with pytest.raises(InputError, match="analysis option bootstrap"):
        evaluate("openmmsec-image", gt, pred, {}, settings, out=str(out), analysis=other)


def test_per_sample_folder_with_other_files_is_refused_and_bad_input_leaves_no_rows(benches, tmp_path, capsys):
    gt, pred, gt_rows, _ = benches["openmmsec-image"]
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    args = ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--per-sample", str(folder), "--quiet"]
    assert main(args) == 2 and "holds other files" in capsys.readouterr().err
    os.remove(folder / "notes.txt")
    broken = tmp_path / "broken"
    broken.mkdir()
    rows = _rows(gt)
    masked = next(r for r in rows if r.get("mask"))
    bad_mask = broken / "bad.png"
    bad_mask.write_bytes(b"not a png")
    masked["mask"] = str(bad_mask)
    write_manifest(broken / "gt.parquet", rows)
    assert main(["eval", "openmmsec-image", "--gt", str(broken / "gt.parquet"), "--pred", pred,
                 "--per-sample", str(folder), "--shard-size", "2", "--quiet"]) == 2
    assert not folder.exists() or os.listdir(folder) == []


def test_score_summary_is_bounded_and_exact_at_its_points(tmp_path):
    from sklearn.metrics import roc_curve
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 2, 3000)
    scores = np.round(rng.random(3000), 6)
    write_manifest(tmp_path / "gt.parquet", [{"id": f"q{i}", "label": int(v)} for i, v in enumerate(labels)])
    write_manifest(tmp_path / "pred.parquet", [{"id": f"q{i}", "score": float(s)} for i, s in enumerate(scores)])
    result = evaluate("openmmsec-audio", str(tmp_path / "gt.parquet"), str(tmp_path / "pred.parquet"), {}, QUIET)
    summary = result["scores"]
    assert summary["binned"] and len(summary["score"]) <= 1024
    assert sum(summary["pos"]) == labels.sum() and sum(summary["neg"]) == (1 - labels).sum()
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    at = dict(zip(thresholds.tolist(), zip(fpr.tolist(), tpr.tolist())))
    pos = np.cumsum(summary["pos"][::-1])[::-1] / labels.sum()  # share of fakes scored >= each point
    neg = np.cumsum(summary["neg"][::-1])[::-1] / (1 - labels).sum()
    for s, tp_rate, fp_rate in zip(summary["score"], pos, neg):
        assert at[s] == pytest.approx((fp_rate, tp_rate), abs=1e-12)


def test_a_killed_part_write_does_not_block_the_next_run(benches, tmp_path):
    gt, pred, *_ = benches["openmmsec-audio"]
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / ".raydeval-0123abcd.tmp").write_bytes(b"half a part")
    evaluate("openmmsec-audio", gt, pred, {}, QUIET, analysis=Analysis(per_sample=str(folder)))
    assert all(n.startswith("part-") for n in os.listdir(folder))
