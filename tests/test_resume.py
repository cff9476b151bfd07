"""Shard states kept for `--resume` (SPEC §4): a resumed run equals an uninterrupted one, whatever
was saved; states of other inputs are refused; damaged states are recomputed, never trusted."""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from raydeval.cli import main
from raydeval.evaluate import RunSettings, evaluate
from tests import gen


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    gt, pred, *_ = gen.image_benchmark(str(root), 61, n=12)
    plain = evaluate("openmmsec-image", gt, pred, {}, RunSettings(progress=False))
    return gt, pred, plain


def _same(result: dict, plain: dict) -> bool:
    return result["metrics"] == plain["metrics"] and result["counts"] == plain["counts"]


def _kept_run(images, out, **given):
    gt, pred, _ = images
    settings = RunSettings(shard_size=given.pop("shard_size", 1), keep_state=True, progress=False, **given)
    return evaluate("openmmsec-image", gt, pred, {}, settings, out=str(out))


def _shard_files(out) -> list[str]:
    folder = f"{out}.state/shards"
    return sorted(os.path.join(folder, n) for n in os.listdir(folder))


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_resume_after_losing_any_states_is_identical(images, tmp_path_factory, seed):
    out = tmp_path_factory.mktemp("run") / "r.json"
    first = _kept_run(images, out)
    files = _shard_files(out)
    lost = random.Random(seed).sample(files, random.Random(seed + 1).randint(0, len(files)))
    for path in lost:
        os.remove(path)
    resumed = _kept_run(images, out, resume=True)
    assert _same(resumed, images[2]) and _same(first, images[2])
    assert resumed["run"]["shards_reused"] == len(files) - len(lost)
    assert resumed["run"]["shards"] == first["run"]["shards"] == 12


def test_resume_keeps_the_stored_cut_and_removes_states_after_success(images, tmp_path, capsys):
    out = tmp_path / "r.json"
    _kept_run(images, out, shard_size=5)
    for path in _shard_files(out)[1:]:
        os.remove(path)
    gt, pred, plain = images
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", str(out), "--resume",
                 "--shard-size", "2", "--workers", "3", "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert _same(result, plain)
    assert (result["run"]["shards"], result["run"]["shards_reused"]) == (3, 1)  # 5 + 5 + 2, not pairs
    assert not os.path.exists(f"{out}.state")  # removed after success without --keep-state


@pytest.mark.parametrize("damage", ["truncate", "flip-a-digit", "other-run", "garbage"])
def test_damaged_state_files_are_recomputed(images, tmp_path, capsys, damage):
    out = tmp_path / "r.json"
    _kept_run(images, out)
    victim = _shard_files(out)[3]
    data = open(victim, "rb").read()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip-a-digit":  # still valid JSON, a count changed: the checksum catches it
        record = json.loads(data)
        counts = record["body"]["state"]["counts"]
        counts["samples"] += 1
        data = json.dumps(record).encode()
    elif damage == "other-run":
        record = json.loads(data)
        record["body"]["ledger"] = "0" * 64
        from raydeval.engine.store import canonical
        import hashlib
        record["sha256"] = hashlib.sha256(canonical(record["body"])).hexdigest()
        data = json.dumps(record).encode()
    else:
        data = b"\x00\xff not json"
    with open(victim, "wb") as f:
        f.write(data)
    resumed = _kept_run(images, out, resume=True)
    assert _same(resumed, images[2])
    assert resumed["run"]["shards_reused"] == 11
    assert os.path.basename(victim) in capsys.readouterr().err


