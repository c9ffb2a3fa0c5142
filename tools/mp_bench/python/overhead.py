"""The cost of a trivial task in Python: Pool.apply round trips, Pool.map of trivial items
with chunksize 1 and with the default chunksize, submit + result on concurrent.futures'
executors, joblib's Parallel on tiny tasks (its automatic batching), and the IPC objects
mp::Queue, Lock and Pipe are measured against: ints and 1 MiB items through a Queue to
another process, a Pipe round trip, an uncontended Lock; and joblib's Memory, a call of a
cached add_one found in the cache (hit) or computed and stored (miss). Pools are started,
and joblib's workers spawned, before the clock."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import Lock, Pipe, Pool, Process, Queue

import shutil
import tempfile
import time

from joblib import Memory, Parallel, delayed

import common


def add_one(x):
    return x + 1


def add_up(q, n, out):
    """Gets n items; puts the sum of (item + 1) for ints, of 1..n for bytes."""
    total = 0
    for i in range(n):
        x = q.get()
        total += x + 1 if isinstance(x, int) else i + 1
    out.put(total)


def echo(conn, n):
    for _ in range(n):
        conn.send(conn.recv() + 1)


def queue_stream(n, item):
    q, out = Queue(), Queue()
    p = Process(target=add_up, args=(q, n, out))
    p.start()
    for i in range(n):
        q.put(i if item is None else item)
    total = out.get()
    p.join()
    return total


def pipe_round_trips(n):
    mine, theirs = Pipe()
    p = Process(target=echo, args=(theirs, n))
    p.start()
    x = 0
    for _ in range(n):
        mine.send(x)
        x = mine.recv()
    p.join()
    return x


def lock_pairs(n):
    lock = Lock()
    count = 0
    for _ in range(n):
        with lock:
            count += 1
    return count


def ipc(a):
    big = bytes(1 << 20)
    for variant, n, run, unit in [
            ("python.queue.small", a.queue_items, lambda: queue_stream(a.queue_items, None), "items/s"),
            ("python.queue.1mib", a.queue_big, lambda: queue_stream(a.queue_big, big), "items/s"),
            ("python.pipe.roundtrip", a.apply, lambda: pipe_round_trips(a.apply), "s"),
            ("python.lock.uncontended", a.lock_pairs, lambda: lock_pairs(a.lock_pairs), "s")]:
        seconds, answers = common.timed(a.repeat, run)
        values = [n / s for s in seconds] if unit == "items/s" else [s / n for s in seconds]
        common.emit(variant, 2 if "lock" not in variant else 1, values,
                    common.same_answer(answers), unit=unit, items=n)


def memory(a):
    """Seconds per call of a cached add_one, timing only the calls: the same argument after
    one call stored it (hit), or new arguments each run (miss). Each call's result minus its
    argument is 1, so the answer is the number of calls."""
    n = a.memory_calls
    for variant in ["python.memory.hit", "python.memory.miss"]:
        seconds, answers = [], []
        for run in range(a.repeat):
            where = tempfile.mkdtemp(prefix="mp-bench-joblib-")
            try:
                cached = Memory(where, verbose=0).cache(add_one)
                hit = variant.endswith("hit")
                args = [0] * n if hit else range((run + 1) * n, (run + 2) * n)
                if hit:
                    cached(0)
                start = time.perf_counter()
                answer = sum(cached(x) - x for x in args)
                seconds.append(time.perf_counter() - start)
                answers.append(answer)
            finally:
                shutil.rmtree(where)
        common.emit(variant, 1, [s / n for s in seconds], common.same_answer(answers), items=n)


def main():
    p = common.parser(__doc__)
    p.add_argument("--apply", type=int, required=True, help="round trips per run")
    p.add_argument("--map-small", type=int, required=True, help="items, chunksize 1")
    p.add_argument("--map-large", type=int, required=True, help="items, default chunksize")
    p.add_argument("--joblib", type=int, required=True, help="tiny tasks for joblib")
    p.add_argument("--queue-items", type=int, required=True, help="ints through a Queue")
    p.add_argument("--queue-big", type=int, required=True, help="1 MiB items through a Queue")
    p.add_argument("--lock-pairs", type=int, required=True, help="Lock acquire + release")
    p.add_argument("--memory-calls", type=int, required=True, help="calls of a cached function")
    a = p.parse_args()
    ipc(a)
    memory(a)
    for w in common.workers_list(a.workers):
        with Pool(processes=w) as pool:
            pool.map(add_one, range(4 * w), 1)  # the workers are up

            def apply_chain():
                x = 0
                for _ in range(a.apply):
                    x = pool.apply(add_one, (x,))
                return x

            seconds, answers = common.timed(a.repeat, apply_chain)
            common.emit("python.pool.apply", w, [s / a.apply for s in seconds],
                        common.same_answer(answers), items=a.apply)
            for variant, n, chunksize in [("python.pool.map.chunksize1", a.map_small, 1),
                                          ("python.pool.map.auto", a.map_large, None)]:
                seconds, answers = common.timed(
                    a.repeat, lambda: sum(pool.map(add_one, range(n), chunksize)))
                common.emit(variant, w, [n / s for s in seconds], common.same_answer(answers),
                            unit="items/s", items=n)
        for variant, executor in [("python.executor.process.submit", ProcessPoolExecutor),
                                  ("python.executor.thread.submit", ThreadPoolExecutor)]:
            with executor(max_workers=w) as ex:
                ex.submit(add_one, 0).result()  # the workers are up

                def submit_chain():
                    x = 0
                    for _ in range(a.apply):
                        x = ex.submit(add_one, x).result()
                    return x

                seconds, answers = common.timed(a.repeat, submit_chain)
                common.emit(variant, w, [s / a.apply for s in seconds],
                            common.same_answer(answers), items=a.apply)
        with Parallel(n_jobs=w) as parallel:
            parallel(delayed(add_one)(i) for i in range(4 * w))  # the workers are up
            seconds, answers = common.timed(
                a.repeat, lambda: sum(parallel(delayed(add_one)(i) for i in range(a.joblib))))
            common.emit("python.joblib.tiny", w, [a.joblib / s for s in seconds],
                        common.same_answer(answers), unit="items/s", items=a.joblib)


if __name__ == "__main__":
    main()
