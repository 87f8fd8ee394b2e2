"""Run snippets in parallel child processes, with a time limit, and cache what they produce."""

from __future__ import annotations

import multiprocessing
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from .keys import cache_key, lock_digest
from .settings import Settings
from .store import Cache, Figure, Result, entry_folder
from .worker import PRELOAD, run_file

Progress = Callable[[str], None]


@dataclass
class Failure:
    snippet: str
    line: int | None
    traceback: str


@dataclass
class Report:
    results: dict[str, Result] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.executed)} executed, {len(self.cached)} cached, "
            f"{len(self.failures)} failed, {self.seconds:.2f} s"
        )


_context: multiprocessing.context.BaseContext | None = None


def _fork_context() -> multiprocessing.context.BaseContext:
    """A fork server that imports torch and matplotlib once, started only when something runs."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


@dataclass
class _Running:
    snippet: str
    key: str
    process: multiprocessing.process.BaseProcess
    conn: object
    stack_file: str
    started: float


def _lost_failure(job: _Running, path: Path, timeout: float) -> Failure:
    """A child that sent nothing: over its time limit (faulthandler dumped its stack) or dead."""
    stacks = (
        Path(job.stack_file).read_text(errors="replace") if Path(job.stack_file).exists() else ""
    )
    if "Timeout" not in stacks and job.process.exitcode is not None:
        return Failure(job.snippet, None, f"the process died with exit code {job.process.exitcode}")
    lines = [int(n) for n in re.findall(rf'File "{re.escape(str(path))}", line (\d+)', stacks)]
    text = f"exceeded the time limit of {timeout:g} s"
    if lines:
        text += f" while at line {lines[0]}\n{stacks.strip()}"
    return Failure(job.snippet, lines[0] if lines else None, text)


def run(
    snippets: list[str],
    settings: Settings,
    progress: Progress = print,
    notebooks: tuple[str, ...] = (),
) -> Report:
    """Bring every snippet's (and exercise notebook's) cached result up to date; only those whose
    key changed run. Notebooks run cell by cell and their result carries the executed .ipynb."""
    started = time.perf_counter()
    report = Report()
    cache = Cache(settings.cache)
    locked = lock_digest(settings.locks)
    pending: list[tuple[str, str]] = []
    for snippet in sorted(set(snippets) | set(notebooks)):
        key = cache_key(settings.root / snippet, settings, locked)
        hit = cache.load(snippet, key)
        if hit is None:
            pending.append((snippet, key))
        else:
            report.results[snippet] = hit
            report.cached.append(snippet)
    total = len(pending)
    running: list[_Running] = []
    with tempfile.TemporaryDirectory(prefix="docs-exec-") as scratch:
        while pending or running:
            while pending and len(running) < settings.parallel:
                snippet, key = pending.pop(0)
                kind = "notebook" if snippet in notebooks else "snippet"
                running.append(_start(snippet, key, kind, settings, scratch))
            ready = wait([job.conn for job in running], timeout=0.25)
            for job in list(running):
                path = settings.root / job.snippet
                overdue = time.perf_counter() - job.started > settings.timeout + 10
                if job.conn not in ready and not overdue:
                    continue
                running.remove(job)
                message = None
                if job.conn in ready:
                    try:
                        message = job.conn.recv()
                    except EOFError:
                        message = None
                if overdue:
                    job.process.kill()
                job.process.join()
                done = len(report.executed) + len(report.failures) + 1
                if message is None:
                    report.failures.append(_lost_failure(job, path, settings.timeout))
                    progress(f"[{done}/{total}] {job.snippet} FAILED")
                elif message["failure"]:
                    report.failures.append(Failure(job.snippet, **message["failure"]))
                    progress(f"[{done}/{total}] {job.snippet} FAILED")
                else:
                    result = Result(
                        snippet=job.snippet,
                        key=job.key,
                        stdout=message["stdout"],
                        stderr=message["stderr"],
                        provenance=message["provenance"],
                        seconds=round(message["seconds"], 3),
                        figures=[Figure(light, dark) for light, dark in message["figures"]],
                        notebook=message["notebook"],
                    )
                    cache.save(result)
                    report.results[job.snippet] = result
                    report.executed.append(job.snippet)
                    progress(f"[{done}/{total}] {job.snippet} {result.seconds:.2f} s")
    report.seconds = time.perf_counter() - started
    return report


def _start(snippet: str, key: str, kind: str, settings: Settings, scratch: str) -> _Running:
    context = _fork_context()
    receiver, sender = context.Pipe(duplex=False)
    stack_file = os.path.join(scratch, entry_folder(snippet) + ".stacks")
    path = str((settings.root / snippet).resolve())
    process = context.Process(
        target=run_file,
        args=(
            path,
            kind,
            str(settings.root.resolve()),
            settings.palette,
            settings.timeout,
            stack_file,
            sender,
        ),
        name=f"docs-exec {snippet}",
    )
    process.start()
    sender.close()
    return _Running(snippet, key, process, receiver, stack_file, time.perf_counter())
