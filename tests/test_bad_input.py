"""Bad-input corpus (SPEC §1.5, §4): every case exits 2 with a clear message and writes nothing.

Each case starts from a small *valid* benchmark of one task (built in `tmp_path` with the
`raydeval.demo` writers), breaks exactly one thing, runs `raydeval eval` and checks that:

* the exit status is 2;
* stderr names the offending id(s) — or, for a file-level problem, the file and/or column —
  and does not name an intact sample;
* stderr holds no Python traceback (and no "internal error");
* no result file exists at `--out`, and nothing else (no temporary file) is left in its directory.

Manifest-level cases fail before Ray is needed and run in-process without Ray. Media cases are
found by the Ray workers: they use the session's embedded Ray (`ray_local`) with `--workers 2`.
A few cases run as a real subprocess to check the real exit status and terminal output.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile

from raydeval.cli import main
from raydeval.demo import write_mask, write_mask_video, write_manifest

IMAGE, VIDEO, AUDIO = "openmmsec-image", "openmmsec-video", "openmmsec-audio"
SIDE = 16  # masks and mask-video frames are SIDE x SIDE
FRAMES = 8  # frames per mask video
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|internal error", re.I)


# ---------------------------------------------------------------------------------------------
# valid small benchmarks, one per task
# ---------------------------------------------------------------------------------------------
def square(shape=(SIDE, SIDE), top=4, left=4, size=6) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top:top + size, left:left + size] = True
    return mask


def video_frames(fake: list[list[int]], n: int = FRAMES, shape=(SIDE, SIDE), shift: int = 0) -> list[np.ndarray]:
    """A mask video: a square in the fake frames, empty elsewhere."""
    inside = {t for start, end in fake for t in range(start, end)}
    return [square(shape, 4 + shift, 4) if t in inside else np.zeros(shape, dtype=bool) for t in range(n)]


@dataclass
class Bench:
    """A valid benchmark (rows + media files under `root`); cases mutate it before `write`."""

    task: str
    root: Path
    gt: list[dict]
    pred: list[dict]
    gt_name: str
    pred_name: str
    args: list[str] = field(default_factory=list)
    gt_bytes: bytes | None = None  # raw manifest bytes instead of the rows
    pred_bytes: bytes | None = None
    gt_uri: str | None = None  # a manifest URI instead of root/gt_name (e.g. nonexistent, zip://)
    pred_uri: str | None = None

    def row(self, side: str, sid: str) -> dict:
        return next(r for r in getattr(self, side) if r["id"] == sid)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self) -> tuple[str, str]:
        uris = []
        for side in ("gt", "pred"):
            uri = getattr(self, f"{side}_uri")
            if uri is None:
                path = self.root / getattr(self, f"{side}_name")
                raw = getattr(self, f"{side}_bytes")
                if raw is not None:
                    path.write_bytes(raw)
                else:
                    write_rows(path, getattr(self, side))
                uri = str(path)
            uris.append(uri)
        return uris[0], uris[1]

    def argv(self, out: Path, task: str | None = None) -> list[str]:
        gt, pred = self.write()
        return ["eval", task or self.task, "--gt", gt, "--pred", pred, "--out", str(out), "--quiet",
                *self.args]


def write_rows(path: Path, rows: list[dict]) -> None:
    """A manifest from rows whose keys or value types may differ (cases put text where numbers go).

    CSV is written cell by cell as text (lists as JSON text, None as an empty cell); JSONL and
    Parquet go through `raydeval.demo.write_manifest` with every row given every column.
    """
    names = list(dict.fromkeys(k for r in rows for k in r))
    if path.suffix == ".csv":
        def cell(v) -> str:
            return "" if v is None else json.dumps(v) if isinstance(v, list) else str(v)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows([cell(r.get(n)) for n in names] for r in rows)
    else:
        write_manifest(str(path), [{n: r.get(n) for n in names} for r in rows])


def image_bench(root: Path) -> Bench:
    """GT parquet + prediction CSV (as the demo writes them); PNG and .npy masks."""
    (root / "masks").mkdir(parents=True)
    (root / "sub").mkdir()
    write_mask(str(root / "masks/img-00.png"), square())
    write_mask(str(root / "masks/img-01.npy"), square(top=8), "npy")
    write_mask(str(root / "sub/img-00.png"), square(top=5))
    write_mask(str(root / "sub/img-01.png"), square(top=9))
    write_mask(str(root / "masks/img-04.png"), square(top=2))
    write_mask(str(root / "sub/img-04.png"), square(top=2, left=3))
    gt = [
        {"id": "img-00", "label": 1, "mask": "masks/img-00.png", "source": "edit"},
        {"id": "img-01", "label": 1, "mask": "masks/img-01.npy", "source": "edit"},
        {"id": "img-02", "label": 1, "mask": None, "source": "generated"},
        {"id": "img-03", "label": 0, "mask": None, "source": "camera"},
        {"id": "img-04", "label": 1, "mask": "masks/img-04.png", "source": "edit"},  # never broken
    ]
    pred = [
        {"id": "img-00", "score": 0.9, "mask": "img-00.png"},
        {"id": "img-01", "score": 0.7, "mask": "img-01.png"},
        {"id": "img-02", "score": 0.6, "mask": None},
        {"id": "img-03", "score": 0.2, "mask": None},
        {"id": "img-04", "score": 0.8, "mask": "img-04.png"},
    ]
    return Bench(IMAGE, root, gt, pred, "gt.parquet", "sub/pred.csv")


def video_bench(root: Path) -> Bench:
    """GT + prediction JSONL; FFV1 mask videos."""
    (root / "masks").mkdir(parents=True)
    (root / "sub").mkdir()
    for sid, fake, guess in (("vid-00", [[2, 6]], [[1, 5]]), ("vid-04", [[0, 3]], [[0, 4]])):
        write_mask_video(str(root / f"masks/{sid}.mkv"), video_frames(fake))
        write_mask_video(str(root / f"sub/{sid}.mkv"), video_frames(guess, shift=1))
    gt = [
        {"id": "vid-00", "label": 1, "num_frames": FRAMES, "fake_frames": [[2, 6]], "mask": "masks/vid-00.mkv",
         "category": "faceswap"},
        {"id": "vid-01", "label": 1, "num_frames": FRAMES, "fake_frames": [[0, 2], [5, 7]], "mask": None,
         "category": "inpaint"},
        {"id": "vid-02", "label": 0, "num_frames": FRAMES, "fake_frames": [], "mask": None, "category": "real"},
        {"id": "vid-03", "label": 0, "num_frames": 12, "fake_frames": [], "mask": None, "category": "real"},
        {"id": "vid-04", "label": 1, "num_frames": FRAMES, "fake_frames": [[0, 3]], "mask": "masks/vid-04.mkv",
         "category": "reenact"},  # never broken
    ]
    pred = [
        {"id": "vid-00", "score": 0.9, "label": 1, "fake_frames": [[1, 5]], "mask": "vid-00.mkv"},
        {"id": "vid-01", "score": 0.8, "label": 1, "fake_frames": [[0, 3]], "mask": None},
        {"id": "vid-02", "score": 0.1, "label": 0, "fake_frames": [], "mask": None},
        {"id": "vid-03", "score": 0.6, "label": 1, "fake_frames": [[4, 5]], "mask": None},
        {"id": "vid-04", "score": 0.7, "label": 1, "fake_frames": [[0, 4]], "mask": "vid-04.mkv"},
    ]
    return Bench(VIDEO, root, gt, pred, "gt.jsonl", "sub/pred.jsonl")


def audio_bench(root: Path) -> Bench:
    """GT CSV + prediction parquet; tiny WAV clips."""
    (root / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    gt, pred = [], []
    for i, (label, score) in enumerate(((1, 0.8), (0, 0.3), (1, 0.4), (0, 0.1), (1, 0.95))):
        sid = f"aud-{i:02d}"
        soundfile.write(str(root / f"wav/{sid}.wav"), rng.normal(0, 0.1, 800).astype(np.float32), 16000)
        gt.append({"id": sid, "label": label, "audio": f"wav/{sid}.wav"})
        pred.append({"id": sid, "score": score})
    return Bench(AUDIO, root, gt, pred, "gt.csv", "pred.parquet")


BENCHES = {IMAGE: image_bench, VIDEO: video_bench, AUDIO: audio_bench}
INTACT = {IMAGE: "img-04", VIDEO: "vid-04", AUDIO: "aud-04"}  # no case breaks these samples


# ---------------------------------------------------------------------------------------------
# byte-level helpers for broken files
# ---------------------------------------------------------------------------------------------
def png_bytes(tmp: Path, mask: np.ndarray) -> bytes:
    write_mask(str(tmp), mask)
    return tmp.read_bytes()


def corrupt_png(path: Path) -> None:
    """Overwrite the middle of the IDAT (compressed pixel) data: signature and IHDR stay valid."""
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8:start - 4], "big")
    middle = start + length // 2 - 4
    data[middle:middle + 8] = b"\x00\xff" * 4
    path.write_bytes(bytes(data))


def truncate(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def parquet_bytes(table: pa.Table, tmp: Path) -> bytes:
    pq.write_table(table, tmp)
    return tmp.read_bytes()


def csv_text(rows: list[list[str]]) -> str:
    return "".join(",".join(r) + "\n" for r in rows)


class PickleTrap:
    """Unpickling this creates a marker file: proof that a pickled .npy was (not) loaded."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---------------------------------------------------------------------------------------------
