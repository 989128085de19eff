// float32 math that WGSL lacks or specifies too loosely, for the elementwise kernels: WGSL has no
// erf, log1p or expm1, and its sin, cos and atan2 need only be accurate to 2^-11 absolute inside
// [-π, π] (and to nothing outside it) and to 4096 ulp. These are written from arithmetic the spec
// makes exact or nearly so (+, −, ×, floor, ldexp, frexp, integer ops), so every device gives
// the same few-ulp results. NaN and infinities are tested by their bits first, since WGSL lets a
// compiler assume they never occur.
//
// Largest errors against float64 (the CPU kernels), in ulps of the float32 result, measured on
// lavapipe over 2^24 inputs each, spread over every exponent where the function has work to do
// (sin and cos up to 3.4e38) and dense where its approximations meet; test/f32-math.test.ts
// checks them on 2^18 inputs with a margin for devices that fuse multiply-adds:
//   sin 1.20   cos 1.20   erf 1.19   log1p 1.18   expm1 1.48   atan2 2.00
// The polynomials of erf and atan come from ../../scripts/fit-f32-math.py.

/** Bit tests and constants the functions below share. */
const COMMON = `fn inf_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn with_sign(m: f32, s: f32) -> f32 { return bitcast<f32>((bitcast<u32>(m) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u)); }`;

// x = k ln2 + r, |r| <= ln2/2, with ln2 in two parts (k·LN2_H is exact for |k| < 2^8), and
// e^r − 1 by its Taylor series to r^11, which for |r| < 1 leaves out less than 2e-9 of it.
const EXP_CORE = `struct Split { k: i32, r: f32 }
fn split_ln2(x: f32) -> Split {
  let k = round(x * 1.4426950408889634);
  return Split(i32(k), (x - k * 0.693145751953125) - k * 1.428606765330187e-6);
}
fn expm1_small(r: f32) -> f32 {
  let p = 1.0 / 2.0 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0 + r * (1.0 / 40320.0
    + r * (1.0 / 362880.0 + r * (1.0 / 3628800.0 + r * (1.0 / 39916800.0)))))))));
  return r + r * r * p;
}
// e^x for finite x in [-87, 88]
fn exp_(x: f32) -> f32 {
  let s = split_ln2(x);
  return ldexp(1.0 + expm1_small(s.r), s.k);
}`;

const EXPM1 = `${COMMON}
${EXP_CORE}
fn expm1_(x: f32) -> f32 {
  if (nan_f32(x)) { return x; }
  if (x > 88.72283172607421875) { return inf(); } // the largest x whose e^x is finite in float32
  if (x < -17.5) { return -1.0; } // e^x < 2^-25: −1 + e^x rounds to −1
  // directly below 1: beyond ln2/2, 2^k p + (2^k − 1) for k = 1 doubles p's rounding error
  if (abs(x) < 1.0) { return expm1_small(x); }
  let s = split_ln2(x);
  let p = expm1_small(s.r);
  // 2^128 itself overflows: 2^k (1 + p) = 2^127 (2 + 2p)
  if (s.k == 128) { return ldexp(2.0 + 2.0 * p, 127); }
  // 2^k (1 + p) − 1 = 2^k p + (2^k − 1): 2^k − 1 is exact for |k| <= 24 and rounds harmlessly beyond
  return ldexp(p, s.k) + (ldexp(1.0, s.k) - 1.0);
}`;

// log(1 + x) = k ln2 + log(1 + f) with f exact, so no compensated sum is needed: f = x for x in
// [-1/2, 1]; below, 1 + x is exact and 2^k (1 + f) = 1 + x with 1 + f in [√½, √2); above,
// f = x/2^k − (1 − 2^−k), exact by Sterbenz's lemma (for k > 24, 1 − 2^−k rounds to 1, an
// error of 2^−k against a result above 17). With s = f / (2 + f),
// log(1 + f) = f − f²/2 + s (f²/2 + R(s²)), R = 2s²/3 + 2s⁴/5 + ... (|s| <= 1/3; the first omitted
// term is below 2e-10 of the result), so the division's error only touches a term that is small
// against the result.
const LOG1P = `${COMMON}
fn log1p_(x: f32) -> f32 {
  if (nan_f32(x) || x < -1.0) { return nan(); }
  if (x == -1.0) { return -inf(); }
  if (inf_f32(x)) { return x; }
  var f = x;
  var k = 0;
  if (x < -0.5 || x > 1.0) {
    let fe = frexp(1.0 + x);
    k = fe.exp - select(1, 0, fe.fract * 2.0 > 1.41421356);
    f = select(ldexp(x, -k) - (1.0 - ldexp(1.0, -k)), ldexp(1.0 + x, -k) - 1.0, x < -0.5);
  }
  let hfsq = 0.5 * f * f;
  let s = f / (2.0 + f);
  let z = s * s;
  let r = z * (2.0 / 3.0 + z * (2.0 / 5.0 + z * (2.0 / 7.0 + z * (2.0 / 9.0 + z * (2.0 / 11.0 + z * (2.0 / 13.0 + z * (2.0 / 15.0 + z * (2.0 / 17.0))))))));
  let kf = f32(k);
  return kf * 0.693145751953125 - ((hfsq - (s * (hfsq + r) + kf * 1.428606765330187e-6)) - f);
}`;

