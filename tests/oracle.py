"""Slow, independent reference ("oracle") for the raydeval metrics (SPEC.md sections 1.2-1.4, 2).

Written from the spec alone, without importing raydeval.  Every ratio and every mean is an
exact `fractions.Fraction`, rounded to float64 exactly once where the spec says so.  Plain
Python loops: clarity over speed.

Rows are plain dicts:
    GT image  {"id", "label", "mask": path | None}
    GT video  {"id", "label", "num_frames", "fake_frames": [[s, e], ...], "mask": path | None}
    GT audio  {"id", "label"}
    pred      {"id", "label"?, "score"?, "mask"?, "fake_frames"?}   (any key may be absent)

Each oracle_* function returns a flat dict of metrics (None = undefined; a metric whose
inputs are absent, e.g. auc without scores, is left out) plus "counts" (sample-level
samples/tp/fp/fn/tn and a few extra integer counts).

Conventions decided here where the spec is silent (see the module's report):
  * a key whose value is None counts as absent ("label": None -> derived from the score);
  * if any pred row carries a score, every pred row used must carry one (ValueError otherwise);
  * intervals must satisfy 0 <= s < e <= num_frames (GT and pred), else ValueError;
  * PNG masks of bit depth 2/4 (outside the spec) use the threshold (2**depth - 1) // 2, the
    rule that gives >127 at 8 bits, >32767 at 16 bits and nonzero at 1 bit;
  * mask videos: the Y (luma) plane is read directly for 8-bit gray/YUV frames (SPEC 1.3);
    other pixel formats (e.g. RGB from PNG-in-MOV) go through frame.to_ndarray(format="gray").
"""

from fractions import Fraction
from pathlib import Path

import numpy as np

try:                                  # imported as tests.oracle
    from . import pngref
except ImportError:                   # imported as a top-level module / run as a script
    import pngref


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def _ratio(num, den):
    """Exact num/den as a Fraction, 0 when den == 0 (the zero_division convention)."""
    return Fraction(0) if den == 0 else Fraction(num, den)


def _exact_mean(values):
    """Correctly rounded float64 of (exact sum of the float values) / n; None if n == 0."""
    if not values:
        return None
    return float(sum(Fraction(v) for v in values) / len(values))


def _as_fraction(w):
    """A weight as an exact decimal: floats are read through their shortest repr (0.6 -> 3/5)."""
    if isinstance(w, float):
        return Fraction(repr(w))
    return Fraction(w)


def _weighted(weights, values):
    """Correctly rounded float64 of sum(w_k * m_k); None if any m_k is None."""
    if any(v is None for v in values):
        return None
    return float(sum(_as_fraction(w) * Fraction(v) for w, v in zip(weights, values)))


def _present(row, key):
    """True when the row has `key` with a non-None value."""
    return key in row and row[key] is not None


def _check_label(value, what):
    """Labels must be 0 or 1 (bool accepted)."""
    if value not in (0, 1):
        raise ValueError(f"{what}: label {value!r} is not 0/1")
    return int(value)


def _match(gt_rows, pred_rows, missing, negative_row):
    """Return [(gt_row, pred_row)] in GT order and whether scores are present.

    Pred ids not in GT are ignored.  GT ids without a prediction raise ValueError
    (missing="error") or get `negative_row` (missing="negative").
    """
    if missing not in ("error", "negative"):
        raise ValueError(f"unknown missing policy {missing!r}")
    gt_ids = [g["id"] for g in gt_rows]
    if len(set(gt_ids)) != len(gt_ids):
        raise ValueError("duplicate ids in GT")
    pred_by_id = {}
    for p in pred_rows:
        if p["id"] in pred_by_id:
            raise ValueError(f"duplicate id {p['id']!r} in predictions")
        pred_by_id[p["id"]] = p
    absent = [i for i in gt_ids if i not in pred_by_id]
    if absent and missing == "error":
        raise ValueError(f"{len(absent)} GT ids have no prediction, e.g. {absent[:20]}")
    has_scores = any(_present(p, "score") for p in pred_rows)
    pairs = []
    for g in gt_rows:
        p = pred_by_id.get(g["id"])
        if p is None:
            p = dict(negative_row, id=g["id"])
        if has_scores and not _present(p, "score"):
            raise ValueError(f"id {g['id']!r}: some predictions have a score, this one has none")
        if not _present(p, "label") and not _present(p, "score"):
            raise ValueError(f"id {g['id']!r}: prediction has neither label nor score")
        pairs.append((g, p))
    return pairs, has_scores


def _pred_label(p):
    """The predicted label: as given, else score > 0.5 (strict)."""
    if _present(p, "label"):
        return _check_label(p["label"], f"pred {p['id']!r}")
    return 1 if p["score"] > 0.5 else 0


