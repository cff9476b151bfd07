"""The streamed join (GT and predictions joined out of core by DuckDB into a temporary Parquet
file, validated batch by batch, shards cut from the file) against the in-memory join, for the
image and video tasks and for the audio task where its counted-in-SQL path is not taken.

RAYDEVAL_OUT_OF_CORE_BYTES=0 forces the streamed join, 2**62 forbids it. Each input is run three
times: in memory, streamed, and streamed with batches of 3 rows and id-keyed queries cut into
partitions of 3 rows (so duplicates, missing ids and bad values land in different batches and
partitions). Bad input: the same exit status (2) and byte-identical stderr, no traceback, nothing
written. Good input: the same result but for `run` (whose `join` names the path that ran), the
same per-sample rows, and the same warnings.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import shutil
import tempfile

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from raydeval.cli import main
from tests import gen
from tests.test_bad_input import (AUDIO, BENCHES, FRAMES, IMAGE, MANIFEST_CASES, MEDIA_CASES, TRACEBACK, VIDEO,
                                  Bench, Case, _drop, _duplicate, parquet_bytes, write_rows)
from tests.test_labels_out_of_core import LABEL_CASES

FORCE, NEVER = "0", str(2**62)
RUNS = ("in-memory", "streamed", "streamed, cut in 3s")


# ---------------------------------------------------------------------------------------------
# running one input three ways
# ---------------------------------------------------------------------------------------------
def _run(argv: list[str], capsys, monkeypatch, threshold: str, temp: str | None) -> tuple[int, str, str]:
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", threshold)
    if temp is not None:  # a temporary folder of this run's own, to see what it leaves behind
        shutil.rmtree(temp, ignore_errors=True)
        os.makedirs(temp)
        monkeypatch.setattr(tempfile, "tempdir", temp)
    capsys.readouterr()
    code = main(argv + ["--quiet"])
    out = capsys.readouterr()
    if temp is not None:
        assert os.listdir(temp) == [], f"{threshold}: left in the temporary folder: {os.listdir(temp)}"
    return code, out.out, out.err


def _three(argv: list[str], capsys, monkeypatch, temp: str | None = None, after=None) -> list[tuple]:
    """(code, stdout, stderr, after()) of the in-memory run, the streamed one and the streamed one
    with batches and partitions of 3 rows."""
    runs = []
    for name in RUNS:
        if name == RUNS[2]:
            monkeypatch.setattr("raydeval.engine.streamed.BATCH_ROWS", 3)
            monkeypatch.setattr("raydeval.engine.labels.PARTITION_ROWS", 3)
        code, out, err = _run(argv, capsys, monkeypatch, NEVER if name == RUNS[0] else FORCE, temp)
        runs.append((code, out, err, after() if after else None))
    return runs


def _sans_run(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "run"}


def _check_rejected(runs: list[tuple], out, expect: tuple[str, ...] = ()) -> None:
    (code, _, err, _), *streamed = runs
    assert code == 2, f"in-memory run: exit status {code}; stderr:\n{err}"
    for pattern in expect:  # known wording, checked on the in-memory run (and so on the others)
        assert re.search(pattern, err, re.I), f"in-memory stderr does not match {pattern!r}:\n{err}"
    for name, (other_code, _, other_err, _) in zip(RUNS[1:], streamed):
        assert not TRACEBACK.search(other_err), f"{name}: traceback / internal error:\n{other_err}"
        assert other_code == code, f"{name}: exit status {other_code}; stderr:\n{other_err}"
        assert other_err == err, f"{name}: stderr differs\n--- in-memory:\n{err}--- {name}:\n{other_err}"
    assert not os.path.exists(out), "a result file was written"
    assert not os.path.exists(os.path.dirname(out)) or os.listdir(os.path.dirname(out)) == []


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def _grow(b: Bench, n: int) -> None:
    """n more valid samples without masks (real images / real videos), each with its prediction."""
    for i in range(n):
        if b.task == IMAGE:
            b.gt.append({"id": f"img-1{i:02d}", "label": i % 2, "mask": None, "source": "camera"})
            b.pred.append({"id": f"img-1{i:02d}", "score": round(0.05 + 0.9 * (i % 7) / 7, 2), "mask": None})
        else:
            b.gt.append({"id": f"vid-1{i:02d}", "label": 0, "num_frames": FRAMES, "fake_frames": [], "mask": None,
                         "category": "real"})
            b.pred.append({"id": f"vid-1{i:02d}", "score": 0.1 * (i % 5), "label": i % 2,
                           "fake_frames": [[0, 1]] if i % 2 else [], "mask": None})


def _prefix(b: Bench) -> str:
    return "img" if b.task == IMAGE else "vid"


def _many_duplicates(side: str):
    """25 ids repeated (more than the 20 a message lists), the copies spread over the file."""
    def breaks(b: Bench) -> None:
        _grow(b, 30)
        rows = getattr(b, side)
        copies = [copy.deepcopy(b.row(side, f"{_prefix(b)}-1{i:02d}")) for i in range(25)]
        for k, row in enumerate(copies):
            rows.insert(min(len(rows), 1 + 3 * k), row)
    return breaks


def _many_missing(b: Bench) -> None:
    _grow(b, 30)
    gone = {f"{_prefix(b)}-1{i:02d}" for i in range(30) if i != 4 and i != 17}  # 28 ids, spread
    b.pred = [r for r in b.pred if r["id"] not in gone]


def _extra_bad_predictions(b: Bench) -> None:
    """Predictions of ids not in the GT, one with a bad score (and, for video, a bad label):
    the in-memory path checks every prediction row, so these are reported."""
    _grow(b, 8)
    extra = [{"id": f"{_prefix(b)}-x{i}", "score": 0.3, "mask": None} for i in range(5)]
    extra[2]["score"] = 1.5
    if b.task == VIDEO:
        for r in extra:
            r.update(label=0, fake_frames=[])
        extra[4]["label"] = 2
    for k, r in enumerate(extra):
        b.pred.insert(3 * k + 1, r)
    b.gt = [r for r in b.gt if r["id"] != f"{_prefix(b)}-102"]  # and a prediction whose GT row is gone


def _extra_text_score(b: Bench) -> None:
    """An extra prediction's score is text in the prediction CSV (image)."""
    _grow(b, 6)
    b.pred.insert(4, {"id": "img-extra", "score": "high", "mask": None})


