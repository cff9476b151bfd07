"""Command line: argument parsing and dispatch only; one module per command, the work happens
in the packages."""

from __future__ import annotations

import os
import sys
import traceback

from raydeval import __version__
from raydeval.cli import common, demo, eval, history, jobs, report, submit, sweep, tasks, validate
from raydeval.errors import InputError, ShardFailure

COMMANDS = (eval, validate, tasks, demo, submit, jobs, sweep, history, report)


def build_parser() -> common.Parser:
    parser = common.Parser(prog="raydeval", description="Exact, distributed evaluation of forgery-detection benchmarks.")
    parser.add_argument("--version", action="version", version=f"raydeval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=common.Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except InputError as e:
        print(f"raydeval: error: {e}", file=sys.stderr)
        return common.EXIT_INPUT
    except ShardFailure as e:  # not the driver's bug: show the worker's error, not this traceback
        if e.detail:
            print(e.detail.rstrip(), file=sys.stderr)
        print(f"raydeval: error: {e}", file=sys.stderr)
        return common.EXIT_INTERNAL
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
        return common.EXIT_INTERNAL
