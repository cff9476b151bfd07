"""`raydeval sweep` and `raydeval history`: sweep files, skips, regressions, the history dataset."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from raydeval.cli import main
from raydeval.demo import BENCHMARKS as DEMO, write_manifest
from raydeval.errors import InputError
from raydeval.evaluate import RunSettings, evaluate
from raydeval.io.hashing import sha256_of
from raydeval.io.manifest import read_manifest
from raydeval.sweep.compare import Change, compare, exit_status, should_skip
from raydeval.sweep.config import load_sweep, merged, storage_options
from raydeval.sweep.store import History
from tests import gen

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# sweep files ---------------------------------------------------------------------------------

def toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def sweep_file(path, jobs: list[dict], top: str = "", **defaults) -> str:
    lines = [top, "[defaults]", *(f"{k} = {toml(v)}" for k, v in defaults.items())]
    for job in jobs:
        lines += ["", "[[job]]", *(f"{json.dumps(k)} = {toml(v)}" for k, v in job.items())]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


def benchmark(root, seed: int) -> list[dict]:
    """Image, video and audio jobs on generated data, paths relative to `root`/jobs."""
    jobs = []
    for task, make, n in (("openmmsec-image", gen.image_benchmark, 8), ("openmmsec-video", gen.video_benchmark, 5),
                          ("openmmsec-audio", gen.audio_benchmark, 30)):
        kind = task.split("-")[1]
        gt, pred, *_ = make(f"{root}/data/{kind}", seed, n=n)
        jobs.append({"name": f"{kind}/team-a", "task": task, "gt": os.path.relpath(gt, f"{root}/jobs"),
                     "pred": os.path.relpath(pred, f"{root}/jobs")})
    return jobs


def sweep(*argv) -> tuple[int, str, str]:
    """`raydeval ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def rows_of(history: str, run: dict | None = None, **options) -> list[dict]:
    rows = History(history, options).read().to_pylist()
    return [r for r in rows if run is None or r["sweep_run"] == run["sweep_run"]]


# a nightly sequence: first run, unchanged, one submission worse, --force ----------------------

@pytest.fixture(scope="module")
def nightly(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    jobs = benchmark(root, 7)
    jobs[1]["tolerance"] = {"mviou": 0.01}
    path = sweep_file(f"{root}/jobs/nightly.toml", jobs, history="../history", tolerance=0.0)
    runs = []

    def run(*extra):
        status, out, err = sweep("sweep", path, "--quiet", "--summary", f"{root}/summary.json", *extra)
        with open(f"{root}/summary.json") as f:
            runs.append({"status": status, "out": out, "err": err, **json.load(f)})

    run()
    plain = {}  # what a plain evaluate() of the same inputs gives, before any input changes
    for job in jobs:
        gt, pred = (os.path.normpath(os.path.join(root, "jobs", job[k])) for k in ("gt", "pred"))
        plain[job["name"]] = (gt, evaluate(job["task"], gt, pred, {}, RunSettings(workers=2, progress=False)))
    run()
    audio_pred = f"{root}/data/audio/sub/pred.jsonl"
    ids = [json.loads(line)["id"] for line in open(audio_pred)]
    write_manifest(audio_pred, [{"id": i, "label": 0, "score": 0.0} for i in ids])  # predicts all real
    run()
    run("--force")
    return {"path": path, "history": f"{root}/history", "runs": runs, "plain": plain}


def test_first_run_stores_what_evaluate_returns(nightly):
    first = nightly["runs"][0]
    assert first["status"] == 0 and first["exit_status"] == 0, first["err"]
    rows = {r["job"]: r for r in rows_of(nightly["history"], first)}
    assert [r["status"] for r in rows.values()] == ["ok"] * 3
    for name, (gt, result) in nightly["plain"].items():
        row = rows[name]
        assert json.loads(row["metrics_json"]) == result["metrics"]
        assert dict(row["metrics"]) == result["metrics"]
        assert json.loads(row["counts"]) == result["counts"]
        assert json.loads(row["conventions"]) == result["conventions"]
        assert (row["gt_sha256"], row["pred_sha256"]) == (result["inputs"]["gt"]["sha256"],
                                                          result["inputs"]["pred"]["sha256"])
        assert row["gt_uri"] == gt and row["error"] is None and row["time"].tzinfo is not None


def test_unchanged_rerun_skips_every_job_and_records_it(nightly):
    first, second = nightly["runs"][:2]
    assert second["status"] == 0, second["err"]
    rows = rows_of(nightly["history"], second)
    assert sorted(r["status"] for r in rows) == ["skipped"] * 3
    before = {r["job"]: r for r in rows_of(nightly["history"], first)}
    for row in rows:  # a skipped row repeats the result it stands for
        assert row["metrics_json"] == before[row["job"]]["metrics_json"]
    assert ": 3 skipped; exit status 0 (all ok)" in second["out"]


def test_worse_submission_is_a_regression_and_the_others_skip(nightly):
    third = nightly["runs"][2]
    assert third["status"] == 3 and third["exit_status"] == 3
    statuses = {j["job"]: j["status"] for j in third["jobs"]}
    assert statuses == {"image/team-a": "skipped", "video/team-a": "skipped", "audio/team-a": "regression"}
    audio = next(j for j in third["jobs"] if j["job"] == "audio/team-a")
    changed = {c["metric"]: c for c in audio["changes"]}
    assert changed["f1"]["regression"] and changed["f1"]["new"] == 0.0 and changed["f1"]["old"] > 0
    assert "f1" in third["out"] and "→" in third["out"] and "REGRESSION" in third["out"]
    summary = f"{nightly['history']}.summaries/{third['sweep_run']}.json"
    with open(summary) as f:
        assert json.load(f)["jobs"] == third["jobs"]


def test_force_reruns_everything(nightly):
    fourth = nightly["runs"][3]
    assert fourth["status"] == 0, fourth["err"]
    assert [j["status"] for j in fourth["jobs"]] == ["ok"] * 3
    assert all(j["changes"] == [] for j in fourth["jobs"])  # compared with the regression row


def test_history_is_a_hive_parquet_dataset(nightly):
    history = nightly["history"]
    files = [os.path.relpath(os.path.join(d, f), history) for d, _, names in os.walk(history) for f in names]
    assert len(files) == 4 and all(f.startswith("date=") and f.endswith(".parquet") for f in files)
    table = ds.dataset(history, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 12 and "date" in table.column_names
    audio = table.filter(pc.field("job") == "audio/team-a").sort_by("time")
    f1 = pc.map_lookup(audio["metrics"], "f1", "first").to_pylist()
    assert f1[0] == f1[1] > 0 and f1[2] == f1[3] == 0.0
    assert audio["status"].to_pylist() == ["ok", "skipped", "regression", "ok"]
    duckdb = pytest.importorskip("duckdb")
    query = (f"SELECT status, metrics['f1'] AS f1, date FROM read_parquet('{history}/**/*.parquet', "
             "hive_partitioning = true) WHERE job = 'audio/team-a' ORDER BY time")
    rows = duckdb.sql(query).fetchall()
    assert [(s, f) for s, f, _ in rows] == list(zip(audio["status"].to_pylist(), f1))


def test_history_command_prints_a_jobs_metric_history(nightly):
    status, out, err = sweep("history", "--sweep", nightly["path"], "--job", "audio/team-a", "--metric", "f1")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "audio/team-a" and lines[1].split() == ["time", "(UTC)", "status", "f1"]
    assert [line.split()[2] for line in lines[2:]] == ["ok", "skipped", "regression", "ok"]
    assert lines[4].split()[3] == "0.000000"
    status, out, err = sweep("history", "--history", nightly["history"], "--metric", "mviou")
    assert status == 0 and out.startswith("video/team-a") and "audio" not in out
    assert sweep("history", "--history", nightly["history"], "--job", "nope")[0] == 2
    status, _, err = sweep("history", "--job", "audio/team-a")
    assert status == 2 and "--history" in err


# history on S3, concurrent sweeps, failing jobs -------------------------------------------------

@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a thread on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_history_and_inputs_on_s3(ray_local, tmp_path, s3_endpoint, monkeypatch):
    import s3fs

    monkeypatch.setenv("SWEEP_TEST_KEY", "testing")
    monkeypatch.setenv("SWEEP_TEST_SECRET", "testing-secret")
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing-secret"}
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("sweep")
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path / "audio"), 11, n=20)
    fs.put_file(gt, "sweep/audio/gt.csv")
    fs.put_file(pred, "sweep/audio/pred.jsonl")
    by_env = {"endpoint_url": s3_endpoint, "key": {"env": "SWEEP_TEST_KEY"}, "secret": {"env": "SWEEP_TEST_SECRET"}}
    job = {"name": "audio/s3", "task": "openmmsec-audio", "gt": "s3://sweep/audio/gt.csv",
           "pred": "s3://sweep/audio/pred.jsonl", "storage_options": by_env}
    path = sweep_file(tmp_path / "s3.toml", [job], history="s3://sweep/history", history_storage_options=by_env)
    status, out, err = sweep("sweep", path, "--quiet")
    assert status == 0, err
    assert ": 1 skipped; exit status 0" in sweep("sweep", path, "--quiet")[1]
    rows = rows_of("s3://sweep/history", **options)
    assert [r["status"] for r in rows if r["time"] == max(r["time"] for r in rows)] == ["skipped"]
    expected = read_manifest("s3://sweep/audio/pred.jsonl", options).sha256
    assert {r["pred_sha256"] for r in rows} == {expected} == {sha256_of(job["pred"], options)}
    fs.invalidate_cache()
    assert all(f.endswith(".parquet") and "/date=" in f for f in fs.find("sweep/history"))
    assert len(fs.find("sweep/history.summaries")) == 2
    assert "testing-secret" not in json.dumps(rows, default=str)


def test_concurrent_sweeps_lose_no_row(ray_local, tmp_path):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path / "audio"), 12, n=20)
    jobs = [{"name": f"audio/{i}", "task": "openmmsec-audio", "gt": gt, "pred": pred} for i in range(3)]
    path = sweep_file(tmp_path / "jobs.toml", jobs, history="history")
    assert sweep("sweep", path, "--quiet")[0] == 0
    command = [sys.executable, "-m", "raydeval.cli", "sweep", path, "--quiet"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    rows = rows_of(str(tmp_path / "history"))
    assert len(rows) == 9 and len({r["sweep_run"] for r in rows}) == 3
    assert sorted(r["status"] for r in rows) == ["ok"] * 3 + ["skipped"] * 6
    names = [f for _, _, files in os.walk(tmp_path / "history") for f in files]
    assert len(names) == 3 and all(n.endswith(".parquet") for n in names)


def test_bad_input_in_one_job_does_not_stop_the_others(ray_local, tmp_path):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path / "audio"), 13, n=20)
    short = str(tmp_path / "short.jsonl")
    with open(pred) as src, open(short, "w") as dst:
        dst.writelines(src.readlines()[:-3])  # three GT ids without a prediction
    jobs = [{"name": "missing-ids", "task": "openmmsec-audio", "gt": gt, "pred": short},
            {"name": "fine", "task": "openmmsec-audio", "gt": gt, "pred": pred}]
    path = sweep_file(tmp_path / "jobs.toml", jobs, history="history")
    status, out, err = sweep("sweep", path, "--quiet")
    assert status == 2 and "Traceback" not in err
    rows = {r["job"]: r for r in rows_of(str(tmp_path / "history"))}
    assert rows["missing-ids"]["status"] == "bad-input" and "missing" in rows["missing-ids"]["error"]
    assert rows["missing-ids"]["metrics"] is None and rows["fine"]["status"] == "ok"
    assert "bad-input" in out and "missing" in err


def test_demo_sweep_file_runs_on_the_demo_benchmark(ray_local, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for folder, make in DEMO.values():
        make(str(tmp_path / "demo-out" / folder), 8, rng)
    os.makedirs(tmp_path / "jobs")
    path = shutil.copy(os.path.join(REPO, "jobs", "demo.toml"), tmp_path / "jobs")
    status, out, err = sweep("sweep", str(path), "--quiet")
    assert status == 0, err
    assert os.path.isdir(tmp_path / "demo-out" / "history") and out.count(" ok ") == 3


def test_nightly_sweep_file_is_valid(monkeypatch):
    path = os.path.join(REPO, "jobs", "nightly.toml")
    for name in ("BENCH_S3_KEY", "BENCH_S3_SECRET", "TEAM_B_S3_KEY", "TEAM_B_S3_SECRET"):
        monkeypatch.setenv(name, f"value-of-{name}")
    sweep = load_sweep(path)
    assert sweep.history.startswith("s3://") and len(sweep.jobs) == 3
    assert sweep.jobs[2].storage_options["key"] == "value-of-TEAM_B_S3_KEY"
    assert sweep.jobs[1].tolerance == {"default": 0.002, "mviou": 0.005}
    assert "value-of" not in repr(sweep)
    monkeypatch.delenv("TEAM_B_S3_SECRET")
    with pytest.raises(InputError, match="audio/team-b.*TEAM_B_S3_SECRET"):
        load_sweep(path)


# broken sweep files: exit 2, no traceback, the file, job and key named ---------------------------

@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    gt, pred, *_ = gen.audio_benchmark(str(root), 14, n=10)
    return gt, pred


BROKEN = {
    "unknown job key": ({"tolerence": 0.1}, {}, "", ["job 'j'", "`tolerence`", "did you mean `tolerance`"]),
    "unknown defaults key": ({}, {"histroy": "h"}, "", ["[defaults]", "`histroy`"]),
    "unknown top-level key": ({}, {}, "version = 1", ["top level", "`version`"]),
    "duplicate name": ({}, {}, "", ["job 'j'", "`name`", "duplicate"]),
    "missing file": ({"pred": "nowhere/pred.csv"}, {}, "", ["job 'j'", "`pred`", "nowhere/pred.csv"]),
    "missing key": ({"gt": None}, {}, "", ["job 'j'", "`gt`"]),
    "unknown task": ({"task": "openmmsec-audoi"}, {}, "", ["job 'j'", "`task`", "Did you mean openmmsec-audio"]),
    "bad convention": ({"conventions": {"missing": "ignore"}}, {}, "", ["job 'j'", "`conventions`", "missing"]),
    "unknown convention": ({"conventions": {"authentic": "zero"}}, {}, "", ["`conventions`", "`authentic`"]),
    "weights for audio": ({"conventions": {"weights": [1]}}, {}, "", ["job 'j'", "`conventions`", "weights"]),
    "literal secret": ({"storage_options": {"secret": "hunter2"}}, {}, "",
                       ["job 'j'", "`storage_options.secret`", "environment variable"]),
    "nested literal key": ({"storage_options": {"client_kwargs": {"aws_access_key_id": "AKIA"}}}, {}, "",
                           ["`storage_options.client_kwargs.aws_access_key_id`"]),
    "unset variable": ({"storage_options": {"secret": {"env": "SWEEP_TEST_UNSET"}}}, {}, "",
                       ["job 'j'", "`storage_options.secret`", "SWEEP_TEST_UNSET"]),
    "group_by": ({"group_by": "category"}, {}, "", ["job 'j'", "`group_by`", "a list of GT column names"]),
    "negative tolerance": ({"tolerance": -0.1}, {}, "", ["job 'j'", "`tolerance`"]),
    "tolerance of an unknown metric": ({"tolerance": {"mviou": 0.1}}, {}, "", ["job 'j'", "`tolerance`", "`mviou`"]),
    "bad workers": ({"workers": "four"}, {}, "", ["job 'j'", "`workers`"]),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_sweep_file_is_refused_before_anything_runs(case, tmp_path, audio_files):
    job_keys, defaults, top, expected = BROKEN[case]
    job = {"name": "j", "task": "openmmsec-audio", "gt": audio_files[0], "pred": audio_files[1], **job_keys}
    job = {k: v for k, v in job.items() if v is not None}
    jobs = [job, dict(job)] if case == "duplicate name" else [job]
    path = sweep_file(tmp_path / "broken.toml", jobs, top=top, history=str(tmp_path / "history"), **defaults)
    status, out, err = sweep("sweep", path)
    assert status == 2 and "Traceback" not in err and out == ""
    for text in [path, *expected]:
        assert text in err
    assert "hunter2" not in err and not os.path.exists(tmp_path / "history")


def test_usage_errors(tmp_path, audio_files):
    job = {"name": "j", "task": "openmmsec-audio", "gt": audio_files[0], "pred": audio_files[1]}
    path = sweep_file(tmp_path / "s.toml", [job])
    status, _, err = sweep("sweep", path)
    assert status == 2 and "no history" in err
    status, _, err = sweep("sweep", path, "--history", str(tmp_path / "h"), "--only", "k")
    assert status == 2 and "'k'" in err and not os.path.exists(tmp_path / "h")
    status, _, err = sweep("sweep", path, "--history", "s3://bucket/")
    assert status == 2 and "folder inside the bucket" in err
    (tmp_path / "bad.toml").write_text("[[job]\n")
    status, _, err = sweep("sweep", str(tmp_path / "bad.toml"))
    assert status == 2 and "bad.toml" in err and "TOML" in err


# the pure parts --------------------------------------------------------------------------------

def test_compare_direction_tolerance_and_nulls():
    old = {"f1": 0.5, "auc": 0.9, "eer": 0.2, "ap": 0.7, "score": None}
    new = {"f1": 0.498, "auc": 0.8979, "eer": 0.21, "ap": None, "score": 0.4}
    changes = {c.metric: c for c in compare(old, new, {"default": 0.002, "eer": 0.02})}
    assert changes["f1"] == Change("f1", 0.5, 0.498, False)  # a drop of exactly the tolerance
    assert changes["auc"].regression  # 0.0021 > 0.002
    assert not changes["eer"].regression  # lower is better; a rise of 0.01 within 0.02
    assert changes["ap"] == Change("ap", 0.7, None, True)  # a number becoming null
    assert changes["score"] == Change("score", None, 0.4, False)
    assert compare({"eer": 0.2}, {"eer": 0.21}, {})[0].regression  # eer rising
    assert not compare({"eer": 0.2}, {"eer": 0.1}, {})[0].regression
    assert compare({"auc": 0.9}, {}, {})[0] == Change("auc", 0.9, None, True)  # metric gone
    assert compare({"f1": 0.5}, {"f1": 0.5}, {}) == [] and compare({"f1": None}, {"f1": None}, {}) == []
    assert compare({"f1": 0.9, "auc": 0.9}, {"f1": 0.85, "auc": 0.85}, {"default": 0.1, "auc": 0.01}) == [
        Change("f1", 0.9, 0.85, False), Change("auc", 0.9, 0.85, True)]


def test_skip_needs_the_same_task_hashes_and_conventions():
    row = {"task": "t", "gt_sha256": "a", "pred_sha256": "b", "conventions": "{}", "job": "x"}
    assert should_skip(row, dict(row, job="renamed"))
    assert not should_skip(None, row)
    for key, value in (("gt_sha256", "z"), ("pred_sha256", "z"), ("conventions", '{"missing": 1}'), ("task", "u")):
        assert not should_skip(row, dict(row, **{key: value}))


def test_exit_status_precedence():
    assert exit_status([]) == exit_status(["ok", "skipped"]) == 0
    assert exit_status(["ok", "crashed"]) == 1
    assert exit_status(["crashed", "bad-input"]) == 2
    assert exit_status(["crashed", "bad-input", "regression", "ok"]) == 3


def test_defaults_merge_and_exact_weights(tmp_path, audio_files):
    assert merged({"tolerance": 0.002, "workers": 4, "history": "h", "conventions": {"missing": "negative"}},
                  {"tolerance": {"mviou": 0.01}, "conventions": {"eer": "asvspoof"}}) == {
        "tolerance": {"default": 0.002, "mviou": 0.01}, "workers": 4,
        "conventions": {"missing": "negative", "eer": "asvspoof"}}
    gt, pred = audio_files
    jobs = [{"name": n, "task": "openmmsec-image", "gt": gt, "pred": pred, "conventions": {"weights": w}}
            for n, w in (("numbers", [0.7, 0.3]), ("strings", ["0.1", "0.9"]))]
    numbers, strings = load_sweep(sweep_file(tmp_path / "w.toml", jobs)).jobs
    assert numbers.conventions["weights"] == (Fraction(7, 10), Fraction(3, 10))
    assert strings.conventions["weights"] == (Fraction(1, 10), Fraction(9, 10))
    assert numbers.options["weights"] == {"macro_f1": 0.7, "pixel_f1": 0.3}
    assert numbers.gt == gt and numbers.tolerance == {}


def test_storage_options_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWEEP_TEST_SECRET", "s3cr3t")
    given = {"anon": False, "endpoint_url": "http://x", "secret": {"env": "SWEEP_TEST_SECRET"},
             "client_kwargs": {"region_name": "eu", "aws_session_token": {"env": "SWEEP_TEST_SECRET"}}}
    assert storage_options(given, "f: job 'j'") == {
        "anon": False, "endpoint_url": "http://x", "secret": "s3cr3t",
        "client_kwargs": {"region_name": "eu", "aws_session_token": "s3cr3t"}}
    for literal in ({"password": "x"}, {"token": "x"}, {"key": "x"}, {"account_key": "x"}, {"sas_token": "x"}):
        with pytest.raises(InputError, match="credential"):
            storage_options(literal, "f: job 'j'")


def test_streamed_hash_equals_the_manifest_hash(tmp_path, audio_files):
    for path in audio_files:
        assert sha256_of(path) == read_manifest(path).sha256
    big = tmp_path / "big.bin"
    data = os.urandom(5 * 2**20 // 2 + 7)  # several chunks and a partial one
    big.write_bytes(data)
    assert sha256_of(str(big)) == hashlib.sha256(data).hexdigest()
    with pytest.raises(InputError, match="cannot read"):
        sha256_of(str(tmp_path / "absent.csv"))


def test_a_job_with_group_by_stores_the_breakdown_and_skips_when_unchanged(tmp_path):
    from raydeval.analysis import Analysis
    gt, pred, *_ = gen.image_benchmark(str(tmp_path / "data"), 77, n=10)
    job = {"name": "image/groups", "task": "openmmsec-image", "gt": gt, "pred": pred, "group_by": ["group"]}
    path = sweep_file(tmp_path / "jobs" / "s.toml", [job], history=str(tmp_path / "history"))
    assert sweep("sweep", path, "--quiet")[0] == 0
    [row] = rows_of(str(tmp_path / "history"))
    plain = evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False), analysis=Analysis(group_by=("group",)))
    assert json.loads(row["breakdown"]) == plain["breakdown"] and set(plain["breakdown"]["group"]) == {"a", "b"}
    assert sweep("sweep", path, "--quiet")[0] == 0
    rerun = [r for r in rows_of(str(tmp_path / "history")) if r["sweep_run"] != row["sweep_run"]]
    assert [r["status"] for r in rerun] == ["skipped"] and rerun[0]["breakdown"] == row["breakdown"]


def test_a_sweep_on_a_local_ray_gives_the_same_metrics(ray_local, tmp_path):
    jobs = benchmark(tmp_path, 78)
    path = sweep_file(tmp_path / "jobs" / "s.toml", jobs, history=str(tmp_path / "history"))
    assert sweep("sweep", path, "--address", "local", "--quiet")[0] == 0
    rows = {r["job"]: r for r in rows_of(str(tmp_path / "history"))}
    for job in jobs:
        plain = evaluate(job["task"], os.path.join(tmp_path, "jobs", job["gt"]),
                         os.path.join(tmp_path, "jobs", job["pred"]), {}, RunSettings(progress=False))
        assert json.loads(rows[job["name"]]["metrics_json"]) == plain["metrics"]