// |x| = q π/2 + r, |r| <= π/4, for any finite |x| > π/4 (Payne and Hanek), in integers: the
// 24-bit significand m of x = m·2^(e−23) times the 128 bits of 2/π that matter at its exponent
// (earlier words contribute whole multiples of 4 quadrants, later ones under 2^-70), then the
// fraction times π/2. r comes back as rh + rl, rh its first 24 bits: exact, so no compensated
// float arithmetic is needed (GPU compilers may fold (a + b) − a to b; Mesa's does).
const SIN_COS = `${COMMON}
var<private> TWO_OVER_PI: array<u32, 8> = array<u32, 8>(0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u);
// the 64-bit product of two u32 as (low, high) words, from 16-bit halves
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((mid << 16u) | (p00 & 0xffffu), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
// (hi, lo) << z for 0 <= z < 32
fn shl64(v: vec2<u32>, z: u32) -> vec2<u32> {
  if (z == 0u) { return v; }
  return vec2<u32>((v.x << z) | (v.y >> (32u - z)), v.y << z);
}
struct Reduced { q: u32, rh: f32, rl: f32 }
fn reduce_pio2(ax: f32) -> Reduced {
  let bits = bitcast<u32>(ax);
  let e = i32(bits >> 23u) - 127;
  let m = (bits & 0x7fffffu) | 0x800000u;
  let j = u32(max(e - 25, 0)) >> 5u;
  // p = m × words j..j+3 of 2/π, least significant word first: x·2/π (mod 4) in fixed point with
  // 32(j + 4) + 23 − e fraction bits
  var p: array<u32, 5>;
  var carry = 0u;
  for (var i = 0u; i < 4u; i++) {
    let w = mul_wide(m, TWO_OVER_PI[j + 3u - i]);
    let lo = w.x + carry;
    p[i] = lo;
    carry = w.y + select(0u, 1u, lo < w.x);
  }
  p[4] = carry;
  // its 2 integer bits and 62 fraction bits, from bit 32j + 89 − e (in [33, 90]) up
  let sh = u32(i32(32u * j) + 89 - e);
  let wk = sh >> 5u;
  let b = sh & 31u;
  var hi = p[wk + 1u] >> b;
  var lo = p[wk] >> b;
  if (b != 0u) { hi = hi | (p[wk + 2u] << (32u - b)); lo = lo | (p[wk + 1u] << (32u - b)); }
  // to the nearest quadrant: the fraction, sign-extended from its 62 bits, is then in [-1/2, 1/2)
  let q = ((hi >> 30u) + ((hi >> 29u) & 1u)) & 3u;
  var f = vec2<u32>(bitcast<u32>(bitcast<i32>(hi << 2u) >> 2u), lo);
  let negative = (f.x >> 31u) == 1u;
  if (negative) { f.y = ~f.y + 1u; f.x = ~f.x + select(0u, 1u, f.y == 0u); }
  // |fraction| = f·2^scale, normalised so that f's top bit is set
  var scale = -62;
  if (f.x == 0u) { f = vec2<u32>(f.y, 0u); scale = -94; }
  if (f.x == 0u) { return Reduced(q, 0.0, 0.0); }
  let z = countLeadingZeros(f.x);
  f = shl64(f, z);
  scale -= i32(z);
  // r = f × π/2 × 2^scale = f × C × 2^(scale − 63), C = π/4·2^64 = 0xc90fdaa22168c234: t, the top
  // 64 bits of f × C, from three of its four 32-bit products (the fourth is below 2^-62 of it)
  let a = mul_wide(f.x, 0xc90fdaa2u);
  let b1 = mul_wide(f.x, 0x2168c234u);
  let b2 = mul_wide(f.y, 0xc90fdaa2u);
  let mid = b1.y + b2.y;
  var c = select(0u, 1u, mid < b1.y);
  let low = b1.x + b2.x;
  c += select(0u, 1u, low < b1.x);
  let tlo = a.x + mid;
  var t = vec2<u32>(a.y + select(0u, 1u, tlo < a.x), tlo);
  t.x += select(0u, 1u, t.y + c < t.y);
  t.y += c;
  // r = t·2^(scale + 1), t >= 2^62: normalise, then rh is t's top 24 bits
  var te = scale + 1;
  if ((t.x >> 31u) == 0u) { t = shl64(t, 1u); te -= 1; }
  let rh = ldexp(f32(t.x & 0xffffff00u), te + 32);
  let rl = ldexp(f32(t.x & 0xffu), te + 32) + ldexp(f32(t.y), te);
  return Reduced(q, select(rh, -rh, negative), select(rl, -rl, negative));
}
// sin and cos of r = rh + rl, |r| <= π/4, by Taylor series (the first omitted terms are below
// 3e-9 of the results), rl's share by the derivative, and one rounding at the end
fn sin_r(rh: f32, rl: f32) -> f32 {
  let z = rh * rh;
  return rh + (rh * z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0)))) + rl * (1.0 - 0.5 * z));
}
fn cos_r(rh: f32, rl: f32) -> f32 {
  let z = rh * rh;
  return 1.0 - (0.5 * z - (z * z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0)))) - rl * rh));
}
// sin (cos = false) or cos (cos = true) of x
fn sin_cos(x: f32, cos: bool) -> f32 {
  if (nan_f32(x) || inf_f32(x)) { return nan(); }
  let ax = abs(x);
  var red = Reduced(0u, ax, 0.0);
  if (ax > 0.78539818525314331) { red = reduce_pio2(ax); }
  let q = (red.q + select(0u, 1u, cos)) & 3u;
  var v = select(sin_r(red.rh, red.rl), cos_r(red.rh, red.rl), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return select(select(v, -v, (bitcast<u32>(x) >> 31u) == 1u), v, cos);
}`;