def _detection_counts(pairs):
    """Sample-level confusion counts, fake = positive."""
    tp = fp = fn = tn = 0
    for g, p in pairs:
        y = _check_label(g["label"], f"GT {g['id']!r}")
        yhat = _pred_label(p)
        if y == 1 and yhat == 1:
            tp += 1
        elif y == 0 and yhat == 1:
            fp += 1
        elif y == 1 and yhat == 0:
            fn += 1
        else:
            tn += 1
    return {"samples": len(pairs), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _f1(tp, fp, fn):
    """Exact binary F1 = 2TP / (2TP + FP + FN), 0 at 0/0."""
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _threshold_free(pairs):
    """auc / ap / eer of GT label vs predicted score."""
    labels = [int(g["label"]) for g, _ in pairs]
    scores = [float(p["score"]) for _, p in pairs]
    return {"auc": ref_auc(labels, scores), "ap": ref_ap(labels, scores),
            "eer": ref_eer_asvspoof(labels, scores)}


# ---------------------------------------------------------------------------
# masks
# ---------------------------------------------------------------------------

def forged_from_png(path):
    """Forged-pixel mask of a PNG (SPEC 1.2), decoded with the independent pngref codec.

    1-bit: nonzero; 8-bit: > 127; 16-bit: > 32767.  Multi-channel: the mean of the colour
    channels (RGB, or the gray of gray+alpha; alpha ignored) is compared, exactly.
    Palette PNGs are expanded to RGB(A) and use the 8-bit rule.  In general the threshold
    is (2**depth - 1) // 2 (0, 127, 32767; 1 and 7 for the out-of-spec 2/4-bit gray), and
    the exact mean is compared with it: an RGB mean of 382/3 = 127.33 is forged.
    """
    arr, depth = pngref.read_png(path)
    if arr.ndim == 2:
        colour = arr[:, :, None]
    elif arr.shape[2] in (1, 2):            # gray, gray + alpha
        colour = arr[:, :, :1]
    else:                                   # RGB, RGBA
        colour = arr[:, :, :3]
    threshold = ((1 << depth) - 1) // 2
    n_colour = colour.shape[2]
    height, width = arr.shape[0], arr.shape[1]
    out = np.zeros((height, width), dtype=bool)
    for y in range(height):
        for x in range(width):
            mean = Fraction(sum(int(v) for v in colour[y, x]), n_colour)
            out[y, x] = mean > threshold
    return out


def forged_from_npy(path):
    """Forged-pixel mask of a .npy file: bool as is; uint8 > 127; float > 0.5."""
    arr = np.load(path, allow_pickle=False)
    if arr.ndim != 2:
        raise ValueError(f"{path}: mask must be 2-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.copy()
    if arr.dtype == np.uint8:
        return arr > 127
    if np.issubdtype(arr.dtype, np.floating):
        return arr > 0.5
    raise ValueError(f"{path}: unsupported mask dtype {arr.dtype}")


def forged_mask(path):
    """Forged-pixel mask of an image mask file, by suffix (.png / .npy)."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".png":
        return forged_from_png(path)
    if suffix == ".npy":
        return forged_from_npy(path)
    raise ValueError(f"{path}: unsupported mask file type {suffix!r}")


def _is_8bit_luma_format(fmt):
    """True for 8-bit gray / planar-or-semi-planar YUV formats whose plane 0 is Y."""
    if fmt.is_rgb or fmt.has_palette or fmt.is_bayer:
        return False
    if fmt.components[0].bits != 8:
        return False
    return fmt.name == "gray" or fmt.name.startswith(("yuv", "yuvj", "nv"))


def _luma_plane(frame):
    """The Y plane of an 8-bit gray/YUV frame as an (H, W) uint8 array."""
    plane = frame.planes[0]
    rows = np.frombuffer(bytes(plane), dtype=np.uint8).reshape(-1, plane.line_size)
    return rows[:frame.height, :frame.width].copy()


def forged_video(path, method="luma"):
    """Per-frame forged masks (> 127) of every frame of the first video stream.

    method="luma" (default, SPEC 1.3): the Y plane of 8-bit gray/YUV frames read directly;
    other formats via frame.to_ndarray(format="gray").
    method="swscale": always frame.to_ndarray(format="gray").  NOTE: for limited-range YUV
    frames (e.g. yuv420p) swscale stretches 16..235 to 0..255, so Y = 126 and 127 become
    forged; the two methods agree on 0/255 masks only.
    """
    import av

    if method not in ("luma", "swscale"):
        raise ValueError(f"unknown method {method!r}")
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if method == "luma" and _is_8bit_luma_format(frame.format):
                gray = _luma_plane(frame)
            else:
                gray = frame.to_ndarray(format="gray")
            frames.append(gray > 127)
    return frames


# ---------------------------------------------------------------------------
# threshold-free metrics (SPEC 2.4)
# ---------------------------------------------------------------------------

def ref_auc(labels, scores):
    """Brute-force Mann-Whitney AUC: (correct + 1/2 tied) / (P * N); None if a class is absent."""
    pos = [s for y, s in zip(labels, scores) if y == 1]
    neg = [s for y, s in zip(labels, scores) if y == 0]
    if not pos or not neg:
        return None
    correct = tied = 0
    for sp in pos:
        for sn in neg:
            if sp > sn:
                correct += 1
            elif sp == sn:
                tied += 1
    return float(Fraction(2 * correct + tied, 2 * len(pos) * len(neg)))


def ref_ap(labels, scores):
    """Average precision (sklearn definition) as SPEC 2.4 computes it; None without positives.

    Distinct thresholds descending; TP_k, FP_k cumulative counts at score >= threshold k;
    term_k = float64(dTP_k * TP_k / (TP_k + FP_k)); AP = float64(exact sum of terms / P).
    """
    n_pos = sum(1 for y in labels if y == 1)
    if n_pos == 0:
        return None
    tp = fp = 0
    total = Fraction(0)
    for threshold in sorted(set(scores), reverse=True):
        d_tp = sum(1 for y, s in zip(labels, scores) if s == threshold and y == 1)
        d_fp = sum(1 for y, s in zip(labels, scores) if s == threshold and y == 0)
        tp += d_tp
        fp += d_fp
        term = float(Fraction(d_tp * tp, tp + fp))
        total += Fraction(term)
    return float(total / n_pos)


def compute_det_curve(target_scores, nontarget_scores):
    """The official ASVspoof DET curve (eval_metrics.py), unchanged in substance."""
    n_scores = target_scores.size + nontarget_scores.size
    all_scores = np.concatenate((target_scores, nontarget_scores))
    labels = np.concatenate((np.ones(target_scores.size), np.zeros(nontarget_scores.size)))

    # sort labels by score; mergesort is stable, so targets precede non-targets on ties
    indices = np.argsort(all_scores, kind="mergesort")
    labels = labels[indices]

    # false rejection and false acceptance rates
    tar_trial_sums = np.cumsum(labels)
    nontarget_trial_sums = nontarget_scores.size - (np.arange(1, n_scores + 1) - tar_trial_sums)

    frr = np.concatenate((np.atleast_1d(0), tar_trial_sums / target_scores.size))
    far = np.concatenate((np.atleast_1d(1), nontarget_trial_sums / nontarget_scores.size))
    thresholds = np.concatenate((np.atleast_1d(all_scores[indices[0]] - 0.001),
                                 all_scores[indices]))
    return frr, far, thresholds


def compute_eer(target_scores, nontarget_scores):
    """The official ASVspoof EER: returns (eer, threshold)."""
    frr, far, thresholds = compute_det_curve(target_scores, nontarget_scores)
    abs_diffs = np.abs(frr - far)
    min_index = np.argmin(abs_diffs)
    eer = np.mean((frr[min_index], far[min_index]))
    return eer, thresholds[min_index]


def ref_eer_asvspoof(labels, scores):
    """ASVspoof EER with targets = label 1 (fake), higher score = fake; None if a class is absent."""
    target = np.array([s for y, s in zip(labels, scores) if y == 1], dtype=np.float64)
    nontarget = np.array([s for y, s in zip(labels, scores) if y == 0], dtype=np.float64)
    if target.size == 0 or nontarget.size == 0:
        return None
    eer, _ = compute_eer(target, nontarget)
    return float(eer)


def ref_eer_asvspoof_loop(labels, scores):
    """The same EER walked one sample at a time in plain Python.

    Ascending score, targets before non-targets among equal scores; start at
    (FRR=0, FAR=1); FRR = misses/T, FAR = false_alarms/N as float divisions; the FIRST
    point with the smallest |FRR - FAR| wins; EER = (FRR + FAR) / 2 in float.
    """
    n_target = sum(1 for y in labels if y == 1)
    n_nontarget = sum(1 for y in labels if y == 0)
    if n_target == 0 or n_nontarget == 0:
        return None
    order = sorted(zip(scores, labels), key=lambda sy: (sy[0], 0 if sy[1] == 1 else 1))
    misses, false_alarms = 0, n_nontarget
    best_frr, best_far = 0.0, 1.0
    best_diff = abs(best_frr - best_far)
    for _, y in order:
        if y == 1:
            misses += 1
        else:
            false_alarms -= 1
        frr = misses / n_target
        far = false_alarms / n_nontarget
        if abs(frr - far) < best_diff:
            best_diff, best_frr, best_far = abs(frr - far), frr, far
    return (best_frr + best_far) / 2


# ---------------------------------------------------------------------------
# image task (SPEC 1.2, 2.1)
# ---------------------------------------------------------------------------

def _pixel_counts(pred, gt):
    """Pixel TP, FP, FN of two equally shaped boolean masks."""
    if pred.shape != gt.shape:
        raise ValueError(f"mask shape mismatch: pred {pred.shape} vs GT {gt.shape}")
    tp = fp = fn = 0
    for p, g in zip(pred.reshape(-1).tolist(), gt.reshape(-1).tolist()):
        if p and g:
            tp += 1
        elif p:
            fp += 1
        elif g:
            fn += 1
    return tp, fp, fn


def oracle_image(gt_rows, pred_rows, *, weights=(Fraction(1, 2), Fraction(1, 2)),
                 authentic_policy="exclude", missing="error", per_sample=None):
    """Reference metrics of the openmmsec-image task; `per_sample` (a dict), when given, receives
    {"pixel_f1": {id: value}} of the images entering pixel_f1."""
    if authentic_policy not in ("exclude", "zero", "one_if_pred_empty"):
        raise ValueError(f"unknown authentic_policy {authentic_policy!r}")
    pairs, has_scores = _match(gt_rows, pred_rows, missing,
                               {"label": 0, "score": 0.0, "mask": None})
    counts = _detection_counts(pairs)

    # image level: F1 of each class as the positive one, exact mean
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    f1_fake = _f1(tp, fp, fn)
    f1_real = _f1(tn, fn, fp)
    metrics = {"macro_f1": float((f1_fake + f1_real) / 2)}

    # pixel level
    per_image, entered = [], {}
    pix_tp = pix_fp = pix_fn = 0
    pooled_images = 0
    for g, p in pairs:
        gt_mask = forged_mask(g["mask"]) if _present(g, "mask") else None
        pred_mask = forged_mask(p["mask"]) if _present(p, "mask") else None
        if int(g["label"]) == 1:
            if gt_mask is None:
                continue                        # fully generated: no localisation
            if pred_mask is None:
                pred_mask = np.zeros_like(gt_mask, dtype=bool)
            i_tp, i_fp, i_fn = _pixel_counts(pred_mask, gt_mask)
            den = 2 * i_tp + i_fp + i_fn
            per_image.append(1.0 if den == 0 else float(Fraction(2 * i_tp, den)))
            entered[g["id"]] = per_image[-1]
            pix_tp, pix_fp, pix_fn = pix_tp + i_tp, pix_fp + i_fp, pix_fn + i_fn
            pooled_images += 1
        else:
            if gt_mask is not None and gt_mask.any():
                raise ValueError(f"GT {g['id']!r}: a real image has a non-empty mask")
            if authentic_policy == "zero":
                per_image.append(0.0)
                entered[g["id"]] = 0.0
            elif authentic_policy == "one_if_pred_empty":
                empty = pred_mask is None or not pred_mask.any()
                per_image.append(1.0 if empty else 0.0)
                entered[g["id"]] = per_image[-1]
    if per_sample is not None:
        per_sample["pixel_f1"] = entered
    metrics["pixel_f1"] = _exact_mean(per_image)
    metrics["pixel_f1_pooled"] = float(_f1(pix_tp, pix_fp, pix_fn))  # pooled: 0/0 -> zero_division
    metrics["score"] = _weighted(weights, [metrics["macro_f1"], metrics["pixel_f1"]])
    if has_scores:
        metrics.update(_threshold_free(pairs))

    counts.update({"pixel_images": len(per_image), "pooled_images": pooled_images,
                   "pixel_tp": pix_tp, "pixel_fp": pix_fp, "pixel_fn": pix_fn})
    metrics["counts"] = counts
    return metrics


# ---------------------------------------------------------------------------
# video task (SPEC 1.3, 2.2)
# ---------------------------------------------------------------------------

def frame_set(intervals, num_frames, what):
    """The set of frames covered by half-open [s, e) intervals (overlaps merged)."""
    frames = set()
    for interval in intervals or []:
        s, e = interval
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (s, e)):
            raise ValueError(f"{what}: interval {interval!r} is not a pair of ints")
        s, e = int(s), int(e)
        if not 0 <= s < e <= num_frames:
            raise ValueError(f"{what}: interval {interval!r} not within [0, {num_frames})")
        frames.update(range(s, e))
    return frames


def _mask_frames(path, num_frames, what):
    """Per-frame forged masks of a mask video; it must have exactly num_frames frames."""
    frames = forged_video(path)
    if len(frames) != num_frames:
        raise ValueError(f"{what}: mask video has {len(frames)} frames, expected {num_frames}")
    return frames


def _spatial_iou(pred, gt):
    """IoU of two boolean masks as float64 of one division; 1.0 when both are empty."""
    if pred.shape != gt.shape:
        raise ValueError(f"mask frame shape mismatch: pred {pred.shape} vs GT {gt.shape}")
    inter = union = 0
    for p, g in zip(pred.reshape(-1).tolist(), gt.reshape(-1).tolist()):
        inter += p and g
        union += p or g
    return 1.0 if union == 0 else float(Fraction(inter, union))


def oracle_video(gt_rows, pred_rows, *, weights=(Fraction(3, 5), Fraction(1, 5), Fraction(1, 5)),
                 real_video_policy="exclude", missing="error", per_sample=None):
    """Reference metrics of the openmmsec-video task; `per_sample` (a dict), when given, receives
    {"tiou": {id: value}, "viou": {id: value}} of the videos entering mtiou and mviou."""
    if real_video_policy not in ("exclude", "one_if_pred_empty"):
        raise ValueError(f"unknown real_video_policy {real_video_policy!r}")
    pairs, has_scores = _match(gt_rows, pred_rows, missing,
                               {"label": 0, "score": 0.0, "mask": None, "fake_frames": []})
    counts = _detection_counts(pairs)
    metrics = {"micro_f1": float(_f1(counts["tp"], counts["fp"], counts["fn"]))}

    tious, vious, by_id = [], [], {"tiou": {}, "viou": {}}
    f_tp = f_fp = f_fn = 0
    frame_videos = 0
    for g, p in pairs:
        n = g["num_frames"]
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"GT {g['id']!r}: num_frames must be an int > 0")
        gt_frames = frame_set(g.get("fake_frames"), n, f"GT {g['id']!r}")
        pred_frames = frame_set(p.get("fake_frames"), n, f"pred {g['id']!r}")
        label = int(g["label"])
        if label == 0 and gt_frames:
            raise ValueError(f"GT {g['id']!r}: a real video has fake frames")

        # frame-level counts where frame labels are known
        if label == 0 or gt_frames:
            frame_videos += 1
            f_tp += len(pred_frames & gt_frames)
            f_fp += len(pred_frames - gt_frames)
            f_fn += len(gt_frames - pred_frames)

        # temporal IoU
        if label == 1 and gt_frames:
            tious.append(float(Fraction(len(pred_frames & gt_frames),
                                        len(pred_frames | gt_frames))))
            by_id["tiou"][g["id"]] = tious[-1]
        elif label == 0 and real_video_policy == "one_if_pred_empty":
            tious.append(1.0 if not pred_frames else 0.0)
            by_id["tiou"][g["id"]] = tious[-1]

        # spatio-temporal vIoU
        if label == 1 and gt_frames and _present(g, "mask"):
            gt_masks = _mask_frames(g["mask"], n, f"GT {g['id']!r}")
            pred_masks = (_mask_frames(p["mask"], n, f"pred {g['id']!r}")
                          if _present(p, "mask") else None)
            if pred_masks is not None and pred_masks[0].shape != gt_masks[0].shape:
                raise ValueError(f"{g['id']!r}: mask video frame size {pred_masks[0].shape} "
                                 f"vs GT {gt_masks[0].shape}")
            s_i = pred_frames & gt_frames
            s_u = pred_frames | gt_frames
            iou_sum = Fraction(0)
            for t in sorted(s_i):
                gt_t = gt_masks[t]
                pred_t = pred_masks[t] if pred_masks is not None else np.zeros_like(gt_t)
                iou_sum += Fraction(_spatial_iou(pred_t, gt_t))
            vious.append(float(iou_sum / len(s_u)) if s_u else 0.0)
            by_id["viou"][g["id"]] = vious[-1]

    if per_sample is not None:
        per_sample.update(by_id)
    metrics["mtiou"] = _exact_mean(tious)
    metrics["mviou"] = _exact_mean(vious)
    for r in (0.3, 0.5):
        metrics[f"viou@{r}"] = (float(Fraction(sum(1 for v in vious if v > r), len(vious)))
                                if vious else None)
    metrics["frame_f1"] = float(_f1(f_tp, f_fp, f_fn))
    metrics["score"] = _weighted(weights, [metrics["micro_f1"], metrics["mtiou"],
                                           metrics["mviou"]])
    if has_scores:
        metrics.update(_threshold_free(pairs))

    counts.update({"tiou_videos": len(tious), "viou_videos": len(vious),
                   "frame_videos": frame_videos,
                   "frame_tp": f_tp, "frame_fp": f_fp, "frame_fn": f_fn})
    metrics["counts"] = counts
    return metrics


# ---------------------------------------------------------------------------
# audio task (SPEC 1.4, 2.3)
# ---------------------------------------------------------------------------

def oracle_audio(gt_rows, pred_rows, *, missing="error"):
    """Reference metrics of the openmmsec-audio task (spoof = positive)."""
    pairs, has_scores = _match(gt_rows, pred_rows, missing, {"label": 0, "score": 0.0})
    counts = _detection_counts(pairs)
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    metrics = {"f1": float(_f1(tp, fp, fn)),
               "precision": float(_ratio(tp, tp + fp)),
               "recall": float(_ratio(tp, tp + fn))}
    if has_scores:
        metrics.update(_threshold_free(pairs))
    metrics["counts"] = counts
    return metrics


# ---------------------------------------------------------------------------
# self-check
# ---------------------------------------------------------------------------

def _write_mask_video(path, masks, kind):
    """Write boolean masks as a lossless mask video (test helper).

    kind: "ffv1-gray" (Matroska), "ffv1-yuv420p", "x264-yuv420p" (qp=0, MP4) or
    "png-gray" (MOV).  YUV frames are built with Y = mask * 255 and flat chroma.
    Values may also be given as uint8 arrays (written as is).
    """
    import av

    codec, pix_fmt = {"ffv1-gray": ("ffv1", "gray"), "ffv1-yuv420p": ("ffv1", "yuv420p"),
                      "x264-yuv420p": ("libx264", "yuv420p"), "png-gray": ("png", "gray")}[kind]
    height, width = masks[0].shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"qp": "0", "preset": "ultrafast"}
        for m in masks:
            y = m.astype(np.uint8) * 255 if m.dtype == np.bool_ else m.astype(np.uint8)
            if pix_fmt == "gray":
                frame = av.VideoFrame.from_ndarray(y, format="gray")
            else:
                frame = av.VideoFrame(width, height, "yuv420p")
                for index, plane in enumerate(frame.planes):
                    if index == 0:
                        buf = np.zeros((plane.height, plane.line_size), np.uint8)
                        buf[:height, :width] = y
                    else:
                        buf = np.full((plane.height, plane.line_size), 128, np.uint8)
                    plane.update(buf.tobytes())
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _self_check():
    """Compare with sklearn, cross-check the two EERs, and verify hand-computed cases."""
    import os
    import random
    import tempfile

    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = random.Random(20250101)

    # --- auc / ap against sklearn, eer loop against the official code ------------------
    n_cases = 0
    for trial in range(300):
        n = rng.randint(2, 120)
        levels = rng.choice([2, 3, 5, 11, 101, 10 ** 6])      # few levels -> many ties
        labels = [rng.randint(0, 1) for _ in range(n)]
        scores = [rng.randint(0, levels - 1) / (levels - 1) for _ in range(n)]
        if trial % 7 == 0:
            labels = [1] * n                                     # one class absent
        if trial % 11 == 0:
            labels = [0] * n
        both = 0 < sum(labels) < n
        auc, ap = ref_auc(labels, scores), ref_ap(labels, scores)
        eer, eer_loop = ref_eer_asvspoof(labels, scores), ref_eer_asvspoof_loop(labels, scores)
        if both:
            assert abs(auc - roc_auc_score(labels, scores)) <= 1e-12, (auc, labels, scores)
            assert abs(ap - average_precision_score(labels, scores)) <= 1e-12, (ap,)
            assert eer == eer_loop, (eer, eer_loop, labels, scores)
            assert type(eer) is float and type(eer_loop) is float
            n_cases += 1
        else:
            assert auc is None and eer is None and eer_loop is None
            assert (ap is None) == (sum(labels) == 0)
            if ap is not None:
                assert abs(ap - average_precision_score(labels, scores)) <= 1e-12

    # spec 2.4: five trials where float64 picks another point than exact rationals would
    labels, scores = [1, 0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.5]
    assert ref_eer_asvspoof(labels, scores) == ref_eer_asvspoof_loop(labels, scores)
    assert ref_eer_asvspoof(labels, scores) == (2 / 3 + 1 / 2) / 2          # 0.5833..., not 5/12
    # auc / ap hand cases
    assert ref_auc([1, 0], [0.5, 0.5]) == 0.5
    assert ref_auc([1, 1, 0], [0.9, 0.2, 0.5]) == 0.5
    assert ref_ap([1, 0, 1], [0.9, 0.8, 0.1]) == float((1 + Fraction(2 / 3)) / 2)   # term = float

    # --- video: temporal IoU hand cases ----------------------------------------------------
    gt = [{"id": "v", "label": 1, "num_frames": 20, "fake_frames": [[5, 15]], "mask": None}]
    res = oracle_video(gt, [{"id": "v", "label": 1, "fake_frames": [[0, 10]]}])
    assert res["mtiou"] == float(Fraction(1, 3)), res
    res = oracle_video(gt, [{"id": "v", "score": 0.9, "fake_frames": [[5, 10], [0, 6], [2, 3]]}])
    assert res["mtiou"] == float(Fraction(1, 3)) and res["micro_f1"] == 1.0, res
    assert res["mviou"] is None and res["score"] is None and res["auc"] is None, res
    assert res["frame_f1"] == float(Fraction(2 * 5, 2 * 5 + 5 + 5)), res
    # real video policy and missing="negative"
    gt2 = gt + [{"id": "r", "label": 0, "num_frames": 8, "fake_frames": [], "mask": None}]
    res = oracle_video(gt2, [{"id": "v", "label": 1, "fake_frames": [[0, 10]]}],
                       missing="negative", real_video_policy="one_if_pred_empty")
    assert res["mtiou"] == float((Fraction(1, 3) + 1) / 2), res
    assert res["counts"]["tn"] == 1 and res["counts"]["samples"] == 2, res
    try:
        oracle_video(gt2, [{"id": "v", "label": 1}])
    except ValueError:
        pass
    else:
        raise AssertionError("missing id not reported")

    tmp = tempfile.mkdtemp(prefix="oracle-")

    # --- video: vIoU with mask videos --------------------------------------------------
    num_frames, h, w = 6, 8, 10
    gt_m = [np.zeros((h, w), bool) for _ in range(num_frames)]
    pr_m = [np.zeros((h, w), bool) for _ in range(num_frames)]
    for t in range(num_frames):
        gt_m[t][1:5, 2:6] = True            # 16 pixels
        pr_m[t][1:5, 4:8] = True            # 16 pixels, 8 shared -> IoU 8/24 = 1/3
    pr_m[3][:] = False                      # frame 3: pred empty -> IoU 0
    for kind in ("ffv1-gray", "ffv1-yuv420p", "x264-yuv420p", "png-gray"):
        ext = {"ffv1-gray": "mkv", "ffv1-yuv420p": "mkv", "x264-yuv420p": "mp4",
               "png-gray": "mov"}[kind]
        gp, pp = os.path.join(tmp, f"gt-{kind}.{ext}"), os.path.join(tmp, f"pr-{kind}.{ext}")
        _write_mask_video(gp, gt_m, kind)
        _write_mask_video(pp, pr_m, kind)
        assert all(np.array_equal(a, b) for a, b in zip(forged_video(gp), gt_m)), kind
        assert all(np.array_equal(a, b) for a, b in zip(forged_video(gp, "swscale"), gt_m)), kind
        gt_v = [{"id": "a", "label": 1, "num_frames": num_frames, "fake_frames": [[1, 5]],
                 "mask": gp}]
        pred_v = [{"id": "a", "label": 1, "fake_frames": [[2, 6]], "mask": pp}]
        res = oracle_video(gt_v, pred_v)
        # S_i = {2,3,4}, S_u = {1..5}; IoU_t = 1/3, 0, 1/3
        third = float(Fraction(1, 3))
        expect = float((Fraction(third) + Fraction(third)) / 5)
        assert res["mviou"] == expect, (kind, res)
        assert res["viou@0.3"] == 0.0 and res["mtiou"] == float(Fraction(3, 5)), res
        expect_score = float(Fraction(3, 5) * 1 + Fraction(1, 5) * Fraction(res["mtiou"])
                             + Fraction(1, 5) * Fraction(expect))
        assert res["score"] == expect_score, res
        # no predicted mask: every IoU_t is 0 (GT non-empty)
        res = oracle_video(gt_v, [{"id": "a", "label": 1, "fake_frames": [[2, 6]]}])
        assert res["mviou"] == 0.0, res
    # luma plane vs swscale gray on a limited-range yuv420p ramp: they differ at Y = 126, 127
    ramp = [np.tile(np.arange(256, dtype=np.uint8), (4, 1))]
    rp = os.path.join(tmp, "ramp.mkv")
    _write_mask_video(rp, ramp, "ffv1-yuv420p")
    luma, sws = forged_video(rp)[0], forged_video(rp, "swscale")[0]
    assert np.array_equal(luma, ramp[0] > 127)
    assert sorted(set(np.nonzero(luma != sws)[1].tolist())) == [126, 127]

    # --- image: PNG / npy masks and pixel metrics --------------------------------------
    gt_png = os.path.join(tmp, "gt.png")
    mask = np.zeros((4, 5), bool)
    mask[0, :4] = True                                      # 4 forged pixels
    pngref.write_png(gt_png, mask, 1)
    assert np.array_equal(forged_mask(gt_png), mask)
    pred_rgb = np.zeros((4, 5, 3), np.uint8)
    pred_rgb[0, 2:5] = (128, 127, 127)                      # mean 382/3 > 127: forged
    pred_rgb[1, 0] = (127, 127, 127)                        # mean 127: not forged
    pred_rgb[2, 0] = (255, 255, 0)                          # mean 170: forged
    pred_png = os.path.join(tmp, "pred.png")
    pngref.write_png(pred_png, pred_rgb, 8)
    expected_pred = np.zeros((4, 5), bool)
    expected_pred[0, 2:5] = True
    expected_pred[2, 0] = True
    assert np.array_equal(forged_mask(pred_png), expected_pred)
    g16 = np.array([[32767, 32768, 0, 65535]], np.uint16)
    pngref.write_png(os.path.join(tmp, "g16.png"), g16, 16)
    assert forged_mask(os.path.join(tmp, "g16.png")).tolist() == [[False, True, False, True]]
    ga = np.array([[[200, 0], [100, 255]]], np.uint8)       # alpha ignored
    pngref.write_png(os.path.join(tmp, "ga.png"), ga, 8)
    assert forged_mask(os.path.join(tmp, "ga.png")).tolist() == [[True, False]]
    rgb16 = np.array([[[32768, 32767, 32767], [32767, 32767, 32767]]], np.uint16)
    pngref.write_png(os.path.join(tmp, "rgb16.png"), rgb16, 16)
    assert forged_mask(os.path.join(tmp, "rgb16.png")).tolist() == [[True, False]]
    from PIL import Image
    pal = Image.fromarray(np.array([[0, 1, 2, 3]], np.uint8), mode="P")
    pal.putpalette([128, 127, 127, 127, 127, 127, 255, 255, 0, 0, 0, 255])
    pal.save(os.path.join(tmp, "pal.png"), bits=2, transparency=bytes([0, 0, 0, 0]))
    assert forged_mask(os.path.join(tmp, "pal.png")).tolist() == [[True, False, True, False]]
    np.save(os.path.join(tmp, "f.npy"), np.array([[0.5, 0.50001]]))
    assert forged_mask(os.path.join(tmp, "f.npy")).tolist() == [[False, True]]
    np.save(os.path.join(tmp, "u.npy"), np.array([[127, 128]], np.uint8))
    assert forged_mask(os.path.join(tmp, "u.npy")).tolist() == [[False, True]]

    # pred vs GT: TP 2 (0,2),(0,3); FP 2 (0,4),(2,0); FN 2 (0,0),(0,1) -> f = 4/8
    gt_i = [{"id": "a", "label": 1, "mask": gt_png},
            {"id": "b", "label": 1, "mask": gt_png},
            {"id": "c", "label": 1, "mask": None},
            {"id": "d", "label": 0, "mask": None},
            {"id": "e", "label": 0, "mask": None}]
    pred_i = [{"id": "a", "score": 0.7, "mask": pred_png},
              {"id": "b", "score": 0.5, "mask": None},       # label 0 (0.5 is not > 0.5)
              {"id": "c", "score": 0.9},
              {"id": "d", "score": 0.2, "mask": pred_png},
              {"id": "e", "score": 0.6, "label": 0},
              {"id": "zzz", "score": 1.0}]                   # not in GT: ignored
    res = oracle_image(gt_i, pred_i)
    c = res["counts"]
    assert (c["tp"], c["fp"], c["fn"], c["tn"], c["samples"]) == (2, 0, 1, 2, 5), c
    f1_fake, f1_real = Fraction(4, 5), Fraction(4, 5)
    assert res["macro_f1"] == float((f1_fake + f1_real) / 2), res
    assert res["pixel_f1"] == float((Fraction(1, 2) + 0) / 2), res
    assert res["pixel_f1_pooled"] == float(Fraction(4, 4 + 2 + 2 + 4)), res
    assert res["score"] == float(Fraction(1, 2) * Fraction(res["macro_f1"])
                                 + Fraction(1, 2) * Fraction(res["pixel_f1"])), res
    labels_i, scores_i = [1, 1, 1, 0, 0], [0.7, 0.5, 0.9, 0.2, 0.6]
    assert res["auc"] == ref_auc(labels_i, scores_i) == float(Fraction(5, 6)), res
    res = oracle_image(gt_i, pred_i, authentic_policy="zero")
    assert res["pixel_f1"] == float(Fraction(1, 2) / 4), res
    res = oracle_image(gt_i, pred_i, authentic_policy="one_if_pred_empty")
    assert res["pixel_f1"] == float((Fraction(1, 2) + 0 + 0 + 1) / 4), res
    res = oracle_image(gt_i[3:], [{"id": "d", "label": 0}, {"id": "e", "label": 0}])
    assert res["pixel_f1"] is None and res["score"] is None and "auc" not in res, res
    assert res["macro_f1"] == 0.5 and res["pixel_f1_pooled"] == 0.0, res

    # --- audio ---------------------------------------------------------------------------
    gt_a = [{"id": str(i), "label": y} for i, y in enumerate([1, 1, 1, 0, 0])]
    pred_a = [{"id": str(i), "label": y} for i, y in enumerate([1, 0, 1, 1, 0])]
    res = oracle_audio(gt_a, pred_a)
    assert res["precision"] == float(Fraction(2, 3)) and res["recall"] == float(Fraction(2, 3))
    assert res["f1"] == float(Fraction(4, 6)) and "eer" not in res, res
    res = oracle_audio(gt_a, pred_a[:3], missing="negative")
    assert res["counts"]["tn"] == 2 and res["precision"] == 1.0, res

    import shutil
    shutil.rmtree(tmp)
    print(f"oracle self-check OK ({n_cases} random metric cases, hand cases, "
          f"4 mask-video containers)")


if __name__ == "__main__":
    _self_check()
