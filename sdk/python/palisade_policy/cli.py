"""Command line: ``palisade-policy-py`` / ``python3 -m palisade_policy``.

Exit codes: 0 success, 1 the pack cannot be built (bad rules or spec, no rules, missing WIT, a
componentize-py failure), 2 bad usage (argparse), 3 componentize-py is not installed.
"""

import argparse
import sys

from .build import BuildError, ToolMissing, build, check

EXIT_BUILD = 1
EXIT_TOOL_MISSING = 3


def _parser():
    parser = argparse.ArgumentParser(
        prog="palisade-policy-py",
        description="Build Palisade policy packs written in Python.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True

    b = sub.add_parser("build", help="build a folder of rule files into one pack component",
                       description="Build a folder of Python rule files into one "
                                   "WebAssembly component with componentize-py.")
    b.add_argument("folder", help="the pack folder (rule files at its top level)")
    b.add_argument("-o", "--output", required=True, help="the component to write (.wasm)")
    b.add_argument("--wit", required=True,
                   help="the WIT directory defining palisade:policy/pack (the palisade binary "
                        "passes its own)")
    b.add_argument("--world", default="pack", help="the WIT world (default: pack)")
    b.add_argument("--keep-generated", action="store_true",
                   help="keep the generated app modules and print where they are")
    b.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    c = sub.add_parser("check", help="load a pack's rules without building and list them",
                       description="Import every rule of a pack folder in plain Python, check "
                                   "their metadata, and list them (no componentize-py needed).")
    c.add_argument("folder", help="the pack folder")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            build(args.folder, args.output, args.wit, world=args.world,
                  keep=args.keep_generated, quiet=args.quiet)
        else:
            rules = check(args.folder)
            for rule_id, severity, module, resource_types in rules:
                print(f"{rule_id}\t{severity}\t{','.join(resource_types)}\t{module}.py")
    except ToolMissing as e:
        print(f"palisade-policy-py: {e}", file=sys.stderr)
        return EXIT_TOOL_MISSING
    except BuildError as e:
        print(f"palisade-policy-py: {e}", file=sys.stderr)
        return EXIT_BUILD
    return 0


if __name__ == "__main__":
    sys.exit(main())
