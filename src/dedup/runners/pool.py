"""Worker processes for the runners that have them (the batch engine, the stream's ``add_many``).

``Pool`` maps a function over tasks in ``workers`` spawned processes, or in this process when
``workers`` is 1, and gives the results in task order with a few tasks in flight per worker. It
turns multiprocessing's two traps into a ``DedupError`` that says how to fix them: a script that
starts workers at its top level without the main guard (each spawned worker runs the script again
as it starts), and a worker that died.

This module is shared plumbing, not a runner: it knows nothing of articles or stages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from types import TracebackType
from typing import Any

from dedup import _log
from dedup.errors import DedupError


def unguarded(call: str) -> str:
    """The advice for a script that starts worker processes at its top level (``call`` names the
    call that starts them, such as ``"dedup.cluster(..., workers=N)"``)."""
    return (
        "Worker processes (workers > 1) run the calling script again as they start: if the script calls "
        f"{call} at its top level, put that call under "
        '`if __name__ == "__main__":`, or use workers=1.'
    )


def bootstrapping_a_worker() -> bool:
    """Whether this process is a spawned worker still running its parent's script as it starts:
    starting workers from there cannot work. The flag read is the one multiprocessing's own check
    reads (``spawn._check_not_importing_main``), which raises a bare RuntimeError instead."""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


class Pool:
    """``workers`` processes (or this one), each set up once by ``initializer(*initargs)``.

    ``call`` names the public call that asked for the workers, for the error messages. The
    processes are spawned, not forked: the caller may hold threads, and a fork copies their locks.

    >>> with Pool(1, call="f(workers=N)") as pool:
    ...     list(pool.map(abs, [-1, 2, -3]))
    [1, 2, 3]
    """

    def __init__(
        self,
        workers: int,
        *,
        call: str,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self._executor: Any = None
        self._advice = unguarded(call)
        self._depth = 4 * workers
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if bootstrapping_a_worker():
                raise DedupError(self._advice)
            _log.logger.info("starting %d worker processes", workers)
            self._executor = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer, initargs=initargs
            )
        elif initializer is not None:
            initializer(*initargs)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, threads: int = 1) -> Iterator[Any]:
        """``fn`` over ``tasks``, results in task order. Tasks are drawn from ``tasks`` as results
        are taken, at most a few per worker ahead of the one given back. In this process (one
        worker), ``threads`` above 1 runs the tasks on that many threads: for an ``fn`` whose work
        is mostly in compiled kernels that let go of the GIL, and that shares nothing it changes."""
        if self._executor is not None:
            yield from self._in_workers(self._executor, fn, tasks)
        elif threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            tasks = iter(tasks)
            if fn not in _RUN_ON_THREADS:
                # the first task of ``fn`` in this process runs alone: it loads what ``fn`` loads
                # once (its compiled kernels, read from numba's cache), which two threads would
                # contend for
                for task in islice(tasks, 1):
                    yield fn(task)
                _RUN_ON_THREADS.add(fn)
            with ThreadPoolExecutor(threads) as executor:
                try:
                    yield from _windowed(executor, fn, tasks, threads)
                except BaseException:
                    executor.shutdown(cancel_futures=True)  # the tasks not begun are not run
                    raise
        else:
            yield from map(fn, tasks)

    def _in_workers(self, executor: Any, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        from concurrent.futures.process import BrokenProcessPool

        try:
            yield from _windowed(executor, fn, tasks, self._depth)
        except BrokenProcessPool as exc:
            raise DedupError(f"a worker process died ({exc}). {self._advice}") from exc

    def close(self, *, cancel: bool = False) -> None:
        """Stop the worker processes (they finish the tasks they hold first; with ``cancel``, the
        tasks submitted that no worker has begun are dropped)."""
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=cancel)

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(cancel=exc_type is not None)


_RUN_ON_THREADS: set[Callable[[Any], Any]] = set()  # the functions ``Pool.map`` ran a task of on threads


def _windowed(executor: Any, fn: Callable[[Any], Any], tasks: Iterable[Any], depth: int) -> Iterator[Any]:
    """``fn`` over ``tasks`` on ``executor``, results in task order, at most ``depth`` tasks
    submitted ahead of the one given back."""
    window: deque[Any] = deque()
    for task in tasks:
        window.append(executor.submit(fn, task))
        if len(window) > depth:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()
