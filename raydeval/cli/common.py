"""What the commands share: the parser class, option types and the evaluation options."""

from __future__ import annotations

import argparse
import re
import sys
from fractions import Fraction

from raydeval.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_REGRESSION = 0, 1, 2, 3


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: exit 2 with a clear line, like bad input
        self.print_usage(sys.stderr)
        raise InputError(message)


DECIMAL = re.compile(r"\d+(\.\d*)?|\.\d+")


def weights(text: str) -> tuple[Fraction, ...]:
    """Non-negative decimals separated by commas, summing to exactly 1 (e.g. 0.6,0.2,0.2)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(DECIMAL.fullmatch(part) for part in parts):
        raise argparse.ArgumentTypeError(f"expected non-negative decimals separated by commas, got {text!r}")
    values = tuple(Fraction(part) for part in parts)
    if sum(values) != 1:
        raise argparse.ArgumentTypeError(f"weights must sum to 1, got {text!r}")
    return values


def storage_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, {"true": True, "false": False}.get(value.lower(), value)


def add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task name (see `raydeval tasks`)")
    p.add_argument("--gt", required=True, help="GT manifest (.parquet/.csv/.jsonl, local path or URL)")
    p.add_argument("--pred", required=True, help="prediction manifest (a submission)")
    p.add_argument("--storage-option", action="append", type=storage_option, default=[],
                   metavar="KEY=VALUE", help="fsspec storage option for URLs (repeatable)")
    p.add_argument("--missing", choices=("error", "negative"), help="GT ids without a prediction")
    p.add_argument("--weights", type=weights, help="weights of the headline metrics, e.g. 0.6,0.2,0.2")
    p.add_argument("--authentic-policy", choices=("exclude", "zero", "one_if_pred_empty"),
                   help="image task: how real images enter pixel_f1")
    p.add_argument("--real-video-policy", choices=("exclude", "one_if_pred_empty"),
                   help="video task: how real videos enter mtiou")
    p.add_argument("--resize-pred", choices=("none", "nearest"), help="image task: mask shape mismatch")
    p.add_argument("--eer", choices=("asvspoof", "roc_fpr", "interp", "exact"),
                   help="EER definition: ASVspoof package (default), DeepfakeBench, HAMMER or exact")
    p.add_argument("--max-pixels", type=int, help="largest mask decoded (default 2^28 pixels)")
    p.add_argument("--video-id", help="detection task: GT column naming each frame's video (score videos)")
    p.add_argument("--aggregate", choices=("mean", "max"), help="detection task: a video's score from its frames")
    p.add_argument("--protocol", choices=("av1m", "activitynet"), help="temporal-localization: AP/AR definition")
    p.add_argument("--asv-scores", metavar="URI", help="asvspoof task: ASV score manifest (key, score), adds min_tdcf")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster to join (ray://host:10001 or auto); default: embedded local Ray")
    p.add_argument("--workers", type=int, default=0, help="shards evaluated at once (default: one per CPU)")
    p.add_argument("--shard-size", type=int, default=0, help="samples per shard (default: automatic)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu", help="where to count pixels")
    p.add_argument("--quiet", action="store_true", help="no progress display")


CONVENTIONS = ("missing", "weights", "authentic_policy", "real_video_policy", "resize_pred", "eer", "max_pixels",
               "video_id", "aggregate", "protocol", "asv_scores")  # the options that are task conventions


def conventions(args) -> dict:
    return {n: getattr(args, n) for n in CONVENTIONS if getattr(args, n) is not None}


def settings(args):
    from raydeval.evaluate import RunSettings

    if args.workers < 0 or args.shard_size < 0 or (args.max_pixels is not None and args.max_pixels <= 0):
        raise InputError("--workers, --shard-size and --max-pixels must be positive")
    return RunSettings(address=args.address, workers=args.workers, shard_size=args.shard_size,
                       device=args.device, storage_options=dict(args.storage_option),
                       progress=not args.quiet)