# the corpus
# ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    task: str
    breaks: Callable[[Bench], None]
    expect: tuple[str, ...]  # regexes (case-insensitive) that stderr must match
    media: bool = False  # found by Ray workers
    xfail: str | None = None  # a known raydeval bug (reason)
    names_ids: bool = True  # sample-level problem: the intact sample must not be named


def _set(side: str, sid: str, **values) -> Callable[[Bench], None]:
    def breaks(b: Bench) -> None:
        b.row(side, sid).update(values)
    return breaks


def _drop(side: str, *sids: str) -> Callable[[Bench], None]:
    def breaks(b: Bench) -> None:
        setattr(b, side, [r for r in getattr(b, side) if r["id"] not in sids])
    return breaks


def _duplicate(side: str, sid: str) -> Callable[[Bench], None]:
    def breaks(b: Bench) -> None:
        rows = getattr(b, side)
        rows.insert(2, copy.deepcopy(b.row(side, sid)))
    return breaks


def _drop_column(side: str, column: str) -> Callable[[Bench], None]:
    def breaks(b: Bench) -> None:
        for r in getattr(b, side):
            r.pop(column, None)
    return breaks


def _labels_with_text(b: Bench) -> None:
    for r in b.pred:
        r["label"] = int(r["score"] > 0.5)
    b.row("pred", "img-02")["label"] = "yes"


