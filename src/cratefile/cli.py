"""The `cratefile` command: doit's DoitMain with our task loader, plus our own commands.

It wires things and maps errors to exit codes; the logic lives elsewhere.
  0   nothing failed in this run          1   some track (or playlist) failed
  2   manifest or usage error (nothing built)
  70  a bug (traceback in cache/logs/)    74  trouble in the environment stopped the run
                                          (a full or read-only volume, a missing tool)
  75  another run holds the workspace
  130 interrupted (Ctrl-C or SIGTERM): finished work is kept, the next run continues
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sqlite3
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from cratefile import proc
from cratefile.environment import EXIT_ENVIRONMENT, environment_problem
from cratefile.errors import CratefileError, ManifestError, UsageError, WorkspaceBusy
from cratefile.layout import Layout

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.engine.reporter import CrateReporter
    from cratefile.records import Manifest

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG, EXIT_BUSY, EXIT_INTERRUPTED = 0, 1, 2, 70, 75, 130
DOIT_COMMANDS = {"run", "list", "info", "clean", "forget", "ignore", "dumpdb", "strace", "help", "reset-dep",
                 "tabcompletion"}
MUTATING = {"run", "clean", "forget", "ignore", "reset-dep"}
OUR_COMMANDS = {"status", "prune", "schema", "check"}


def _sink_verb(args: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(verb, its words, the rest) when `args` (less -m/--manifest) start with a sink's verb:
    `cratefile export rekordbox -o x.xml`, `cratefile notion dedupe --dry-run`."""

    manifest_args: list[str] = []
    words: list[str] = []
    it = iter(args)
    for arg in it:
        if arg in ("-m", "--manifest"):
            manifest_args += [arg, next(it, "")]
        elif arg.startswith("--manifest="):
            manifest_args.append(arg)
        else:
            words.append(arg)
    for verb in _verb_words():
        head = verb.split()
        if words[: len(head)] == head:
            return verb, words[len(head):], manifest_args
    return None, words, manifest_args


def _registered() -> list[Any]:
    from cratefile.sinks import SINKS
    from cratefile.sources import SOURCES

    return [*SINKS.values(), *SOURCES.values()]


def _verb_words() -> list[str]:
    """The words of every verb, as each registry entry declares them (no sink imported)."""
    return [verb for entry in _registered() for verb in _words_of(entry)]


def _words_of(entry: Any) -> tuple[str, ...]:
    """An entry's verb words: declared (registry.Lazy, SinkBase, SourceBase) or from its verbs."""
    words = getattr(entry, "verb_words", None)
    return tuple(words) if words is not None else tuple(entry.verbs)


def _verb(words: str) -> Any:
    """The verb of those words, from the first entry that declares them (only it is imported)."""
    return next(entry.verbs[words] for entry in _registered() if words in _words_of(entry))


# Our options: dest -> (flags, argparse settings). A command takes only those _TAKES lists
# for it; what a doit command (run, list, clean, ...) is left with goes to doit's own parser,
# and one of our commands left with any option is misused. Sink verbs parse their own words.
_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "manifest": (("-m", "--manifest"), {"default": "playlists.yaml"}),
    "refresh": (("--refresh",), {"action": "store_true", "default": False}),
    "retry_failed": (("--retry-failed",), {"action": "store_true", "default": False}),
    "wait": (("--wait",), {"type": float, "default": 0.0}),
    "json": (("--json",), {"action": "store_true", "default": False}),
    "dry_run": (("--dry-run",), {"action": "store_true", "default": False}),
    "accept_shrink": (("--accept-shrink",), {"action": "store_true", "default": False}),
    "rematch": (("--rematch",), {"action": "store_true", "default": False}),
    "restore": (("--restore",), {"metavar": "STAMP", "default": None}),
    "list_trash": (("--list-trash",), {"action": "store_true", "default": False}),
}
_TAKES: dict[str, tuple[str, ...]] = {
    "run": ("manifest", "refresh", "retry_failed", "wait", "dry_run", "accept_shrink", "rematch"),  # and doit's
    "status": ("manifest", "json"),
    "prune": ("manifest", "dry_run", "wait", "restore", "list_trash"),
    "schema": ("manifest",),
}
_DOIT_TAKES = ("manifest", "wait")  # list, info, clean, forget, ...: and that command's options
_OUR_TAKES = ("manifest",)  # one of our commands not in _TAKES


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print its usage and exit
        raise UsageError(message)


