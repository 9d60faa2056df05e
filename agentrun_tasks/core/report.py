"""The one output path: every line a task prints goes through :class:`Reporter`, which redacts
registered secrets, speaks the CI platform's dialect (masks, outputs, summaries; the dialects
themselves are in :mod:`agentrun_tasks.core.ci_dialects`) and shows progress for waits (a live
line on a terminal, one line per state change in CI logs). Also the plain text formats tasks
print with it: aligned tables and traffic shares.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from . import secrets
from .ci_dialects import Dialect
from .ci_dialects import dialect_for as dialect_for  # re-exported: session/context.py imports it from here
from .results import TaskResult

HEARTBEAT_SECONDS = 30.0  # how often a long wait says it is alive in a CI log



class ProgressUpdate(Protocol):
    """What :meth:`Reporter.progress` yields: ``update(state, detail="")``."""

    def __call__(self, state: str, detail: str = "") -> None: ...


class Reporter:
    """Redacting, dialect-aware output for one task run.

    Human text goes to ``out``; with ``json_mode`` only the final JSON document goes to ``out``
    and progress goes to ``err`` so that ``--json`` output stays parseable.
    """

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        json_mode: bool = False,
        dialect: Dialect | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.json_mode = json_mode
        self.dialect = dialect or Dialect(os.environ)
        stream = self.err if json_mode else self.out
        self.interactive = stream.isatty() if interactive is None else interactive
        self._lock = threading.Lock()
        secrets.on_register(self._mask)

    # -- low level -------------------------------------------------------------------------
    def _write(self, stream: TextIO, text: str) -> None:
        with self._lock:
            try:
                stream.write(secrets.redact(text))
                stream.flush()
            except BrokenPipeError:  # the reader went away (`| head -1`): a normal end of output
                silence(stream)

    def _mask(self, value: str) -> None:
        line = self.dialect.mask_line(value)
        if line:
            # The mask command must itself carry the value; it is the one write not redacted. It
            # goes with the human output (stderr under --json), so stdout stays one JSON document.
            with self._lock:
                self._human.write(line + "\n")
                self._human.flush()

    @property
    def _human(self) -> TextIO:
        return self.err if self.json_mode else self.out

    # -- human output ----------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """One line of human output (goes to stderr under ``--json``)."""
        self._write(self._human, text + "\n")

    def warn(self, text: str) -> None:
        self._write(self.err, f"warning: {text}\n")

    def capture_warnings(self, logger_name: str = "agentrun_tasks") -> None:
        """Route the library's log warnings (retries, ...) through this writer, redacted."""
        logger = logging.getLogger(logger_name)
        for handler in [h for h in logger.handlers if isinstance(h, _ReporterHandler)]:
            logger.removeHandler(handler)
        logger.addHandler(_ReporterHandler(self))
        logger.propagate = False

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.line(format_table(headers, rows))

    # -- machine output --------------------------------------------------------------------
    def result(self, data: Any, human: Callable[[Reporter, Any], object] | None = None) -> TaskResult:
        """The task's result: JSON under ``--json``, else ``human(self, data)`` or key: value lines;
        returned as a :class:`TaskResult` for the task to hand back to its caller (a list is its
        ``items``)."""
        if self.json_mode:
            self._write(self.out, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        elif human is not None:
            human(self, data)
        elif isinstance(data, Mapping):
            width = max((len(str(k)) for k in data), default=0)
            for key, value in data.items():
                self.line(f"{str(key).ljust(width)}  {value}")
        else:
            self.line(str(data))
        return TaskResult(data if isinstance(data, Mapping) else {"items": data})

    def output(self, name: str, value: str) -> None:
        """Hand a value to later CI steps (GITHUB_OUTPUT, dotenv report, ...). Never a secret."""
        command = self.dialect.write_output(name, str(value))
        if command:
            self._write(self._human, command + "\n")

    def summary(self, markdown: str) -> None:
        """Markdown for the CI run's summary page (GitHub's step summary, Azure's uploadsummary)."""
        command = self.dialect.write_summary(markdown)
        if command:
            self._write(self._human, command + "\n")

    @contextmanager
    def section(self, title: str) -> Iterator[None]:
        """A collapsible section of the CI log (GitHub ::group::, GitLab section_start, Azure
        ##[group]); nothing extra elsewhere."""
        lines = self.dialect.section(title)
        if lines:
            self.line(lines[0])
        try:
            yield
        finally:
            if lines:
                self.line(lines[1])

    # -- progress --------------------------------------------------------------------------
    @contextmanager
    def progress(self, label: str, *, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> Iterator[ProgressUpdate]:
        """Show a wait: one line redrawn in place on a terminal, plain lines otherwise (CI logs).

        Yields a callable ``update(state, detail="")``. A plain line is printed when the state
        changes; a changed ``detail`` alone (attempt counts, requests seen) only redraws the
        terminal line, and with ``every`` it is also printed as a heartbeat at most once per
        ``every`` seconds, so a long wait shows it is alive without flooding the log.
        """
        tracker = _Progress(self, label, every=every, clock=clock)
        tracker.start()
        try:
            yield tracker.update
        finally:
            tracker.stop()


class _ReporterHandler(logging.Handler):
    """Library log records of WARNING and above, as ``warning:`` lines of the reporter."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.warn(record.getMessage())


class _Progress:
    def __init__(self, reporter: Reporter, label: str, *, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reporter = reporter
        self.label = label
        self.state, self.detail = "waiting", ""
        self.every, self.clock = every, clock
        self.started = self.printed = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.reporter.interactive:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._render("\r")

    def _text(self) -> str:
        detail = f", {self.detail}" if self.detail else ""
        return f"{self.label}: {self.state}{detail}"

    def _render(self, prefix: str) -> None:
        elapsed = self.clock() - self.started
        self.reporter._write(self.reporter._human, f"{prefix}{self._text()} ({elapsed:.0f}s)\033[K")

    def update(self, state: str, detail: str = "") -> None:
        changed = state != self.state
        if not changed and detail == self.detail:
            return
        self.state, self.detail = state, detail
        if self.reporter.interactive:
            self._render("\r")
            return
        now = self.clock()
        if changed or (self.every is not None and now - self.printed >= self.every):
            self.printed = now
            self.reporter.line(f"{self._text()} ({now - self.started:.1f}s)")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._render("\r")
            self.reporter._write(self.reporter._human, "\n")


def silence(stream: TextIO) -> None:
    """Point a stream whose reader closed the pipe at /dev/null, so the task finishes its work
    (a deploy piped into ``head`` still deploys) and neither later lines nor the interpreter's
    final flush raise again."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream: nothing to redirect
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def show_endpoints(reporter: Reporter, endpoints: Sequence[Mapping[str, Any]]) -> None:
    """Endpoints (their ``to_dict()``) as an aligned table with a header: name, traffic, URL."""
    reporter.table(["endpoint", "traffic", "url"], [[e["name"], format_traffic(e["traffic"]), e["url"]]
                                                    for e in endpoints])


def format_traffic(shares: Mapping[str, float]) -> str:
    """``1: 80%, 2: 20%``: an endpoint's share of requests per version."""
    return ", ".join(f"{version}: {weight:.0%}" for version, weight in sorted(shares.items()))


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    lines += [fmt.format(*row).rstrip() for row in rows]
    return "\n".join(lines)
