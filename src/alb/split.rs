//! Splitting a line into its fields: where each field starts and ends, and which were quoted.
//!
//! The rule (`alb-log-format.md`): single spaces between fields; a field is either quoted
//! (`"..."`, may hold spaces, never a `"`, followed by a space or the end of the line) or bare
//! (non-empty, no spaces, up to the next space). Only a field's first byte decides which.
//!
//! Two splitters implement it, and they must agree on every line:
//! - [`split_exact`] walks the line field by field with `nom`, one search per field, and names
//!   the field and the reason when the line breaks the rule. It is the definition.
//! - [`split_fast`] classifies the whole line in one sweep, 16 bytes at a time with SSE2/NEON
//!   compares through `wide` (32 with AVX2 `std::arch` compares, 64 with AVX-512, on CPUs that
//!   have them; safe code either way): a bit mask of the spaces and one of the quotes per
//!   64-byte block, the quoted stretches found by a prefix XOR of the quote mask (as simdjson
//!   does), the separators being the spaces outside them. That costs a few instructions per
//!   16 bytes where the field-by-field walk costs a search set-up per field (~30 per line). It
//!   handles only the lines it can prove the exact splitter splits the same way (every quote
//!   opens or closes a quoted field, no empty field) and declines every other line, which then
//!   goes to [`split_exact`] for its verdict and its error. `fast_agrees_with_exact` (used by the
//!   `parse_line` fuzz target and the tests) checks the agreement.

use memchr::memchr;
use nom::{
    IResult, Parser, branch::alt, bytes::complete::tag, combinator::rest, sequence::delimited,
};
use wide::u8x16;

use super::parse::ParseError;
use super::record::KNOWN_FIELDS;

/// Where the known fields of a line (the first [`KNOWN_FIELDS`]) end, how many fields it has
/// in all, and a bit mask of which known fields were quoted (bit `n - 1`). A field's content is
/// cut from the line only when asked for ([`Fields::get`]).
///
/// Why offsets and not the fields' slices: a line has 20 to 34 known fields and the miner
/// reads about a dozen. Cutting every field as the split found it (a bounds-checked slice and
/// 16 bytes stored per field) cost more than the sweep that finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    line: &'a [u8],
    /// For each known field present, the offset just past it (past its closing quote): the
    /// separator after it, or the end of the line. 0 for fields not present.
    ends: [u32; KNOWN_FIELDS],
    pub(crate) count: usize,
    pub(crate) quoted_mask: u64,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Fields {
            line,
            ends: [0; KNOWN_FIELDS],
            count: 0,
            quoted_mask: 0,
        }
    }

    /// Appends the next field, which ends (past its closing quote) at offset `end` of the line.
    #[inline(always)]
    fn push(&mut self, end: usize, is_quoted: bool) {
        if let Some(slot) = self.ends.get_mut(self.count) {
            // Lines are at most `MAX_LINE` bytes (the scan skips longer ones); a longer line's
            // field past 4 GiB would read as a shorter one, never out of bounds.
            *slot = end as u32;
            self.quoted_mask |= u64::from(is_quoted) << self.count;
        }
        self.count += 1;
    }

    /// [`Fields::get`], with the line from the content's first byte on: a check may then load
    /// whole vectors from a short field's start (bytes past its end are the line's next ones).
    #[inline(always)]
    pub(crate) fn get_with_rest(&self, n: usize) -> (&'a [u8], &'a [u8]) {
        let span = self.span(n);
        match (self.line.get(span.clone()), self.line.get(span.start..)) {
            (Some(content), Some(rest)) => (content, rest),
            _ => (b"", b""),
        }
    }

    /// The content of known field `n` (1-based), without its quotes; empty when the line has
    /// no field `n` (or `n` is not a known field).
    #[inline(always)]
    pub(crate) fn get(&self, n: usize) -> &'a [u8] {
        self.line.get(self.span(n)).unwrap_or_default()
    }

    /// Where [`Fields::get`]'s content is in the line (an empty or out-of-range span for a
    /// field the line does not have).
    #[inline(always)]
    fn span(&self, n: usize) -> std::ops::Range<usize> {
        let i = n.wrapping_sub(1);
        let start = match i.checked_sub(1) {
            None => 0,
            Some(before) => self.ends.get(before).map_or(0, |&e| e as usize + 1),
        };
        let end = self.ends.get(i).map_or(0, |&e| e as usize);
        let quoted = (self.quoted_mask.checked_shr(i as u32).unwrap_or(0) & 1) as usize;
        start + quoted..end.saturating_sub(quoted)
    }
}