def _parser(dests: Iterable[str]) -> argparse.ArgumentParser:
    parser = _ArgParser(prog="cratefile", add_help=False)
    for dest in dests:
        flags, settings = _OPTIONS[dest]
        parser.add_argument(*flags, dest=dest, **settings)
    return parser


def _our_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the words left for the command; a misuse raises UsageError."""
    _, words = _parser(_OPTIONS).parse_known_args(argv)  # only to find the command
    command = words[0] if words and words[0] in DOIT_COMMANDS | OUR_COMMANDS else "run"
    if command == "run" and words:
        _check_not_a_verb(words[0])
    takes = _TAKES.get(command, _DOIT_TAKES if command in DOIT_COMMANDS else _OUR_TAKES)
    opts, rest = _parser(takes).parse_known_args(argv)
    for dest, (_, settings) in _OPTIONS.items():
        if dest not in takes:
            setattr(opts, dest, settings["default"])
    if command in DOIT_COMMANDS or command == "run":
        _check_doit_words(command, rest)
    else:
        stray = next((w for w in rest[1:] if w.startswith("-") and w != "-"), None)
        if stray is not None:
            raise UsageError(_not_an_option(stray, command))
        if rest[1:]:
            raise UsageError(f"cratefile {command} takes no words ({rest[1]!r})")
    return opts, rest


def _check_not_a_verb(word: str) -> None:
    """`cratefile export bogus`: the start of a verb with an unknown rest is a misuse, not a
    task name for doit."""
    names = dict.fromkeys(name for name in _verb_words() if name.split()[0] == word)
    usages = [f"cratefile {' '.join(_verb(name).usage.split('   ', 1)[0].split())}" for name in names]
    if usages:
        raise UsageError(f"cratefile {word} what? ({'; '.join(usages)})")


def _not_an_option(word: str, command: str) -> str:
    flag = word.split("=", 1)[0]
    if any(flag in flags for flags, _ in _OPTIONS.values()):
        return f"{flag} is not an option of cratefile {command}"
    return f"unknown option {flag}"


def _check_doit_words(command: str, words: list[str]) -> None:
    """Let doit's own parser judge the words meant for doit, before anything loads: doit would
    answer a misuse with its internals ('Error parsing Command ... (parsing options: [...])')."""
    if not words or words[:1] == ["--version"]:
        return  # nothing to judge; doit answers --version
    _doit_plugins_once()
    from doit.cmd_base import ModuleTaskLoader, get_loader
    from doit.cmdparse import CmdParseError
    from doit.doit_cmd import DoitMain

    doit = DoitMain(ModuleTaskLoader({}))
    commands = doit.get_cmds()
    args = [w for w in words if w.startswith("-") or "=" not in w]  # NAME=VALUE: doit variables
    if args and args[0] == command:
        args = args[1:]
    parser = commands.get_plugin(command)(
        task_loader=get_loader(doit.config, doit.task_loader, commands), config=doit.config,
        bin_name="cratefile", cmds=commands, opt_vals={}).cmdparser
    try:
        _, positional = parser.parse(args)
    except CmdParseError as exc:
        raise UsageError(_doit_complaint(str(exc), command, parser)) from None
    # doit reads words after a task name as that task's options: our tasks have none
    stray = next((w for w in positional if w.startswith("-") and w != "-"), None)
    if stray is not None:
        if parser.get_option(stray.split("=", 1)[0])[0] is not None:
            raise UsageError(f"option {stray} must come before the task names")
        raise UsageError(_not_an_option(stray, command))


def _doit_complaint(text: str, command: str, parser: Any) -> str:
    """doit's CmdParseError text as one line that shows none of doit's internals."""
    found = re.search(r"option (-\S+) (not recognized|requires argument|must not have an "
                      r"argument|not a unique prefix)", text)
    if found:
        flag, why = found.groups()
        return {"not recognized": _not_an_option(flag, command),
                "requires argument": f"option {flag} needs a value",
                "must not have an argument": f"option {flag} takes no value",
                "not a unique prefix": f"option {flag} is ambiguous: spell it out"}[why]
    found = re.search(r"Error parsing parameter '(\w+)'", text)
    if found:  # "... 'num_process' <class 'int'>.\n<why>" or "... 'reporter'. Provided 'x' but ..."
        name = found.group(1)
        head, _, tail = text.partition("\n")
        detail = tail.strip() or head.split("'.", 1)[-1].strip()
        option = next((o for o in parser.options if o.name == name), None)
        flags = [f"-{option.short}", f"--{option.long}"] if option is not None else []
        shown = "/".join(f for f in flags if f not in ("-", "--")) or name
        return f"option {shown}: {' '.join(detail.split())}"
    return " ".join(text.split(" (parsing options:", 1)[0].split())


USAGE = """usage: cratefile [--refresh] [--retry-failed] [--wait S] [doit run options: -n N, -v 2, ...] [TASK...]
       cratefile status [--json]
       cratefile review [--json] [--accept ID [N|URL]] [--reject ID]   Spotify/Discogs tracks without a sure match
       cratefile export rekordbox [-o FILE] [--format FMT]
       cratefile notion init-schema | dedupe [--dry-run] | unlock --stale
       cratefile prune [--dry-run] [--wait S]    move library files the manifest no longer asks for to library/.trash/
       cratefile prune --list-trash | --restore STAMP   the trash folders; put one's files back where they were
       cratefile list | info TASK | clean [TASK] | forget [TASK]   (doit's commands, per track)
  -m, --manifest F every command: the manifest to read (default playlists.yaml)
  --refresh        re-read every playlist's source now, whatever its refresh interval
  --retry-failed   retry tracks that failed permanently (deleted, geo-blocked, ...) before their cool-off
  --rematch        search every Spotify/Discogs track again (pins still win), whatever playlists.lock says
  --accept-shrink  take the new list of a playlist that lost too many tracks at once (the shrink guard)
  --wait S         wait up to S seconds for another run in this workspace to finish
"""


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `cat big | head -1`


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if "-h" in args or "--help" in args:
            print(USAGE)
            sys.stdout.flush()
            return EXIT_OK
        verb, words, manifest_args = _sink_verb(args)
        opts, rest = _our_options(args if verb is None else manifest_args)
        code = _run_verb(verb, words, manifest_args) if verb is not None else _dispatch(opts, rest)
        sys.stdout.flush()  # here, where a reader that left can be handled
        return code
    except BrokenPipeError:  # `cratefile ... | head -1`: the reader has all it wanted
        # and the interpreter's last flush must not print a traceback either; a stdout that
        # has no file descriptor (a test's StringIO) has nothing to flush later
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc} (see cratefile --help)", file=sys.stderr)
        return EXIT_USAGE
    except WorkspaceBusy as exc:
        print(f"busy: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run cratefile again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CratefileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, sqlite3.Error) as exc:
        problem = environment_problem(exc)
        if problem is None:
            return _crashed()
        print(f"stopped: {problem}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except Exception:  # the top-level handler: a bug gets a log, not a bare traceback
        return _crashed()


def _crashed() -> int:
    """A bug: the traceback goes to a log file, the user gets one line and exit 70."""
    log = Path(os.environ.get("CRATEFILE_LOG_DIR", "cache/logs")) / f"crash-{time.strftime('%Y%m%dT%H%M%S')}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        where = f"details in {log}"
    except OSError:  # the log's own volume may be the trouble: print the traceback instead
        where = "traceback follows\n" + traceback.format_exc()
    print(f"bug: cratefile crashed ({sys.exc_info()[1]!r}); {where}", file=sys.stderr)
    return EXIT_BUG


def _dispatch(opts: argparse.Namespace, rest: list[str]) -> int:
    from cratefile.manifest import load_manifest

    # anything else is doit's `run` with task names or options: `cratefile convert:<key>:wav`
    command = rest[0] if rest and rest[0] in DOIT_COMMANDS | OUR_COMMANDS else "run"
    manifest = load_manifest(Path(opts.manifest))
    if command == "status":
        from cratefile import status

        data = status.collect(manifest, details=opts.json)
        print(status.render_json(data) if opts.json else status.render_table(data))
        return EXIT_OK
    if command == "check":
        return _check(manifest)
    if command == "run" and opts.dry_run:
        from cratefile import preflight

        for line in preflight.render_plan(preflight.estimate(manifest)):
            print(line)
        return EXIT_OK
    if command == "schema":
        import json

        from cratefile.manifest import manifest_schema

        print(json.dumps(manifest_schema(), indent=2, ensure_ascii=False))
        return EXIT_OK
    _setup_logging(Layout(manifest.cache, manifest.library).logs)
    if command not in MUTATING | {"prune"}:
        return _run_doit(manifest, opts, rest, reporter=None)
    from cratefile.engine.lock import WorkspaceLock

    with WorkspaceLock(Layout(manifest.cache, manifest.library).lock, wait=opts.wait):
        if command == "prune":
            return _prune(manifest, opts)
        if command == "run":
            return _build(manifest, opts, rest)
        return _run_doit(manifest, opts, rest, reporter=None)


def _check(manifest: Manifest) -> int:
    """cratefile check: the build's own preflight plus each service's credentials and schema."""
    from cratefile import preflight

    local = preflight.checks(manifest, preflight.estimate(manifest))
    services = list(preflight.service_checks(manifest))
    for line in preflight.render_checks(local + services):
        print(line)
    if not all(c.ok for c in local):
        return EXIT_ENVIRONMENT
    return EXIT_OK if all(c.ok for c in services) else EXIT_FAILED


def _run_verb(verb: str, words: list[str], manifest_args: list[str]) -> int:
    from cratefile.manifest import load_manifest

    opts, _ = _our_options(manifest_args)
    manifest = load_manifest(Path(opts.manifest))
    return int(_verb(verb).run(manifest, words))


def _prune(manifest: Manifest, opts: argparse.Namespace) -> int:
    from cratefile.prune import list_trash, prune, restore

    if opts.restore is not None and (opts.dry_run or opts.list_trash):
        raise UsageError("cratefile prune --restore STAMP takes no --dry-run or --list-trash "
                         "(--list-trash alone shows the trash folders)")
    if opts.list_trash:
        folders = list_trash(manifest)
        for t in folders:
            print(f"{t.stamp}  {t.files} file{'' if t.files == 1 else 's'}  {t.size / 1e6:.1f} MB")
        print(f"{len(folders)} trash folder{'' if len(folders) == 1 else 's'}"
              f"{': cratefile prune --restore STAMP puts one back' if folders else ''}")
        return EXIT_OK
    if opts.restore is not None:
        restored, refused = restore(manifest, opts.restore)
        for path in restored:
            print(f"restored {path}")
        for path in refused:
            print(f"not restored {path}: a file is there already (it stays in the trash)")
        print(f"{len(restored)} restored" + (f", {len(refused)} left in the trash" if refused else ""))
        return EXIT_FAILED if refused else EXIT_OK
    result = prune(manifest, dry_run=opts.dry_run)
    for stamp in result.emptied:
        print(f"{'would empty' if opts.dry_run else 'emptied'} trash {stamp} (older than prune.keep_trash)")
    for d in result.doomed:
        print(f"{'would move' if opts.dry_run else 'moved'} {d.path} ({d.why})")
    if opts.dry_run:
        print(f"{len(result.doomed)} would be removed (dry run)")
    elif result.doomed:
        print(f"{len(result.doomed)} removed: moved to {result.trash} "
              f"(cratefile prune --restore {result.stamp} puts them back)")
    else:
        print("0 removed")
    return EXIT_OK


def _setup_logging(folder: Path) -> None:
    # a log line that cannot be written (a full volume) is lost quietly, not a traceback on stderr
    logging.raiseExceptions = False
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "cratefile.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "cratefile", False)]:
        root.removeHandler(old)  # a second main() in one process (tests) logs to its own workspace
        old.close()
    handler.cratefile = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _doit_plugins_once() -> None:
    """doit looks its plugins up in the entry points of every installed distribution once per
    plugin kind and DoitMain (six scans a run, ~6 ms each): look them up once per process.
    `doit.plugin.entry_points_impl` is doit's own indirection for where entry points come from."""
    import doit.plugin

    if getattr(doit.plugin.entry_points_impl, "once", False):
        return
    from importlib.metadata import entry_points

    found = entry_points()

    def select(group: str) -> Any:
        return found.select(group=group)

    def impl() -> Any:
        return select

    impl.once = True  # type: ignore[attr-defined]
    doit.plugin.entry_points_impl = impl


def _run_doit(manifest: Manifest, opts: argparse.Namespace, rest: list[str], reporter: CrateReporter | None,
              ctx: RunContext | None = None) -> int:
    _doit_plugins_once()
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from cratefile.context import RunContext
    from cratefile.engine.tasks import make_namespace, plans_everything, runs_tasks

    ctx = ctx or RunContext(manifest, refresh=opts.refresh, retry_failed=opts.retry_failed,
                            accept_shrink=opts.accept_shrink, rematch=opts.rematch)
    manifest.cache.mkdir(parents=True, exist_ok=True)
    namespace = make_namespace(ctx, reporter, full=plans_everything(rest), runs=runs_tasks(rest))
    main = DoitMain(ModuleTaskLoader(namespace))
    try:
        return main.run(rest) or 0
    finally:
        if reporter is None:
            ctx.close()


def _build(manifest: Manifest, opts: argparse.Namespace, rest: list[str]) -> int:
    from cratefile import preflight
    from cratefile.context import RunContext
    from cratefile.engine.reporter import CrateReporter
    from cratefile.layout import playlist_folder
    from cratefile.report import build_report, failed_count, summary_lines, write_report

    failed_checks = [c for c in preflight.checks(manifest) if not c.ok]
    if failed_checks:  # before anything is touched: nothing to undo, nothing recorded
        for check in failed_checks:
            print(f"stopped: {check.detail}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    ctx = RunContext(manifest, refresh=opts.refresh, retry_failed=opts.retry_failed,
                     accept_shrink=opts.accept_shrink, rematch=opts.rematch,
                     analysis_workers=min(2, os.cpu_count() or 1))
    layout = ctx.layout
    _sweep(layout, [layout.audio, layout.analyses, layout.snapshots,
                    *(layout.library / fmt for fmt in manifest.formats),
                    *(layout.playlist_dir(playlist_folder(p)) / fmt for p in manifest.playlists for fmt in p.formats)])
    reporter = CrateReporter(expected_tracks=lambda: CrateReporter.tracks_in_snapshots(
        ctx.layout.snapshot(p.slug) for p in manifest.playlists))
    def on_signal(signum: int, frame: FrameType | None) -> None:
        ctx.stop("interrupted", EXIT_INTERRUPTED)  # before anything can record a killed child as a failure
        raise KeyboardInterrupt

    proc.allow_children()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    interrupted = False
    doit_rc = 0
    try:
        doit_rc = _run_doit(manifest, opts, rest, reporter, ctx)
        if ctx.stop_reason is None:
            from cratefile.engine.tasks import settle

            settle(ctx)  # what this run built is proven clean now, not by the next run
    except KeyboardInterrupt:
        interrupted = True
        ctx.stop("interrupted", EXIT_INTERRUPTED)  # a no-op when something else stopped the run
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _end_of_run(ctx)
    try:
        errors = reporter.errors + [e for e in ctx.sink_errors if e not in reporter.errors]
        report = build_report(ctx, reporter.executed, interrupted=interrupted, errors=errors)
        report["notes"] = ctx.notes
        report.update(ctx.sink_stats)  # e.g. report["notion"]: what the Notion sync did
        if ctx.stop_code == EXIT_ENVIRONMENT:
            report["stopped"] = ctx.stop_reason
        write_report(ctx.layout.reports, report)
    finally:
        ctx.close()
    for line in summary_lines(report):
        print(line)
    if ctx.stop_code == EXIT_ENVIRONMENT:
        print(f"stopped: {ctx.stop_reason}; finished work is kept, run cratefile again to continue",
              file=sys.stderr)
        return EXIT_ENVIRONMENT
    if interrupted:
        raise KeyboardInterrupt
    if failed_count(report) or errors:
        return EXIT_FAILED
    if doit_rc not in (0, 1) and not reporter.failures:
        return EXIT_USAGE if doit_rc == 3 else EXIT_FAILED
    return EXIT_OK


SWEPT_MARGIN_NS = 2_000_000_000  # a folder changed less than this long ago is listed again next run


def _sweep(layout: Layout, folders: list[Path]) -> None:
    """Delete what killed runs left (atomic.sweep_parts) in the folders that changed since they
    were last found clean: creating, renaming or deleting a file changes its folder's mtime, so
    a folder whose mtime is the one it had when it was listed holds no new leftover. A 20,000-
    track library's folders are not listed on every run. The mtimes are kept in cache/swept.json,
    only for folders that had not changed for SWEPT_MARGIN_NS before they were listed (a change
    within the same mtime tick as the one seen would otherwise go unnoticed)."""
    from cratefile.atomic import read_json, sweep_parts, write_json

    memo = layout.cache / "swept.json"
    known = read_json(memo)
    known = known if isinstance(known, dict) else {}
    seen: dict[str, int] = {}
    todo = []
    for folder in folders:
        try:
            mtime = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            continue
        if known.get(str(folder)) != mtime:
            todo.append(folder)
        seen[str(folder)] = mtime
    now = time.time_ns()
    sweep_parts(todo)
    kept = {f: m for f, m in seen.items() if now - m >= SWEPT_MARGIN_NS}
    if kept != known:
        with contextlib.suppress(OSError):  # a read-only cache: listed every time
            write_json(memo, kept)


def _end_of_run(ctx: object) -> None:
    from cratefile.sinks import SINKS

    for name, sink in SINKS.items():
        if ctx.manifest.sink(name) is not None:  # type: ignore[attr-defined]
            sink.end_of_run(ctx)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
