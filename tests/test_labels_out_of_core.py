"""The out-of-core label path (DuckDB) against the in-memory path, forced at small sizes with
RAYDEVAL_OUT_OF_CORE_BYTES=0: the same messages and exit status for bad input, the same bytes
for good input."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from raydeval.cli import main
from raydeval.demo import write_manifest
from tests import gen
from tests.test_bad_input import AUDIO, BENCHES, MANIFEST_CASES, Case, _drop, _duplicate

FORCE, NEVER = "0", str(2**62)


def _run(argv: list[str], capsys, monkeypatch, threshold: str) -> tuple[int, str, str]:
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", threshold)
    capsys.readouterr()
    code = main(argv + ["--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _both(argv, capsys, monkeypatch):
    """The in-memory run and the out-of-core one, the latter checked against itself with its
    id-keyed queries cut into hash partitions of 3 rows (as 100M-row manifests are cut)."""
    inline, joined = _run(argv, capsys, monkeypatch, NEVER), _run(argv, capsys, monkeypatch, FORCE)
    monkeypatch.setattr("raydeval.engine.labels.PARTITION_ROWS", 3)
    cut = _run(argv, capsys, monkeypatch, FORCE)
    assert cut[0] == joined[0] and cut[2] == joined[2] and _timeless(cut[1]) == _timeless(joined[1])
    return inline, joined


def _timeless(out: str):
    """A run's output without its timing (the result's `run`, or the table's seconds)."""
    if out.startswith("{"):
        return {k: v for k, v in json.loads(out).items() if k != "run"}
    return re.sub(r"[\d.]+ s,", "", out)


def _many_duplicates(b) -> None:
    """Duplicate ids spread over the whole file, more than the 20 a message lists."""
    for i in range(30):
        b.gt.append({**b.gt[i % 4], "id": f"dup-{i % 27:02d}"})
        b.pred.append({"id": f"dup-{i % 27:02d}", "score": 0.5})


def _many_missing(b) -> None:
    for i in range(25):
        b.gt.append({"id": f"gone-{i:02d}", "label": i % 2})


def _extra_predictions(b) -> None:
    b.pred += [{"id": f"extra-{i}", "score": 0.2} for i in range(3)]
    b.gt = [r for r in b.gt if r["id"] != "aud-00"]  # ... and one prediction without its GT row too


def _text_labels(b) -> None:
    b.row("gt", "aud-01")["label"] = "yes"
    b.row("gt", "aud-03")["label"] = None


def _text_score_csv(b) -> None:
    b.pred_name = "pred.csv"
    b.row("pred", "aud-02")["score"] = "high"
    b.row("pred", "aud-01")["score"] = " 0.5"


def _label_and_score(b) -> None:
    for r in b.pred:
        r["label"] = int(r["score"] > 0.35)


LABEL_CASES = [case for case in MANIFEST_CASES if case.task == AUDIO] + [
    Case("gt-duplicate-id", AUDIO, _duplicate("gt", "aud-01"), ()),
    Case("many-duplicates", AUDIO, _many_duplicates, ()),
    Case("many-missing", AUDIO, _many_missing, ()),
    Case("missing-ids", AUDIO, _drop("pred", "aud-01", "aud-03"), ()),
    Case("text-and-null-labels", AUDIO, _text_labels, ()),
    Case("score-as-text", AUDIO, _text_score_csv, ()),
]


@pytest.mark.parametrize("case", LABEL_CASES, ids=[c.name for c in LABEL_CASES])
def test_bad_label_manifests_get_the_same_message_either_way(case, tmp_path, capsys, monkeypatch):
    bench = BENCHES[AUDIO](tmp_path / "bench")
    case.breaks(bench)
    argv = bench.argv(tmp_path / "out" / "r.json")
    (code, _, err), (forced_code, _, forced_err) = _both(argv, capsys, monkeypatch)
    assert code == 2 and forced_code == 2
    assert forced_err == err
    assert "Traceback" not in forced_err and not (tmp_path / "out" / "r.json").exists()


@pytest.mark.parametrize("breaks, args", [(_extra_predictions, []), (_many_missing, ["--missing", "negative"]),
                                          (_label_and_score, []), (_extra_predictions, ["--eer", "exact"])])