/// Splits `line` (no line terminator) into `fields`, which must be fresh; on error, names the
/// first field that breaks the rule.
#[inline]
pub(crate) fn split_fields<'a>(line: &'a [u8], fields: &mut Fields<'a>) -> Result<(), ParseError> {
    if split_fast(line, fields) {
        return Ok(());
    }
    *fields = Fields::new(line);
    split_exact(line, fields)
}

/// Whether [`split_fast`] either declines `line` or splits it exactly as [`split_exact`] does
/// (always true; the fuzz target and the tests assert it).
#[doc(hidden)]
pub fn fast_agrees_with_exact(line: &[u8]) -> bool {
    let mut fast = Fields::new(line);
    if !split_fast(line, &mut fast) {
        return true;
    }
    let mut exact = Fields::new(line);
    split_exact(line, &mut exact).is_ok() && exact == fast
}

// ---------------------------------------------------------------------------------------------
// The one-sweep splitter

/// Bit `i` set where `block[i]` is a space, and where it is a quote.
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    let space = u8x16::splat(b' ');
    let quote = u8x16::splat(b'"');
    let mut spaces = 0u64;
    let mut quotes = 0u64;
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = u8x16::new(*chunk);
        spaces |= u64::from(v.simd_eq(space).to_bitmask()) << (16 * k);
        quotes |= u64::from(v.simd_eq(quote).to_bitmask()) << (16 * k);
    }
    (spaces, quotes)
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `x`: set from an opening quote up to,
/// not including, its closing quote.
#[inline(always)]
fn prefix_xor_shifts(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Most separators a 64-byte block of a line [`split_fast`] takes can hold: one space in two,
/// since two adjacent spaces make an empty field.
const MAX_BLOCK_SEPARATORS: usize = 32;

/// 0, 1, .., 63: the index of each byte of a block.
const BLOCK_INDICES: [u8; 64] = {
    let mut indices = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        indices[i] = i as u8;
        i += 1;
    }
    indices
};

/// The positions of the set `bits` (at most [`MAX_BLOCK_SEPARATORS`]), plus `base`, in order
/// from the start of `out`; past them, `out` holds what it holds. Eight are written without a
/// branch per position (most blocks hold fewer); those past the set bits take
/// `trailing_zeros` of no bits (64) and may wrap near 64 KiB: never read.
#[inline(always)]
fn block_positions(out: &mut [u16; MAX_BLOCK_SEPARATORS], mut bits: u64, base: u16) {
    let found = bits.count_ones() as usize;
    for slot in &mut out[..8] {
        *slot = base.wrapping_add(bits.trailing_zeros() as u16);
        bits &= bits.wrapping_sub(1);
    }
    for slot in out.iter_mut().take(found).skip(8) {
        *slot = base.wrapping_add(bits.trailing_zeros() as u16);
        bits &= bits.wrapping_sub(1);
    }
}

/// Lines with more separators than this go to [`split_exact`] (ALB lines have at most ~40
/// fields; only hostile lines have more).
const MAX_FAST_SEPARATORS: usize = 64;