def _non_utf8_csv(b: Bench) -> None:
    """A prediction CSV with the bytes FF FE inside an id cell."""
    b.pred_name = "sub/pred.csv"
    text = csv_text([["id", "score"]] + [[r["id"], str(r["score"])] for r in b.pred])
    b.pred_bytes = text.encode().replace(b"img-02", b"img-\xff\xfe02")


def _non_utf8_header(b: Bench) -> None:
    b.gt_bytes = b"id,lab\xe9l,audio\n" + b"".join(
        f"{r['id']},{r['label']},{r['audio']}\n".encode() for r in b.gt)


def _int_ids_parquet(b: Bench) -> None:
    b.pred_name = "pred.parquet"
    b.pred_bytes = parquet_bytes(pa.table({"id": pa.array([0, 1, 2, 3, 4], pa.int64()),
                                           "score": [r["score"] for r in b.pred]}), b.root / "tmp.parquet")


def _null_id_parquet(b: Bench) -> None:
    ids = [r["id"] for r in b.pred]
    ids[1] = None
    b.pred_bytes = parquet_bytes(pa.table({"id": pa.array(ids, pa.string()),
                                           "score": [r["score"] for r in b.pred]}), b.root / "tmp.parquet")


def _nan_score_parquet(b: Bench) -> None:
    scores = [r["score"] for r in b.pred]
    scores[2] = float("nan")
    b.pred_bytes = parquet_bytes(pa.table({"id": [r["id"] for r in b.pred], "score": scores}),
                                 b.root / "tmp.parquet")


def _inf_score_parquet(b: Bench) -> None:
    scores = [r["score"] for r in b.pred]
    scores[1] = float("inf")
    b.pred_bytes = parquet_bytes(pa.table({"id": [r["id"] for r in b.pred], "score": scores}),
                                 b.root / "tmp.parquet")


def _video_csv_garbage_interval(b: Bench) -> None:
    """Video GT as CSV, where intervals are JSON text; one cell is not JSON."""
    b.gt_name = "gt.csv"
    write_rows(b.root / "gt.csv", b.gt)
    text = (b.root / "gt.csv").read_text()
    assert '"[[0, 2], [5, 7]]"' in text
    b.gt_bytes = text.replace('"[[0, 2], [5, 7]]"', '"[[0, 2], [5, oops"').encode()


def _video_csv_bad_num_frames(b: Bench) -> None:
    b.gt_name = "gt.csv"
    b.row("gt", "vid-02")["num_frames"] = "eight"


def _malformed_jsonl(b: Bench) -> None:
    lines = [json.dumps(r) for r in b.pred]
    lines[2] = lines[2][:-5]  # an unterminated object
    b.pred_bytes = ("\n".join(lines) + "\n").encode()


def _empty_csv(b: Bench) -> None:
    b.gt_bytes = b""


def _header_only_gt(b: Bench) -> None:
    b.gt_bytes = b"id,label,audio\n"
    b.pred = b.pred[:0]
    b.pred_bytes = parquet_bytes(pa.table({"id": pa.array([], pa.string()), "score": pa.array([], pa.float64())}),
                                 b.root / "tmp.parquet")


def _duplicate_column_csv(b: Bench) -> None:
    b.gt_bytes = csv_text([["id", "label", "label"]] + [[r["id"], str(r["label"]), "0"] for r in b.gt]).encode()


