"""Python's Manager().dict() and .list(), the peers of bench_shared_containers.cpp: the time
of one update (get + set, two round trips to the manager process), one get, one append."""
import multiprocessing as mp
import time


def per_call(f, n):
    start = time.perf_counter()
    for i in range(n):
        f(i)
    return (time.perf_counter() - start) / n


if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        keys = ["alpha", "beta", "gamma", "delta"]
        for k in range(1000):
            d["key" + str(k)] = k
        n = 20000
        update = per_call(lambda i: d.__setitem__(keys[i % 4], d.get(keys[i % 4], 0) + 1), n)
        get = per_call(lambda i: d.get("key" + str(i % 1000)), n)
        lst = m.list()
        append = per_call(lambda i: lst.append(i), n)
        print(f"manager.dict update (get + set): {update * 1e6:.1f} us")
        print(f"manager.dict get: {get * 1e6:.1f} us")
        print(f"manager.list append: {append * 1e6:.1f} us")
