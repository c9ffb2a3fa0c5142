"""Seed 000: Monte Carlo pi on multiprocessing.Pool(processes=w).map, with the seed's
estimate_circle (random.uniform). The pool is started before the clock, as mp-bench does
for mp's pool.map; the samples are split into one block per worker."""
from multiprocessing import Pool
from random import uniform

import common


def estimate_circle(nbr_estimates):  # the seed's code
    nbr_trials_in_quarter_unit_circle = 0
    for step in range(int(nbr_estimates)):
        x = uniform(0, 1)
        y = uniform(0, 1)
        is_in_unit_circle = x * x + y * y < 1.0
        nbr_trials_in_quarter_unit_circle += is_in_unit_circle
    return nbr_trials_in_quarter_unit_circle


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, required=True)
    a = p.parse_args()
    for w in common.workers_list(a.workers):
        shares = [a.samples // w + (1 if b < a.samples % w else 0) for b in range(w)]
        with Pool(processes=w) as pool:
            pool.map(estimate_circle, [1] * w)  # the workers are up
            seconds, answers = common.timed(a.repeat, lambda: sum(pool.map(estimate_circle, shares)))
        # Unseeded, as in the seed: every run draws other numbers, so each is checked.
        common.emit("python.pool.map", w, seconds, answers[-1], samples=a.samples,
                    answers=",".join(str(x) for x in answers))


if __name__ == "__main__":
    main()
