"""Chebyshev coefficients of src/kernels/erf.ts, the float64 erf of the CPU backend.

How they were made: `/usr/bin/python3 erf-coefficients.py` (mpmath 1.2, Debian bookworm).
For 1 <= x < 6, erf(x) = 1 - e^(-x^2) erfcx(x), and erfcx(x) = e^(x^2) erfc(x) is a smooth
function of t = (x - K) / (x + K) (the map Weideman used for the Faddeeva function), expanded
here in Chebyshev polynomials of t rescaled to [-1, 1]: interpolation at 60 Chebyshev points in
60-digit arithmetic, kept up to the last coefficient above 1e-18 (erfcx is below 1 there, so
the rest changes no float64 result by more than a rounding).
"""
import mpmath as mp

mp.mp.dps = 60
K, LO, HI, N = 2.5, 1, 6, 60
tlo, thi = mp.mpf(LO - K) / (LO + K), mp.mpf(HI - K) / (HI + K)


def erfcx(x):
    return mp.exp(x * x) * mp.erfc(x)


nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N) for k in range(N)]
vals = []
for u in nodes:
    t = (thi + tlo) / 2 + (thi - tlo) / 2 * u
    vals.append(erfcx(K * (1 + t) / (1 - t)))
c = [2 * mp.fsum(vals[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / N) for k in range(N)) / N for j in range(N)]
c[0] /= 2
n = max(j for j in range(N) if abs(c[j]) > 1e-18) + 1
print(f'// t = (x - {K}) / (x + {K}) spans [{mp.nstr(tlo, 17)}, {mp.nstr(thi, 17)}] for x in [{LO}, {HI}]')
print(f'const T_MID = {repr(float((thi + tlo) / 2))};')
print(f'const T_SCALE = {repr(float(2 / (thi - tlo)))};')
print('const ERFCX = [' + ', '.join(repr(float(v)) for v in c[:n]) + '];')
