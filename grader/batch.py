"""Grading many submissions in parallel, one task per worker at a time.

Each (submission, task) pair is a job for a pool of worker threads; each
worker waits on one sandboxed child, so N workers train N networks at once.
A submission's result is handed to ``on_result`` as soon as its last task is
scored, so callers can write it down before the batch ends. A submission that
cannot even be read still gets a result: every task failed, with the reason.
"""

import concurrent.futures
import dataclasses
import logging
import os

from grader.grading import GraderError, TaskResult, grade_task
from grader.submission import SubmissionError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SubmissionResult:
    """Every task of one submission, and what they add up to."""

    name: str
    path: str
    sha256: str | None
    dataset: str
    tasks: tuple
    problem: str | None = None

    @property
    def score(self):
        return round(sum(task.score for task in self.tasks), 4)

    @property
    def max_score(self):
        return sum(task.max_score for task in self.tasks)

    @property
    def seconds(self):
        """Time spent in the sandbox, over all tasks."""
        return sum(task.seconds for task in self.tasks)

    @property
    def grader_fault(self):
        """Whether a task could not be graded through no fault of the submission."""
        return any(task.grader_fault for task in self.tasks)


def default_workers():
    """One worker per core the grader may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def grade_batch(
    submissions,
    rubric,
    data,
    *,
    workers=None,
    on_result=None,
    isolation="auto",
    scratch=None,
):
    """Grade ``submissions``; return their results in the order given.

    Parameters
    ----------
    submissions : list of grader.submission.Submission
    rubric : grader.rubric.Rubric
    data : grader.grading.GradingData
    workers : int, optional
        Children running at once; one per core by default. Each child
        trains with one BLAS thread: the workers keep the cores busy, a
        network's numbers do not depend on how many workers graded it, and no
        BLAS thread spins waiting for a core another child holds.
    on_result : callable, optional
        Called with each SubmissionResult as soon as it is complete, from the
        calling thread.
    isolation, scratch
        Passed to ``grade_task``.

    Raises
    ------
    GraderError
        When the sandbox cannot run at all; results already handed to
        ``on_result`` stay valid.
    """
    pool = concurrent.futures.ThreadPoolExecutor(workers or default_workers())
    results = [None] * len(submissions)
    try:
        jobs = _submit(
            pool,
            submissions,
            rubric,
            data,
            results,
            on_result,
            scratch=scratch,
            isolation=isolation,
        )
        _collect(jobs, submissions, rubric, data, results, on_result)
    except BaseException:
        # A Ctrl-C or a sandbox that cannot run ends the batch now: nothing
        # new starts, and the caller need not wait for the running children.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def _submit(pool, submissions, rubric, data, results, on_result, **options):
    """Queue every task of every readable submission; settle the unreadable ones.

    Returns a dict from each future to its (submission index, task, digest).
    """
    jobs = {}
    for index, submission in enumerate(submissions):
        try:
            code, digest = submission.read()
        except SubmissionError as error:
            result = _unreadable(submission, rubric, data, str(error))
            results[index] = _deliver(result, on_result)
            continue
        for task in rubric.tasks:
            future = pool.submit(
                _grade_safely, code, task, data, seed=rubric.seed, threads=1, **options
            )
            jobs[future] = (index, task, digest)
    return jobs


def _collect(jobs, submissions, rubric, data, results, on_result):
    """Gather task results as they come; deliver each submission once complete."""
    done = {}
    for future in concurrent.futures.as_completed(jobs):
        index, task, digest = jobs[future]
        done.setdefault(index, {})[task.name] = future.result()
        if len(done[index]) < len(rubric.tasks):
            continue
        submission = submissions[index]
        result = SubmissionResult(
            name=submission.name,
            path=str(submission.path),
            sha256=digest,
            dataset=data.name,
            tasks=tuple(done[index][t.name] for t in rubric.tasks),
        )
        results[index] = _deliver(result, on_result)


def _grade_safely(code, task, data, **options):
    """``grade_task``, with any fault of the grader itself turned into a result.

    GraderError (no sandbox at all) still propagates: it would fail every task.
    """
    try:
        return grade_task(code, task, data, **options)
    except GraderError:
        raise
    except Exception as error:
        logger.exception("the grader failed on task %s", task.name)
        return TaskResult(
            name=task.name,
            entry_point=task.entry_point,
            score=0.0,
            max_score=task.points,
            passed=False,
            message=f"The grader itself failed on this task ({error!r}); "
            "ask your instructor to look at the grader's log.",
            grader_fault=True,
        )


def _unreadable(submission, rubric, data, problem):
    tasks = tuple(
        TaskResult(
            name=task.name,
            entry_point=task.entry_point,
            score=0.0,
            max_score=task.points,
            passed=False,
            message=problem,
        )
        for task in rubric.tasks
    )
    return SubmissionResult(
        name=submission.name,
        path=str(submission.path or ""),
        sha256=None,
        dataset=data.name,
        tasks=tasks,
        problem=problem,
    )


def _deliver(result, on_result):
    if on_result is not None:
        on_result(result)
    return result
