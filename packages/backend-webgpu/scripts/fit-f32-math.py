"""Coefficients of the float32 polynomials in src/kernels/f32-math.ts (erf, atan).

How they were made: `/usr/bin/python3 fit-f32-math.py` (mpmath 1.2 and numpy 1.24, Debian
bookworm). Each polynomial is a near-minimax fit of an mpmath reference (30 digits) on 2000
Chebyshev points, by Lawson's iteratively reweighted least squares, then rounded to float32.
The errors printed are those of the float64 fit; src/kernels/f32-math.ts documents the errors of
the whole functions in float32, measured on the GPU against float64.

sin, cos, expm1 and log1p need no fit: they use Taylor (or atanh) series over intervals small
enough that the first omitted term is far below float32's precision.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 30


def lawson_fit(f, basis, a, b, n_pts=2000, iters=60):
    xs = [mp.mpf(a + b) / 2 + mp.mpf(b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(0.5)) / n_pts) for k in range(n_pts)]
    fx = np.array([float(f(x)) for x in xs])
    xs = np.array([float(x) for x in xs])
    A = np.array([[bf(x) for bf in basis] for x in xs])
    w = np.ones_like(xs) / len(xs)
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(A * sw[:, None], fx * sw, rcond=None)
        err = np.abs(A @ c - fx)
        w = w * err
        w /= w.sum()
    return c, err.max()


def show(name, coefs, err):
    print(f'{name} (max error of the fit {err:.2e}), lowest order first:')
    print('  ' + ', '.join(repr(float(np.float32(c))) for c in coefs))


# erf(x) = x + x * q(x^2) for |x| < 0.84375: q(z) = erf(sqrt z)/sqrt z - 1 (small there, so x
# is most of the sum; up to 1 the float32 sum was 1.5 ulp off)
q = lambda z: mp.erf(mp.sqrt(z)) / mp.sqrt(z) - 1 if z > 0 else 2 / mp.sqrt(mp.pi) - 1
show('erf, |x| < 0.84375: q(z)', *lawson_fit(q, [lambda z, k=k: z**k for k in range(7)], 0, 0.84375**2))

# erf(x) = 1 - exp(-x^2 + p(x - 0.84375)) for 0.84375 <= x < 3.95 (erf rounds to 1 in float32
# from 3.9192): p is log(erfc(x) e^(x^2)), which varies little, and centred where erfc is largest
# its Horner sum cancels least where it matters (centred at 2.4, erf was 1.3 ulp off near 0.85)
p = lambda x: mp.log(mp.erfc(x)) + x * x
show('erf, 0.84375 <= x < 3.95: p(x - 0.84375)', *lawson_fit(p, [lambda x, k=k: (x - 0.84375)**k for k in range(10)], 0.84375, 3.95))

# atan(t) = t + t * s * r(s), s = t^2, for 0 <= t <= 1
r = lambda s: (mp.atan(mp.sqrt(s)) / mp.sqrt(s) - 1) / s if s > 0 else mp.mpf(-1) / 3
show('atan, 0 <= t <= 1: r(t^2)', *lawson_fit(r, [lambda s, k=k: s**k for k in range(9)], 0, 1))
