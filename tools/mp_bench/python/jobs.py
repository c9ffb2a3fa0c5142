"""Seeds 001 and 003: four CPU-bound jobs (seed 001's task: sum of i**2 for i < count;
seed 003's heavy_work: sum of i for i < count), run sequentially, on four
threading.Threads, on four multiprocessing.Process and on multiprocessing.Pool(w).map.
As in the seeds, processes and pools are started inside the timing."""
import sys
import threading
from multiprocessing import Pool, Process

import common

JOBS = 4


def task(count):  # seed 001
    return sum([i ** 2 for i in range(count)])


def heavy_work(count):  # seed 003
    result = 0
    for i in range(count):
        result += i
    return result


def in_child(fn, count, expected):
    # A Process returns no value: the child checks its result and says so by its exit code.
    sys.exit(0 if fn(count) == expected else 1)


def common_result(results, expected):
    return expected if all(r == expected for r in results) else -1


def main():
    p = common.parser(__doc__)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--heavy-count", type=int, required=True)
    a = p.parse_args()
    workloads = [
        ("sum_of_squares", task, a.count, (a.count - 1) * a.count * (2 * a.count - 1) // 6),
        ("heavy_work", heavy_work, a.heavy_count, a.heavy_count * (a.heavy_count - 1) // 2),
    ]
    for name, fn, count, expected in workloads:
        def sequential():
            return common_result([fn(count) for _ in range(JOBS)], expected)

        def threads():
            results = [None] * JOBS

            def run(i):
                results[i] = fn(count)

            ts = [threading.Thread(target=run, args=(i,)) for i in range(JOBS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return common_result(results, expected)

        def processes():
            ps = [Process(target=in_child, args=(fn, count, expected)) for _ in range(JOBS)]
            for proc in ps:
                proc.start()
            for proc in ps:
                proc.join()
            return expected if all(proc.exitcode == 0 for proc in ps) else -1

        for variant, run, w in [("sequential", sequential, 1), ("threads", threads, JOBS),
                                ("process", processes, JOBS)]:
            seconds, answers = common.timed(a.repeat, run)
            common.emit("python." + variant, w, seconds, common.same_answer(answers),
                        workload=name, count=count)
        for w in common.workers_list(a.workers):
            def pool_map():
                pool = Pool(processes=w)
                results = pool.map(fn, [count] * JOBS)
                pool.close()
                pool.join()
                return common_result(results, expected)

            seconds, answers = common.timed(a.repeat, pool_map)
            common.emit("python.pool.map", w, seconds, common.same_answer(answers),
                        workload=name, count=count)


if __name__ == "__main__":
    main()