def _gt_null_id(row: int):
    """The GT's id at file row `row` (1-based) is null: "row N" names that row."""
    def breaks(b: Bench) -> None:
        _grow(b, 10)
        b.gt[row - 1]["id"] = None
    return breaks


def _pred_null_id_parquet(b: Bench) -> None:
    _grow(b, 10)
    b.pred_name = "sub/pred.parquet"  # masks stay relative to sub/
    b.pred[7]["id"] = None  # row 8


def _pred_empty_id_csv(b: Bench) -> None:
    _grow(b, 10)
    b.pred[8]["id"] = None  # an empty CSV cell


def _gt_empty_id_csv(b: Bench) -> None:
    _grow(b, 10)
    b.gt_name = "gt.csv"
    b.gt[9]["id"] = None


def _pred_int_ids(b: Bench) -> None:
    b.pred_name = "sub/pred.parquet"
    b.pred_bytes = parquet_bytes(pa.table({"id": pa.array(range(len(b.pred)), pa.int64()),
                                           "score": [r["score"] for r in b.pred]}), b.root / "tmp.parquet")


def _text_labels_csv(b: Bench) -> None:
    """GT labels as text in a CSV, bad ones spread: words, empty, padded, '1.0'."""
    _grow(b, 12)
    b.gt_name = "gt.csv"
    p = _prefix(b)
    b.row("gt", f"{p}-101")["label"] = "yes"
    b.row("gt", f"{p}-104")["label"] = None
    b.row("gt", f"{p}-107")["label"] = " 1"
    b.row("gt", f"{p}-110")["label"] = "1.0"


def _text_scores_csv(b: Bench) -> None:
    _grow(b, 12)
    b.row("pred", "img-102")["score"] = "high"
    b.row("pred", "img-105")["score"] = " 0.5"
    b.row("pred", "img-108")["score"] = None
    b.row("pred", "img-111")["score"] = "-0"


def _everything_at_once(b: Bench) -> None:
    """Duplicates, missing ids, a bad label, a bad score and a null id, each in another batch."""
    _grow(b, 20)
    p = _prefix(b)
    b.pred.insert(14, copy.deepcopy(b.row("pred", f"{p}-103")))
    b.gt.insert(20, copy.deepcopy(b.row("gt", f"{p}-111")))
    b.pred = [r for r in b.pred if r["id"] not in (f"{p}-106", f"{p}-116")]
    b.row("gt", f"{p}-108")["label"] = 2
    b.row("pred", f"{p}-113")["score"] = -0.5
    b.gt[23]["id"] = None


