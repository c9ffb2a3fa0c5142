"""Shared by mp-bench's Python scripts: arguments, timing and the result lines.

Each script prints one line per measurement on stdout, read by mp-bench:
    RESULT variant=python.pool.map workers=2 unit=s median=0.71 min=0.70 max=0.73 repeat=3 answer=7853981 ...
Values hold no spaces. Times are time.perf_counter() seconds.
"""
import argparse
import statistics
import time


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    return p


def workers_list(text):
    return [int(w) for w in text.split(",") if w]


def timed(repeat, fn):
    """Runs fn() `repeat` times; returns (seconds of each run, answers of each run)."""
    seconds, answers = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        answers.append(fn())
        seconds.append(time.perf_counter() - start)
    return seconds, answers


def emit(variant, workers, values, answer, unit="s", **fields):
    fields = dict(
        variant=variant,
        workers=workers,
        unit=unit,
        median=repr(statistics.median(values)),
        min=repr(min(values)),
        max=repr(max(values)),
        repeat=len(values),
        answer=answer,
        **fields,
    )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def same_answer(answers):
    """The answer of every run if they agree, else -1 (mp-bench then reports a failure)."""
    return answers[0] if all(a == answers[0] for a in answers) else -1
