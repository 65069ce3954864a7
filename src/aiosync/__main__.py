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
    if args.redis is not None:
        if args.sections:
            print(
                "aiosync demo: error: sections are for the local tour, not --redis", file=sys.stderr
            )
            return 2
        try:
            from aiosync.redis._demo import run_redis_demo
        except ImportError as error:
            print(f"aiosync: {error}", file=sys.stderr)
            return 2
        return run_redis_demo(args.redis, cluster=args.cluster)
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
        "--redis",
        metavar="URL",
        help="run the tour across several processes sharing primitives on this Redis",
    )
    parser.add_argument("--cluster", action="store_true", help="URL is a node of a Redis Cluster")
    parser.add_argument(
        "sections",
        nargs="*",
        type=_demo_section,
        metavar="SECTION",
        help=f"run only these sections: {_DEMO_SECTIONS} (default: all)",
    )
    parser.set_defaults(handler=_run_demo)


# -- run, inspect (on Redis) -----------------------------------------------------------------

# Repeated here so that ``--help`` works without the redis extra; a test checks they agree
# with aiosync.redis._cli.
_EXIT_TIMEOUT, _EXIT_LOST, _EXIT_UNREACHABLE = 75, 76, 69
_TOKEN_VARIABLE = "AIOSYNC_FENCING_TOKEN"


def _redis_cli() -> Any:
    try:
        from aiosync.redis import _cli
    except ImportError as error:  # the redis extra is missing
        print(f"aiosync: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return _cli


def _seconds(text: str, *, positive: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 if positive else value >= 0) or value == float("inf"):
        least = "> 0" if positive else ">= 0"
        raise argparse.ArgumentTypeError(f"must be a number of seconds {least}, not {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    return _seconds(text, positive=True)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return int(text)


def _add_redis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        required=True,
        metavar="URL",
        help="the Redis server, e.g. redis://localhost:6379/0",
    )
    parser.add_argument("--cluster", action="store_true", help="URL is a node of a Redis Cluster")


def _run_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("aiosync run: error: no COMMAND given (after --)", file=sys.stderr)
        return 2
    if args.limit is not None and args.semaphore is None:
        print("aiosync run: error: --limit goes with --semaphore", file=sys.stderr)
        return 2
    return int(
        _redis_cli().run_command(
            args.redis,
            command,
            lock=args.lock,
            semaphore=args.semaphore,
            limit=args.limit or 1,
            timeout=args.timeout,
            lease=args.lease,
            grace=args.grace,
            cluster=args.cluster,
        )
    )


def _add_run(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a command while holding a lock on Redis (like flock(1), across hosts)",
        description=(
            "Run COMMAND while holding the lock NAME on Redis (or one of the --limit permits "
            "of the semaphore NAME), renewing its lease while COMMAND runs. COMMAND gets the "
            f"fencing token in the environment variable {_TOKEN_VARIABLE}. If the lock is "
            "lost (its lease ran out: this process stalled, or Redis was unreachable for "
            "that long), COMMAND gets SIGTERM, then SIGKILL after --grace seconds. SIGINT, "
            "SIGTERM and SIGHUP sent to aiosync are passed on to COMMAND."
        ),
        epilog=(
            "exit status: COMMAND's own (128+N if a signal N ended it); "
            f"{_EXIT_TIMEOUT} if the lock was not had within --timeout; "
            f"{_EXIT_LOST} if the lock was lost while COMMAND ran; "
            f"{_EXIT_UNREACHABLE} if Redis could not be reached; 126/127 if COMMAND could "
            "not be run / was not found; 2 for a usage error."
        ),
    )
    _add_redis_options(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--lock", metavar="NAME", help="hold the lock NAME")
    which.add_argument("--semaphore", metavar="NAME", help="hold a permit of the semaphore NAME")
    parser.add_argument(
        "--limit", type=_positive_int, metavar="N", help="the semaphore's permits (default 1)"
    )
    parser.add_argument(
        "--timeout", type=_seconds, metavar="S", help="give up after S seconds (default: wait)"
    )
    parser.add_argument(
        "--lease",
        type=_positive_seconds,
        default=30.0,
        metavar="S",
        help="how long a hold lasts unless renewed, in seconds (default 30)",
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="after SIGTERM on a lost lock, SIGKILL after S seconds (default 10)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    parser.set_defaults(handler=_run_run)


def _run_inspect(args: argparse.Namespace) -> int:
    return int(
        _redis_cli().inspect(args.redis, args.pattern, as_json=args.json, cluster=args.cluster)
    )


def _add_inspect(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="list the aiosync primitives in a Redis: holders, tokens, waiters",
        description=(
            "List the aiosync primitives in Redis whose names match PATTERN: kind, name, "
            "holders with their fencing token and remaining lease, number of waiters."
        ),
        epilog=(
            f"exit status: 0; {_EXIT_UNREACHABLE} if Redis could not be reached; 2 for a "
            "usage error."
        ),
    )
    _add_redis_options(parser)
    parser.add_argument(
        "pattern", nargs="?", default="*", metavar="PATTERN", help="a glob on names (default *)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_run_inspect)


# Each adds one subcommand; its parser sets ``handler``.
_COMMANDS: tuple[Callable[[Subparsers], None], ...] = (_add_demo, _add_run, _add_inspect)


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
