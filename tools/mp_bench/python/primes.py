"""Seed 000: the seed's check_prime(n) for n in 1..limit, sequentially and on
multiprocessing.Pool.map with chunksize 1, 10, 100, 1000 and the default (auto). The pool
is started before the clock."""
import math
from multiprocessing import Pool

import common


def check_prime(n):  # the seed's code
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    for i in range(3, int(math.sqrt(n) + 1), 2):
        if n % i == 0:
            return False
    return True


def main():
    p = common.parser(__doc__)
    p.add_argument("--limit", type=int, required=True)
    p.add_argument("--chunksizes", default="1,10,100,1000,auto")
    a = p.parse_args()
    numbers = range(1, a.limit + 1)
    seconds, answers = common.timed(a.repeat, lambda: len([n for n in numbers if check_prime(n)]))
    common.emit("python.sequential", 1, seconds, common.same_answer(answers), limit=a.limit)
    for w in common.workers_list(a.workers):
        with Pool(processes=w) as pool:
            pool.map(check_prime, range(w))  # the workers are up
            for c in a.chunksizes.split(","):
                chunksize = None if c == "auto" else int(c)
                # multiprocessing's default: about four chunks per worker
                actual = chunksize or -(-a.limit // (4 * w))
                seconds, answers = common.timed(
                    a.repeat, lambda: sum(pool.map(check_prime, numbers, chunksize)))
                variant = "python.pool.map." + ("auto" if c == "auto" else f"chunksize{c}")
                common.emit(variant, w, seconds, common.same_answer(answers), limit=a.limit,
                            chunksize=actual)


if __name__ == "__main__":
    main()