def _gzipped_gt_csv(b: Bench) -> None:
    """A gzipped GT CSV holding a duplicate id."""
    _grow(b, 6)
    b.gt.insert(8, copy.deepcopy(b.row("gt", f"{_prefix(b)}-103")))
    b.gt_name = "gt.csv.gz"
    write_rows(b.root / "gt.csv", b.gt)
    b.gt_bytes = gzip.compress((b.root / "gt.csv").read_bytes())


def _pred_missing_and_text_fake_frames_csv(b: Bench) -> None:
    """Video predictions as CSV (intervals as JSON text), one interval cell not JSON, ids missing."""
    _grow(b, 8)
    b.pred_name = "sub/pred.csv"
    b.row("pred", "vid-105")["fake_frames"] = "[[0, oops"
    b.pred = [r for r in b.pred if r["id"] != "vid-103"]


EXTRA_CASES = [
    Case("many-gt-duplicates-spread", IMAGE, _many_duplicates("gt"), ("img-100", "duplicate")),
    Case("many-pred-duplicates-spread", VIDEO, _many_duplicates("pred"), ("vid-100", "duplicate")),
    Case("pred-duplicate-id", IMAGE, _duplicate("pred", "img-03"), ("img-03", "duplicate")),
    Case("many-missing-image", IMAGE, _many_missing, ("img-100", "missing")),
    Case("many-missing-video", VIDEO, _many_missing, ("vid-100", "missing")),
    Case("missing-ids", VIDEO, _drop("pred", "vid-01", "vid-03"), ("vid-01", "vid-03")),
    Case("extra-predictions-bad-score", IMAGE, _extra_bad_predictions, ("img-x2", "score")),
    Case("extra-predictions-bad-label-score", VIDEO, _extra_bad_predictions, ("vid-x2", "vid-x4")),
    Case("extra-prediction-text-score", IMAGE, _extra_text_score, ("img-extra", "score")),
    Case("gt-null-id-parquet", IMAGE, _gt_null_id(9), (r"gt\.parquet", r"\brow 9\b")),
    Case("gt-null-id-jsonl", VIDEO, _gt_null_id(13), (r"gt\.jsonl", r"\brow 13\b")),
    Case("gt-empty-id-csv", IMAGE, _gt_empty_id_csv, (r"gt\.csv",)),
    Case("pred-null-id-parquet", IMAGE, _pred_null_id_parquet, (r"pred\.parquet", r"\brow 8\b")),
    Case("pred-empty-id-csv", IMAGE, _pred_empty_id_csv, (r"pred\.csv",)),
    Case("pred-int-ids", IMAGE, _pred_int_ids, (r"pred\.parquet", "`id`")),
    Case("text-labels-image", IMAGE, _text_labels_csv, ("img-101", "img-104", "img-107", "img-110")),
    Case("text-labels-video", VIDEO, _text_labels_csv, ("vid-101", "vid-104", "vid-107", "vid-110")),
    Case("text-scores", IMAGE, _text_scores_csv, ("img-102", "img-108")),
    Case("everything-at-once-image", IMAGE, _everything_at_once, ("img-103", "img-111", "img-106", "img-108",
                                                                  "img-113", r"\brow 24\b")),
    Case("everything-at-once-video", VIDEO, _everything_at_once, ("vid-103", "vid-111", "vid-106", "vid-108",
                                                                  "vid-113", r"\brow 24\b")),
    Case("gzipped-gt-duplicate", IMAGE, _gzipped_gt_csv, ("img-103", "duplicate")),
    Case("video-pred-csv-garbage-interval", VIDEO, _pred_missing_and_text_fake_frames_csv, ("vid-105", "vid-103")),
]

BAD = ([c for c in MANIFEST_CASES if c.task in (IMAGE, VIDEO)] + [c for c in MEDIA_CASES if c.task in (IMAGE, VIDEO)]
       + EXTRA_CASES)


