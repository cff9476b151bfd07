"""Command line: argument parsing and output only; the work happens in the packages."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from fractions import Fraction

from raydeval import __version__
from raydeval.errors import InputError
from raydeval.io.result import to_json, write_atomic
from raydeval.tasks import all_tasks

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: exit 2 with a clear line, like bad input
        self.print_usage(sys.stderr)
        raise InputError(message)


DECIMAL = re.compile(r"\d+(\.\d*)?|\.\d+")


def _weights(text: str) -> tuple[Fraction, ...]:
    """Non-negative decimals separated by commas, summing to exactly 1 (e.g. 0.6,0.2,0.2)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(DECIMAL.fullmatch(part) for part in parts):
        raise argparse.ArgumentTypeError(f"expected non-negative decimals separated by commas, got {text!r}")
    weights = tuple(Fraction(part) for part in parts)
    if sum(weights) != 1:
        raise argparse.ArgumentTypeError(f"weights must sum to 1, got {text!r}")
    return weights


def _storage_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, {"true": True, "false": False}.get(value.lower(), value)


def _inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task name (see `raydeval tasks`)")
    p.add_argument("--gt", required=True, help="GT manifest (.parquet/.csv/.jsonl, local path or URL)")
    p.add_argument("--pred", required=True, help="prediction manifest (a submission)")
    p.add_argument("--storage-option", action="append", type=_storage_option, default=[],
                   metavar="KEY=VALUE", help="fsspec storage option for URLs (repeatable)")
    p.add_argument("--missing", choices=("error", "negative"), help="GT ids without a prediction")
    p.add_argument("--weights", type=_weights, help="weights of the headline metrics, e.g. 0.6,0.2,0.2")
    p.add_argument("--authentic-policy", choices=("exclude", "zero", "one_if_pred_empty"),
                   help="image task: how real images enter pixel_f1")
    p.add_argument("--real-video-policy", choices=("exclude", "one_if_pred_empty"),
                   help="video task: how real videos enter mtiou")
    p.add_argument("--resize-pred", choices=("none", "nearest"), help="image task: mask shape mismatch")
    p.add_argument("--eer", choices=("asvspoof",), help="EER definition")
    p.add_argument("--max-pixels", type=int, help="largest mask decoded (default 2^28 pixels)")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster to join (ray://host:10001 or auto); default: embedded local Ray")
    p.add_argument("--workers", type=int, default=0, help="shards evaluated at once (default: one per CPU)")
    p.add_argument("--shard-size", type=int, default=0, help="samples per shard (default: automatic)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu", help="where to count pixels")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raydeval", description="Exact, distributed evaluation of forgery-detection benchmarks.")
    parser.add_argument("--version", action="version", version=f"raydeval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("eval", help="evaluate a submission against a GT manifest")
    _inputs(p)
    _run_options(p)
    p.add_argument("--out", help="result file (JSON, written atomically)")
    p.add_argument("--json", action="store_true", help="print the result JSON to stdout instead of a table")

    p = sub.add_parser("validate", help="check both manifests (and with --decode every media file)")
    _inputs(p)
    _run_options(p)
    p.add_argument("--decode", action="store_true", help="also decode every referenced media file (on Ray)")

    sub.add_parser("tasks", help="list tasks, their metrics and conventions")

    p = sub.add_parser("demo", help="generate a small synthetic benchmark and submission, evaluate them")
    p.add_argument("--samples", type=int, default=120, help="samples per task (default 120)")
    p.add_argument("--out", help="directory for the benchmark and results (default: a temporary one)")
    p.add_argument("--workers", type=int, default=0, help="shards evaluated at once (default: one per CPU)")
    p.add_argument("--seed", type=int, default=0)
    return parser


def _conventions(args) -> dict:
    names = ("missing", "weights", "authentic_policy", "real_video_policy", "resize_pred", "eer", "max_pixels")
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _settings(args):
    from raydeval.evaluate import RunSettings

    if args.workers < 0 or args.shard_size < 0 or (args.max_pixels is not None and args.max_pixels <= 0):
        raise InputError("--workers, --shard-size and --max-pixels must be positive")
    return RunSettings(address=args.address, workers=args.workers, shard_size=args.shard_size,
                       device=args.device, storage_options=dict(args.storage_option),
                       progress=not args.quiet)


def cmd_eval(args) -> int:
    from raydeval.evaluate import evaluate

    if args.out and os.path.isdir(args.out):
        raise InputError(f"--out {args.out} is a directory; give a file name such as result.json")
    result = evaluate(args.task, args.gt, args.pred, _conventions(args), _settings(args))
    if args.out:
        try:
            write_atomic(args.out, to_json(result))
        except OSError as e:
            raise InputError(f"--out {args.out}: cannot write the result: {e.strerror or e}") from None
        print(f"raydeval: wrote {args.out}", file=sys.stderr)
    if args.json:
        sys.stdout.write(to_json(result))
    else:
        print(format_table([result]))
    return EXIT_OK


def cmd_validate(args) -> int:
    from raydeval.evaluate import evaluate, prepare

    if args.decode:
        result = evaluate(args.task, args.gt, args.pred, _conventions(args), _settings(args), decode_only=True)
        extra = {k: v for k, v in result["counts"].items() if k.startswith(("audio", "sample_rate"))}
        print(f"ok: {result['counts']['samples']} samples, every referenced file decodes"
              + (f" ({json.dumps(extra)})" if extra else ""))
    else:
        *_, table = prepare(args.task, args.gt, args.pred, _conventions(args), _settings(args))
        print(f"ok: {table.num_rows} samples; manifests are valid (use --decode to check media)")
    return EXIT_OK


def cmd_tasks(args) -> int:
    for task in all_tasks():
        print(f"{task.name}: {task.summary}")
        if task.headline:
            weights = ", ".join(f"{float(w):g}·{m}" for m, w in zip(task.headline, task.default_weights))
            print(f"  score = {weights}; extras: {', '.join(task.extras)}")
        else:
            print(f"  metrics: {', '.join(task.extras)}")
        for name, conv in task.conventions.items():
            choices = f" [{'|'.join(conv.choices)}]" if conv.choices else ""
            print(f"  {name} = {conv.default}{choices}  {conv.help}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from raydeval.demo import run_demo

    run_demo(args.out, args.samples, args.workers, args.seed)
    return EXIT_OK


def format_table(results: list[dict]) -> str:
    """A plain metrics table: one block per result."""
    lines = []
    for result in results:
        lines.append(f"{result['task']}  ({result['counts']['samples']} samples, "
                     f"{result['run']['seconds']:.2f} s, {result['run']['workers']} workers)")
        for name, value in result["metrics"].items():
            lines.append(f"  {name:<16} {'n/a' if value is None else f'{value:.6f}'}")
        for note in result["notes"]:
            lines.append(f"  note: {note}")
    return "\n".join(lines)


COMMANDS = {"eval": cmd_eval, "validate": cmd_validate, "tasks": cmd_tasks, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except InputError as e:
        print(f"raydeval: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("raydeval: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (e.g. `raydeval tasks | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Exception:
        traceback.print_exc()
        print("raydeval: internal error (the traceback above is a bug report, not an input problem)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