@pytest.mark.parametrize("change", ["gt", "pred", "convention"])
def test_resume_refuses_states_of_other_inputs_or_conventions(images, tmp_path, capsys, change):
    gt, pred, _ = images
    out = tmp_path / "r.json"
    _kept_run(images, out)
    out.unlink()
    args = ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", str(out), "--resume", "--quiet"]
    if change in ("gt", "pred"):
        import shutil
        path = {"gt": gt, "pred": pred}[change]
        copy = str(tmp_path / f"changed{os.path.splitext(path)[1]}")
        shutil.copy(path, copy)
        with open(copy, "ab") as f:
            f.write(b"\n" if copy.endswith(".csv") else b"")
        if copy.endswith(".parquet"):  # rewrite with other content
            import pyarrow.parquet as pq
            table = pq.read_table(path)
            pq.write_table(table.slice(0, table.num_rows), copy, compression="gzip")
        args[args.index(path)] = copy
    else:
        args += ["--authentic-policy", "zero"]
    assert main(args) == 2
    err = capsys.readouterr().err
    expected = {"gt": "gt manifest content", "pred": "pred manifest content",
                "convention": "convention authentic_policy 'exclude' → 'zero'"}[change]
    assert expected in err and "Traceback" not in err
    assert not out.exists() and len(_shard_files(out)) == 12  # the earlier states are left alone


def test_unreadable_ledger_starts_afresh(images, tmp_path, capsys):
    out = tmp_path / "r.json"
    _kept_run(images, out)
    (tmp_path / "r.json.state" / "ledger.json").write_text("{not json")
    resumed = _kept_run(images, out, resume=True)
    assert _same(resumed, images[2]) and resumed["run"]["shards_reused"] == 0
    assert "ledger.json is unreadable" in capsys.readouterr().err


def test_a_folder_that_is_not_a_state_directory_is_left_alone(images, tmp_path, capsys):
    gt, pred, _ = images
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--state-dir", str(folder), "--quiet"]) == 2
    assert "holds no raydeval ledger" in capsys.readouterr().err
    assert os.listdir(folder) == ["notes.txt"]


def test_resume_needs_a_state_directory(images, capsys):
    gt, pred, _ = images
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_bad_media_leave_no_states_unless_asked(tmp_path, capsys):
    gt, pred, gt_rows, _ = gen.image_benchmark(str(tmp_path), 62, n=8)
    broken = next(r["mask"] for r in gt_rows if r["mask"])
    with open(broken, "wb") as f:
        f.write(b"not a mask")
    out = tmp_path / "r.json"
    args = ["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", str(out), "--shard-size", "1", "--quiet"]
    assert main(args) == 2
    assert not out.exists() and not os.path.exists(f"{out}.state")
    assert main(args + ["--keep-state"]) == 2
    assert "--resume reuses them" in capsys.readouterr().err
    assert len(_shard_files(out)) == 7  # every shard but the broken one


@pytest.mark.parametrize("where", ["ftp2://host/r.json", "http://host/r.json", "zip://r.json::a.zip"])
def test_out_to_a_place_raydeval_cannot_write_is_refused_first(images, capsys, where):
    gt, pred, _ = images
    assert main(["eval", "openmmsec-image", "--gt", gt, "--pred", pred, "--out", where]) == 2
    assert "cannot write to" in capsys.readouterr().err


def test_resume_with_a_gt_of_another_size_is_refused_and_keeps_the_states(images, tmp_path, capsys):
    import pyarrow.parquet as pq
    gt, pred, _ = images
    out = tmp_path / "r.json"
    _kept_run(images, out)
    smaller = tmp_path / "gt-smaller.parquet"
    table = pq.read_table(gt)
    pq.write_table(table.slice(0, table.num_rows - 2), smaller)
    assert main(["eval", "openmmsec-image", "--gt", str(smaller), "--pred", pred, "--out", str(out), "--resume",
                 "--missing", "error", "--quiet"]) == 2
    assert "gt manifest content" in capsys.readouterr().err and len(_shard_files(out)) == 12


def test_local_writes_make_ordinary_files(tmp_path):
    from raydeval.io.fs import write_atomic
    old = os.umask(0o027)
    try:
        write_atomic(str(tmp_path / "a.json"), b"{}")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "a.json").st_mode & 0o777) == 0o640 and os.listdir(tmp_path) == ["a.json"]
