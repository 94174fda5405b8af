"""A small pool of extraction processes that can be killed: a page that spins cannot stall the crawl.

Why not a library pool: concurrent.futures.ProcessPoolExecutor cannot kill one worker (3.11), and
multiprocessing.Pool runs several tasks per worker plus three helper threads, so killing one stuck task
means tearing down the whole pool and its other tasks. Here each worker is one `spawn`ed process with
one pipe and at most ONE task in flight: a timeout kills exactly the process running the slow page, no
other task is lost, and a fresh process takes its place. `spawn` because the parent runs the reactor:
forking it would copy the reactor's threads and file descriptors into the child.

The reactor thread never blocks on a worker: it waits for the pipe with `loop.add_reader` and reads only
once the worker has written (a worker writes its whole answer at once).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from core.items import Article, FetchedPage

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT = 120.0  # seconds a new worker may take to import trafilatura & co. and say it is ready
_READY = b"ready"


class WorkerCrashed(Exception):
    """The worker process died (killed by the OS, segfault, os._exit) while extracting a page."""


class RemoteError(Exception):
    """An exception raised by extract_article in a worker, re-raised here by type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def _serve(conn: Connection) -> None:
    """The worker's loop: one pickled (page, run_id, min_extracted_size) in, one pickled answer out."""
    # Imported here so that only the child pays for trafilatura/lxml when the parent has not yet.
    from pipelines.article_extraction import ExtractionError, extract_article

    conn.send_bytes(_READY)
    while True:
        try:
            request = conn.recv_bytes()
        except EOFError:
            return
        try:
            page, run_id, min_extracted_size = pickle.loads(request)
            answer: tuple[Any, ...] = (
                "ok",
                extract_article(page, run_id=run_id, min_extracted_size=min_extracted_size),
            )
        except ExtractionError as exc:
            answer = ("no_warc", str(exc))
        except Exception as exc:
            # Exceptions are sent as text: not every exception class pickles (or exists in the parent).
            answer = ("error", type(exc).__name__, str(exc))
        try:
            data = pickle.dumps(answer)
        except Exception as exc:
            data = pickle.dumps(("error", type(exc).__name__, f"cannot send the result: {exc}"))
        conn.send_bytes(data)


class _Worker:
    def __init__(self, context: Any) -> None:
        parent, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child,), name="newsarchive-extract", daemon=True
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        # SIGKILL takes effect at once: the join only reaps the process (no zombie).
        self.process.join(timeout=5.0)

    def stop(self) -> None:
        """Ask politely (EOF on the pipe ends the loop), then kill what does not leave."""
        self.conn.close()
        self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5.0)


async def _readable(conn: Connection, timeout: float) -> None:
    """Wait, without blocking the loop, until `conn` has data or EOF; TimeoutError after `timeout`."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, timeout)
    finally:
        loop.remove_reader(fd)


def picklable_request(page: FetchedPage, run_id: str, min_extracted_size: int) -> bytes | None:
    """The request for a worker, or None when the page cannot cross a process boundary.

    The TOML-built page objects (spiders.pages.generic.make_parser) are closures, which pickle cannot
    send by reference: their pages are extracted in a thread instead.
    """
    try:
        return pickle.dumps((page, run_id, min_extracted_size))
    except (pickle.PicklingError, AttributeError, TypeError):
        return None


class ExtractWorkerPool:
    """`size` extraction processes; `extract` runs one request in an idle one under a time limit."""

    def __init__(self, size: int, start_method: str = "spawn") -> None:
        if size < 1:
            raise ValueError(f"an extraction pool needs at least one worker, got {size}")
        self.size = size
        self._context = multiprocessing.get_context(start_method)
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self.replaced = 0  # workers killed and replaced (timeouts and crashes)

    def start(self) -> None:
        if self._idle is not None:
            return
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            worker = _Worker(self._context)
            self._workers.append(worker)
            self._idle.put_nowait(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._idle = None

    @property
    def pids(self) -> list[int | None]:
        return [worker.process.pid for worker in self._workers]

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self._context)
        self._workers[self._workers.index(worker)] = fresh
        self.replaced += 1
        return fresh

    async def extract(self, request: bytes, timeout: float) -> Article:
        """Article, or ExtractionError / RemoteError / WorkerCrashed / TimeoutError.

        On a timeout the worker is killed and replaced. A crash is retried once in a fresh worker (the
        OS may have killed it for reasons of its own); a second crash is the page's fault.
        """
        from pipelines.article_extraction import ExtractionError  # late: only pool users pay for the import

        self.start()
        assert self._idle is not None
        idle = self._idle
        for attempt in (1, 2):
            worker = await idle.get()
            try:
                answer = await self._run(worker, request, timeout)
            except (TimeoutError, asyncio.CancelledError):
                # The worker may still be busy with this page: its late answer must not reach the next one.
                worker = self._replace(worker)
                raise
            except (EOFError, OSError) as exc:
                worker = self._replace(worker)
                if attempt == 2:
                    raise WorkerCrashed(f"the extraction worker died twice on this page ({exc!r})") from None
                logger.warning("an extraction worker died (%r): retrying the page once", exc)
                continue
            finally:
                idle.put_nowait(worker)
            if answer[0] == "ok":
                article: Article = answer[1]
                return article
            if answer[0] == "no_warc":
                raise ExtractionError(answer[1])
            raise RemoteError(answer[1], answer[2])
        raise AssertionError("unreachable")

    async def _run(self, worker: _Worker, request: bytes, timeout: float) -> tuple[Any, ...]:
        if not worker.ready:
            # Not counted in the page's time limit: a fresh process first imports the extraction stack.
            try:
                await _readable(worker.conn, _STARTUP_TIMEOUT)
            except TimeoutError:
                raise OSError("the extraction worker did not start in time") from None
            if worker.conn.recv_bytes() != _READY:
                raise OSError("the extraction worker did not start")
            worker.ready = True
        # The worker is idle in recv_bytes, so a large page is read as fast as it is written.
        worker.conn.send_bytes(request)
        await _readable(worker.conn, timeout)
        answer: tuple[Any, ...] = pickle.loads(worker.conn.recv_bytes())
        return answer