/// The one-sweep split (see the module doc). Returns false, with `fields` in any state, for a
/// line it does not handle.
///
/// It takes a line only when, in the masks, every opening quote (a quote where the prefix XOR
/// turns on) is at a field start, every closing quote is right before a separator or the end of
/// the line, the line does not end inside quotes, and no field is empty. Why that makes the
/// split exact: a quoted stretch then opens at a field's first byte and closes on its last, with
/// no quote or separator in between, so that field is `"content"` with no `"` in the content;
/// every other field has no quote at all (a quote in it would open or close a stretch, and
/// both are excluded there), so it runs to the first space. That is the exact splitter's rule.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vbmi2+avx2+bmi1+bmi2+popcnt+lzcnt+pclmulqdq",
    "x86_64+avx2+bmi1+bmi2+popcnt+lzcnt+pclmulqdq",
    "x86_64+popcnt"
))]
fn split_fast<'a>(line: &'a [u8], fields: &mut Fields<'a>) -> bool {
    // The prefix XOR is one carry-less multiply by all ones where the CPU has one: the shift
    // chain is 12 dependent instructions per block, and every mask after it waits for them.
    #[multiversion::target::target_cfg(all(target_arch = "x86_64", target_feature = "pclmulqdq"))]
    #[multiversion::inherit_target]
    #[inline]
    fn prefix_xor(x: u64) -> u64 {
        use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
        let product = _mm_clmulepi64_si128::<0>(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1));
        _mm_cvtsi128_si64(product) as u64
    }
    #[multiversion::target::target_cfg(not(all(
        target_arch = "x86_64",
        target_feature = "pclmulqdq"
    )))]
    #[inline(always)]
    fn prefix_xor(x: u64) -> u64 {
        prefix_xor_shifts(x)
    }

    // With AVX-512 a compare gives the 64-bit mask itself: one compare per mask and block.
    #[multiversion::target::target_cfg(all(target_arch = "x86_64", target_feature = "avx512bw"))]
    #[multiversion::inherit_target]
    #[inline]
    fn masks(block: &[u8; 64]) -> (u64, u64) {
        use std::arch::x86_64::{__m512i, _mm512_cmpeq_epi8_mask, _mm512_set1_epi8};
        // A plain (unaligned) load: `bytemuck` knows `__m512i` is 64 bytes of plain data.
        let v: __m512i = bytemuck::cast(*block);
        (
            _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b' ' as i8)),
            _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
        )
    }
    // The masks 32 bytes at a time where the CPU has AVX2 (`wide` is compiled for the
    // baseline, so its vectors are 16 bytes even in this version): half the compares.
    #[multiversion::target::target_cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        not(target_feature = "avx512bw")
    ))]
    #[multiversion::inherit_target]
    #[inline]
    fn masks(block: &[u8; 64]) -> (u64, u64) {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_set1_epi8,
        };
        let space = _mm256_set1_epi8(b' ' as i8);
        let quote = _mm256_set1_epi8(b'"' as i8);
        let mut spaces = 0u64;
        let mut quotes = 0u64;
        for (k, half) in block.as_chunks::<32>().0.iter().enumerate() {
            // A plain (unaligned) load: `bytemuck` knows `__m256i` is 32 bytes of plain data.
            let v: __m256i = bytemuck::cast(*half);
            let s = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, space)) as u32;
            let q = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) as u32;
            spaces |= u64::from(s) << (32 * k);
            quotes |= u64::from(q) << (32 * k);
        }
        (spaces, quotes)
    }
    #[multiversion::target::target_cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    #[inline(always)]
    fn masks(block: &[u8; 64]) -> (u64, u64) {
        block_masks(block)
    }

    // The positions of a block's set `bits` (at most [`MAX_BLOCK_SEPARATORS`]), plus `base`,
    // in order from the start of `out`; what `out` holds past them is left unspecified.
    // With AVX-512 VBMI2 one compress picks the set bits' indices out of 0..64 at once, where
    // the loop below takes a bit-scan and a clear per position.
    #[multiversion::target::target_cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512vbmi2"
    ))]
    #[multiversion::inherit_target]
    #[inline]
    fn positions(out: &mut [u16; MAX_BLOCK_SEPARATORS], bits: u64, base: u16) {
        use std::arch::x86_64::{
            __m512i, _mm512_add_epi16, _mm512_castsi512_si256, _mm512_cvtepu8_epi16,
            _mm512_maskz_compress_epi8, _mm512_set1_epi16,
        };
        let indices: __m512i = bytemuck::cast(BLOCK_INDICES);
        let packed = _mm512_maskz_compress_epi8(bits, indices);
        let wide = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(packed));
        *out = bytemuck::cast(_mm512_add_epi16(wide, _mm512_set1_epi16(base as i16)));
    }
    #[multiversion::target::target_cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx512vbmi2"
    )))]
    #[inline(always)]
    fn positions(out: &mut [u16; MAX_BLOCK_SEPARATORS], bits: u64, base: u16) {
        block_positions(out, bits, base)
    }

    // First every separator's position, then the fields between them: two loops with regular
    // trip counts, where taking each field as its separator is found costs a branch
    // misprediction per 64-byte block. The slack lets a block write its positions without a
    // branch per position. As u16 (a small array to clear: lines over 64 KiB are declined
    // below).
    let mut separators = [0u16; MAX_FAST_SEPARATORS + MAX_BLOCK_SEPARATORS];
    let mut n = 0usize;
    // Any bit set: a quote or a separator in a place the proof above excludes.
    let mut bad = 0u64;
    // All ones while the sweep is inside a quoted stretch that crosses into the next block.
    let mut carry = 0u64;
    // Bit 0 set when the next block's first byte starts a field (the line's first byte does).
    let mut starts_next = 1u64;
    // Bit 0 set when the previous block ended on a closing quote.
    let mut close_pending = 0u64;

    if line.len() > usize::from(u16::MAX) {
        return false;
    }
    let (blocks, tail) = line.as_chunks::<64>();
    let last = blocks.len();
    for b in 0..=last {
        let (spaces, quotes) = match blocks.get(b) {
            Some(block) => masks(block),
            None if tail.is_empty() => (0, 0),
            // The tail: the masks of the line's last 64 bytes, shifted down to the tail's own
            // (a copy into a zeroed block was a `memcpy` call per line).
            None => match line.last_chunk::<64>() {
                Some(end) => {
                    let (spaces, quotes) = masks(end);
                    let shift = 64 - tail.len();
                    (spaces >> shift, quotes >> shift)
                }
                None => {
                    let mut padded = [0u8; 64];
                    padded[..tail.len()].copy_from_slice(tail);
                    masks(&padded)
                }
            },
        };
        let inside = prefix_xor(quotes) ^ carry;
        carry = 0u64.wrapping_sub(inside >> 63);
        let bits = spaces & !inside;
        // The end of the line is in the last block (the tail, maybe empty): it acts as a
        // separator.
        let end = if b == last { 1u64 << tail.len() } else { 0 };
        let starts = (bits << 1) | starts_next;
        let ends = bits | end;
        let closes = quotes & !inside;
        bad |= quotes & inside & !starts; // an opening quote inside a field
        bad |= ((closes << 1) | close_pending) & !ends; // a closing quote not at a field's end
        bad |= ends & starts; // an empty field
        starts_next = bits >> 63;
        close_pending = closes >> 63;

        // More than MAX_BLOCK_SEPARATORS in a block means two adjacent spaces, an empty field
        // that `bad` declines anyway.
        let found = bits.count_ones() as usize;
        if found > MAX_BLOCK_SEPARATORS || n + found > MAX_FAST_SEPARATORS {
            return false;
        }
        let Some(out) = separators
            .get_mut(n..n + MAX_BLOCK_SEPARATORS)
            .and_then(|out| <&mut [u16; MAX_BLOCK_SEPARATORS]>::try_from(out).ok())
        else {
            return false;
        };
        // In range of u16: longer lines were declined above.
        positions(out, bits, (b * 64) as u16);
        n += found;
    }
    if bad | carry != 0 {
        return false;
    }

    // The proof above makes each field non-empty, quoted exactly when its first byte is a
    // quote, and then also closed by its last byte: a known field's content is its span less
    // one byte at either end when quoted. Fields after the known ones need nothing more than
    // their count.
    let Some(last_end) = separators.get_mut(n) else {
        return false;
    };
    *last_end = line.len() as u16;
    let count = n + 1;
    let known = count.min(KNOWN_FIELDS);
    let (Some(ends), Some(slots)) = (separators.get(..known), fields.ends.get_mut(..known)) else {
        return false;
    };
    let mut quoted_mask = 0u64;
    let mut start = 0usize;
    for (i, (slot, &end)) in slots.iter_mut().zip(ends).enumerate() {
        *slot = u32::from(end);
        quoted_mask |= u64::from(line.get(start) == Some(&b'"')) << i;
        start = usize::from(end) + 1;
    }
    fields.count = count;
    fields.quoted_mask = quoted_mask;
    true
}