def _params(cases: list[Case]) -> list:
    return [pytest.param(c, id=f"{'media-' if c in MEDIA_CASES else ''}{c.name}",
                         marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
            for c in cases]


@pytest.mark.parametrize("case", _params(BAD))
def test_bad_input_gets_the_same_message_either_way(case, tmp_path, capsys, monkeypatch, request):
    if case.name == "num-frames-huge-with-mask-video":  # too many frames for a small job: on Ray
        request.getfixturevalue("ray_local")
    bench = BENCHES[case.task](tmp_path / "bench")
    case.breaks(bench)
    out = tmp_path / "out" / "result.json"
    argv = bench.argv(out) + ["--shard-size", "2"]  # media problems found in several shards
    runs = _three(argv, capsys, monkeypatch, temp=str(tmp_path / "tmp"))
    _check_rejected(runs, out, case.expect if case in EXTRA_CASES else ())
    assert not (bench.root / "UNPICKLED").exists(), "a pickled .npy was loaded"


AUDIO_BAD = [c for c in LABEL_CASES if not c.xfail]


@pytest.mark.parametrize("case", AUDIO_BAD, ids=[c.name for c in AUDIO_BAD])
def test_bad_audio_input_with_a_bootstrap_gets_the_same_message(case, tmp_path, capsys, monkeypatch):
    """A bootstrap keeps the audio task off its counted path: the streamed join checks it."""
    bench = BENCHES[AUDIO](tmp_path / "bench")
    case.breaks(bench)
    out = tmp_path / "out" / "result.json"
    runs = _three(bench.argv(out) + ["--bootstrap", "5"], capsys, monkeypatch, temp=str(tmp_path / "tmp"))
    _check_rejected(runs, out)


# ---------------------------------------------------------------------------------------------
# good input
# ---------------------------------------------------------------------------------------------
def _add_group(path: str) -> None:
    """A `group` metadata column in a JSONL GT manifest (the video generator writes none)."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({**r, "group": "xyz"[i % 3]}) + "\n" for i, r in enumerate(rows))


def _generated(task: str, root: str, seed: int, gt_format: str, pred_format: str, **given) -> tuple[str, str, int]:
    gt, pred, gt_rows, _ = gen.BENCHMARKS[task](root, seed, gt_format=gt_format, pred_format=pred_format, **given)
    if task == VIDEO and gt_format == "jsonl":
        _add_group(gt)
    return gt, pred, len(gt_rows)


def _same_results(runs: list[tuple], shards: int | None = None) -> list[dict]:
    (code, out, err, _), *streamed = runs
    assert code == 0, err
    inline = json.loads(out)
    assert inline["run"]["join"] == "in-memory"
    results = [inline]
    for name, (other_code, other_out, other_err, _) in zip(RUNS[1:], streamed):
        assert other_code == 0, f"{name}:\n{other_err}"
        assert other_err == err, f"{name}: stderr differs\n--- in-memory:\n{err}--- {name}:\n{other_err}"
        result = json.loads(other_out)
        assert result["run"]["join"] == "streamed", name
        mine, theirs = _sans_run(result), _sans_run(inline)
        assert mine.keys() == theirs.keys(), name
        for key in theirs:
            assert mine[key] == theirs[key], f"{name}: `{key}` differs"
        if shards is not None:
            assert result["run"]["shards"] == shards, name
        results.append(result)
    return results


GOOD = [  # (task, seed, GT format, prediction format, generator options)
    (IMAGE, 21, "parquet", "csv", {}),
    (IMAGE, 22, "jsonl", "parquet", {"keep_label": False}),
    (IMAGE, 23, "csv", "jsonl", {"keep_score": False}),
    (VIDEO, 24, "jsonl", "parquet", {}),
    (VIDEO, 25, "csv", "csv", {"keep_label": False}),
]


@pytest.mark.parametrize("shard_size", [1, 5, 0], ids=["shards-of-1", "shards-of-5", "default-shards"])
@pytest.mark.parametrize("task, seed, gt_format, pred_format, given", GOOD,
                         ids=[f"{t.split('-')[1]}-{g}-{p}" for t, _, g, p, _ in GOOD])
def test_good_input_gives_the_same_result(task, seed, gt_format, pred_format, given, shard_size, tmp_path, capsys,
                                          monkeypatch):
    gt, pred, n = _generated(task, str(tmp_path / "b"), seed, gt_format, pred_format, **given)
    argv = ["eval", task, "--gt", gt, "--pred", pred, "--json"] + (["--shard-size", str(shard_size)] if shard_size
                                                                   else [])
    runs = _three(argv, capsys, monkeypatch, temp=str(tmp_path / "tmp"))
    _same_results(runs, shards=-(-n // shard_size) if shard_size else None)


@pytest.mark.parametrize("task", [IMAGE, VIDEO])
def test_hand_built_benches_give_the_same_result(task, tmp_path, capsys, monkeypatch):
    bench = BENCHES[task](tmp_path / "bench")
    gt, pred = bench.write()
    runs = _three(["eval", task, "--gt", gt, "--pred", pred, "--json", "--shard-size", "2",
                   "--group-by", "source" if task == IMAGE else "category"], capsys, monkeypatch,
                  temp=str(tmp_path / "tmp"))
    _same_results(runs, shards=3)


def _warned(b: Bench) -> None:
    """Extra predictions (a warning) and missing ones scored as negatives."""
    _grow(b, 9)
    b.pred += [{**copy.deepcopy(b.pred[-1]), "id": f"{_prefix(b)}-extra{i}"} for i in range(3)]
    b.pred = [r for r in b.pred if r["id"] not in (f"{_prefix(b)}-101", f"{_prefix(b)}-107")]
    b.args += ["--missing", "negative"]


@pytest.mark.parametrize("task", [IMAGE, VIDEO])
def test_warnings_and_missing_negatives_are_the_same(task, tmp_path, capsys, monkeypatch):
    bench = BENCHES[task](tmp_path / "bench")
    _warned(bench)
    out = tmp_path / "r.json"
    runs = _three(bench.argv(out) + ["--json", "--shard-size", "3"], capsys, monkeypatch, temp=str(tmp_path / "tmp"))
    assert "3 prediction id(s) not in the GT manifest" in runs[0][2]
    _same_results(runs, shards=-(-len(bench.gt) // 3))


def _per_sample_rows(folder: str):
    def read() -> pa.Table | None:
        if not os.path.isdir(folder):
            return None
        table = pads.dataset(folder, format="parquet").to_table()
        return table.sort_by("id")
    return read


ANALYSES = {
    "group-by": ["--group-by", "group"],
    "bootstrap": ["--bootstrap", "20", "--seed", "3"],
    "per-sample": [],
    "all": ["--group-by", "group", "--shared-negatives", "--bootstrap", "20", "--seed", "3"],
}


@pytest.mark.parametrize("analysis", list(ANALYSES))
@pytest.mark.parametrize("task", [IMAGE, VIDEO])
def test_breakdowns_intervals_and_per_sample_rows_are_the_same(task, analysis, tmp_path, capsys, monkeypatch):
    gt, pred, n = _generated(task, str(tmp_path / "b"), 31, "parquet" if task == IMAGE else "jsonl", "csv")
    folder = str(tmp_path / "rows")  # one folder for the three runs: each replaces the last one's parts
    argv = ["eval", task, "--gt", gt, "--pred", pred, "--json", "--shard-size", "4", *ANALYSES[analysis]]
    if analysis in ("per-sample", "all"):
        argv += ["--per-sample", folder]
    runs = _three(argv, capsys, monkeypatch, temp=str(tmp_path / "tmp"), after=_per_sample_rows(folder))
    results = _same_results(runs, shards=-(-n // 4))
    if analysis in ("group-by", "all"):
        assert set(results[0]["breakdown"]["group"]) == ({"a", "b"} if task == IMAGE else {"x", "y", "z"})
    if analysis in ("bootstrap", "all"):
        assert results[0]["intervals"]
    rows = [r[3] for r in runs]
    if analysis in ("per-sample", "all"):
        assert rows[0] is not None and rows[0].num_rows == n
        for name, other in zip(RUNS[1:], rows[1:]):
            assert other.schema == rows[0].schema, name
            assert other.to_pylist() == rows[0].to_pylist(), f"{name}: per-sample rows differ"
    else:
        assert rows == [None] * 3


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), task=st.sampled_from([IMAGE, VIDEO]), shard_size=st.integers(1, 9),
       formats=st.sampled_from([("parquet", "csv"), ("csv", "jsonl"), ("jsonl", "parquet"), ("jsonl", "jsonl")]))
def test_any_benchmark_gives_the_same_result(seed, task, shard_size, formats, tmp_path_factory, capsys, monkeypatch):
    root = tmp_path_factory.mktemp("any")
    gt, pred, n = _generated(task, str(root), seed, *formats, n=8)
    argv = ["eval", task, "--gt", gt, "--pred", pred, "--json", "--shard-size", str(shard_size)]
    with monkeypatch.context() as patched:
        _same_results(_three(argv, capsys, patched), shards=-(-n // shard_size))


# ---------------------------------------------------------------------------------------------
# resume, Ray, audio
# ---------------------------------------------------------------------------------------------
def test_a_streamed_run_resumes_from_its_states(tmp_path, capsys, monkeypatch):
    gt, pred, n = _generated(IMAGE, str(tmp_path / "b"), 41, "parquet", "csv", n=12)
    out = tmp_path / "r.json"
    base = ["eval", IMAGE, "--gt", gt, "--pred", pred, "--out", str(out), "--shard-size", "5"]
    code, _, err = _run(base + ["--keep-state"], capsys, monkeypatch, FORCE, None)
    assert code == 0, err
    first = json.loads(out.read_text())
    assert os.path.isdir(f"{out}.state")
    code, _, err = _run(base + ["--resume"], capsys, monkeypatch, FORCE, None)
    assert code == 0, err
    resumed = json.loads(out.read_text())
    assert first["run"]["join"] == resumed["run"]["join"] == "streamed"
    assert resumed["run"]["shards"] == first["run"]["shards"] == 3
    assert resumed["run"]["shards_reused"] == resumed["run"]["shards"]
    assert _sans_run(resumed) == _sans_run(first)
    assert not os.path.exists(f"{out}.state")  # removed after the successful resume
    code, stdout, err = _run(["eval", IMAGE, "--gt", gt, "--pred", pred, "--json"], capsys, monkeypatch, NEVER, None)
    assert code == 0, err
    assert json.loads(stdout)["metrics"] == resumed["metrics"]
    assert json.loads(stdout)["counts"] == resumed["counts"]


def test_a_streamed_run_resumes_after_losing_states(tmp_path, capsys, monkeypatch):
    gt, pred, n = _generated(VIDEO, str(tmp_path / "b"), 42, "jsonl", "parquet", n=10)
    out = tmp_path / "r.json"
    base = ["eval", VIDEO, "--gt", gt, "--pred", pred, "--out", str(out), "--shard-size", "3", "--keep-state"]
    assert _run(base, capsys, monkeypatch, FORCE, None)[0] == 0
    first = json.loads(out.read_text())
    folder = f"{out}.state/shards"
    names = sorted(os.listdir(folder))
    assert len(names) == first["run"]["shards"] == 4
    for name in names[1::2]:
        os.remove(os.path.join(folder, name))
    monkeypatch.setattr("raydeval.engine.streamed.BATCH_ROWS", 3)
    monkeypatch.setattr("raydeval.engine.labels.PARTITION_ROWS", 3)  # joined by partition: the same GT order
    assert _run(base + ["--resume"], capsys, monkeypatch, FORCE, None)[0] == 0
    resumed = json.loads(out.read_text())
    assert resumed["run"]["shards_reused"] == 2 and resumed["run"]["join"] == "streamed"
    assert _sans_run(resumed) == _sans_run(first)


@pytest.mark.slow
def test_streamed_shards_on_ray_give_the_same_result(ray_local, tmp_path, capsys, monkeypatch):
    gt, pred, n = _generated(IMAGE, str(tmp_path / "b"), 51, "parquet", "csv", n=12)
    argv = ["eval", IMAGE, "--gt", gt, "--pred", pred, "--json", "--group-by", "group"]
    code, out, err = _run(argv, capsys, monkeypatch, NEVER, None)
    assert code == 0, err
    inline = json.loads(out)
    monkeypatch.setattr("raydeval.engine.streamed.BATCH_ROWS", 3)
    code, out, err = _run(argv + ["--address", "local", "--workers", "2", "--shard-size", "3"], capsys, monkeypatch,
                          FORCE, None)
    assert code == 0, err
    on_ray = json.loads(out)
    assert on_ray["run"]["ray"] == "local" and on_ray["run"]["join"] == "streamed"
    assert on_ray["run"]["shards"] == 4
    assert inline["run"]["ray"] == "in-process"
    assert _sans_run(on_ray) == _sans_run(inline)


def _audio_with_groups(tmp_path) -> Bench:
    bench = BENCHES[AUDIO](tmp_path / "bench")
    for i in range(12):
        bench.gt.append({"id": f"aud-1{i:02d}", "label": i % 2, "audio": "wav/aud-00.wav"})
        bench.pred.append({"id": f"aud-1{i:02d}", "score": round((i * 7 % 10) / 10, 1)})
    for i, row in enumerate(bench.gt):
        row["speaker"] = "pqr"[i % 3]
    return bench


@pytest.mark.parametrize("analysis", [["--group-by", "speaker"], ["--bootstrap", "20", "--seed", "3"],
                                      ["--group-by", "speaker", "--shared-negatives", "--bootstrap", "20"]],
                         ids=["group-by", "bootstrap", "both"])
def test_audio_with_an_analysis_takes_the_streamed_join(analysis, tmp_path, capsys, monkeypatch):
    bench = _audio_with_groups(tmp_path)
    gt, pred = bench.write()
    argv = ["eval", AUDIO, "--gt", gt, "--pred", pred, "--json", *analysis]
    results = _same_results(_three(argv, capsys, monkeypatch, temp=str(tmp_path / "tmp")))
    if "--group-by" in analysis:
        assert set(results[0]["breakdown"]["speaker"]) == {"p", "q", "r"}


def test_audio_per_sample_rows_are_the_same(tmp_path, capsys, monkeypatch):
    bench = _audio_with_groups(tmp_path)
    gt, pred = bench.write()
    folder = str(tmp_path / "rows")
    argv = ["eval", AUDIO, "--gt", gt, "--pred", pred, "--json", "--per-sample", folder, "--shard-size", "4"]
    runs = _three(argv, capsys, monkeypatch, after=_per_sample_rows(folder))
    _same_results(runs, shards=5)
    rows = [r[3] for r in runs]
    assert rows[0].num_rows == 17
    assert rows[1].to_pylist() == rows[0].to_pylist() and rows[2].to_pylist() == rows[0].to_pylist()


def test_audio_without_an_analysis_is_still_counted(tmp_path, capsys, monkeypatch):
    bench = _audio_with_groups(tmp_path)
    gt, pred = bench.write()
    argv = ["eval", AUDIO, "--gt", gt, "--pred", pred, "--json"]
    inline = json.loads(_run(argv, capsys, monkeypatch, NEVER, None)[1])
    counted = json.loads(_run(argv, capsys, monkeypatch, FORCE, None)[1])
    assert (inline["run"]["join"], counted["run"]["join"]) == ("in-memory", "counted")
    assert _sans_run(counted) == _sans_run(inline)


def test_forbidding_keeps_the_in_memory_join(tmp_path, capsys, monkeypatch):
    """The threshold decides: at the manifests' size the streamed join, one byte above it not."""
    gt, pred, _ = _generated(IMAGE, str(tmp_path / "b"), 61, "parquet", "csv", n=6)
    size = os.path.getsize(gt) + os.path.getsize(pred)
    argv = ["eval", IMAGE, "--gt", gt, "--pred", pred, "--json"]
    at = json.loads(_run(argv, capsys, monkeypatch, str(size), None)[1])
    above = json.loads(_run(argv, capsys, monkeypatch, str(size + 1), None)[1])
    assert (at["run"]["join"], above["run"]["join"]) == ("streamed", "in-memory")
    assert _sans_run(at) == _sans_run(above)


# ---------------------------------------------------------------------------------------------
# where DuckDB would read a manifest otherwise than pyarrow, messages' order, out of memory
def _image_files(root, gt_rows: list[dict], pred_rows: list[dict], fmt: str = "parquet") -> list[str]:
    paths = [str(root / f"{side}.{fmt}") for side in ("gt", "pred")]
    for path, rows in zip(paths, (gt_rows, pred_rows)):
        if fmt == "parquet":
            import pyarrow.parquet as pq
            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    return ["eval", IMAGE, "--gt", paths[0], "--pred", paths[1], "--json"]


def _both(argv, capsys, monkeypatch):
    return _run(argv, capsys, monkeypatch, NEVER, None), _run(argv, capsys, monkeypatch, FORCE, None)


def _rows(n: int, key=lambda i: f"img-{i:03d}") -> tuple[list[dict], list[dict]]:
    gt = [{"id": key(i), "label": i % 2, "mask": None} for i in range(n)]
    return gt, [{"id": key(i), "score": round((i % 10) / 10, 1)} for i in range(n)]


@pytest.mark.parametrize("shape", ["uuid-ids", "dates-grouped", "ids-in-two-cases", "names-in-two-cases-jsonl"])
def test_columns_duckdb_reads_otherwise_take_the_in_memory_way(shape, tmp_path, capsys, monkeypatch):
    """UUIDs, dates and names repeated in another case: DuckDB reads them otherwise than pyarrow
    (typed values, renamed columns), so such manifests are joined in memory, with the same result."""
    import uuid

    gt, pred = _rows(12, key=(lambda i: str(uuid.UUID(int=i + 1))) if shape == "uuid-ids" else (lambda i: f"img-{i:03d}"))
    extra = []
    if shape == "dates-grouped":
        gt = [{**r, "day": f"2024-01-0{1 + i % 3}"} for i, r in enumerate(gt)]
        extra = ["--group-by", "day"]
    if shape.endswith("two-cases") or shape.endswith("jsonl"):
        gt = [{"ID": f"x{i}", **r, "Source": "a", "source": "bc"[i % 2]} for i, r in enumerate(gt)]
        extra = ["--group-by", "source"]
    fmt = "jsonl" if shape != "ids-in-two-cases" else "parquet"
    (code, out, err), (forced_code, forced_out, forced_err) = _both(_image_files(tmp_path, gt, pred, fmt) + extra,
                                                                    capsys, monkeypatch)
    assert code == forced_code == 0 and forced_err == err, forced_err
    assert _sans_run(json.loads(forced_out)) == _sans_run(json.loads(out))
    assert json.loads(forced_out)["run"]["join"] == "in-memory"


def test_more_than_20_empty_ids_list_the_same_rows(tmp_path, capsys, monkeypatch):
    gt, pred = _rows(40)
    for i in range(1, 40, 3):  # 13 empty GT ids and 13 empty prediction ids, listed as text ("row 10" < "row 2")
        gt[i]["id"] = None
        pred[i + 1 if i + 1 < 40 else 0]["id"] = None
    gt += [{"id": None, "label": 1, "mask": None} for _ in range(12)]
    (code, _, err), (forced_code, _, forced_err) = _both(_image_files(tmp_path, gt, pred), capsys, monkeypatch)
    assert code == forced_code == 2 and "(and 5 more)" in err and forced_err == err


@pytest.mark.parametrize("broken", [True, False], ids=["bad-labels", "extra-predictions"])
def test_manifest_problems_come_before_a_wrong_group_by(broken, tmp_path, capsys, monkeypatch):
    gt, pred = _rows(10)
    if broken:
        gt[3]["label"] = 7
    else:
        pred += [{"id": f"extra-{i}", "score": 0.5} for i in range(4)]
    argv = _image_files(tmp_path, gt, pred) + ["--group-by", "nope"]
    (code, _, err), (forced_code, _, forced_err) = _both(argv, capsys, monkeypatch)
    assert code == forced_code == 2 and forced_err == err
    assert ("label" in err) == broken and ("nope" in err) != broken and ("ignored" in err) != broken


def test_a_join_out_of_memory_is_retried_with_smaller_partitions(tmp_path, capsys, monkeypatch):
    """DuckDB out of memory (wide rows, many threads): the join starts again, cut into smaller hash
    partitions, and gives the same result."""
    import duckdb

    from raydeval.engine import streamed

    write, calls = streamed._write, []

    def out_of_memory_once(con, checks, folder):
        calls.append(checks.partitions)
        if len(calls) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: injected")
        return write(con, checks, folder)

    monkeypatch.setattr(streamed, "_write", out_of_memory_once)
    monkeypatch.setattr("raydeval.engine.labels.PARTITION_ROWS", 16)
    gt, pred = _rows(40)
    (code, out, err), (forced_code, forced_out, forced_err) = _both(_image_files(tmp_path, gt, pred) + ["--per-sample",
                                                                    str(tmp_path / "rows")], capsys, monkeypatch)
    assert code == forced_code == 0 and forced_err == err
    assert calls == [3, 20]  # 40 rows in partitions of at most 16 rows, then of 2
    assert _sans_run(json.loads(forced_out))["metrics"] == _sans_run(json.loads(out))["metrics"]
    assert json.loads(forced_out)["run"]["join"] == "streamed"
