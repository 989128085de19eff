;; The per-element passes of the fused cross-entropy (src/kernels/cross-entropy.ts) over float32
;; logits in rows of C contiguous classes, four classes at a time in f32x4 lanes. Every step is
;; one float32 (or double) operation that the TypeScript loops repeat with Math.fround, so both
;; paths give the same bits; what is left to the TypeScript (targets, weights, label smoothing,
;; the reductions) is O(rows).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "env" "exp" (func $exp (param f64) (result f64)))

  ;; @tapegrad/tensor's fastExp, step for step: with k = round(32x/ln2) and r = x - k·ln2/32,
  ;; exp(x) = 2^(k>>5) · 2^((k&31)/32) · (1 + r(1 + r(1/2 + r/6))). The 32 doubles 2^(j/32) are at
  ;; `frac`, as JavaScript computes them; 2^(k>>5) is built from its exponent bits, which is the
  ;; exact power fastExp's table holds. Outside (-708, 709) and for NaN: Math.exp itself. $exp4's
;; lanes outside its range take it.
  (func $fexp (param $x f64) (param $frac i32) (result f64)
    (local $kd f64) (local $k i32) (local $r f64)
    (if (result f64) (i32.and (f64.gt (local.get $x) (f64.const -708)) (f64.lt (local.get $x) (f64.const 709)))
      (then
        ;; adding then subtracting 1.5·2^52 rounds to an integer, ties to even
        (local.set $kd (f64.sub
          (f64.add (f64.mul (local.get $x) (f64.div (f64.const 32) (f64.const 0x1.62e42fefa39efp-1))) (f64.const 0x1.8p52))
          (f64.const 0x1.8p52)))
        (local.set $k (i32.trunc_f64_s (local.get $kd)))
        (local.set $r (f64.sub (local.get $x) (f64.mul (local.get $kd) (f64.const 0x1.62e42fefa39efp-6))))
        (f64.mul
          (f64.mul
            (f64.reinterpret_i64 (i64.shl
              (i64.extend_i32_s (i32.add (i32.shr_s (local.get $k) (i32.const 5)) (i32.const 1023))) (i64.const 52)))
            (f64.load (i32.add (local.get $frac) (i32.shl (i32.and (local.get $k) (i32.const 31)) (i32.const 3)))))
          (f64.add (f64.const 1) (f64.mul (local.get $r)
            (f64.add (f64.const 1) (f64.mul (local.get $r)
              (f64.add (f64.const 0.5) (f64.mul (local.get $r) (f64.div (f64.const 1) (f64.const 6))))))))))
      (else (call $exp (local.get $x)))))

  ;; One row's pass over x[c], c < C (x to end): e = exp(x[c] - (mh + ml)) in float32 lanes, then
  ;; if `grad` is 0 the e are summed (and stored at o[c] unless o is 0: the forward's saved exps),
  ;; else o[c] = e·k - b is written (one multiply and one subtraction, each rounded to float32).
  ;; Four classes at a time, then the last C mod 4 one at a time through the same code (lane 0 of a splat), so there is one copy of the exp. The sum is
  ;; in double: lane j's exps into sum j, then (s0 + s1) + (s2 + s3) + (the last C mod 4, summed
  ;; in class order).
  ;;
  ;; The exp, within 1 ulp of its exact value rounded to float32 (test/cross-entropy-exp.test.ts):
  ;; mh + ml is the shift as a pair of floats; d = x - mh rounded. With n = round(d·log2 e) and
  ;; r = d - n·ln2 (ln2 as C1 + C2, n·C1 exact), |r| <= ln2/2 and exp = 2^n·(1 + r + r²·P(r)),
  ;; P the degree-5 polynomial of Cephes's expf, evaluated in Estrin's order (three independent
  ;; pairs, then two steps in r²: a shorter chain of dependent operations than Horner's, which
  ;; bounded the loop); 2^n is added to the exponent bits. The gradient's pass (`grad` 1 or 2) adds
  ;; to r what d lost, exactly (x - mh = d + e: TwoSum, or with `grad` 2, where the caller knows
  ;; every |x| <= |mh|, Fast2Sum, the same e), and - ml, so its argument keeps every bit;
  ;; the forward's sum, whose shift is the row's max (a float, ml 0), leaves out e: its
  ;; exps are those of the rounded d, within a few ulps, and the 6 additions (the loop's
  ;; bound: the CPU's floating-point adders) are saved. Lanes whose |d| is above 87 (a result
  ;; that is not a normal float) or NaN take $fexp in double, rounded to float32; with `check` 0
  ;; the caller knows every d is in range and the lanes are not tested (the same bits for such a
  ;; row).
  (func $row (param $x i32) (param $end i32) (param $mh v128) (param $ml v128) (param $frac i32)
    (param $grad i32) (param $k v128) (param $b v128) (param $o i32) (param $check i32) (result f64)
    (local $four i32) (local $v v128) (local $d v128) (local $bb v128) (local $n v128)
    (local $r v128) (local $r2 v128) (local $y v128) (local $ok v128) (local $s01 v128) (local $s23 v128) (local $tail f64) (local $subb i32)
    (local $store i32)
    (local.set $subb (v128.any_true (local.get $b)))
    (local.set $store (i32.or (local.get $grad) (i32.ne (local.get $o) (i32.const 0))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $four (i32.le_u (i32.add (local.get $x) (i32.const 16)) (local.get $end)))
      (local.set $v (if (result v128) (local.get $four)
        (then (v128.load (local.get $x)))
        (else (v128.load32_splat (local.get $x)))))
      (local.set $d (f32x4.sub (local.get $v) (local.get $mh)))
      (local.set $n (f32x4.nearest (f32x4.mul (local.get $d) (v128.const f32x4 0x1.715476p+0 0x1.715476p+0 0x1.715476p+0 0x1.715476p+0))))
      (local.set $r (f32x4.sub
        (f32x4.sub (local.get $d) (f32x4.mul (local.get $n) (v128.const f32x4 0x1.63p-1 0x1.63p-1 0x1.63p-1 0x1.63p-1)))
        (f32x4.mul (local.get $n) (v128.const f32x4 -0x1.bd0106p-13 -0x1.bd0106p-13 -0x1.bd0106p-13 -0x1.bd0106p-13))))
      (if (local.get $grad) (then
        (local.set $bb (f32x4.sub (local.get $d) (local.get $v)))
        (local.set $r (f32x4.add (local.get $r) (f32x4.sub
          (if (result v128) (i32.eq (local.get $grad) (i32.const 2))
            (then (f32x4.sub (local.get $v) (f32x4.add (local.get $d) (local.get $mh))))
            (else (f32x4.sub (f32x4.sub (local.get $v) (f32x4.sub (local.get $d) (local.get $bb))) (f32x4.add (local.get $mh) (local.get $bb)))))
          (local.get $ml))))))
      (local.set $r2 (f32x4.mul (local.get $r) (local.get $r)))
      (local.set $y (f32x4.add
        (f32x4.add
          (f32x4.mul
            (f32x4.add
              (f32x4.mul
                (f32x4.add
                  (f32x4.mul
                    (f32x4.add (f32x4.mul (local.get $r) (v128.const f32x4 0x1.a0d2cep-13 0x1.a0d2cep-13 0x1.a0d2cep-13 0x1.a0d2cep-13))
                      (v128.const f32x4 0x1.6e879cp-10 0x1.6e879cp-10 0x1.6e879cp-10 0x1.6e879cp-10))
                    (local.get $r2))
                  (f32x4.add (f32x4.mul (local.get $r) (v128.const f32x4 0x1.111210p-7 0x1.111210p-7 0x1.111210p-7 0x1.111210p-7))
                    (v128.const f32x4 0x1.555382p-5 0x1.555382p-5 0x1.555382p-5 0x1.555382p-5)))
                (local.get $r2))
              (f32x4.add (f32x4.mul (local.get $r) (v128.const f32x4 0x1.555554p-3 0x1.555554p-3 0x1.555554p-3 0x1.555554p-3))
                (v128.const f32x4 0.5 0.5 0.5 0.5)))
            (local.get $r2))
          (local.get $r))
        (v128.const f32x4 1 1 1 1)))
      (local.set $y (i32x4.add (local.get $y) (i32x4.shl (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32.const 23))))
      (if (local.get $check) (then
        ;; |d| <= 87 (not NaN) as integers: |d|'s bits below those of the next float after 87
        (local.set $ok (i32x4.lt_s
          (v128.and (local.get $d) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
          (v128.const i32x4 0x42ae0001 0x42ae0001 0x42ae0001 0x42ae0001)))
        (if (i32.eqz (i32x4.all_true (local.get $ok))) (then
          (local.set $y (v128.bitselect (local.get $y) (call $exp4_wide (local.get $v) (local.get $mh) (local.get $ml) (local.get $frac)) (local.get $ok)))))))
      (if (local.get $grad)
        (then
          (local.set $y (f32x4.mul (local.get $y) (local.get $k)))
          ;; y - (+0) is y, bit for bit (-0 and NaN too): one addition fewer without smoothing
          (if (local.get $subb) (then (local.set $y (f32x4.sub (local.get $y) (local.get $b))))))
        (else
          (if (local.get $four)
            (then
              (local.set $s01 (f64x2.add (local.get $s01) (f64x2.promote_low_f32x4 (local.get $y))))
              (local.set $s23 (f64x2.add (local.get $s23) (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $y) (local.get $y))))))
            (else (local.set $tail (f64.add (local.get $tail) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $y)))))))))
      (if (local.get $store) (then
        (if (local.get $four)
          (then (v128.store (local.get $o) (local.get $y)))
          (else (f32.store (local.get $o) (f32x4.extract_lane 0 (local.get $y)))))))
      (local.set $x (i32.add (local.get $x) (select (i32.const 16) (i32.const 4) (local.get $four))))
      (local.set $o (i32.add (local.get $o) (select (i32.const 16) (i32.const 4) (local.get $four))))
      (br $l)))
    (f64.add
      (f64.add
        (f64.add (f64x2.extract_lane 0 (local.get $s01)) (f64x2.extract_lane 1 (local.get $s01)))
        (f64.add (f64x2.extract_lane 0 (local.get $s23)) (f64x2.extract_lane 1 (local.get $s23))))
      (local.get $tail)))

  ;; Each lane through $fexp: exp((x - mh) - ml) in double, rounded to float32.
  (func $exp4_wide (param $x v128) (param $mh v128) (param $ml v128) (param $frac i32) (result v128)
    (f32x4.replace_lane 3
      (f32x4.replace_lane 2
        (f32x4.replace_lane 1
          (f32x4.splat (call $exp1_wide (f32x4.extract_lane 0 (local.get $x)) (f32x4.extract_lane 0 (local.get $mh)) (f32x4.extract_lane 0 (local.get $ml)) (local.get $frac)))
          (call $exp1_wide (f32x4.extract_lane 1 (local.get $x)) (f32x4.extract_lane 1 (local.get $mh)) (f32x4.extract_lane 1 (local.get $ml)) (local.get $frac)))
        (call $exp1_wide (f32x4.extract_lane 2 (local.get $x)) (f32x4.extract_lane 2 (local.get $mh)) (f32x4.extract_lane 2 (local.get $ml)) (local.get $frac)))
      (call $exp1_wide (f32x4.extract_lane 3 (local.get $x)) (f32x4.extract_lane 3 (local.get $mh)) (f32x4.extract_lane 3 (local.get $ml)) (local.get $frac))))
  (func $exp1_wide (param $x f32) (param $mh f32) (param $ml f32) (param $frac i32) (result f32)
    (f32.demote_f64 (call $fexp
      (f64.sub (f64.sub (f64.promote_f32 (local.get $x)) (f64.promote_f32 (local.get $mh))) (f64.promote_f32 (local.get $ml)))
      (local.get $frac))))

  ;; The max m and the least value mn of x[c] from x to end, as (m, mn, 0, 0): m from -FLT_MAX (so
  ;; NaNs are passed over and an all -inf row gives -FLT_MAX), four lanes then the last C mod 4;
  ;; mn likewise from inf.
  (func $minmax (param $x i32) (param $end i32) (result v128)
    (local $end4 i32) (local $i i32) (local $mv v128) (local $nv v128) (local $m f32) (local $mn f32) (local $v f32)
    (local.set $end4 (i32.sub (local.get $end) (i32.and (i32.sub (local.get $end) (local.get $x)) (i32.const 15))))
    (local.set $mv (v128.const f32x4 -0x1.fffffep+127 -0x1.fffffep+127 -0x1.fffffep+127 -0x1.fffffep+127))
    (local.set $nv (v128.const f32x4 inf inf inf inf))
    (local.set $i (local.get $x))
    (block $e (loop $l
      (br_if $e (i32.ge_u (local.get $i) (local.get $end4)))
      ;; pmax(m, v) = m < v ? v : m: the scalar `if (v > m) m = v` in each lane; pmin likewise
      (local.set $mv (f32x4.pmax (local.get $mv) (v128.load (local.get $i))))
      (local.set $nv (f32x4.pmin (local.get $nv) (v128.load (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l)))
    (local.set $mn (f32.min (f32.min (f32x4.extract_lane 0 (local.get $nv)) (f32x4.extract_lane 1 (local.get $nv)))
      (f32.min (f32x4.extract_lane 2 (local.get $nv)) (f32x4.extract_lane 3 (local.get $nv)))))
    (local.set $m (f32x4.extract_lane 0 (local.get $mv)))
    (if (f32.gt (f32x4.extract_lane 1 (local.get $mv)) (local.get $m)) (then (local.set $m (f32x4.extract_lane 1 (local.get $mv)))))
    (if (f32.gt (f32x4.extract_lane 2 (local.get $mv)) (local.get $m)) (then (local.set $m (f32x4.extract_lane 2 (local.get $mv)))))
    (if (f32.gt (f32x4.extract_lane 3 (local.get $mv)) (local.get $m)) (then (local.set $m (f32x4.extract_lane 3 (local.get $mv)))))
    (block $e (loop $l
      (br_if $e (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $v (f32.load (local.get $i)))
      (if (f32.gt (local.get $v) (local.get $m)) (then (local.set $m (local.get $v))))
      (if (f32.lt (local.get $v) (local.get $mn)) (then (local.set $mn (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l)))
    (f32x4.replace_lane 1 (f32x4.splat (local.get $m)) (local.get $mn)))

  ;; For each of `rows` rows of C logits from x: the max m, starting from -FLT_MAX (so NaNs are
  ;; passed over and an all -inf row gives s = 0), with -0 made +0 (the lanes meet zeros in
  ;; another order than one loop would), and s = Σ exp(x - m) by $row; written as the doubles
  ;; (m, s) per row at `out`, then the row's target logit x[y] as a double in the third double,
  ;; which holds y before (y < 0: none, that double left as it is), read while the row is in
  ;; cache (from the caller, each a cache miss on large logits). The same loops take the row's least value mn (NaNs passed over
  ;; alike): when mn - m >= -87, every x - m is in [-87, 0] or NaN, and $row need not test its
  ;; lanes' range (a NaN lane gives a NaN sum on either path). Unless `e` is 0, each row's exps
  ;; are stored there too, rows of C (the backward's saved exps).
  (func $ce_stats (param $x i32) (param $rows i32) (param $C i32) (param $frac i32) (param $out i32) (param $e i32)
    (local $end i32) (local $mm v128) (local $m f32) (local $mn f32) (local $y i32)
    (block $done (loop $row
      (br_if $done (i32.le_s (local.get $rows) (i32.const 0)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $C) (i32.const 2))))
      (local.set $mm (call $minmax (local.get $x) (local.get $end)))
      (local.set $m (f32x4.extract_lane 0 (local.get $mm)))
      (local.set $mn (f32x4.extract_lane 1 (local.get $mm)))
      (local.set $m (f32.add (local.get $m) (f32.const 0)))
      (f64.store (local.get $out) (f64.promote_f32 (local.get $m)))
      (f64.store offset=8 (local.get $out) (call $row (local.get $x) (local.get $end) (f32x4.splat (local.get $m)) (v128.const i64x2 0 0)
        (local.get $frac) (i32.const 0) (v128.const i64x2 0 0) (v128.const i64x2 0 0) (local.get $e)
        (i32.eqz (f32.ge (f32.sub (local.get $mn) (local.get $m)) (f32.const -87)))))
      (if (local.get $e) (then (local.set $e (i32.add (local.get $e) (i32.shl (local.get $C) (i32.const 2))))))
      (local.set $y (i32.trunc_f64_s (f64.load offset=16 (local.get $out))))
      (if (i32.ge_s (local.get $y) (i32.const 0)) (then
        (f64.store offset=16 (local.get $out) (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $y) (i32.const 2))))))))
      (local.set $out (i32.add (local.get $out) (i32.const 24)))
      (local.set $x (local.get $end))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row))))

  ;; o[c] = exp(x[c] - shift)·k - b over each row's C classes (x and o both rows of C) by $row,
  ;; in float32: the shift as a pair of floats (its float, and what is left), k and b rounded to
  ;; float (the row's least and greatest logits first: where they allow, $row takes Fast2Sum and
  ;; skips the lanes' range test, the same bits); then the target's term t is taken off o[y], in double, rounded to float (as
  ;; JavaScript's `o[y] -= t` on a Float32Array), while the row is in cache. The doubles
  ;; (shift, k, b, skip, y, t) per row are at `params`; a row whose skip is not 0 is zero-filled.
  ;; With `saved`, x holds the forward's exps (rows of C): o[c] = x[c]·k - b by $scale_row.
  (func $ce_grad (param $x i32) (param $rows i32) (param $C i32) (param $frac i32) (param $params i32) (param $o i32) (param $saved i32)
    (local $bytes i32) (local $shift f64) (local $mh f32) (local $at i32) (local $mm v128) (local $hi f32) (local $lo f32)
    (local.set $bytes (i32.shl (local.get $C) (i32.const 2)))
    (block $done (loop $row
      (br_if $done (i32.le_s (local.get $rows) (i32.const 0)))
      (if (f64.eq (f64.load offset=24 (local.get $params)) (f64.const 0))
        (then
          (if (local.get $saved)
            (then (call $scale_row (local.get $x) (i32.add (local.get $x) (local.get $bytes))
              (f32x4.splat (f32.demote_f64 (f64.load offset=8 (local.get $params))))
              (f32x4.splat (f32.demote_f64 (f64.load offset=16 (local.get $params))))
              (local.get $o)))
            (else
              (local.set $shift (f64.load (local.get $params)))
              (local.set $mh (f32.demote_f64 (local.get $shift)))
              (local.set $mm (call $minmax (local.get $x) (i32.add (local.get $x) (local.get $bytes))))
              (local.set $hi (f32x4.extract_lane 0 (local.get $mm)))
              (local.set $lo (f32x4.extract_lane 1 (local.get $mm)))
              (drop (call $row (local.get $x) (i32.add (local.get $x) (local.get $bytes))
                (f32x4.splat (local.get $mh)) (f32x4.splat (f32.demote_f64 (f64.sub (local.get $shift) (f64.promote_f32 (local.get $mh)))))
                (local.get $frac)
                ;; every |x| <= |mh|: Fast2Sum's error of x - mh is exact, TwoSum's bits in three operations fewer
                (select (i32.const 2) (i32.const 1) (i32.and
                  (f32.ge (local.get $lo) (f32.neg (f32.abs (local.get $mh))))
                  (f32.le (local.get $hi) (f32.abs (local.get $mh)))))
                (f32x4.splat (f32.demote_f64 (f64.load offset=8 (local.get $params))))
                (f32x4.splat (f32.demote_f64 (f64.load offset=16 (local.get $params))))
                (local.get $o)
                ;; every x - mh within [-87, 87] (NaNs passed over: a NaN lane gives NaN either way): no lane test
                (i32.eqz (i32.and
                  (f32.ge (f32.sub (local.get $lo) (local.get $mh)) (f32.const -87))
                  (f32.le (f32.sub (local.get $hi) (local.get $mh)) (f32.const 87))))))))
          (local.set $at (i32.add (local.get $o) (i32.shl (i32.trunc_f64_s (f64.load offset=32 (local.get $params))) (i32.const 2))))
          (f32.store (local.get $at) (f32.demote_f64 (f64.sub (f64.promote_f32 (f32.load (local.get $at))) (f64.load offset=40 (local.get $params))))))
        (else (memory.fill (local.get $o) (i32.const 0) (local.get $bytes))))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $o (i32.add (local.get $o) (local.get $bytes)))
      (local.set $params (i32.add (local.get $params) (i32.const 48)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row))))

  ;; o[c] = e[c]·k - b for e from `e` to `end` (the forward's saved exps of one row), in float32 as
  ;; $row's gradient computes it from its exps: a pass over memory, no exp. (Through $row's loop,
  ;; with the exp skipped, it took 3x the time.)
  (func $scale_row (param $e i32) (param $end i32) (param $k v128) (param $b v128) (param $o i32)
    (local $subb i32) (local $y v128)
    (local.set $subb (v128.any_true (local.get $b)))
    (block $tail (loop $l
      (br_if $tail (i32.gt_u (i32.add (local.get $e) (i32.const 16)) (local.get $end)))
      (local.set $y (f32x4.mul (v128.load (local.get $e)) (local.get $k)))
      (if (local.get $subb) (then (local.set $y (f32x4.sub (local.get $y) (local.get $b)))))
      (v128.store (local.get $o) (local.get $y))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $e) (local.get $end)))
      (local.set $y (f32x4.mul (v128.load32_splat (local.get $e)) (local.get $k)))
      (if (local.get $subb) (then (local.set $y (f32x4.sub (local.get $y) (local.get $b)))))
      (f32.store (local.get $o) (f32x4.extract_lane 0 (local.get $y)))
      (local.set $e (i32.add (local.get $e) (i32.const 4)))
      (local.set $o (i32.add (local.get $o) (i32.const 4)))
      (br $l))))