def _not_parquet(b: Bench) -> None:
    b.pred_bytes = b"id,score\naud-00,0.5\n"  # CSV text under a .parquet name


def _wrong_extension(b: Bench) -> None:
    b.pred_name = "sub/pred.txt"


def _nonexistent(b: Bench) -> None:
    b.gt_uri = str(b.root / "no-such-gt.parquet")


def _csv_ragged_row(b: Bench) -> None:
    b.gt_bytes = csv_text([["id", "label", "audio"]] + [[r["id"], str(r["label"]), r["audio"]] for r in b.gt]
                          + [["aud-09", "1", "wav/aud-00.wav", "surplus"]]).encode()


def _gz_not_gzip(b: Bench) -> None:
    b.gt_name = "gt.csv.gz"  # plain CSV text under a .gz name
    b.gt_bytes = csv_text([["id", "label"]] + [[r["id"], str(r["label"])] for r in b.gt]).encode()


def _jsonl_mixed_types(b: Bench) -> None:
    b.row("gt", "vid-02")["label"] = "zero"


def _zip_escape(b: Bench) -> None:
    """A zipped submission whose mask entry points outside the archive (a file that exists there)."""
    pred = [dict(r, mask=None) for r in b.pred]
    pred[0]["mask"] = "../outside.png"
    write_mask(str(b.root.parent / "outside.png"), square(top=5))  # where the escape leads on disk
    write_rows(b.root / "pred.csv", pred)
    with zipfile.ZipFile(b.root / "sub.zip", "w") as z:
        z.write(b.root / "pred.csv", "pred.csv")
    b.pred_uri = f"zip://pred.csv::{b.root / 'sub.zip'}"



def _truncated_npy(b: Bench) -> None:
    truncate(b.path("masks/img-01.npy"), 0.7)  # header intact, pixel data cut


def _corrupt_gt_png(b: Bench) -> None:
    corrupt_png(b.path("masks/img-00.png"))


def _truncated_pred_png(b: Bench) -> None:
    truncate(b.path("sub/img-01.png"))


def _png_bomb_header(b: Bench) -> None:
    """A predicted PNG declaring 65536 x 65536 pixels (2^32 > the default 2^28): never decoded."""
    data = bytearray(png_bytes(b.path("tmp.png"), square()))
    data[16:24] = (65536).to_bytes(4, "big") * 2  # IHDR width, height (CRC now wrong, too)
    b.path("sub/img-00.png").write_bytes(bytes(data))


def _shape_mismatch(b: Bench) -> None:
    write_mask(str(b.path("sub/img-01.png")), square(shape=(SIDE, SIDE - 4)))


def _pickled_npy(b: Bench) -> None:
    marker = b.root / "UNPICKLED"
    trap = np.empty((SIDE, SIDE), dtype=object)
    trap[:] = PickleTrap(str(marker))
    np.save(b.path("sub/img-00.npy"), trap, allow_pickle=True)
    b.row("pred", "img-00")["mask"] = "img-00.npy"


def _npy_3d(b: Bench) -> None:
    np.save(b.path("sub/img-01.npy"), np.zeros((2, SIDE, SIDE), dtype=bool))
    b.row("pred", "img-01")["mask"] = "img-01.npy"


def _npy_bad_dtype(b: Bench) -> None:
    np.save(b.path("sub/img-01.npy"), np.zeros((SIDE, SIDE), dtype=np.int64))
    b.row("pred", "img-01")["mask"] = "img-01.npy"


def _not_a_mask(b: Bench) -> None:
    b.path("sub/img-00.png").write_bytes(b"GIF89a not a mask at all")


def _max_pixels(b: Bench) -> None:
    """GT masks are 16x16 = 256 pixels; a 32x32 prediction (1024) exceeds --max-pixels 300."""
    write_mask(str(b.path("sub/img-01.png")), square(shape=(2 * SIDE, 2 * SIDE)))
    b.args += ["--max-pixels", "300"]


def _real_with_gt_mask(b: Bench) -> None:
    write_mask(str(b.path("masks/img-03.png")), square())
    b.row("gt", "img-03")["mask"] = "masks/img-03.png"


def _missing_gt_mask_file(b: Bench) -> None:
    b.path("masks/img-01.npy").unlink()


def _missing_pred_mask_file(b: Bench) -> None:
    b.row("pred", "img-00")["mask"] = "no-such-mask.png"


def _truncated_mkv(b: Bench) -> None:
    truncate(b.path("masks/vid-00.mkv"))


def _pred_video_frames(b: Bench) -> None:
    write_mask_video(str(b.path("sub/vid-00.mkv")), video_frames([[1, 5]], n=FRAMES - 1))


