"""The `swiftconv` command (API.md section 6)."""

import argparse
import json
import sys

from ._version import __version__


def _inspect(args):
    from .model import load

    model = load(args.model)
    if args.json:
        print(json.dumps(model._facts(), indent=2, ensure_ascii=False))
    else:
        print(model.summary())
    return 0


def _check(args):
    from .model import load

    load(args.model).check()
    print(f"{args.model}: ok")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="swiftconv", description="Convert, inspect and run ONNX / TFLite models.")
    parser.add_argument("--version", action="version", version=f"swiftconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    inspect = commands.add_parser("inspect", help="print a model's summary")
    inspect.add_argument("model", metavar="MODEL")
    inspect.add_argument("--json", action="store_true", help="machine-readable model facts")
    inspect.set_defaults(run=_inspect)

    check = commands.add_parser("check", help="validate a model (exit code 1 when invalid)")
    check.add_argument("model", metavar="MODEL")
    check.set_defaults(run=_check)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .errors import SwiftconvError

    try:
        return args.run(args)
    except BrokenPipeError:
        return 0
    except (SwiftconvError, OSError) as error:
        print(f"swiftconv {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
