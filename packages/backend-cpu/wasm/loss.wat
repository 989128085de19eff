;; The per-element passes of the fused cross-entropy (src/kernels/cross-entropy.ts) over float32
;; logits in rows of C contiguous classes. They compute in double with the TypeScript kernel's
;; arithmetic, operation for operation, so both paths give the same bits; what is left to the
;; TypeScript (targets, weights, label smoothing, the reductions) is O(rows).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "env" "exp" (func $exp (param f64) (result f64)))

  ;; @tapegrad/tensor's fastExp, step for step: with k = round(32x/ln2) and r = x - k·ln2/32,
  ;; exp(x) = 2^(k>>5) · 2^((k&31)/32) · (1 + r(1 + r(1/2 + r/6))). The 32 doubles 2^(j/32) are at
  ;; `frac`, as JavaScript computes them; 2^(k>>5) is built from its exponent bits, which is the
  ;; exact power fastExp's table holds. Outside (-708, 709) and for NaN: Math.exp itself.
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

  ;; $fexp of both lanes: the same operations in f64x2 lanes when both lie in (-708, 709), else
  ;; lane by lane through $fexp.
  (func $fexp2 (param $x v128) (param $frac i32) (result v128)
    (local $kd v128) (local $k v128) (local $r v128)
    (if (result v128) (i64x2.all_true (v128.and
        (f64x2.gt (local.get $x) (f64x2.splat (f64.const -708))) (f64x2.lt (local.get $x) (f64x2.splat (f64.const 709)))))
      (then
        (local.set $kd (f64x2.sub
          (f64x2.add (f64x2.mul (local.get $x) (f64x2.splat (f64.div (f64.const 32) (f64.const 0x1.62e42fefa39efp-1))))
            (f64x2.splat (f64.const 0x1.8p52)))
          (f64x2.splat (f64.const 0x1.8p52))))
        (local.set $k (i32x4.trunc_sat_f64x2_s_zero (local.get $kd)))
        (local.set $r (f64x2.sub (local.get $x) (f64x2.mul (local.get $kd) (f64x2.splat (f64.const 0x1.62e42fefa39efp-6)))))
        (f64x2.mul
          (f64x2.mul
            (i64x2.shl (i64x2.add (i64x2.shr_s (i64x2.extend_low_i32x4_s (local.get $k)) (i32.const 5)) (i64x2.splat (i64.const 1023)))
              (i32.const 52))
            (f64x2.replace_lane 1
              (f64x2.splat (f64.load (i32.add (local.get $frac)
                (i32.shl (i32.and (i32x4.extract_lane 0 (local.get $k)) (i32.const 31)) (i32.const 3)))))
              (f64.load (i32.add (local.get $frac)
                (i32.shl (i32.and (i32x4.extract_lane 1 (local.get $k)) (i32.const 31)) (i32.const 3))))))
          (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
            (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
              (f64x2.add (f64x2.splat (f64.const 0.5))
                (f64x2.mul (local.get $r) (f64x2.splat (f64.div (f64.const 1) (f64.const 6)))))))))))
      (else
        (f64x2.replace_lane 1
          (f64x2.splat (call $fexp (f64x2.extract_lane 0 (local.get $x)) (local.get $frac)))
          (call $fexp (f64x2.extract_lane 1 (local.get $x)) (local.get $frac))))))

  ;; For each of `rows` rows of C logits from x: the max m, starting from -MAX_VALUE (so NaNs are
  ;; passed over and an all -inf row gives s = 0), and s = Σ exp(x - m) in class order; written as
  ;; the doubles (m, s) per row at `out`.
  (func (export "ce_stats") (param $x i32) (param $rows i32) (param $C i32) (param $frac i32) (param $out i32)
    (local $end i32) (local $i i32) (local $m f64) (local $s f64) (local $v f64) (local $e2 v128)
    (block $done (loop $row
      (br_if $done (i32.le_s (local.get $rows) (i32.const 0)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $C) (i32.const 2))))
      (local.set $m (f64.const -0x1.fffffffffffffp+1023))
      (local.set $i (local.get $x))
      (block $e (loop $l
        (br_if $e (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (f64.promote_f32 (f32.load (local.get $i))))
        (if (f64.gt (local.get $v) (local.get $m)) (then (local.set $m (local.get $v))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
      (local.set $s (f64.const 0))
      (local.set $i (local.get $x))
      ;; two exps at a time; the sum still adds them one by one, in class order
      (block $e (loop $l
        (br_if $e (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $end)))
        (local.set $e2 (call $fexp2
          (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $i))) (f64x2.splat (local.get $m))) (local.get $frac)))
        (local.set $s (f64.add (f64.add (local.get $s) (f64x2.extract_lane 0 (local.get $e2))) (f64x2.extract_lane 1 (local.get $e2))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $l)))
      (if (i32.lt_u (local.get $i) (local.get $end)) (then
        (local.set $s (f64.add (local.get $s)
          (call $fexp (f64.sub (f64.promote_f32 (f32.load (local.get $i))) (local.get $m)) (local.get $frac))))))
      (f64.store (local.get $out) (local.get $m))
      (f64.store offset=8 (local.get $out) (local.get $s))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (local.set $x (local.get $end))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row))))

  ;; o[c] = exp(x[c] - shift)·k - b over each row's C classes (x and o both rows of C), with the
  ;; doubles (shift, k, b, skip) per row at `params`; a row whose skip is not 0 is not written.
  (func (export "ce_grad") (param $x i32) (param $rows i32) (param $C i32) (param $frac i32) (param $params i32) (param $o i32)
    (local $end i32) (local $shift f64) (local $k f64) (local $b f64)
    (block $done (loop $row
      (br_if $done (i32.le_s (local.get $rows) (i32.const 0)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $C) (i32.const 2))))
      (if (f64.eq (f64.load offset=24 (local.get $params)) (f64.const 0))
        (then
          (local.set $shift (f64.load (local.get $params)))
          (local.set $k (f64.load offset=8 (local.get $params)))
          (local.set $b (f64.load offset=16 (local.get $params)))
          (block $e (loop $l
            (br_if $e (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $end)))
            (v128.store64_lane 0 (local.get $o) (f32x4.demote_f64x2_zero (f64x2.sub
              (f64x2.mul
                (call $fexp2 (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $x))) (f64x2.splat (local.get $shift)))
                  (local.get $frac))
                (f64x2.splat (local.get $k)))
              (f64x2.splat (local.get $b)))))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (local.set $o (i32.add (local.get $o) (i32.const 8)))
            (br $l)))
          (if (i32.lt_u (local.get $x) (local.get $end)) (then
            (f32.store (local.get $o) (f32.demote_f64 (f64.sub
              (f64.mul (call $fexp (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $shift)) (local.get $frac)) (local.get $k))
              (local.get $b))))
            (local.set $x (local.get $end))
            (local.set $o (i32.add (local.get $o) (i32.const 4))))))
        (else (local.set $o (i32.add (local.get $o) (i32.shl (local.get $C) (i32.const 2))))))
      (local.set $x (local.get $end))
      (local.set $params (i32.add (local.get $params) (i32.const 32)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row))))
)
