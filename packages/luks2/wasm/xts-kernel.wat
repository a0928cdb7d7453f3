;; XTS tweak kernel of @lsvm/luks2: the two tweak passes of XTS-AES around AES-ECB
;; (IEEE 1619-2018 §5.3.1 encryption, §5.3.2 decryption: C_j = E_K1(P_j ⊕ T_j) ⊕ T_j with
;; T_j = E_K2(i) ⊗ α^j). AES itself stays in OpenSSL (node:crypto, AES-NI); this module only does
;; what JavaScript is slow at: 128-bit tweak doubling and wide XOR.
;;
;; Assembled by `node scripts/build-xts-kernel.mjs` into src/xts-kernel-wasm.ts; the test
;; xts-kernel.test.ts re-assembles this file and checks the embedded bytes are exactly its output.
;;
;; The caller owns the memory layout: it copies data in, calls these functions and copies data out.
;; Pointers and lengths are in bytes; data lengths are whole sectors and sector sizes multiples of
;; 64 (LUKS: 512 … 4096). A 128-bit block is little-endian (§5.1: the first byte is the least
;; significant), so an i64x2 holds bits 0…63 in lane 0 and bits 64…127 in lane 1.
(module
  (memory (export "memory") 3)

  ;; T ⊗ α (§5.2): shift the 128-bit T left by one bit; the bit leaving bit 127 comes back as
  ;; 0x87 in the low byte, the bit leaving bit 63 enters bit 64. i32x4.shr_s by 31 turns the top
  ;; bit of each 32-bit lane into an all-ones / all-zeros mask (SSE has no 64-bit arithmetic
  ;; shift, so this is one instruction where i64x2.shr_s would be several); the shuffle moves the
  ;; mask of bit 127 (dword 3) under lane 0 and that of bit 63 (dword 1) under lane 1, and the AND
  ;; keeps 0x87 and 1 where they apply. Written out at each use below: wasm has no macros and a
  ;; call in the inner loop costs more than the arithmetic (V8 does not inline it).
  ;;
  ;;   (v128.xor
  ;;     (i64x2.shl T 1)
  ;;     (v128.and
  ;;       (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
  ;;         (i32x4.shr_s T 31) (i32x4.shr_s T 31))
  ;;       (v128.const i64x2 0x87 1)))

  ;; First tweak pass. For each sector of the `len` bytes at $data (sectors of $ss bytes), with
  ;; T the sector's 16 bytes at $t0 (E_K2(IV), consecutive per sector): block j of the sector is
  ;; XORed in place with T ⊗ α^j, and T ⊗ α^j is also stored at the same offset from $tw, so the
  ;; second pass (`xor`) is a plain XOR with no arithmetic. Sectors go two at a time, the two
  ;; independent doubling chains interleaved (one chain is latency-bound), then a lone last
  ;; sector if the count is odd; each loop turn does four blocks.
  (func (export "tweak_in")
    (param $data i32) (param $len i32) (param $t0 i32) (param $ss i32) (param $tw i32)
    (local $end i32) (local $sector_end i32) (local $d2 i32) (local $w2 i32)
    (local $t v128) (local $u v128)
    (local.set $end (i32.add (local.get $data) (local.get $len)))
    ;; pairs of sectors: T in $t for the first at $data, $u for the second at $data + $ss
    (block $pairs_done
      (loop $pair
        (br_if $pairs_done
          (i32.gt_u
            (i32.add (local.get $data) (i32.shl (local.get $ss) (i32.const 1)))
            (local.get $end)))
        (local.set $t (v128.load (local.get $t0)))
        (local.set $u (v128.load offset=16 (local.get $t0)))
        (local.set $t0 (i32.add (local.get $t0) (i32.const 32)))
        (local.set $sector_end (i32.add (local.get $data) (local.get $ss)))
        (loop $blocks
          (local.set $d2 (i32.add (local.get $data) (local.get $ss)))
          (local.set $w2 (i32.add (local.get $tw) (local.get $ss)))
          ;; block 0 of this turn
          (v128.store offset=0 (local.get $tw) (local.get $t))
          (v128.store offset=0 (local.get $data)
            (v128.xor (v128.load offset=0 (local.get $data)) (local.get $t)))
          (v128.store offset=0 (local.get $w2) (local.get $u))
          (v128.store offset=0 (local.get $d2)
            (v128.xor (v128.load offset=0 (local.get $d2)) (local.get $u)))
          (local.set $t
            (v128.xor (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $u
            (v128.xor (i64x2.shl (local.get $u) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $u) (i32.const 31))
                  (i32x4.shr_s (local.get $u) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          ;; block 1
          (v128.store offset=16 (local.get $tw) (local.get $t))
          (v128.store offset=16 (local.get $data)
            (v128.xor (v128.load offset=16 (local.get $data)) (local.get $t)))
          (v128.store offset=16 (local.get $w2) (local.get $u))
          (v128.store offset=16 (local.get $d2)
            (v128.xor (v128.load offset=16 (local.get $d2)) (local.get $u)))
          (local.set $t
            (v128.xor (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $u
            (v128.xor (i64x2.shl (local.get $u) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $u) (i32.const 31))
                  (i32x4.shr_s (local.get $u) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          ;; block 2
          (v128.store offset=32 (local.get $tw) (local.get $t))
          (v128.store offset=32 (local.get $data)
            (v128.xor (v128.load offset=32 (local.get $data)) (local.get $t)))
          (v128.store offset=32 (local.get $w2) (local.get $u))
          (v128.store offset=32 (local.get $d2)
            (v128.xor (v128.load offset=32 (local.get $d2)) (local.get $u)))
          (local.set $t
            (v128.xor (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $u
            (v128.xor (i64x2.shl (local.get $u) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $u) (i32.const 31))
                  (i32x4.shr_s (local.get $u) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          ;; block 3
          (v128.store offset=48 (local.get $tw) (local.get $t))
          (v128.store offset=48 (local.get $data)
            (v128.xor (v128.load offset=48 (local.get $data)) (local.get $t)))
          (v128.store offset=48 (local.get $w2) (local.get $u))
          (v128.store offset=48 (local.get $d2)
            (v128.xor (v128.load offset=48 (local.get $d2)) (local.get $u)))
          (local.set $t
            (v128.xor (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $u
            (v128.xor (i64x2.shl (local.get $u) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $u) (i32.const 31))
                  (i32x4.shr_s (local.get $u) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $data (i32.add (local.get $data) (i32.const 64)))
          (local.set $tw (i32.add (local.get $tw) (i32.const 64)))
          (br_if $blocks (i32.lt_u (local.get $data) (local.get $sector_end))))
        ;; both sectors done: skip over the second one
        (local.set $data (i32.add (local.get $data) (local.get $ss)))
        (local.set $tw (i32.add (local.get $tw) (local.get $ss)))
        (br $pair)))
    ;; a lone last sector
    (if (i32.lt_u (local.get $data) (local.get $end))
      (then
        (local.set $t (v128.load (local.get $t0)))
        (loop $blocks
          (v128.store (local.get $tw) (local.get $t))
          (v128.store (local.get $data) (v128.xor (v128.load (local.get $data)) (local.get $t)))
          (local.set $t
            (v128.xor (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i64x2 0x87 1))))
          (local.set $data (i32.add (local.get $data) (i32.const 16)))
          (local.set $tw (i32.add (local.get $tw) (i32.const 16)))
          (br_if $blocks (i32.lt_u (local.get $data) (local.get $end)))))))

  ;; Second tweak pass: the `len` bytes at $data are XORed in place with those at $tw (the tweaks
  ;; the first pass stored). len is a multiple of 64.
  (func (export "xor") (param $data i32) (param $tw i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $data) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $data) (local.get $end)))
        (v128.store offset=0 (local.get $data)
          (v128.xor (v128.load offset=0 (local.get $data)) (v128.load offset=0 (local.get $tw))))
        (v128.store offset=16 (local.get $data)
          (v128.xor (v128.load offset=16 (local.get $data)) (v128.load offset=16 (local.get $tw))))
        (v128.store offset=32 (local.get $data)
          (v128.xor (v128.load offset=32 (local.get $data)) (v128.load offset=32 (local.get $tw))))
        (v128.store offset=48 (local.get $data)
          (v128.xor (v128.load offset=48 (local.get $data)) (v128.load offset=48 (local.get $tw))))
        (local.set $data (i32.add (local.get $data) (i32.const 64)))
        (local.set $tw (i32.add (local.get $tw) (i32.const 64)))
        (br $next))))
)
