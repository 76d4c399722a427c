;; TIFF LZW decoder (MSB-first codes of 9-12 bits, early change), for geodata/tiff/lzw-wasm.ts.
;; Memory: entry starts (i32 x 4096) at 0, entry lengths (i32 x 4096) at 16384, the 256 one-byte
;; strings at 32768, the output from 33024 (at most `limit` bytes plus 8 bytes of room for word
;; copies), the input at `in` followed by 4 zero bytes.
;; decode returns the bytes written, -1 when the output would pass `limit`, -2 for a code not in
;; the table (then badCode and badNext say which).
(module
  (memory (export "memory") 1)
  (global $badCode (export "badCode") (mut i32) (i32.const 0))
  (global $badNext (export "badNext") (mut i32) (i32.const 0))
  (func (export "decode") (param $in i32) (param $inLen i32) (param $limit i32) (result i32)
    (local $i i32) (local $bitPos i32) (local $totalBits i32) (local $width i32) (local $mask i32)
    (local $widen i32) (local $next i32) (local $pos i32) (local $end i32)
    (local $prevStart i32) (local $prevLen i32) (local $code i32) (local $start i32) (local $len i32)
    (local $p i32)
    (loop $seed
      (i32.store8 (i32.add (i32.const 32768) (local.get $i)) (local.get $i))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.add (i32.const 32768) (local.get $i)))
      (i32.store offset=16384 (i32.shl (local.get $i) (i32.const 2)) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $seed (i32.lt_u (local.get $i) (i32.const 256))))
    (local.set $totalBits (i32.shl (local.get $inLen) (i32.const 3)))
    (local.set $width (i32.const 9))
    (local.set $mask (i32.const 511))
    (local.set $widen (i32.const 511))
    (local.set $next (i32.const 258))
    (local.set $pos (i32.const 33024))
    (local.set $end (i32.add (i32.const 33024) (local.get $limit)))
    (local.set $prevStart (i32.const -1))
    (block $done
      (loop $loop
        (br_if $done (i32.gt_u (i32.add (local.get $bitPos) (local.get $width)) (local.get $totalBits)))
        (local.set $p (i32.add (local.get $in) (i32.shr_u (local.get $bitPos) (i32.const 3))))
        (local.set $code
          (i32.and
            (i32.shr_u
              (i32.or
                (i32.or
                  (i32.shl (i32.load8_u (local.get $p)) (i32.const 16))
                  (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 8)))
                (i32.load8_u offset=2 (local.get $p)))
              (i32.sub (i32.sub (i32.const 24) (i32.and (local.get $bitPos) (i32.const 7))) (local.get $width)))
            (local.get $mask)))
        (local.set $bitPos (i32.add (local.get $bitPos) (local.get $width)))
        (if (i32.and
              (i32.lt_u (local.get $code) (local.get $next))
              (i32.ne (i32.and (local.get $code) (i32.const 0xffe)) (i32.const 256)))
          (then
            (local.set $start (i32.load (i32.shl (local.get $code) (i32.const 2))))
            (local.set $len (i32.load offset=16384 (i32.shl (local.get $code) (i32.const 2))))
            (if (i32.gt_u (i32.add (local.get $pos) (local.get $len)) (local.get $end))
              (then (return (i32.const -1))))
            (if (i32.le_u (local.get $len) (i32.const 8))
              (then (i64.store (local.get $pos) (i64.load (local.get $start))))
              (else (memory.copy (local.get $pos) (local.get $start) (local.get $len)))))
          (else
            (if (i32.eq (local.get $code) (i32.const 256))
              (then
                (local.set $width (i32.const 9))
                (local.set $mask (i32.const 511))
                (local.set $widen (i32.const 511))
                (local.set $next (i32.const 258))
                (local.set $prevStart (i32.const -1))
                (br $loop)))
            (br_if $done (i32.eq (local.get $code) (i32.const 257)))
            (if (i32.or (i32.ne (local.get $code) (local.get $next)) (i32.lt_s (local.get $prevStart) (i32.const 0)))
              (then
                (global.set $badCode (local.get $code))
                (global.set $badNext (local.get $next))
                (return (i32.const -2))))
            ;; KwKwK: the previous string plus its own first byte.
            (local.set $len (i32.add (local.get $prevLen) (i32.const 1)))
            (if (i32.gt_u (i32.add (local.get $pos) (local.get $len)) (local.get $end))
              (then (return (i32.const -1))))
            (memory.copy (local.get $pos) (local.get $prevStart) (local.get $prevLen))
            (i32.store8 (i32.add (local.get $pos) (local.get $prevLen)) (i32.load8_u (local.get $prevStart)))))
        (if (i32.and (i32.ge_s (local.get $prevStart) (i32.const 0)) (i32.lt_u (local.get $next) (i32.const 4096)))
          (then
            (i32.store (i32.shl (local.get $next) (i32.const 2)) (local.get $prevStart))
            (i32.store offset=16384 (i32.shl (local.get $next) (i32.const 2)) (i32.add (local.get $prevLen) (i32.const 1)))
            (local.set $next (i32.add (local.get $next) (i32.const 1)))
            (if (i32.and (i32.eq (local.get $next) (local.get $widen)) (i32.lt_u (local.get $width) (i32.const 12)))
              (then
                (local.set $width (i32.add (local.get $width) (i32.const 1)))
                (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $width)) (i32.const 1)))
                (local.set $widen (local.get $mask))))))
        (local.set $prevStart (local.get $pos))
        (local.set $prevLen (local.get $len))
        (local.set $pos (i32.add (local.get $pos) (local.get $len)))
        (br $loop)))
    (i32.sub (local.get $pos) (i32.const 33024))))