def _gt_video_frames(b: Bench) -> None:
    write_mask_video(str(b.path("masks/vid-00.mkv")), video_frames([[2, 6]], n=FRAMES + 2))


def _video_size_mismatch(b: Bench) -> None:
    write_mask_video(str(b.path("sub/vid-00.mkv")), video_frames([[1, 5]], shape=(SIDE // 2, SIDE // 2)))


def _video_max_pixels(b: Bench) -> None:
    write_mask_video(str(b.path("sub/vid-00.mkv")), video_frames([[1, 5]], shape=(2 * SIDE, 2 * SIDE)))
    b.args += ["--max-pixels", "300"]


def _video_not_a_video(b: Bench) -> None:
    b.path("sub/vid-00.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"garbage" * 20)


def _no_video_stream(b: Bench) -> None:
    soundfile.write(str(b.path("sub/vid-00.mkv")), np.zeros(800, np.float32), 16000, format="WAV")


def _huge_num_frames(b: Bench) -> None:
    """num_frames of 10^13 for a video whose mask videos have 8 frames: a frame-count mismatch."""
    b.row("gt", "vid-00")["num_frames"] = 10**13


def _missing_mask_video(b: Bench) -> None:
    b.path("masks/vid-00.mkv").unlink()


MANIFEST_CASES = [
    # ids
    Case("gt-duplicate-id", IMAGE, _duplicate("gt", "img-01"), ("img-01", r"gt\.parquet", "duplicate")),
    Case("pred-duplicate-id", AUDIO, _duplicate("pred", "aud-02"), ("aud-02", r"pred\.parquet", "duplicate")),
    Case("pred-missing-ids", IMAGE, _drop("pred", "img-01", "img-03"),
         ("img-01", "img-03", r"pred\.csv", "missing")),
    Case("pred-null-id", AUDIO, _null_id_parquet, (r"pred\.parquet", r"`?id`?", "row 2")),
    Case("int-ids-parquet", AUDIO, _int_ids_parquet, (r"pred\.parquet", r"`id`"), names_ids=False),
    # labels and scores
    Case("gt-label-2", AUDIO, _set("gt", "aud-01", label=2), ("aud-01", r"gt\.csv", "label")),
    Case("pred-label-2", VIDEO, _set("pred", "vid-02", label=2), ("vid-02", r"pred\.jsonl", "label")),
    Case("pred-label-text", IMAGE, _labels_with_text, ("img-02", r"pred\.csv", "label")),
    Case("score-nan-parquet", AUDIO, _nan_score_parquet, ("aud-02", r"pred\.parquet", "score")),
    Case("score-nan-csv", IMAGE, _set("pred", "img-03", score="nan"), ("img-03", r"pred\.csv", "score")),
    Case("score-inf", AUDIO, _inf_score_parquet, ("aud-01", "score")),
    Case("score-1.5", IMAGE, _set("pred", "img-02", score=1.5), ("img-02", r"pred\.csv", "score")),
    Case("score-negative", VIDEO, _set("pred", "vid-01", score=-0.25), ("vid-01", "score")),
    # intervals and frame counts (video)
    Case("gt-interval-5-3", VIDEO, _set("gt", "vid-01", fake_frames=[[5, 3]]),
         ("vid-01", r"gt\.jsonl", "fake_frames")),
    Case("gt-interval-beyond-num-frames", VIDEO, _set("gt", "vid-01", fake_frames=[[5, 9]]),
         ("vid-01", r"gt\.jsonl", "fake_frames")),
    Case("pred-interval-beyond-num-frames", VIDEO, _set("pred", "vid-01", fake_frames=[[6, 20]]),
         ("vid-01", r"pred\.jsonl", "fake_frames")),
    Case("pred-interval-negative", VIDEO, _set("pred", "vid-01", fake_frames=[[-1, 3]]),
         ("vid-01", r"pred\.jsonl", "fake_frames")),
    Case("gt-intervals-unsorted", VIDEO, _set("gt", "vid-01", fake_frames=[[5, 7], [0, 2]]),
         ("vid-01", "fake_frames")),
    Case("gt-intervals-overlapping", VIDEO, _set("gt", "vid-01", fake_frames=[[0, 4], [3, 6]]),
         ("vid-01", "fake_frames")),
    Case("real-video-with-fake-frames", VIDEO, _set("gt", "vid-02", fake_frames=[[1, 2]]),
         ("vid-02", "fake_frames", "real")),
    Case("num-frames-zero", VIDEO, _set("gt", "vid-03", num_frames=0), ("vid-03", "num_frames")),
    Case("num-frames-text-csv", VIDEO, _video_csv_bad_num_frames, ("vid-02", r"gt\.csv", "num_frames")),
    Case("csv-interval-garbage", VIDEO, _video_csv_garbage_interval, ("vid-01", r"gt\.csv", "fake_frames")),
    # columns
    Case("gt-missing-column-label", IMAGE, _drop_column("gt", "label"), (r"gt\.parquet", r"`label`"),
         names_ids=False),
    Case("gt-missing-column-fake-frames", VIDEO, _drop_column("gt", "fake_frames"),
         (r"gt\.jsonl", "fake_frames"), names_ids=False),
    Case("pred-no-label-no-score", AUDIO, _drop_column("pred", "score"), (r"pred\.parquet", "score"),
         names_ids=False),
    Case("csv-duplicate-column", AUDIO, _duplicate_column_csv, (r"gt\.csv", "label"), names_ids=False),
    # files
    Case("csv-ragged-row", AUDIO, _csv_ragged_row, (r"gt\.csv",), names_ids=False),
    Case("gz-not-gzip", AUDIO, _gz_not_gzip, (r"gt\.csv\.gz",), names_ids=False),
    Case("jsonl-mixed-types", VIDEO, _jsonl_mixed_types, (r"gt\.jsonl",), names_ids=False),
    Case("non-utf8-csv-cell", IMAGE, _non_utf8_csv, (r"pred\.csv", "utf-?8"), names_ids=False),
    Case("non-utf8-csv-header", AUDIO, _non_utf8_header, (r"gt\.csv", "utf-?8"), names_ids=False),
    Case("malformed-jsonl", VIDEO, _malformed_jsonl, (r"pred\.jsonl",), names_ids=False),
    Case("empty-csv", AUDIO, _empty_csv, (r"gt\.csv",), names_ids=False),
    Case("header-only-gt", AUDIO, _header_only_gt, (r"gt\.csv", "no (rows|samples)|empty"), names_ids=False),
    Case("parquet-not-parquet", AUDIO, _not_parquet, (r"pred\.parquet",), names_ids=False),
    Case("unknown-extension", IMAGE, _wrong_extension, (r"pred\.txt", "format"), names_ids=False),
    Case("nonexistent-manifest", IMAGE, _nonexistent, (r"no-such-gt\.parquet",), names_ids=False),
]

MEDIA_CASES = [
    # image masks
    Case("corrupt-gt-png", IMAGE, _corrupt_gt_png, ("img-00", r"masks/img-00\.png", "mask")),
    Case("truncated-pred-png", IMAGE, _truncated_pred_png, ("img-01", r"img-01\.png", "mask")),
    Case("png-bomb-header", IMAGE, _png_bomb_header, ("img-00", r"img-00\.png", "max-pixels")),
    Case("mask-shape-mismatch", IMAGE, _shape_mismatch, ("img-01", "16x12", "16x16")),
    Case("pickled-npy", IMAGE, _pickled_npy, ("img-00", r"img-00\.npy", "pickle")),
    Case("npy-3d", IMAGE, _npy_3d, ("img-01", r"img-01\.npy")),
    Case("npy-int64", IMAGE, _npy_bad_dtype, ("img-01", r"img-01\.npy")),
    Case("not-a-mask-file", IMAGE, _not_a_mask, ("img-00", r"img-00\.png")),
    Case("mask-over-max-pixels", IMAGE, _max_pixels, ("img-01", r"img-01\.png", "max-pixels")),
    Case("real-image-nonempty-gt-mask", IMAGE, _real_with_gt_mask, ("img-03", r"gt\.parquet", "real")),
    Case("truncated-npy", IMAGE, _truncated_npy, ("img-01", r"masks/img-01\.npy")),
    Case("missing-gt-mask-file", IMAGE, _missing_gt_mask_file, ("img-01", r"masks/img-01\.npy")),
    Case("missing-pred-mask-file", IMAGE, _missing_pred_mask_file, ("img-00", r"no-such-mask\.png")),
    Case("zip-entry-escapes-archive", IMAGE, _zip_escape, ("img-00", r"outside\.png")),
    # mask videos
    Case("truncated-mkv", VIDEO, _truncated_mkv, ("vid-00", r"masks/vid-00\.mkv")),
    Case("pred-video-too-few-frames", VIDEO, _pred_video_frames, ("vid-00", r"sub/vid-00\.mkv", "frames")),
    Case("gt-video-too-many-frames", VIDEO, _gt_video_frames, ("vid-00", r"masks/vid-00\.mkv", "frames")),
    Case("video-frame-size-mismatch", VIDEO, _video_size_mismatch, ("vid-00", r"sub/vid-00\.mkv", "8x8")),
    Case("video-over-max-pixels", VIDEO, _video_max_pixels, ("vid-00", r"sub/vid-00\.mkv", "max-pixels")),
    Case("not-a-video", VIDEO, _video_not_a_video, ("vid-00", r"sub/vid-00\.mkv")),
    Case("mask-video-without-video-stream", VIDEO, _no_video_stream, ("vid-00", r"sub/vid-00\.mkv")),
    Case("num-frames-huge-with-mask-video", VIDEO, _huge_num_frames, ("vid-00", r"masks/vid-00\.mkv", "frames")),
    Case("missing-mask-video", VIDEO, _missing_mask_video, ("vid-00", r"masks/vid-00\.mkv")),
]


def _params(cases: list[Case]) -> list:
    return [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
            for c in cases]


# ---------------------------------------------------------------------------------------------
# running and checking
# ---------------------------------------------------------------------------------------------
def check_rejected(rc: int, err: str, out: Path, expect: tuple[str, ...], intact: str | None) -> None:
    assert not TRACEBACK.search(err), f"traceback / internal error on stderr:\n{err}"
    assert rc == 2, f"exit status {rc}, expected 2; stderr:\n{err}"
    for pattern in expect:
        assert re.search(pattern, err, re.I), f"stderr does not match {pattern!r}:\n{err}"
    if intact is not None:
        assert intact not in err, f"stderr names the intact sample {intact}:\n{err}"
    assert not out.exists(), "a result file was written"
    leftovers = sorted(os.listdir(out.parent)) if out.parent.exists() else []
    assert leftovers == [], f"files left beside --out: {leftovers}"


def run_case(case: Case, tmp_path: Path, capsys) -> None:
    bench = BENCHES[case.task](tmp_path / "bench")
    case.breaks(bench)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result.json"
    argv = bench.argv(out)
    if case.media:  # one shard: one actor to start per case (test_bad_media_merged covers many)
        argv += ["--workers", "2", "--shard-size", "8"]
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    check_rejected(rc, err, out, case.expect, INTACT[case.task] if case.names_ids else None)
    assert not (bench.root / "UNPICKLED").exists(), "a pickled .npy was loaded"


for _c in MEDIA_CASES:
    _c.media = True


def _no_shards(*args, **kwargs):
    raise RuntimeError("test: a manifest-level problem was not found before evaluating shards")


def _before_shards(monkeypatch) -> None:
    """Manifest-level problems must stop a run before it starts Ray or evaluates any shard."""
    monkeypatch.setattr("raydeval.evaluate.evaluate_shards", _no_shards)
    monkeypatch.setattr("raydeval.engine.session.RaySession.start", _no_shards)


@pytest.mark.parametrize("case", _params(MANIFEST_CASES))
def test_bad_manifest(case: Case, tmp_path: Path, capsys, monkeypatch) -> None:
    _before_shards(monkeypatch)
    run_case(case, tmp_path, capsys)


@pytest.mark.parametrize("case", _params(MEDIA_CASES))
def test_bad_media(case: Case, tmp_path: Path, capsys, ray_local) -> None:
    run_case(case, tmp_path, capsys)


def test_bad_media_merged(tmp_path: Path, capsys, ray_local) -> None:
    """Problems found by different workers in different shards: all ids, one line per kind."""
    bench = image_bench(tmp_path / "bench")
    _corrupt_gt_png(bench)  # img-00
    _shape_mismatch(bench)  # img-01
    write_mask(str(bench.path("masks/img-03.png")), square())  # img-03: real, non-empty GT mask
    bench.row("gt", "img-03")["mask"] = "masks/img-03.png"
    bench.row("pred", "img-02")["mask"] = "missing.png"  # img-02: predicted mask file missing
    write_mask(str(bench.path("masks/img-02.png")), square())
    bench.row("gt", "img-02")["mask"] = "masks/img-02.png"
    out = tmp_path / "out" / "result.json"
    rc = main(bench.argv(out) + ["--workers", "2", "--shard-size", "1"])
    err = capsys.readouterr().err
    check_rejected(rc, err, out, ("img-00", "img-01", "img-02", "img-03", r"masks/img-00\.png",
                                  r"missing\.png", "16x12"), INTACT[IMAGE])
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 3, err  # one per kind: unreadable GT mask, unusable prediction (2 ids), real image


def test_zip_submission_with_masks_is_valid(tmp_path: Path, capsys, ray_local) -> None:
    """Control for zip-entry-escapes-archive: masks inside a zipped submission are found."""
    bench = image_bench(tmp_path / "bench")
    write_rows(bench.root / "pred.csv", bench.pred)
    with zipfile.ZipFile(bench.root / "sub.zip", "w") as z:
        z.write(bench.root / "pred.csv", "pred.csv")
        for r in bench.pred:
            if r["mask"]:
                z.write(bench.path(f"sub/{r['mask']}"), r["mask"])
    for r in bench.pred:  # only the archive holds the predicted masks
        if r["mask"]:
            bench.path(f"sub/{r['mask']}").unlink()
    bench.pred_uri = f"zip://pred.csv::{bench.root / 'sub.zip'}"
    out = tmp_path / "out" / "result.json"
    rc = main(bench.argv(out) + ["--workers", "2", "--shard-size", "8"])
    assert rc == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["counts"]["pixel_images"] == 3


def test_pickle_trap_is_armed(tmp_path: Path) -> None:
    """The pickled-npy case proves something: loading its file with pickles allowed sets the marker."""
    marker = tmp_path / "UNPICKLED"
    trap = np.empty((2, 2), dtype=object)
    trap[:] = PickleTrap(str(marker))
    np.save(tmp_path / "trap.npy", trap, allow_pickle=True)
    np.load(tmp_path / "trap.npy", allow_pickle=True)
    assert marker.exists()


def test_corpus_size() -> None:
    assert len(MANIFEST_CASES) + len(MEDIA_CASES) >= 15
    names = [c.name for c in MANIFEST_CASES + MEDIA_CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("task", [IMAGE, VIDEO, AUDIO])
def test_valid_bench_passes(task: str, tmp_path: Path, capsys, ray_local) -> None:
    """The unbroken benchmarks are valid: each case's failure is due to the one thing it breaks."""
    bench = BENCHES[task](tmp_path / "bench")
    out = tmp_path / "out" / "result.json"
    rc = main(bench.argv(out) + ["--workers", "2"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert json.loads(out.read_text())["counts"]["samples"] == 5


@pytest.mark.parametrize("typo, suggestion", [("openmmsec-imgae", IMAGE), ("openmmsec_video", VIDEO),
                                              ("audio", AUDIO)])
def test_unknown_task_did_you_mean(typo: str, suggestion: str, tmp_path: Path, capsys, monkeypatch) -> None:
    _before_shards(monkeypatch)
    bench = BENCHES[suggestion](tmp_path / "bench")
    out = tmp_path / "out" / "result.json"
    rc = main(bench.argv(out, task=typo))
    err = capsys.readouterr().err
    check_rejected(rc, err, out, (re.escape(repr(typo)), rf"did you mean .*{suggestion}"), None)


@pytest.mark.parametrize("extra, expect", [
    (["--workers", "-1"], ("--workers",)),
    (["--missing", "sometimes"], ("--missing", "sometimes")),
    (["--max-pixels", "many"], ("--max-pixels",)),
    (["--weights", "0.5"], ("weights",)),
    (["--weights", "half,half"], ("--weights",)),
    (["--storage-option", "anon"], ("--storage-option",)),
])
def test_bad_usage(extra: list[str], expect: tuple[str, ...], tmp_path: Path, capsys, monkeypatch) -> None:
    bench = image_bench(tmp_path / "bench")
    out = tmp_path / "out" / "result.json"
    _before_shards(monkeypatch)
    rc = main(bench.argv(out) + extra)
    err = capsys.readouterr().err
    check_rejected(rc, err, out, expect, None)


# ---------------------------------------------------------------------------------------------
# real processes: the exit status and the terminal as a user sees them
# ---------------------------------------------------------------------------------------------
def run_cli(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    return subprocess.run([sys.executable, "-m", "raydeval.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_subprocess_manifest_problem(tmp_path: Path) -> None:
    """Label 2 and a duplicate prediction id: one message per kind, exit 2, no traceback."""
    bench = audio_bench(tmp_path / "bench")
    _set("gt", "aud-01", label=2)(bench)
    _duplicate("pred", "aud-03")(bench)
    out = tmp_path / "out" / "result.json"
    proc = run_cli(bench.argv(out), tmp_path)
    check_rejected(proc.returncode, proc.stderr, out, ("aud-01", "aud-03", r"gt\.csv", r"pred\.parquet"),
                   INTACT[AUDIO])
    assert proc.stdout == ""


def test_subprocess_unknown_task(tmp_path: Path) -> None:
    bench = video_bench(tmp_path / "bench")
    out = tmp_path / "out" / "result.json"
    proc = run_cli(bench.argv(out, task="openmmsec-vidoe"), tmp_path)
    check_rejected(proc.returncode, proc.stderr, out, (rf"did you mean .*{VIDEO}",), None)


@pytest.mark.slow
def test_subprocess_media_problem(tmp_path: Path) -> None:
    """A corrupt GT PNG and a truncated predicted PNG, found by the workers of a fresh Ray."""
    bench = image_bench(tmp_path / "bench")
    _corrupt_gt_png(bench)
    _truncated_pred_png(bench)
    out = tmp_path / "out" / "result.json"
    proc = run_cli(bench.argv(out) + ["--workers", "1"], tmp_path, timeout=180)
    check_rejected(proc.returncode, proc.stderr, out, ("img-00", "img-01", r"masks/img-00\.png", r"img-01\.png"),
                   INTACT[IMAGE])
