"""The cost of a trivial task in Python: Pool.apply round trips, Pool.map of trivial items
with chunksize 1 and with the default chunksize, submit + result on concurrent.futures'
executors, and joblib's Parallel on tiny tasks (its automatic batching). Pools are
started, and joblib's workers spawned, before the clock."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import Pool

from joblib import Parallel, delayed

import common


def add_one(x):
    return x + 1


def main():
    p = common.parser(__doc__)
    p.add_argument("--apply", type=int, required=True, help="round trips per run")
    p.add_argument("--map-small", type=int, required=True, help="items, chunksize 1")
    p.add_argument("--map-large", type=int, required=True, help="items, default chunksize")
    p.add_argument("--joblib", type=int, required=True, help="tiny tasks for joblib")
    a = p.parse_args()
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