// ---------------------------------------------------------------------------------------------
// The field-by-field splitter

/// `take_until` for a single byte, as a `nom` parser that calls [`find_byte`] directly. (nom
/// 8's generic `take_until` on `&[u8]` also ends in `memchr` for a one-byte needle, but through
/// `FindSubstring` and `Input::take_from` calls that are not inlined: ~15% of the parse time.)
/// Fails (with the free error `()`) when the byte does not occur.
#[inline]
fn until<const B: u8>(input: &[u8]) -> IResult<&[u8], &[u8], ()> {
    match find_byte::<B>(input) {
        Some(i) => {
            let (before, from) = input.split_at(i);
            Ok((from, before))
        }
        None => Err(nom::Err::Error(())),
    }
}

/// Bytes [`find_byte`] looks at eight at a time, inline, before it calls `memchr`.
const SHORT_FIELD: usize = 32;

/// The first `B` in `hay`. Most fields are short (a status, a time, an address: under
/// [`SHORT_FIELD`] bytes), and for them the set-up of a `memchr` call costs more than the
/// search; so the first bytes are searched here eight at a time in a `u64` (SWAR, safe code),
/// and only a longer field (user agent, request, ARN) goes on to `memchr`'s vector loop.
#[inline(always)]
fn find_byte<const B: u8>(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let splat = ONES * u64::from(B);
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    while at < SHORT_FIELD {
        let Some(word) = words.next() else { break };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ splat;
        // 0x80 in exactly the bytes of `x` that are zero (no borrow between bytes: the sum
        // of two 7-bit values fits in 8 bits), i.e. where `B` is.
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = hay.get(at..)?;
    memchr(B, rest).map(|i| at + i)
}

/// `"content"`: the content may hold spaces but never a `"`.
#[inline]
fn quoted(input: &[u8]) -> IResult<&[u8], &[u8], ()> {
    delimited(tag(&b"\""[..]), until::<b'"'>, tag(&b"\""[..])).parse(input)
}

/// A bare field: everything up to the next space, or the rest of the line.
#[inline]
fn bare(input: &[u8]) -> IResult<&[u8], &[u8], ()> {
    alt((until::<b' '>, rest)).parse(input)
}

/// The definition of the split: field by field, naming the first field that breaks the rule.
pub(crate) fn split_exact<'a>(line: &'a [u8], fields: &mut Fields<'a>) -> Result<(), ParseError> {
    let mut input = line;
    loop {
        let field = fields.count + 1;
        let (after, is_quoted) = match input.first() {
            None | Some(b' ') => return Err(ParseError::EmptyField { field }),
            Some(b'"') => {
                let (after, _) =
                    quoted(input).map_err(|_| ParseError::UnterminatedQuote { field })?;
                (after, true)
            }
            Some(_) => {
                let (after, _) = bare(input).map_err(|_| ParseError::EmptyField { field })?;
                (after, false)
            }
        };
        fields.push(line.len() - after.len(), is_quoted);
        match after.split_first() {
            None => return Ok(()),
            Some((b' ', next)) => input = next,
            // Only after a closing quote: a bare field runs up to a space.
            Some(_) => return Err(ParseError::JunkAfterQuote { field }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_agrees_with_memchr() {
        // Every position of the needle (and none) in haystacks around the word and SHORT_FIELD
        // boundaries, with bytes that differ from the needle in one bit (borrow cases).
        for len in 0..80 {
            for at in (0..len).map(Some).chain([None]) {
                let mut hay: Vec<u8> = (0..len).map(|i| [b'!', b'\xa0', b'0', 0][i % 4]).collect();
                if let Some(at) = at {
                    hay[at] = b' ';
                    if at + 3 < len {
                        hay[at + 3] = b' ';
                    }
                }
                assert_eq!(find_byte::<b' '>(&hay), memchr(b' ', &hay), "{hay:?}");
                assert_eq!(find_byte::<b'"'>(&hay), memchr(b'"', &hay), "{hay:?}");
            }
        }
    }

    fn fast(line: &[u8]) -> Option<Fields<'_>> {
        let mut f = Fields::new(line);
        split_fast(line, &mut f).then_some(f)
    }

    #[test]
    fn prefix_xor_marks_quoted_stretches() {
        assert_eq!(prefix_xor_shifts(0), 0);
        assert_eq!(prefix_xor_shifts(0b1001), 0b0111);
        assert_eq!(prefix_xor_shifts(1 << 63), 1 << 63);
        assert_eq!(prefix_xor_shifts(1), u64::MAX);
    }

    /// The masks of the portable version (the one CPUs without AVX2 run; the tests on an AVX2
    /// machine never dispatch to it) against their definition.
    #[test]
    fn portable_block_masks_mark_every_space_and_quote() {
        let mut block = [0u8; 64];
        for seed in 0..200u64 {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = [b' ', b'"', b'a', b'\0', 0x80 | b' ', 0xff][(x % 6) as usize];
            }
            let (spaces, quotes) = block_masks(&block);
            for (i, &b) in block.iter().enumerate() {
                assert_eq!(
                    spaces >> i & 1 == 1,
                    b == b' ',
                    "space bit {i}, seed {seed}"
                );
                assert_eq!(
                    quotes >> i & 1 == 1,
                    b == b'"',
                    "quote bit {i}, seed {seed}"
                );
            }
        }
    }

    /// The portable positions (what CPUs without AVX-512 VBMI2 run) against their definition.
    #[test]
    fn portable_block_positions_list_every_set_bit_in_order() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every count of set bits up to the most a block may hold, at random places.
            let mut bits = x;
            while bits.count_ones() as usize > round % (MAX_BLOCK_SEPARATORS + 1) {
                bits &= bits - 1;
            }
            let base = (round as u16).wrapping_mul(64);
            let mut out = [0u16; MAX_BLOCK_SEPARATORS];
            block_positions(&mut out, bits, base);
            let want: Vec<u16> = (0..64u16)
                .filter(|i| bits >> i & 1 == 1)
                .map(|i| base.wrapping_add(i))
                .collect();
            assert_eq!(&out[..want.len()], &want[..], "bits {bits:#x}");
        }
    }

    /// Which version of [`split_fast`] this CPU runs: the tiers of its `multiversion` targets,
    /// from the same features.
    fn split_tier() -> &'static str {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("lzcnt")
                && std::arch::is_x86_feature_detected!("pclmulqdq");
            let avx512 = avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vbmi2");
            if avx512 {
                return "avx512";
            }
            if avx2 {
                return "avx2";
            }
            if std::arch::is_x86_feature_detected!("popcnt") {
                return "popcnt";
            }
        }
        "baseline"
    }

    /// `.ci/test` runs the split's and the parser's tests again under `qemu-x86_64` with older
    /// CPUs, so that every version of the split is tested on a machine that has AVX-512; it
    /// names the version each CPU must select in `GREENLIGHT_EXPECT_SPLIT`, and this fails when
    /// the emulated CPU does not select it (the other tests would then test the wrong one).
    #[test]
    fn the_cpu_selects_the_version_of_the_split_the_run_expects() {
        let tier = split_tier();
        eprintln!("split version: {tier}");
        if let Ok(expected) = std::env::var("GREENLIGHT_EXPECT_SPLIT") {
            assert_eq!(tier, expected);
        }
    }

    #[test]
    fn a_field_is_cut_only_when_asked_for_and_absent_fields_are_empty() {
        let line = br#"h2 "GET / HTTP/1.1" x"#;
        for fields in [fast(line).expect("well formed"), {
            let mut f = Fields::new(line);
            split_exact(line, &mut f).expect("well formed");
            f
        }] {
            assert_eq!(fields.count, 3);
            assert_eq!(fields.get(1), b"h2");
            assert_eq!(fields.get(2), b"GET / HTTP/1.1");
            assert_eq!(fields.get(3), b"x");
            // With the rest of the line from the content on (what vector checks read).
            assert_eq!(
                fields.get_with_rest(2),
                (&b"GET / HTTP/1.1"[..], &br#"GET / HTTP/1.1" x"#[..])
            );
            assert_eq!(fields.get_with_rest(3), (&b"x"[..], &b"x"[..]));
            // Not fields of this line, or of any line.
            for n in [0, 4, KNOWN_FIELDS, KNOWN_FIELDS + 1, usize::MAX] {
                assert_eq!(fields.get(n), b"", "{n}");
            }
            for n in [4, KNOWN_FIELDS, KNOWN_FIELDS + 1] {
                assert_eq!(fields.get_with_rest(n), (&b""[..], &b""[..]), "{n}");
            }
        }
    }

    #[test]
    fn a_block_of_one_byte_fields_is_split_and_a_run_of_spaces_declined() {
        // 32 separators in one block, the most a block without an empty field holds.
        let line = "a ".repeat(40) + "a";
        let f = fast(line.as_bytes()).expect("one-byte fields");
        assert_eq!(f.count, 41);
        assert!((1..=KNOWN_FIELDS).all(|n| f.get(n) == b"a"));
        // 40 spaces in a row: more than a block may hold, and empty fields anyway.
        let line = format!("a{}b", " ".repeat(40));
        assert!(fast(line.as_bytes()).is_none());
        assert!(fast_agrees_with_exact(line.as_bytes()));
    }

    #[test]
    fn the_fast_split_takes_well_formed_lines_across_block_boundaries() {
        // Quoted fields with spaces that straddle the 64-byte blocks at every offset.
        for pad in 0..140 {
            let line = format!(
                "h2 {} \"GET /a b HTTP/1.1\" \"Mozilla/5.0 (X11; {} x)\" - \"\" end",
                "x".repeat(pad + 1),
                "y".repeat(pad)
            );
            let f = fast(line.as_bytes()).unwrap_or_else(|| panic!("declined {line}"));
            assert_eq!(f.count, 7, "{line}");
            assert_eq!(f.quoted_mask, 0b10_1100, "{line}");
            assert_eq!(f.get(3), b"GET /a b HTTP/1.1");
            assert_eq!(f.get(6), b"");
            assert_eq!(f.get(7), b"end");
            assert!(fast_agrees_with_exact(line.as_bytes()));
        }
    }

    #[test]
    fn the_fast_split_declines_what_it_cannot_prove() {
        for line in [
            &b""[..],
            b"a  b",
            b"a b ",
            b" a",
            b"a \"b",
            b"a \"b\"c d",
            b"a b\"c d",
            b"a \"b\"\" c",
            b"a \"",
            b"\"a\"\"b\"",
        ] {
            assert!(fast(line).is_none(), "{}", String::from_utf8_lossy(line));
            assert!(fast_agrees_with_exact(line));
        }
    }

    #[test]
    fn lines_over_64_kib_go_to_the_exact_splitter_whole() {
        // The sweep keeps positions as u16: past 65,535 bytes it declines, at the limit it
        // still splits, and the exact splitter takes the longer line whole.
        for (len, taken) in [(65_535usize, true), (65_536, false), (70_000, false)] {
            let mut line = b"a \"".to_vec();
            line.resize(len - 3, b'x');
            line.extend_from_slice(b"\" b");
            assert_eq!(line.len(), len);
            assert_eq!(fast(&line).is_some(), taken, "{len}");
            let mut fields = Fields::new(&line);
            split_fields(&line, &mut fields).unwrap();
            assert_eq!(fields.count, 3, "{len}");
            assert_eq!(fields.get(2).len(), len - 6, "{len}");
            assert_eq!(fields.get(3), b"b");
        }
    }

    #[test]
    fn both_splitters_agree_on_every_short_line_of_spaces_quotes_and_letters() {
        // Every line of up to 9 bytes over {space, quote, 'a'}, and the same lines pushed across
        // a block boundary.
        let alphabet = [b' ', b'"', b'a'];
        let mut lines = 0;
        for len in 0..=9u32 {
            for n in 0..3usize.pow(len) {
                let line: Vec<u8> = (0..len).map(|i| alphabet[n / 3usize.pow(i) % 3]).collect();
                let mut shifted = vec![b'z'; 60];
                shifted.push(b' ');
                shifted.extend_from_slice(&line);
                for l in [&line, &shifted] {
                    assert!(fast_agrees_with_exact(l), "{l:?}");
                    // And the fast split declines only what it must: lines the exact split
                    // refuses, and lines with a quote inside a bare field.
                    let mut exact = Fields::new(l);
                    let must_decline = split_exact(l, &mut exact).is_err()
                        || (0..exact.count).any(|i| {
                            exact.quoted_mask >> i & 1 == 0 && exact.get(i + 1).contains(&b'"')
                        });
                    assert_eq!(fast(l).is_none(), must_decline, "{l:?}");
                }
                lines += 1;
            }
        }
        assert_eq!(lines, (0..=9).map(|l| 3usize.pow(l)).sum::<usize>());
    }
}
