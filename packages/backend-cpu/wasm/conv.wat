;; float32 kernels for conv2d on arrays in this memory: the passes around its matrix products
;; (im2col, col2im, re-layouts), and the products whose reduction is short enough that packing
;; them for gemm.wat costs more than the arithmetic. In TypeScript these passes cost more than the
;; products: each row of im2col is a short run (one output row) moved element by element or by a
;; typed-array call whose overhead is larger than the run; here a run is a few v128 moves.
;; The passes only copy and add float32s, in the TypeScript kernels' order, so both paths give the
;; same bits there. Pointers are byte addresses; counts are in elements.
;;
;; One kernel tap (c, ki, kj) of a chunk of S samples, as kernels/conv.ts's tapOf describes it:
;; output (y, xo) reads input row y·sh + dy, column xo·sw + dx, inside the input for rows
;; [y0, y1) and columns [x0, x1). $x is the byte address where output (0, 0) of the chunk's
;; first sample would read (it may lie before the plane; only addresses inside are touched),
;; $xs the bytes between samples, $rowStep the bytes between input rows read by consecutive
;; output rows (sh·W·4), $sw the input column step. $col is the tap's row of col[K × S·L].
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; col[s·L + y·ow + xo] = x(s, y, xo), or 0 where it reads padding.
  (func (export "im2col_tap") (param $x i32) (param $col i32) (param $S i32) (param $xs i32) (param $L i32) (param $ow i32)
    (param $y0 i32) (param $y1 i32) (param $x0 i32) (param $x1 i32) (param $rowStep i32) (param $sw i32)
    (local $s i32) (local $y i32) (local $d i32) (local $src i32) (local $i i32) (local $n i32)
    (local.set $s (i32.const 0))
    (block $samplesDone
      (loop $samples
        (br_if $samplesDone (i32.ge_u (local.get $s) (local.get $S)))
        (memory.fill (local.get $col) (i32.const 0) (i32.shl (i32.mul (local.get $y0) (local.get $ow)) (i32.const 2)))
        (memory.fill (i32.add (local.get $col) (i32.shl (i32.mul (local.get $y1) (local.get $ow)) (i32.const 2)))
          (i32.const 0) (i32.shl (i32.sub (local.get $L) (i32.mul (local.get $y1) (local.get $ow))) (i32.const 2)))
        (local.set $y (local.get $y0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_s (local.get $y) (local.get $y1)))
            (local.set $d (i32.add (local.get $col) (i32.shl (i32.mul (local.get $y) (local.get $ow)) (i32.const 2))))
            (local.set $src (i32.add (local.get $x) (i32.mul (local.get $y) (local.get $rowStep))))
            ;; columns reading padding
            (local.set $i (i32.const 0))
            (block $lDone (loop $l
              (br_if $lDone (i32.ge_s (local.get $i) (local.get $x0)))
              (f32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))) (f32.const 0))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l)))
            (local.set $i (local.get $x1))
            (block $rDone (loop $r
              (br_if $rDone (i32.ge_s (local.get $i) (local.get $ow)))
              (f32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))) (f32.const 0))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $r)))
            (local.set $i (local.get $x0))
            (if (i32.eq (local.get $sw) (i32.const 1))
              (then
                (local.set $n (i32.sub (local.get $x1) (i32.const 3)))
                (block $vDone (loop $v
                  (br_if $vDone (i32.ge_s (local.get $i) (local.get $n)))
                  (v128.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2)))
                    (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
                  (local.set $i (i32.add (local.get $i) (i32.const 4)))
                  (br $v)))
                (block $tDone (loop $t
                  (br_if $tDone (i32.ge_s (local.get $i) (local.get $x1)))
                  (f32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2)))
                    (f32.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $t))))
              (else
                (block $gDone (loop $g
                  (br_if $gDone (i32.ge_s (local.get $i) (local.get $x1)))
                  (f32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2)))
                    (f32.load (i32.add (local.get $src) (i32.shl (i32.mul (local.get $i) (local.get $sw)) (i32.const 2)))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $g)))))
            (local.set $y (i32.add (local.get $y) (i32.const 1)))
            (br $rows)))
        (local.set $col (i32.add (local.get $col) (i32.shl (local.get $L) (i32.const 2))))
        (local.set $x (i32.add (local.get $x) (local.get $xs)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $samples))))

  ;; The inverse scatter (col2im) for one tap: dx(s, y, xo) += col[s·L + y·ow + xo] where it
  ;; read the input; entries that read padding are skipped. $x addresses dx as im2col_tap's $x does x.
  (func (export "col2im_tap") (param $x i32) (param $col i32) (param $S i32) (param $xs i32) (param $L i32) (param $ow i32)
    (param $y0 i32) (param $y1 i32) (param $x0 i32) (param $x1 i32) (param $rowStep i32) (param $sw i32)
    (local $s i32) (local $y i32) (local $d i32) (local $dst i32) (local $i i32) (local $n i32) (local $p i32)
    (local.set $s (i32.const 0))
    (block $samplesDone
      (loop $samples
        (br_if $samplesDone (i32.ge_u (local.get $s) (local.get $S)))
        (local.set $y (local.get $y0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_s (local.get $y) (local.get $y1)))
            (local.set $d (i32.add (local.get $col) (i32.shl (i32.mul (local.get $y) (local.get $ow)) (i32.const 2))))
            (local.set $dst (i32.add (local.get $x) (i32.mul (local.get $y) (local.get $rowStep))))
            (local.set $i (local.get $x0))
            (if (i32.eq (local.get $sw) (i32.const 1))
              (then
                (local.set $n (i32.sub (local.get $x1) (i32.const 3)))
                (block $vDone (loop $v
                  (br_if $vDone (i32.ge_s (local.get $i) (local.get $n)))
                  (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
                  (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p))
                    (v128.load (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))))))
                  (local.set $i (i32.add (local.get $i) (i32.const 4)))
                  (br $v)))
                (block $tDone (loop $t
                  (br_if $tDone (i32.ge_s (local.get $i) (local.get $x1)))
                  (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
                  (f32.store (local.get $p) (f32.add (f32.load (local.get $p))
                    (f32.load (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $t))))
              (else
                (block $gDone (loop $g
                  (br_if $gDone (i32.ge_s (local.get $i) (local.get $x1)))
                  (local.set $p (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $i) (local.get $sw)) (i32.const 2))))
                  (f32.store (local.get $p) (f32.add (f32.load (local.get $p))
                    (f32.load (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))))))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br $g)))))
            (local.set $y (i32.add (local.get $y) (i32.const 1)))
            (br $rows)))
        (local.set $col (i32.add (local.get $col) (i32.shl (local.get $L) (i32.const 2))))
        (local.set $x (i32.add (local.get $x) (local.get $xs)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $samples))))

  ;; $count rows of $n elements: dst[r·dstStep + j] = src[r·srcStep + j] + $add (steps in bytes).
  ;; A plain copy passes $add = −0, the one value that leaves every float32 (−0 included) as it is.
  (func (export "rows") (param $src i32) (param $dst i32) (param $n i32) (param $count i32) (param $srcStep i32) (param $dstStep i32) (param $add f32)
    (local $r i32) (local $i i32) (local $vEnd i32) (local $b v128)
    (local.set $b (f32x4.splat (local.get $add)))
    (local.set $vEnd (i32.sub (local.get $n) (i32.const 3)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $count)))
        (local.set $i (i32.const 0))
        (block $vDone (loop $v
          (br_if $vDone (i32.ge_s (local.get $i) (local.get $vEnd)))
          (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
            (f32x4.add (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))) (local.get $b)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $v)))
        (block $tDone (loop $t
          (br_if $tDone (i32.ge_s (local.get $i) (local.get $n)))
          (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
            (f32.add (f32.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 2)))) (local.get $add)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $t)))
        (local.set $src (i32.add (local.get $src) (local.get $srcStep)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStep)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; C = A·B per sample, for products with a short reduction (k = a layer's taps·channels or its
  ;; output channels): C(s)[i, l] = Σ_t A[i, t]·B(s)[t, l] (+ bias[i]), for s < S, i < m, l < L.
  ;; Every operand is read and written where it lies through byte strides (per sample, per row;
  ;; A by row and column), so the forward writes the output straight into [N, Cout, OH, OW] and the
  ;; input gradient reads the output gradient in place: no packing and no re-layout, which cost the
  ;; packed gemm as much as the arithmetic at these sizes. Four rows of C at a time share each load
  ;; of B; in the last group, rows past m repeat row m−1 and are not stored. $bias = 0: none.
  (func (export "gemm_samples") (param $a i32) (param $ars i32) (param $acs i32)
      (param $b i32) (param $bss i32) (param $brs i32) (param $c i32) (param $css i32) (param $crs i32)
      (param $m i32) (param $k i32) (param $S i32) (param $L i32) (param $bias i32)
      (local $s i32) (local $l i32) (local $i i32) (local $t i32) (local $pb i32) (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
      (local $bs i32) (local $cs i32) (local $pc i32) (local $vEnd i32) (local $q i32)
      (local $bv v128) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
      (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
      (local $sum f32) (local $add f32)
      (local.set $vEnd (i32.sub (local.get $L) (i32.const 3)))
      (block $sDone (loop $sLoop
        (br_if $sDone (i32.ge_u (local.get $s) (local.get $S)))
        (local.set $bs (i32.add (local.get $b) (i32.mul (local.get $s) (local.get $bss))))
        (local.set $cs (i32.add (local.get $c) (i32.mul (local.get $s) (local.get $css))))
        (local.set $l (i32.const 0))
        (block $lDone (loop $lLoop
          (br_if $lDone (i32.ge_s (local.get $l) (local.get $vEnd)))
          (local.set $i (i32.const 0))
          (block $iDone (loop $iLoop
            (br_if $iDone (i32.ge_s (local.get $i) (local.get $m)))
            (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars))))
            (local.set $pa1 (select (i32.add (local.get $pa0) (local.get $ars)) (local.get $pa0) (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $m))))
            (local.set $pa2 (select (i32.add (local.get $pa1) (local.get $ars)) (local.get $pa1) (i32.lt_s (i32.add (local.get $i) (i32.const 2)) (local.get $m))))
            (local.set $pa3 (select (i32.add (local.get $pa2) (local.get $ars)) (local.get $pa2) (i32.lt_s (i32.add (local.get $i) (i32.const 3)) (local.get $m))))
            (local.set $pb (i32.add (local.get $bs) (i32.shl (local.get $l) (i32.const 2))))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (v128.const i32x4 0 0 0 0))
            (local.set $acc2 (v128.const i32x4 0 0 0 0))
            (local.set $acc3 (v128.const i32x4 0 0 0 0))
            (local.set $t (i32.const 0))
            (block $tDone (loop $tLoop
              (br_if $tDone (i32.ge_s (local.get $t) (local.get $k)))
              (local.set $bv (v128.load (local.get $pb)))
              (local.set $w0 (v128.load32_splat (local.get $pa0)))
              (local.set $w1 (v128.load32_splat (local.get $pa1)))
              (local.set $w2 (v128.load32_splat (local.get $pa2)))
              (local.set $w3 (v128.load32_splat (local.get $pa3)))
              (local.set $acc0 (f32x4.relaxed_madd (local.get $w0) (local.get $bv) (local.get $acc0)))
              (local.set $acc1 (f32x4.relaxed_madd (local.get $w1) (local.get $bv) (local.get $acc1)))
              (local.set $acc2 (f32x4.relaxed_madd (local.get $w2) (local.get $bv) (local.get $acc2)))
              (local.set $acc3 (f32x4.relaxed_madd (local.get $w3) (local.get $bv) (local.get $acc3)))
              (local.set $pb (i32.add (local.get $pb) (local.get $brs)))
              (local.set $pa0 (i32.add (local.get $pa0) (local.get $acs)))
              (local.set $pa1 (i32.add (local.get $pa1) (local.get $acs)))
              (local.set $pa2 (i32.add (local.get $pa2) (local.get $acs)))
              (local.set $pa3 (i32.add (local.get $pa3) (local.get $acs)))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (br $tLoop)))
            (local.set $pc (i32.add (i32.add (local.get $cs) (i32.mul (local.get $i) (local.get $crs))) (i32.shl (local.get $l) (i32.const 2))))
            (if (local.get $bias) (then
              (local.set $acc0 (f32x4.add (local.get $acc0) (v128.load32_splat (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))
              (local.set $acc1 (f32x4.add (local.get $acc1) (v128.load32_splat offset=4 (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))
              (local.set $acc2 (f32x4.add (local.get $acc2) (v128.load32_splat offset=8 (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))
              (local.set $acc3 (f32x4.add (local.get $acc3) (v128.load32_splat offset=12 (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))))
            (v128.store (local.get $pc) (local.get $acc0))
            (if (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $m)) (then (v128.store (i32.add (local.get $pc) (local.get $crs)) (local.get $acc1))))
            (if (i32.lt_s (i32.add (local.get $i) (i32.const 2)) (local.get $m)) (then (v128.store (i32.add (local.get $pc) (i32.shl (local.get $crs) (i32.const 1))) (local.get $acc2))))
            (if (i32.lt_s (i32.add (local.get $i) (i32.const 3)) (local.get $m)) (then (v128.store (i32.add (local.get $pc) (i32.mul (local.get $crs) (i32.const 3))) (local.get $acc3))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $iLoop)))
          (local.set $l (i32.add (local.get $l) (i32.const 4)))
          (br $lLoop)))
        ;; the last L mod 4 columns, one at a time
        (block $rDone (loop $rLoop
          (br_if $rDone (i32.ge_s (local.get $l) (local.get $L)))
          (local.set $i (i32.const 0))
          (block $iDone2 (loop $iLoop2
            (br_if $iDone2 (i32.ge_s (local.get $i) (local.get $m)))
            (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars))))
            (local.set $pb (i32.add (local.get $bs) (i32.shl (local.get $l) (i32.const 2))))
            (local.set $sum (f32.const 0))
            (local.set $t (i32.const 0))
            (block $tDone2 (loop $tLoop2
              (br_if $tDone2 (i32.ge_s (local.get $t) (local.get $k)))
              (local.set $sum (f32.add (local.get $sum) (f32.mul (f32.load (local.get $pa0)) (f32.load (local.get $pb)))))
              (local.set $pb (i32.add (local.get $pb) (local.get $brs)))
              (local.set $pa0 (i32.add (local.get $pa0) (local.get $acs)))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (br $tLoop2)))
            (if (local.get $bias) (then (local.set $sum (f32.add (local.get $sum) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))))
            (f32.store (i32.add (i32.add (local.get $cs) (i32.mul (local.get $i) (local.get $crs))) (i32.shl (local.get $l) (i32.const 2))) (local.get $sum))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iLoop2)))
          (local.set $l (i32.add (local.get $l) (i32.const 1)))
          (br $rLoop)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $sLoop))))
)
