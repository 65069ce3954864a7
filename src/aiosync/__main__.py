"""The ``aiosync`` command line (also ``python -m aiosync``).

Each subcommand is declared by one function in ``_COMMANDS`` that adds its parser to the
subparsers and sets ``handler``: a function from the parsed arguments to an exit code. To
add a subcommand, write such a function and list it there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._demo import SECTIONS, run_demo
from ._version import __version__

if TYPE_CHECKING:
    from typing import TypeAlias

    # What add_subparsers() returns (subscriptable only in typeshed).
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


# -- demo -----------------------------------------------------------------------------------


_DEMO_SECTIONS = ", ".join(section.name for section in SECTIONS)


def _demo_section(name: str) -> str:
    if name not in [section.name for section in SECTIONS]:
        raise argparse.ArgumentTypeError(f"invalid section {name!r} (choose from {_DEMO_SECTIONS})")
    return name


def _run_demo(args: argparse.Namespace) -> int:
    return run_demo(args.sections)


def _add_demo(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="a tour of the primitives, printed as a timeline (a few seconds)",
        description=(
            "Run a short tour of aiosync's primitives (Lock, Event, Semaphore, Condition, "
            "Barrier, timeouts; then RLock, RWLock, CapacityLimiter, RateLimiter, KeyedLock, "
            "CountdownLatch), printing each task's steps as a timeline."
        ),
    )
    parser.add_argument(
        "sections",
        nargs="*",
        type=_demo_section,
        metavar="SECTION",
        help=f"run only these sections: {_DEMO_SECTIONS} (default: all)",
    )
    parser.set_defaults(handler=_run_demo)


# Each adds one subcommand; its parser sets ``handler``.
_COMMANDS: tuple[Callable[[Subparsers], None], ...] = (_add_demo,)


# -- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``aiosync`` argument parser, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="aiosync",
        description="aiosync: synchronization primitives for asyncio, with timeouts.",
    )
    parser.add_argument("--version", action="version", version=f"aiosync {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add_command in _COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiosync`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit code: 0 on success, 2 for a usage error (the help is printed if no command is
    given)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return _exit_code(exc.code)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return handler(args)


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
