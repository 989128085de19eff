;; float32 GEMM for the CPU backend: C[m×n] (+)= A[m×k] · B[k×n].
;;
;; Assembled by scripts/build-wasm.mjs into four variants: this text as written (relaxed-SIMD
;; fused multiply-add, shared memory), and with `f32x4.relaxed_madd` spelled as mul+add (plain
;; SIMD128) and/or the memory import not shared (a browser page without cross-origin isolation).
;;
;; Layout (BLIS-style): per block of KC rows of B, A is packed into panels of 4 rows and B into
;; panels of 8 columns, both k-major, so the 4×8 micro-kernel streams two contiguous arrays and
;; keeps its 8 accumulators in registers. Packing absorbs any strides, which is why transposed
;; views (the gradient matmuls) cost nothing extra. Pointers are byte addresses; strides are in
;; elements. The micro-kernel loop is deliberately not unrolled: V8 then hoists the loads and runs
;; out of vector registers.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Element (r, q) of a strided matrix with `rows`×`cols` valid entries, 0 outside (panel padding).
  (func $at (param $src i32) (param $rs i32) (param $cs i32) (param $r i32) (param $q i32) (param $rows i32) (param $cols i32) (result f32)
    (if (result f32) (i32.and (i32.lt_s (local.get $r) (local.get $rows)) (i32.lt_s (local.get $q) (local.get $cols)))
      (then (f32.load (i32.add (local.get $src)
        (i32.shl (i32.add (i32.mul (local.get $r) (local.get $rs)) (i32.mul (local.get $q) (local.get $cs))) (i32.const 2)))))
      (else (f32.const 0))))

  ;; Pack rows×kc of A into panels of 4 rows: dst[(i/4)*kc*4 + p*4 + i%4] = A[i, p].
  (func $pack_a (param $src i32) (param $rs i32) (param $cs i32) (param $rows i32) (param $kc i32) (param $dst i32)
    (local $i i32) (local $p i32) (local $r i32) (local $s0 i32) (local $rsb i32) (local $csb i32)
    (local $d i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $r0 v128) (local $r2 v128)
    (local.set $rsb (i32.shl (local.get $rs) (i32.const 2)))
    (local.set $csb (i32.shl (local.get $cs) (i32.const 2)))
    (block $done (loop $panel
      (br_if $done (i32.ge_s (local.get $i) (local.get $rows)))
      (local.set $s0 (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rsb))))
      (local.set $p (i32.const 0))
      (if (i32.le_s (i32.add (local.get $i) (i32.const 4)) (local.get $rows))
        (then
          (if (i32.eq (local.get $rs) (i32.const 1))
            (then ;; the 4 rows of a column are adjacent (A is a transposed view): one vector per p
              (block $end (loop $l
                (br_if $end (i32.ge_s (local.get $p) (local.get $kc)))
                (v128.store (local.get $dst) (v128.load (local.get $s0)))
                (local.set $s0 (i32.add (local.get $s0) (local.get $csb)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $l)))))
          (if (i32.eq (local.get $cs) (i32.const 1))
            (then ;; row-major A: transpose 4×4 blocks
              (block $end (loop $l
                (br_if $end (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $kc)))
                ;; a 4×4 transpose (written out: V8 does not inline calls between WebAssembly functions)
                (local.set $r0 (v128.load (local.get $s0)))
                (local.set $r2 (v128.load (i32.add (local.get $s0) (i32.shl (local.get $rsb) (i32.const 1)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (v128.load (i32.add (local.get $s0) (local.get $rsb)))))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (v128.load (i32.add (local.get $s0) (local.get $rsb)))))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $rsb) (i32.const 3))))))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $rsb) (i32.const 3))))))
                (local.set $d (local.get $dst))
                (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=16 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=48 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $l))))))
        (else))
      ;; whatever is left of this panel (odd strides, the tail of kc, a partial last panel)
      (block $end (loop $l
        (br_if $end (i32.ge_s (local.get $p) (local.get $kc)))
        (local.set $r (i32.const 0))
        (loop $rl
          (f32.store (local.get $dst) (call $at (local.get $src) (local.get $rs) (local.get $cs)
            (i32.add (local.get $i) (local.get $r)) (local.get $p) (local.get $rows) (local.get $kc)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (br_if $rl (i32.lt_s (local.tee $r (i32.add (local.get $r) (i32.const 1))) (i32.const 4))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $panel))))

  ;; Pack kc×cols of B into panels of 8 columns: dst[(j/8)*kc*8 + p*8 + j%8] = B[p, j].
  (func $pack_b (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $cols i32) (param $dst i32)
    (local $j i32) (local $p i32) (local $q i32) (local $s0 i32) (local $rsb i32) (local $csb i32)
    (local $d i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $r0 v128) (local $r2 v128)
    (local.set $rsb (i32.shl (local.get $rs) (i32.const 2)))
    (local.set $csb (i32.shl (local.get $cs) (i32.const 2)))
    (block $done (loop $panel
      (br_if $done (i32.ge_s (local.get $j) (local.get $cols)))
      (local.set $s0 (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $csb))))
      (local.set $p (i32.const 0))
      (if (i32.le_s (i32.add (local.get $j) (i32.const 8)) (local.get $cols))
        (then
          (if (i32.eq (local.get $cs) (i32.const 1))
            (then ;; row-major B: two vectors per p
              (block $end (loop $l
                (br_if $end (i32.ge_s (local.get $p) (local.get $kc)))
                (v128.store (local.get $dst) (v128.load (local.get $s0)))
                (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s0)))
                (local.set $s0 (i32.add (local.get $s0) (local.get $rsb)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $l)))))
          (if (i32.eq (local.get $rs) (i32.const 1))
            (then ;; B is a transposed view (columns contiguous): transpose 4×4 blocks
              (block $end (loop $l
                (br_if $end (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $kc)))
                ;; two 4×4 transposes (written out: V8 does not inline calls between WebAssembly functions)
                (local.set $r0 (v128.load (local.get $s0)))
                (local.set $r2 (v128.load (i32.add (local.get $s0) (i32.shl (local.get $csb) (i32.const 1)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (v128.load (i32.add (local.get $s0) (local.get $csb)))))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (v128.load (i32.add (local.get $s0) (local.get $csb)))))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 3))))))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 3))))))
                (local.set $d (local.get $dst))
                (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=64 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=96 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $r0 (v128.load (i32.add (local.get $s0) (i32.shl (local.get $csb) (i32.const 2)))))
                (local.set $r2 (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 6)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 5))))))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 5))))))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 7))))))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (v128.load (i32.add (local.get $s0) (i32.mul (local.get $csb) (i32.const 7))))))
                (local.set $d (i32.add (local.get $dst) (i32.const 16)))
                (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=64 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=96 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 128)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $l))))))
        (else))
      (block $end (loop $l
        (br_if $end (i32.ge_s (local.get $p) (local.get $kc)))
        (local.set $q (i32.const 0))
        (loop $ql
          (f32.store (local.get $dst) (call $at (local.get $src) (local.get $rs) (local.get $cs)
            (local.get $p) (i32.add (local.get $j) (local.get $q)) (local.get $kc) (local.get $cols)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (br_if $ql (i32.lt_s (local.tee $q (i32.add (local.get $q) (i32.const 1))) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $panel))))

  ;; The 4×8 micro-kernel: tile at c (row stride ldcb bytes) = (beta ? tile : 0) + Apanel · Bpanel.
  (func $kernel (param $ap i32) (param $bp i32) (param $c i32) (param $ldcb i32) (param $kc i32) (param $beta i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128) (local $end i32)
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (loop $l
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $a (v128.load32_splat (local.get $ap)))
      (local.set $c00 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c00)))
      (local.set $c01 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c01)))
      (local.set $a (v128.load32_splat offset=4 (local.get $ap)))
      (local.set $c10 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c10)))
      (local.set $c11 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c11)))
      (local.set $a (v128.load32_splat offset=8 (local.get $ap)))
      (local.set $c20 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c20)))
      (local.set $c21 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c21)))
      (local.set $a (v128.load32_splat offset=12 (local.get $ap)))
      (local.set $c30 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c30)))
      (local.set $c31 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c31)))
      (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br_if $l (i32.lt_u (local.get $bp) (local.get $end))))
    (if (local.get $beta)
      (then
        (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $c))))
        (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $c))))
        (local.set $c10 (f32x4.add (local.get $c10) (v128.load (i32.add (local.get $c) (local.get $ldcb)))))
        (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (i32.add (local.get $c) (local.get $ldcb)))))
        (local.set $c20 (f32x4.add (local.get $c20) (v128.load (i32.add (local.get $c) (i32.shl (local.get $ldcb) (i32.const 1))))))
        (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (i32.add (local.get $c) (i32.shl (local.get $ldcb) (i32.const 1))))))
        (local.set $c30 (f32x4.add (local.get $c30) (v128.load (i32.add (local.get $c) (i32.mul (local.get $ldcb) (i32.const 3))))))
        (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldcb) (i32.const 3))))))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31)))

  ;; Bytes of scratch gemm needs for these sizes: both packed blocks and one 4×8 edge tile.
  (func $scratch_bytes (export "scratch_bytes") (param $m i32) (param $n i32) (param $kcmax i32) (result i32)
    (i32.add (i32.const 128) (i32.shl (i32.mul (local.get $kcmax)
      (i32.add (i32.and (i32.add (local.get $m) (i32.const 3)) (i32.const -4))
               (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8)))) (i32.const 2))))

  ;; C[m×n] (row stride ldc elements) = A[m×k] · B[k×n] for strided A and B (k >= 1), using
  ;; scratch_bytes(m, n, kcmax) bytes at `scratch`. Each thread calls it on its own block of C.
  (func $gemm (export "gemm") (param $a i32) (param $ars i32) (param $acs i32) (param $b i32) (param $brs i32) (param $bcs i32)
      (param $c i32) (param $ldc i32) (param $m i32) (param $n i32) (param $k i32) (param $kcmax i32) (param $scratch i32)
    (local $pc i32) (local $kc i32) (local $bp i32) (local $tile i32) (local $beta i32) (local $i i32) (local $j i32)
    (local $ldcb i32) (local $cij i32) (local $rows i32) (local $cols i32) (local $r i32) (local $q i32) (local $dst i32) (local $v f32)
    (local.set $ldcb (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $bp (i32.add (local.get $scratch)
      (i32.shl (i32.mul (local.get $kcmax) (i32.and (i32.add (local.get $m) (i32.const 3)) (i32.const -4))) (i32.const 2))))
    (local.set $tile (i32.add (local.get $bp)
      (i32.shl (i32.mul (local.get $kcmax) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))) (i32.const 2))))
    (loop $kblock
      (local.set $kc (select (local.get $kcmax) (i32.sub (local.get $k) (local.get $pc))
        (i32.lt_s (local.get $kcmax) (i32.sub (local.get $k) (local.get $pc)))))
      (call $pack_a (i32.add (local.get $a) (i32.shl (i32.mul (local.get $pc) (local.get $acs)) (i32.const 2)))
        (local.get $ars) (local.get $acs) (local.get $m) (local.get $kc) (local.get $scratch))
      (call $pack_b (i32.add (local.get $b) (i32.shl (i32.mul (local.get $pc) (local.get $brs)) (i32.const 2)))
        (local.get $brs) (local.get $bcs) (local.get $kc) (local.get $n) (local.get $bp))
      ;; columns outside, rows inside: one B panel stays in L1 while the A panels stream from L2
      (local.set $j (i32.const 0))
      (loop $jl
        (local.set $i (i32.const 0))
        (loop $il
          (local.set $cij (i32.add (local.get $c)
            (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
          (if (i32.and (i32.le_s (i32.add (local.get $i) (i32.const 4)) (local.get $m))
                       (i32.le_s (i32.add (local.get $j) (i32.const 8)) (local.get $n)))
            (then
              (call $kernel (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $i) (local.get $kc)) (i32.const 2)))
                (i32.add (local.get $bp) (i32.shl (i32.mul (local.get $j) (local.get $kc)) (i32.const 2)))
                (local.get $cij) (local.get $ldcb) (local.get $kc) (local.get $beta)))
            (else ;; an edge tile: compute the full 4×8 into `tile`, then add its valid part to C
              (call $kernel (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $i) (local.get $kc)) (i32.const 2)))
                (i32.add (local.get $bp) (i32.shl (i32.mul (local.get $j) (local.get $kc)) (i32.const 2)))
                (local.get $tile) (i32.const 32) (local.get $kc) (i32.const 0))
              (local.set $rows (select (i32.const 4) (i32.sub (local.get $m) (local.get $i))
                (i32.lt_s (i32.const 4) (i32.sub (local.get $m) (local.get $i)))))
              (local.set $cols (select (i32.const 8) (i32.sub (local.get $n) (local.get $j))
                (i32.lt_s (i32.const 8) (i32.sub (local.get $n) (local.get $j)))))
              (local.set $r (i32.const 0))
              (loop $rl
                (local.set $q (i32.const 0))
                (loop $ql
                  (local.set $dst (i32.add (local.get $cij)
                    (i32.add (i32.mul (local.get $r) (local.get $ldcb)) (i32.shl (local.get $q) (i32.const 2)))))
                  (local.set $v (f32.load (i32.add (local.get $tile)
                    (i32.add (i32.shl (local.get $r) (i32.const 5)) (i32.shl (local.get $q) (i32.const 2))))))
                  (if (local.get $beta) (then (local.set $v (f32.add (local.get $v) (f32.load (local.get $dst))))))
                  (f32.store (local.get $dst) (local.get $v))
                  (br_if $ql (i32.lt_s (local.tee $q (i32.add (local.get $q) (i32.const 1))) (local.get $cols))))
                (br_if $rl (i32.lt_s (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows))))))
          (br_if $il (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $m))))
        (br_if $jl (i32.lt_s (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $n))))
      (local.set $beta (i32.const 1))
      (br_if $kblock (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (local.get $kc))) (local.get $k)))))