def test_good_label_manifests_give_the_same_bytes_and_warnings(breaks, args, tmp_path, capsys, monkeypatch):
    bench = BENCHES[AUDIO](tmp_path / "bench")
    breaks(bench)
    argv = bench.argv(tmp_path / "r.json") + args + ["--json"]
    (code, out, err), (forced_code, forced_out, forced_err) = _both(argv, capsys, monkeypatch)
    assert code == forced_code == 0 and forced_err == err
    inline, joined = json.loads(out), json.loads(forced_out)
    for key in ("metrics", "counts", "notes", "conventions", "inputs", "scores"):
        assert joined.get(key) == inline.get(key), key
    assert inline["run"]["shards"] >= 1 and joined["run"]["shards"] == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), formats=st.sampled_from([("csv", "jsonl"), ("parquet", "parquet"),
                                                                  ("jsonl", "csv"), ("csv.gz", "parquet")]))
def test_any_label_benchmark_gives_the_same_metrics(seed, formats, tmp_path_factory, capsys, monkeypatch):
    root = tmp_path_factory.mktemp("labels")
    gt, pred, *_ = gen.audio_benchmark(str(root), seed % 10_000, n=60, gt_format=formats[0].split(".")[0],
                                        pred_format=formats[1])
    if formats[0].endswith(".gz"):
        import gzip
        with open(gt, "rb") as src, gzip.open(gt + ".gz", "wb") as dst:
            dst.write(src.read())
        gt += ".gz"
    argv = ["eval", AUDIO, "--gt", gt, "--pred", pred, "--json"]
    (code, out, err), (forced_code, forced_out, forced_err) = _both(argv, capsys, monkeypatch)
    assert code == forced_code and err == forced_err
    if code == 0:
        assert json.loads(out)["metrics"] == json.loads(forced_out)["metrics"]
        assert json.loads(out)["counts"] == json.loads(forced_out)["counts"]


def test_large_label_manifests_take_the_out_of_core_path_by_size(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(3)
    rows = [{"id": f"clip-{i:06d}", "label": int(rng.random() < 0.5)} for i in range(2000)]
    write_manifest(tmp_path / "gt.parquet", rows)
    write_manifest(tmp_path / "pred.parquet", [{"id": r["id"], "score": float(rng.random())} for r in rows])
    size = sum(os.path.getsize(tmp_path / n) for n in ("gt.parquet", "pred.parquet"))
    argv = ["eval", AUDIO, "--gt", str(tmp_path / "gt.parquet"), "--pred", str(tmp_path / "pred.parquet")]
    _, _, err = _run(argv[:], capsys, monkeypatch, str(size))
    assert "out of core" not in err  # --quiet: no progress at all
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", str(size))
    assert main(argv) == 0 and "joined and counted out of core" in capsys.readouterr().err
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", str(size + 1))
    assert main(argv) == 0 and "out of core" not in capsys.readouterr().err
    monkeypatch.setenv("RAYDEVAL_OUT_OF_CORE_BYTES", "0")
    assert main(argv + ["--bootstrap", "10"]) == 0  # counted per replicate on shards: joined out of core, streamed
    err = capsys.readouterr().err
    assert "counted out of core" not in err and "2,000 rows joined out of core" in err


def test_names_duckdb_would_glob_take_the_in_memory_path(tmp_path, capsys, monkeypatch):
    gt, pred, *_ = gen.audio_benchmark(str(tmp_path), 7, n=12, gt_format="csv", pred_format="parquet")
    odd = os.path.join(os.path.dirname(gt), "gt[1].csv")
    os.rename(gt, odd)
    write_manifest(os.path.join(os.path.dirname(gt), "gt1.csv"), [{"id": "x", "label": 1}])  # what a glob would read
    (code, out, _), (forced_code, forced_out, _) = _both(["eval", AUDIO, "--gt", odd, "--pred", pred, "--json"],
                                                         capsys, monkeypatch)
    assert code == forced_code == 0 and json.loads(out)["counts"] == json.loads(forced_out)["counts"]
    assert json.loads(forced_out)["counts"]["samples"] == 12


def test_duckdb_draws_no_progress_bar_on_stdout(tmp_path):
    """DuckDB draws a progress bar on stdout for queries over 2 s, where `--json` writes the result
    (on by default in a plain process, as the CLI runs; pytest's differs, hence the subprocess)."""
    import subprocess
    import sys

    script = ("import duckdb; from raydeval.engine import labels; q = \"SELECT current_setting('enable_progress_bar')\"; "
              f"print(duckdb.connect().execute(q).fetchall(), labels.connect({str(tmp_path)!r}).execute(q).fetchall())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[(True,)]", "[(False,)]"]  # the default, and raydeval's connections
