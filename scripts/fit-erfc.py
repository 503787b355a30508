#!/usr/bin/env python3
"""Fits Q(t) ~ erfc(z)·exp(z²)/t, t = 1/(1 + z/2), the polynomial of core/fast_math.h's
scaled_erfc_nonneg (GELU's Φ), and prints its coefficients and relative error.

Degree 8 on t in [0.15, 1] (z <= 11.3): a least-squares fit on Chebyshev nodes weighted by 1/Q,
then Lawson-style reweighting toward the minimax relative error. Needs numpy only.

  /usr/bin/python3 scripts/fit-erfc.py
"""
import math

import numpy as np
from numpy.polynomial import chebyshev, polynomial

T_MIN, DEGREE, NODES, ITERATIONS = 0.15, 8, 400, 30


def target(t):
    z = 2.0 / t - 2.0
    return math.erfc(z) * math.exp(z * z) / t


def main():
    k = np.arange(NODES)
    nodes = (T_MIN + 1) / 2 + (1 - T_MIN) / 2 * np.cos(np.pi * (k + 0.5) / NODES)
    values = np.array([target(t) for t in nodes])
    weights = 1 / values
    for it in range(ITERATIONS):
        coef = chebyshev.chebfit(nodes, values, DEGREE, w=weights)
        rel = np.abs(chebyshev.chebval(nodes, coef) / values - 1)
        if it + 1 < ITERATIONS:
            weights = weights * (rel / rel.max() + 1e-3) ** 0.5
    power = chebyshev.cheb2poly(coef)
    grid = np.linspace(T_MIN, 1, 20001)
    exact = np.array([target(t) for t in grid])
    print("max relative error (double): %.2e" % np.max(np.abs(polynomial.polyval(grid, power) / exact - 1)))
    print("Horner, highest degree first:")
    for c in power[::-1]:
        print("  %.9g" % c)


if __name__ == "__main__":
    main()