;; ---- Products with a small C and a long reduction (convolution weight gradients, 9×50176×8):
  ;; packing would copy each operand for a handful of uses per element, so when A's rows and B's
  ;; columns are contiguous in k (acs = brs = 1) these kernels read them in place as dot products.
  ;; k is cut into chunks of kd that do not depend on the thread count; each chunk's m×n partial
  ;; sums go to their own slot and dot_sum adds the slots in order, so results are the same bits
  ;; whichever thread computed which chunk.

  ;; (l0 + l1) + (l2 + l3)
  (func $hsum (param $v v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
             (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; hsum(acc) + the scalar products of the last `len` elements at pa and pb (the tail of a chunk).
  (func $finish (param $acc v128) (param $pa i32) (param $pb i32) (param $len i32) (result f32)
    (local $s f32)
    (local.set $s (call $hsum (local.get $acc)))
    (block $end (loop $l
      (br_if $end (i32.le_s (local.get $len) (i32.const 0)))
      (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 4)))
      (local.set $len (i32.sub (local.get $len) (i32.const 1)))
      (br $l)))
    (local.get $s))

  ;; Chunk `part` of a dot-product job (fields as for gemm_part; kc = kd, scratch = the partial
  ;; slots, m·n floats each): 2 rows of A × 4 columns of B at a time, 8 accumulators. Past the
  ;; last row or column, the block repeats it (same inputs, same bits, stored twice).
  (func $dot_part (param $job i32) (param $part i32)
    (local $a i32) (local $ars i32) (local $b i32) (local $bcs i32) (local $m i32) (local $n i32)
    (local $k0 i32) (local $len i32) (local $vend i32) (local $out i32) (local $i i32) (local $i1 i32) (local $j i32)
    (local $a0 i32) (local $a1 i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32) (local $o i32)
    (local $x0 v128) (local $x1 v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local.set $ars (i32.shl (i32.load offset=4 (local.get $job)) (i32.const 2)))
    (local.set $bcs (i32.shl (i32.load offset=20 (local.get $job)) (i32.const 2)))
    (local.set $m (i32.load offset=32 (local.get $job)))
    (local.set $n (i32.load offset=36 (local.get $job)))
    (local.set $k0 (i32.mul (local.get $part) (i32.load offset=44 (local.get $job))))
    (local.set $len (i32.sub (i32.load offset=40 (local.get $job)) (local.get $k0)))
    (if (i32.gt_s (local.get $len) (i32.load offset=44 (local.get $job))) (then (local.set $len (i32.load offset=44 (local.get $job)))))
    (local.set $vend (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2)))
    (local.set $a (i32.add (i32.load (local.get $job)) (i32.shl (local.get $k0) (i32.const 2))))
    (local.set $b (i32.add (i32.load offset=12 (local.get $job)) (i32.shl (local.get $k0) (i32.const 2))))
    (local.set $out (i32.add (i32.load offset=48 (local.get $job)) (i32.shl (i32.mul (local.get $part) (i32.mul (local.get $m) (local.get $n))) (i32.const 2))))
    (loop $il
      (local.set $i1 (select (i32.add (local.get $i) (i32.const 1)) (local.get $i) (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $m))))
      (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ars))))
      (local.set $a1 (i32.add (local.get $a) (i32.mul (local.get $i1) (local.get $ars))))
      (local.set $j (i32.const 0))
      (loop $jl
        (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $bcs))))
        (local.set $b1 (i32.add (local.get $b) (i32.mul (call $clamp (i32.add (local.get $j) (i32.const 1)) (local.get $n)) (local.get $bcs))))
        (local.set $b2 (i32.add (local.get $b) (i32.mul (call $clamp (i32.add (local.get $j) (i32.const 2)) (local.get $n)) (local.get $bcs))))
        (local.set $b3 (i32.add (local.get $b) (i32.mul (call $clamp (i32.add (local.get $j) (i32.const 3)) (local.get $n)) (local.get $bcs))))
        (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c02 (v128.const i32x4 0 0 0 0)) (local.set $c03 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c12 (v128.const i32x4 0 0 0 0)) (local.set $c13 (v128.const i32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (block $vdone (loop $kl
          (br_if $vdone (i32.ge_u (local.get $o) (local.get $vend)))
          (local.set $x0 (v128.load (i32.add (local.get $a0) (local.get $o))))
          (local.set $x1 (v128.load (i32.add (local.get $a1) (local.get $o))))
          (local.set $y0 (v128.load (i32.add (local.get $b0) (local.get $o))))
          (local.set $y1 (v128.load (i32.add (local.get $b1) (local.get $o))))
          (local.set $y2 (v128.load (i32.add (local.get $b2) (local.get $o))))
          (local.set $y3 (v128.load (i32.add (local.get $b3) (local.get $o))))
          (local.set $c00 (f32x4.relaxed_madd (local.get $x0) (local.get $y0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $x0) (local.get $y1) (local.get $c01)))
          (local.set $c02 (f32x4.relaxed_madd (local.get $x0) (local.get $y2) (local.get $c02)))
          (local.set $c03 (f32x4.relaxed_madd (local.get $x0) (local.get $y3) (local.get $c03)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $x1) (local.get $y0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $x1) (local.get $y1) (local.get $c11)))
          (local.set $c12 (f32x4.relaxed_madd (local.get $x1) (local.get $y2) (local.get $c12)))
          (local.set $c13 (f32x4.relaxed_madd (local.get $x1) (local.get $y3) (local.get $c13)))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (br $kl)))
        ;; partial[i][j..j+3], partial[i1][j..j+3]; clamped columns rewrite the last one's value
        (call $put (local.get $out) (local.get $n) (local.get $i) (local.get $j)
          (call $finish (local.get $c00) (i32.add (local.get $a0) (local.get $vend)) (i32.add (local.get $b0) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 1))
          (call $finish (local.get $c01) (i32.add (local.get $a0) (local.get $vend)) (i32.add (local.get $b1) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 2))
          (call $finish (local.get $c02) (i32.add (local.get $a0) (local.get $vend)) (i32.add (local.get $b2) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 3))
          (call $finish (local.get $c03) (i32.add (local.get $a0) (local.get $vend)) (i32.add (local.get $b3) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i1) (local.get $j)
          (call $finish (local.get $c10) (i32.add (local.get $a1) (local.get $vend)) (i32.add (local.get $b0) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i1) (i32.add (local.get $j) (i32.const 1))
          (call $finish (local.get $c11) (i32.add (local.get $a1) (local.get $vend)) (i32.add (local.get $b1) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i1) (i32.add (local.get $j) (i32.const 2))
          (call $finish (local.get $c12) (i32.add (local.get $a1) (local.get $vend)) (i32.add (local.get $b2) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (call $put (local.get $out) (local.get $n) (local.get $i1) (i32.add (local.get $j) (i32.const 3))
          (call $finish (local.get $c13) (i32.add (local.get $a1) (local.get $vend)) (i32.add (local.get $b3) (local.get $vend)) (i32.sub (local.get $len) (i32.shr_u (local.get $vend) (i32.const 2)))))
        (br_if $jl (i32.lt_s (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $n))))
      (br_if $il (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $m)))))

  ;; min(j, n - 1): a column past the last one repeats it
  (func $clamp (param $j i32) (param $n i32) (result i32)
    (select (local.get $j) (i32.sub (local.get $n) (i32.const 1)) (i32.lt_s (local.get $j) (local.get $n))))
  ;; out[i·n + min(j, n-1)] = v
  (func $put (param $out i32) (param $n i32) (param $i i32) (param $j i32) (param $v f32)
    (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (call $clamp (local.get $j) (local.get $n))) (i32.const 2)))
      (local.get $v)))

  ;; C[m×n] (row stride ldc) = the sum of `parts` slots of m·n partial sums at `slots`, in slot order.
  (func (export "dot_sum") (param $slots i32) (param $parts i32) (param $m i32) (param $n i32) (param $c i32) (param $ldc i32)
    (local $i i32) (local $j i32) (local $p i32) (local $s f32) (local $at i32) (local $mn i32)
    (local.set $mn (i32.shl (i32.mul (local.get $m) (local.get $n)) (i32.const 2)))
    (loop $il
      (local.set $j (i32.const 0))
      (loop $jl
        (local.set $at (i32.add (local.get $slots) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))))
        (local.set $s (f32.load (local.get $at)))
        (local.set $p (i32.const 1))
        (block $end (loop $pl
          (br_if $end (i32.ge_s (local.get $p) (local.get $parts)))
          (local.set $at (i32.add (local.get $at) (local.get $mn)))
          (local.set $s (f32.add (local.get $s) (f32.load (local.get $at))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pl)))
        (f32.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))) (local.get $s))
        (br_if $jl (i32.lt_s (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n))))
      (br_if $il (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $m)))))

  ;; Block `part` of the job described at `job` (i32 fields: a ars acs b brs bcs c ldc m n k kc
  ;; scratch scratchStride byRows parts dot), computed by thread `thread` with its own scratch. C
  ;; is cut into `parts` blocks of whole 4-row (byRows) or 8-column panels, so every thread packs
  ;; only its own panels; any thread may compute any block. A dot job (dot = 1) is cut along k.
  (func (export "gemm_part") (param $job i32) (param $part i32) (param $thread i32)
    (local $m i32) (local $n i32) (local $parts i32) (local $panels i32) (local $p0 i32) (local $p1 i32) (local $s i32)
    (if (i32.load offset=64 (local.get $job)) (then (call $dot_part (local.get $job) (local.get $part)) (return)))
    (local.set $m (i32.load offset=32 (local.get $job)))
    (local.set $n (i32.load offset=36 (local.get $job)))
    (local.set $parts (i32.load offset=60 (local.get $job)))
    (local.set $s (i32.add (i32.load offset=48 (local.get $job)) (i32.mul (local.get $thread) (i32.load offset=52 (local.get $job)))))
    (if (i32.load offset=56 (local.get $job))
      (then
        (local.set $panels (i32.shr_u (i32.add (local.get $m) (i32.const 3)) (i32.const 2)))
        (local.set $p0 (i32.shl (i32.div_u (i32.mul (local.get $part) (local.get $panels)) (local.get $parts)) (i32.const 2)))
        (local.set $p1 (i32.shl (i32.div_u (i32.mul (i32.add (local.get $part) (i32.const 1)) (local.get $panels)) (local.get $parts)) (i32.const 2)))
        (if (i32.gt_s (local.get $p1) (local.get $m)) (then (local.set $p1 (local.get $m))))
        (if (i32.lt_s (local.get $p0) (local.get $p1)) (then
          (call $gemm
            (i32.add (i32.load (local.get $job)) (i32.shl (i32.mul (local.get $p0) (i32.load offset=4 (local.get $job))) (i32.const 2)))
            (i32.load offset=4 (local.get $job)) (i32.load offset=8 (local.get $job))
            (i32.load offset=12 (local.get $job)) (i32.load offset=16 (local.get $job)) (i32.load offset=20 (local.get $job))
            (i32.add (i32.load offset=24 (local.get $job)) (i32.shl (i32.mul (local.get $p0) (i32.load offset=28 (local.get $job))) (i32.const 2)))
            (i32.load offset=28 (local.get $job)) (i32.sub (local.get $p1) (local.get $p0)) (local.get $n)
            (i32.load offset=40 (local.get $job)) (i32.load offset=44 (local.get $job)) (local.get $s)))))
      (else
        (local.set $panels (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
        (local.set $p0 (i32.shl (i32.div_u (i32.mul (local.get $part) (local.get $panels)) (local.get $parts)) (i32.const 3)))
        (local.set $p1 (i32.shl (i32.div_u (i32.mul (i32.add (local.get $part) (i32.const 1)) (local.get $panels)) (local.get $parts)) (i32.const 3)))
        (if (i32.gt_s (local.get $p1) (local.get $n)) (then (local.set $p1 (local.get $n))))
        (if (i32.lt_s (local.get $p0) (local.get $p1)) (then
          (call $gemm
            (i32.load (local.get $job)) (i32.load offset=4 (local.get $job)) (i32.load offset=8 (local.get $job))
            (i32.add (i32.load offset=12 (local.get $job)) (i32.shl (i32.mul (local.get $p0) (i32.load offset=20 (local.get $job))) (i32.const 2)))
            (i32.load offset=16 (local.get $job)) (i32.load offset=20 (local.get $job))
            (i32.add (i32.load offset=24 (local.get $job)) (i32.shl (local.get $p0) (i32.const 2)))
            (i32.load offset=28 (local.get $job)) (local.get $m) (i32.sub (local.get $p1) (local.get $p0))
            (i32.load offset=40 (local.get $job)) (i32.load offset=44 (local.get $job)) (local.get $s))))))))