// atan(t) on [0, 1] by a polynomial; atan2 by the octant, exact constants in two parts
const ATAN2 = `${COMMON}
fn atan01(t: f32) -> f32 {
  let s = t * t;
  return t + t * s * (-0.3333333134651184 + s * (0.1999979019165039 + s * (-0.14279615879058838 + s * (0.1104203537106514
    + s * (-0.08689044415950775 + s * (0.06318219751119614 + s * (-0.03667028620839119 + s * (0.013996483758091927 + s * -0.0025085764937102795))))))));
}
fn atan2_(y: f32, x: f32) -> f32 {
  if (nan_f32(x) || nan_f32(y)) { return nan(); }
  let ax = abs(x); let ay = abs(y);
  // for non-negative floats the order of their bits is the order of their values, infinities included
  let steep = bitcast<u32>(ay) > bitcast<u32>(ax);
  var t = 0.0;
  if (inf_f32(ax) && inf_f32(ay)) { t = 1.0; }
  else if (!inf_f32(ax) && !inf_f32(ay) && (ax != 0.0 || ay != 0.0)) { t = select(ay / ax, ax / ay, steep); }
  var a = atan01(t);
  if (steep) { a = (1.5707963705062866 - a) + -4.371138828673793e-8; }
  if ((bitcast<u32>(x) >> 31u) == 1u) { a = (3.1415927410125732 - a) + -8.742277657347586e-8; }
  return with_sign(a, y);
}`;

// |x| < 0.84375: erf(x) = x + x·q(x²); 0.84375 <= |x| < 3.95: 1 − e^(−x² + p(|x| − 0.84375)),
// with p ≈ log(erfc(x) e^(x²)), which varies little (its sum cancels little); beyond, erf rounds
// to ±1 in float32 (from 3.9192).
const ERF = `${COMMON}
${EXP_CORE}
fn erf_(x: f32) -> f32 {
  if (nan_f32(x)) { return x; }
  let a = abs(x);
  if (a < 0.84375) {
    let z = x * x;
    return x + x * (0.12837916612625122 + z * (-0.37612637877464294 + z * (0.1128375232219696 + z * (-0.026862816885113716
      + z * (0.005210250616073608 + z * (-0.0008256747387349606 + z * 8.897235238691792e-5))))));
  }
  if (inf_f32(x) || a >= 3.95) { return with_sign(1.0, x); }
  let u = a - 0.84375;
  let p = -0.7457717061042786 + u * (-0.6912004947662354 + u * (0.17793221771717072 + u * (-0.048381589353084564 + u * (0.011781277135014534
    + u * (-0.002355029108002782 + u * (0.000349925336195156 + u * (-3.297682633274235e-5 + u * (1.330123950538109e-6 + u * 1.9886021718207303e-8))))))));
  return with_sign(1.0 - exp_(p - a * a), x);
}`;

/** WGSL helpers, by op: each defines the function its expression calls (sin_cos, atan2_, ...). */
export const F32_MATH = { sin: SIN_COS, cos: SIN_COS, erf: ERF, log1p: LOG1P, expm1: EXPM1, atan2: ATAN2 };