;; Part `part` of a row job (src/wasm/runtime.ts's wasmRunParts, on any thread): i32 fields at
  ;; `job` op (0 ce_stats, 1 ce_grad, 2 ce_grad from saved exps: x is then the exps), x, rows, C,
  ;; frac, out (ce_stats's out, ce_grad's params), o (ce_stats's e: 0 for none), parts. Part p
  ;; takes rows [p·rows/parts, (p + 1)·rows/parts), each computed as a one-part job
  ;; computes it: the same bits whoever takes which part, and however many parts there are.
  (func (export "ce_part") (param $job i32) (param $part i32) (param $thread i32)
    (local $r0 i32) (local $n i32) (local $C i32) (local $x i32)
    (local.set $r0 (call $split (local.get $job) (local.get $part)))
    (local.set $n (i32.sub (call $split (local.get $job) (i32.add (local.get $part) (i32.const 1))) (local.get $r0)))
    (local.set $C (i32.load offset=12 (local.get $job)))
    (local.set $x (i32.add (i32.load offset=4 (local.get $job)) (i32.shl (i32.mul (local.get $r0) (local.get $C)) (i32.const 2))))
    (if (i32.eqz (i32.load (local.get $job)))
      (then (call $ce_stats (local.get $x) (local.get $n) (local.get $C) (i32.load offset=16 (local.get $job))
        (i32.add (i32.load offset=20 (local.get $job)) (i32.mul (local.get $r0) (i32.const 24)))
        (select (i32.add (i32.load offset=24 (local.get $job)) (i32.shl (i32.mul (local.get $r0) (local.get $C)) (i32.const 2))) (i32.const 0)
          (i32.load offset=24 (local.get $job)))))
      (else (call $ce_grad (local.get $x) (local.get $n) (local.get $C) (i32.load offset=16 (local.get $job))
        (i32.add (i32.load offset=20 (local.get $job)) (i32.mul (local.get $r0) (i32.const 48)))
        (i32.add (i32.load offset=24 (local.get $job)) (i32.shl (i32.mul (local.get $r0) (local.get $C)) (i32.const 2)))
        (i32.eq (i32.load (local.get $job)) (i32.const 2))))))
  ;; The first row of part p: p·rows/parts (in 64 bits: p·rows may pass 2^31).
  (func $split (param $job i32) (param $p i32) (result i32)
    (i32.wrap_i64 (i64.div_u
      (i64.mul (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (i32.load offset=8 (local.get $job))))
      (i64.extend_i32_u (i32.load offset=28 (local.get $job))))))
)
