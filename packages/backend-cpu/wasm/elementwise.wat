;; float32 elementwise kernels for the CPU backend, on tensors whose storage lives in this memory.
;;
;; A JavaScript loop over a Float32Array converts every element to a double and back and cannot
;; use SIMD; these loops do four elements per instruction. Each result is the float32 operation
;; itself, which equals JavaScript's double operation rounded to float32 (add, sub, mul and div
;; are exact in double before that one rounding), so both paths give identical bits.
;; Pointers are byte addresses of 4-byte-aligned float32 arrays; counts are in elements.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Zero `bytes` bytes at `ptr` (fresh storage; a typed array's fill is slow on shared memory).
  (func (export "zero") (param $ptr i32) (param $bytes i32)
    (memory.fill (local.get $ptr) (i32.const 0) (local.get $bytes)))

  ;; Copy `bytes` bytes from `src` to `dst` (rows of a gather: TypedArray.set between views of a
  ;; shared buffer copies element by element).
  (func (export "copy") (param $dst i32) (param $src i32) (param $bytes i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $bytes)))

  ;; o[r*bn + j] = a[r*bn + j] op b[j] for j < bn, over n elements (n a multiple of bn): bn = n is
  ;; two same-shaped operands, bn < n a row (a bias) repeated, bn = 1 a scalar.
  ;; op: 0 add, 1 sub, 2 mul, 3 div. The op branch is the same every time, so it costs little.
  (func (export "binary") (param $op i32) (param $a i32) (param $b i32) (param $o i32) (param $n i32) (param $bn i32)
    (local $end i32) (local $row i32) (local $rowEnd i32) (local $vecEnd i32) (local $p i32) (local $q i32)
    (local $x v128) (local $y v128) (local $r v128) (local $s f32) (local $t f32)
    (local.set $end (i32.add (local.get $o) (i32.shl (local.get $n) (i32.const 2))))
    (if (i32.eq (local.get $bn) (i32.const 1))
      (then ;; a scalar: one row of n, b splatted
        (local.set $y (f32x4.splat (f32.load (local.get $b))))
        (local.set $t (f32.load (local.get $b)))
        (local.set $b (i32.const 0))
        (local.set $bn (local.get $n))))
    (local.set $row (local.get $o))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $row) (i32.shl (local.get $bn) (i32.const 2))))
        (local.set $vecEnd (i32.sub (local.get $rowEnd) (i32.const 12)))
        (local.set $p (local.get $a)) ;; walks a (and o, at the same pace)
        (local.set $q (local.get $b)) ;; walks the row of b (0 for a scalar)
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_s (local.get $row) (local.get $vecEnd)))
            (local.set $x (v128.load (local.get $p)))
            (if (local.get $q) (then (local.set $y (v128.load (local.get $q)))))
            (local.set $r
              (if (result v128) (i32.eq (local.get $op) (i32.const 0)) (then (f32x4.add (local.get $x) (local.get $y)))
                (else (if (result v128) (i32.eq (local.get $op) (i32.const 1)) (then (f32x4.sub (local.get $x) (local.get $y)))
                  (else (if (result v128) (i32.eq (local.get $op) (i32.const 2)) (then (f32x4.mul (local.get $x) (local.get $y)))
                    (else (f32x4.div (local.get $x) (local.get $y)))))))))
            (v128.store (local.get $row) (local.get $r))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (if (local.get $q) (then (local.set $q (i32.add (local.get $q) (i32.const 16)))))
            (local.set $row (i32.add (local.get $row) (i32.const 16)))
            (br $vec)))
        (block $sdone
          (loop $tail
            (br_if $sdone (i32.ge_u (local.get $row) (local.get $rowEnd)))
            (local.set $s (f32.load (local.get $p)))
            (if (local.get $q) (then (local.set $t (f32.load (local.get $q)))))
            (f32.store (local.get $row)
              (if (result f32) (i32.eq (local.get $op) (i32.const 0)) (then (f32.add (local.get $s) (local.get $t)))
                (else (if (result f32) (i32.eq (local.get $op) (i32.const 1)) (then (f32.sub (local.get $s) (local.get $t)))
                  (else (if (result f32) (i32.eq (local.get $op) (i32.const 2)) (then (f32.mul (local.get $s) (local.get $t)))
                    (else (f32.div (local.get $s) (local.get $t)))))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (if (local.get $q) (then (local.set $q (i32.add (local.get $q) (i32.const 4)))))
            (local.set $row (i32.add (local.get $row) (i32.const 4)))
            (br $tail)))
        (local.set $a (local.get $p))
        (br $rows))))

  ;; o[i] = a[i] > 0 ? a[i] : 0, NaN kept (as torch.relu). Branch-free: a JavaScript loop
  ;; mispredicts on every other element of a random sign pattern.
  (func (export "relu") (param $a i32) (param $o i32) (param $n i32)
    (local $end i32) (local $vecEnd i32) (local $x v128) (local $s f32)
    (local.set $end (i32.add (local.get $o) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vecEnd (i32.sub (local.get $end) (i32.const 12)))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.ge_s (local.get $o) (local.get $vecEnd)))
        (local.set $x (v128.load (local.get $a)))
        ;; keep x where x > 0 or x is NaN (x != x), else 0
        (v128.store (local.get $o) (v128.and (local.get $x)
          (v128.or (f32x4.gt (local.get $x) (v128.const f32x4 0 0 0 0)) (f32x4.ne (local.get $x) (local.get $x)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vec)))
    (block $sdone
      (loop $tail
        (br_if $sdone (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $s (f32.load (local.get $a)))
        (f32.store (local.get $o) (select (local.get $s) (f32.const 0)
          (i32.or (f32.gt (local.get $s) (f32.const 0)) (f32.ne (local.get $s) (local.get $s)))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tail))))

  ;; relu's gradient: o = g where y > 0, else 0 (NaN y gives 0), four lanes at a time.
  (func (export "relu_backward") (param $g i32) (param $y i32) (param $o i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $o) (i32.shl (local.get $n) (i32.const 2))))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.gt_u (i32.add (local.get $o) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $o)
          (v128.and (v128.load (local.get $g)) (f32x4.gt (v128.load (local.get $y)) (v128.const f32x4 0 0 0 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vec)))
    (block $sdone
      (loop $tail
        (br_if $sdone (i32.ge_u (local.get $o) (local.get $end)))
        (f32.store (local.get $o) (select (f32.load (local.get $g)) (f32.const 0) (f32.gt (f32.load (local.get $y)) (f32.const 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tail))))

  ;; o[i] = a[i] > s as a bool byte (1 or 0; NaN compares false), for float32 a and the scalar s at sp.
  ;; Sixteen at a time: four lane masks narrowed to sixteen bytes.
  (func (export "gt_scalar") (param $a i32) (param $sp i32) (param $o i32) (param $n i32)
    (local $end i32) (local $vecEnd i32) (local $s v128)
    (local.set $s (v128.load32_splat (local.get $sp)))
    (local.set $end (i32.add (local.get $o) (local.get $n)))
    (local.set $vecEnd (i32.sub (local.get $end) (i32.const 15)))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.ge_s (local.get $o) (local.get $vecEnd)))
        (v128.store (local.get $o) (v128.and (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)
          (i8x16.narrow_i16x8_s
            (i16x8.narrow_i32x4_s (f32x4.gt (v128.load (local.get $a)) (local.get $s))
                                  (f32x4.gt (v128.load offset=16 (local.get $a)) (local.get $s)))
            (i16x8.narrow_i32x4_s (f32x4.gt (v128.load offset=32 (local.get $a)) (local.get $s))
                                  (f32x4.gt (v128.load offset=48 (local.get $a)) (local.get $s))))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vec)))
    (block $sdone
      (loop $tail
        (br_if $sdone (i32.ge_u (local.get $o) (local.get $end)))
        (i32.store8 (local.get $o) (f32.gt (f32.load (local.get $a)) (f32.load (local.get $sp))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $tail))))

  ;; o[i] = c[i] ? x[i] : s for bool bytes c, float32 x and the scalar s at sp (relu's gradient);
  ;; with $flip = 1, o[i] = c[i] ? s : x[i] (maskedFill). Sixteen at a time: the byte mask widened
  ;; to four lane masks that select between x and s.
  (func (export "where_scalar") (param $c i32) (param $x i32) (param $sp i32) (param $o i32) (param $n i32) (param $flip i32)
    (local $end i32) (local $vecEnd i32) (local $s v128) (local $m v128) (local $h v128) (local $f v128)
    (local.set $s (v128.load32_splat (local.get $sp)))
    (local.set $f (i8x16.splat (i32.sub (i32.const 0) (local.get $flip))))
    (local.set $end (i32.add (local.get $c) (local.get $n)))
    (local.set $vecEnd (i32.sub (local.get $end) (i32.const 15)))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.ge_s (local.get $c) (local.get $vecEnd)))
        (local.set $m (v128.xor (i8x16.ne (v128.load (local.get $c)) (v128.const i64x2 0 0)) (local.get $f)))
        (local.set $h (i16x8.extend_low_i8x16_s (local.get $m)))
        (v128.store (local.get $o) (v128.bitselect (v128.load (local.get $x)) (local.get $s) (i32x4.extend_low_i16x8_s (local.get $h))))
        (v128.store offset=16 (local.get $o) (v128.bitselect (v128.load offset=16 (local.get $x)) (local.get $s) (i32x4.extend_high_i16x8_s (local.get $h))))
        (local.set $h (i16x8.extend_high_i8x16_s (local.get $m)))
        (v128.store offset=32 (local.get $o) (v128.bitselect (v128.load offset=32 (local.get $x)) (local.get $s) (i32x4.extend_low_i16x8_s (local.get $h))))
        (v128.store offset=48 (local.get $o) (v128.bitselect (v128.load offset=48 (local.get $x)) (local.get $s) (i32x4.extend_high_i16x8_s (local.get $h))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (br $vec)))
    (block $sdone
      (loop $tail
        (br_if $sdone (i32.ge_u (local.get $c) (local.get $end)))
        (f32.store (local.get $o) (select (f32.load (local.get $x)) (f32.load (local.get $sp))
          (i32.xor (i32.ne (i32.load8_u (local.get $c)) (i32.const 0)) (local.get $flip))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tail))))

  ;; o[j] = Σ_r a[r*cols + j] for float32 a of rows x cols (a sum over leading dims, like a
  ;; Linear bias's gradient): each column summed in double in row order and rounded once, the
  ;; JavaScript kernel's order of adds, so the bits are the same. Eight columns at a time in four
  ;; f64x2 accumulators, walking down the rows; the last few columns one by one.
  (func (export "sum_rows") (param $a i32) (param $o i32) (param $rows i32) (param $cols i32)
    (local $j i32) (local $p i32) (local $r i32) (local $stride i32) (local $x v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s f64)
    (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
    (block $cdone
      (loop $col8
        (br_if $cdone (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $cols)))
        (local.set $s0 (v128.const i64x2 0 0))
        (local.set $s1 (v128.const i64x2 0 0))
        (local.set $s2 (v128.const i64x2 0 0))
        (local.set $s3 (v128.const i64x2 0 0))
        (local.set $p (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $r (i32.const 0))
        (block $rdone
          (loop $row
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $x (v128.load (local.get $p)))
            (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $x))))
            (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
            (local.set $x (v128.load offset=16 (local.get $p)))
            (local.set $s2 (f64x2.add (local.get $s2) (f64x2.promote_low_f32x4 (local.get $x))))
            (local.set $s3 (f64x2.add (local.get $s3) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $row)))
        (local.set $p (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))))
        (v128.store (local.get $p) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (local.get $s0)) (f32x4.demote_f64x2_zero (local.get $s1))))
        (v128.store offset=16 (local.get $p) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (local.get $s2)) (f32x4.demote_f64x2_zero (local.get $s3))))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $col8)))
    (block $tdone
      (loop $tail
        (br_if $tdone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $s (f64.const 0))
        (local.set $p (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $r (i32.const 0))
        (block $rdone
          (loop $row
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $row)))
        (f32.store (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (f32.demote_f64 (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tail))))

  ;; One SGD step in place (backend-cpu's sgdStep kernel): p -= lr * d, where d is the gradient
  ;; (negated to maximize), plus weightDecay * p, through the momentum buffer b when there is one.
  ;; Computed as that kernel does in JavaScript, in double with each stored value rounded to
  ;; float32, so the results are identical: two elements at a time in f64x2 lanes.
  ;; flags: 1 maximize, 2 momentum buffer, 4 first step (the buffer takes d), 8 nesterov.
  ;; keep = 1 - dampening, precomputed by the caller as JavaScript computes it.
  (func (export "sgd") (param $p i32) (param $g i32) (param $b i32) (param $n i32)
      (param $lr f64) (param $momentum f64) (param $keep f64) (param $wd f64) (param $flags i32)
    (local $end i32) (local $d v128) (local $w v128) (local $buf v128)
    (local $sd f64) (local $sw f64) (local $sbuf f64)
    (local $g4 v128) (local $w4 v128) (local $b4 v128) (local $blo v128) (local $bhi v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    ;; Every step after the first of plain momentum SGD (flags 2, no weight decay), what training
    ;; loops run: four elements an iteration as two f64x2 halves, with no flag tests inside, about
    ;; twice as fast as the general loop below, which then finishes the last few elements.
    (if (i32.and (i32.eq (local.get $flags) (i32.const 2)) (f64.eq (local.get $wd) (f64.const 0)))
      (then
        (block $fdone
          (loop $fast
            (br_if $fdone (i32.gt_s (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
            (local.set $g4 (v128.load (local.get $g)))
            (local.set $w4 (v128.load (local.get $p)))
            (local.set $b4 (v128.load (local.get $b)))
            ;; buf = momentum * b + keep * g, in double per half
            (local.set $blo (f64x2.add
              (f64x2.mul (f64x2.splat (local.get $momentum)) (f64x2.promote_low_f32x4 (local.get $b4)))
              (f64x2.mul (f64x2.splat (local.get $keep)) (f64x2.promote_low_f32x4 (local.get $g4)))))
            (local.set $bhi (f64x2.add
              (f64x2.mul (f64x2.splat (local.get $momentum))
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b4) (local.get $b4))))
              (f64x2.mul (f64x2.splat (local.get $keep))
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g4) (local.get $g4))))))
            (v128.store (local.get $b) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $blo)) (f32x4.demote_f64x2_zero (local.get $bhi))))
            ;; p = w - lr * buf, with buf unrounded as in the general loop
            (v128.store (local.get $p) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.promote_low_f32x4 (local.get $w4))
                (f64x2.mul (f64x2.splat (local.get $lr)) (local.get $blo))))
              (f32x4.demote_f64x2_zero (f64x2.sub
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w4) (local.get $w4)))
                (f64x2.mul (f64x2.splat (local.get $lr)) (local.get $bhi))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 16)))
            (br $fast)))))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.gt_s (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $d (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $d (f64x2.neg (local.get $d)))))
        (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (if (f64.ne (local.get $wd) (f64.const 0))
          (then (local.set $d (f64x2.add (local.get $d) (f64x2.mul (f64x2.splat (local.get $wd)) (local.get $w))))))
        (if (i32.and (local.get $flags) (i32.const 2))
          (then
            (local.set $buf (if (result v128) (i32.and (local.get $flags) (i32.const 4))
              (then (local.get $d))
              (else (f64x2.add (f64x2.mul (f64x2.splat (local.get $momentum)) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $b))))
                               (f64x2.mul (f64x2.splat (local.get $keep)) (local.get $d))))))
            (v128.store64_lane 0 (local.get $b) (f32x4.demote_f64x2_zero (local.get $buf)))
            (local.set $d (if (result v128) (i32.and (local.get $flags) (i32.const 8))
              (then (f64x2.add (local.get $d) (f64x2.mul (f64x2.splat (local.get $momentum)) (local.get $buf))))
              (else (local.get $buf))))
            (local.set $b (i32.add (local.get $b) (i32.const 8)))))
        (v128.store64_lane 0 (local.get $p)
          (f32x4.demote_f64x2_zero (f64x2.sub (local.get $w) (f64x2.mul (f64x2.splat (local.get $lr)) (local.get $d)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (br $vec)))
    ;; an odd last element, the same steps on scalars
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (local.set $sd (f64.promote_f32 (f32.load (local.get $g))))
        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $sd (f64.neg (local.get $sd)))))
        (local.set $sw (f64.promote_f32 (f32.load (local.get $p))))
        (if (f64.ne (local.get $wd) (f64.const 0))
          (then (local.set $sd (f64.add (local.get $sd) (f64.mul (local.get $wd) (local.get $sw))))))
        (if (i32.and (local.get $flags) (i32.const 2))
          (then
            (local.set $sbuf (if (result f64) (i32.and (local.get $flags) (i32.const 4))
              (then (local.get $sd))
              (else (f64.add (f64.mul (local.get $momentum) (f64.promote_f32 (f32.load (local.get $b))))
                             (f64.mul (local.get $keep) (local.get $sd))))))
            (f32.store (local.get $b) (f32.demote_f64 (local.get $sbuf)))
            (local.set $sd (if (result f64) (i32.and (local.get $flags) (i32.const 8))
              (then (f64.add (local.get $sd) (f64.mul (local.get $momentum) (local.get $sbuf))))
              (else (local.get $sbuf))))))
        (f32.store (local.get $p) (f32.demote_f64 (f64.sub (local.get $sw) (f64.mul (local.get $lr) (local.get $sd))))))))

  ;; One Adam/AdamW step in place (backend-cpu's adamStep kernel) on param p, gradient g, moments
  ;; m and v and, for amsgrad, the running maximum x; computed as that kernel does in JavaScript (in
  ;; double, each stored value rounded to float32 and read back rounded), so the results are
  ;; identical: two elements at a time in f64x2 lanes, an odd last one on scalars.
  ;; flags: 1 maximize, 2 decoupled weight decay (AdamW), 4 amsgrad. The caller precomputes
  ;; 1 - beta1, 1 - beta2, the bias-corrected step size, c2 = sqrt(1 - beta2^t) and decay = 1 - lr*wd.
  (func (export "adam") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $x i32) (param $n i32)
      (param $beta1 f64) (param $keep1 f64) (param $beta2 f64) (param $keep2 f64) (param $stepSize f64) (param $c2 f64)
      (param $eps f64) (param $wd f64) (param $decay f64) (param $flags i32)
    (local $end i32) (local $d v128) (local $w v128) (local $mi v128) (local $vi v128)
    (local $sd f64) (local $sw f64) (local $smi f64) (local $svi f64)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $vdone
      (loop $vec
        (br_if $vdone (i32.gt_s (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $d (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $d (f64x2.neg (local.get $d)))))
        (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (if (f64.ne (local.get $wd) (f64.const 0))
          (then (if (i32.and (local.get $flags) (i32.const 2))
            (then (local.set $w (f64x2.mul (local.get $w) (f64x2.splat (local.get $decay)))))
            (else (local.set $d (f64x2.add (local.get $d) (f64x2.mul (f64x2.splat (local.get $wd)) (local.get $w))))))))
        ;; the moments, stored and read back rounded to float32
        (v128.store64_lane 0 (local.get $m) (f32x4.demote_f64x2_zero
          (f64x2.add (f64x2.mul (f64x2.splat (local.get $beta1)) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $m))))
                     (f64x2.mul (f64x2.splat (local.get $keep1)) (local.get $d)))))
        (v128.store64_lane 0 (local.get $v) (f32x4.demote_f64x2_zero
          (f64x2.add (f64x2.mul (f64x2.splat (local.get $beta2)) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $v))))
                     (f64x2.mul (f64x2.mul (f64x2.splat (local.get $keep2)) (local.get $d)) (local.get $d)))))
        (local.set $mi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $m))))
        (local.set $vi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $v))))
        (if (i32.and (local.get $flags) (i32.const 4))
          (then
            (v128.store64_lane 0 (local.get $x) (f32x4.demote_f64x2_zero
              (f64x2.max (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $x))) (local.get $vi))))
            (local.set $vi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $x))))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))))
        (v128.store64_lane 0 (local.get $p) (f32x4.demote_f64x2_zero
          (f64x2.sub (local.get $w) (f64x2.div (f64x2.mul (f64x2.splat (local.get $stepSize)) (local.get $mi))
            (f64x2.add (f64x2.div (f64x2.sqrt (local.get $vi)) (f64x2.splat (local.get $c2))) (f64x2.splat (local.get $eps)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $m (i32.add (local.get $m) (i32.const 8)))
        (local.set $v (i32.add (local.get $v) (i32.const 8)))
        (br $vec)))
    ;; an odd last element, the same steps on scalars
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (local.set $sd (f64.promote_f32 (f32.load (local.get $g))))
        (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $sd (f64.neg (local.get $sd)))))
        (local.set $sw (f64.promote_f32 (f32.load (local.get $p))))
        (if (f64.ne (local.get $wd) (f64.const 0))
          (then (if (i32.and (local.get $flags) (i32.const 2))
            (then (local.set $sw (f64.mul (local.get $sw) (local.get $decay))))
            (else (local.set $sd (f64.add (local.get $sd) (f64.mul (local.get $wd) (local.get $sw))))))))
        (f32.store (local.get $m) (f32.demote_f64
          (f64.add (f64.mul (local.get $beta1) (f64.promote_f32 (f32.load (local.get $m)))) (f64.mul (local.get $keep1) (local.get $sd)))))
        (f32.store (local.get $v) (f32.demote_f64
          (f64.add (f64.mul (local.get $beta2) (f64.promote_f32 (f32.load (local.get $v))))
                   (f64.mul (f64.mul (local.get $keep2) (local.get $sd)) (local.get $sd)))))
        (local.set $smi (f64.promote_f32 (f32.load (local.get $m))))
        (local.set $svi (f64.promote_f32 (f32.load (local.get $v))))
        (if (i32.and (local.get $flags) (i32.const 4))
          (then
            (f32.store (local.get $x) (f32.demote_f64 (f64.max (f64.promote_f32 (f32.load (local.get $x))) (local.get $svi))))
            (local.set $svi (f64.promote_f32 (f32.load (local.get $x))))))
        (f32.store (local.get $p) (f32.demote_f64
          (f64.sub (local.get $sw) (f64.div (f64.mul (local.get $stepSize) (local.get $smi))
            (f64.add (f64.div (f64.sqrt (local.get $svi)) (local.get $c2)) (local.get $eps)))))))))
)
