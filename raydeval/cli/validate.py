"""`raydeval validate`: check both manifests (and with --decode every media file)."""

from __future__ import annotations

import json

from raydeval.cli import common


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check both manifests (and with --decode every media file)")
    common.add_inputs(p)
    common.add_run_options(p)
    p.add_argument("--decode", action="store_true", help="also decode every referenced media file (on Ray)")
    p.set_defaults(run=run)


def run(args) -> int:
    from raydeval.evaluate import evaluate, validated_rows

    conventions, settings = common.conventions(args), common.settings(args)
    if args.decode:
        result = evaluate(args.task, args.gt, args.pred, conventions, settings, decode_only=True)
        extra = {k: v for k, v in result["counts"].items() if k.startswith(("audio", "sample_rate"))}
        print(f"ok: {result['counts']['samples']} samples, every referenced file decodes"
              + (f" ({json.dumps(extra)})" if extra else ""))
    else:
        rows = validated_rows(args.task, args.gt, args.pred, conventions, settings)
        print(f"ok: {rows} samples; manifests are valid (use --decode to check media)")
    return common.EXIT_OK
