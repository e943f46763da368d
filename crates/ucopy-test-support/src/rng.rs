//! One deterministic random stream for every generated tree and file: SplitMix64, tiny and fully
//! specified, so a corpus or test tree is the same on every machine and with every dependency
//! version (a crate's generator may change its stream between releases; this one never does
//! without the bench's `GENERATOR_VERSION` being bumped).

/// SplitMix64. Output `i` (from 1) is `mix(seed + i·γ)`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (multiply-high; the bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Fills `buf` with the stream's next bytes, 8 per output, little-endian (callers use
    /// multiples of 8 except for the final chunk, so chunked and one-shot fills agree).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// `len` bytes of the stream for `seed` ([`Rng::fill`] from the start). Every offset differs,
/// so a shifted, repeated or zero-filled block is caught.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    pattern_at(seed, 0, len)
}

/// Bytes `[off, off + len)` of [`pattern`]'s stream for `seed`, without generating the bytes
/// before `off` (word `w` is output `w + 1` of `Rng::new(seed)`).
pub fn pattern_at(seed: u64, off: u64, len: usize) -> Vec<u8> {
    let skip = (off % 8) as usize;
    let mut out = vec![0u8; (len + skip).next_multiple_of(8)];
    Rng::new(seed.wrapping_add((off / 8).wrapping_mul(GAMMA))).fill(&mut out);
    out.drain(..skip);
    out.truncate(len);
    out
}

/// Like [`pattern`] but no byte is zero, so zero padding never looks like data.
pub fn pattern_nonzero(seed: u64, len: usize) -> Vec<u8> {
    pattern(seed, len).into_iter().map(|b| b.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs for seed 0 from the reference implementation (Vigna).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn pattern_at_is_a_window_of_the_stream() {
        let whole = pattern(7, 100);
        let mut filled = vec![0u8; 100];
        Rng::new(7).fill(&mut filled);
        assert_eq!(whole, filled);
        for off in [0u64, 1, 7, 8, 13, 64] {
            assert_eq!(
                pattern_at(7, off, 20),
                whole[off as usize..off as usize + 20]
            );
        }
        assert_ne!(pattern(7, 64), pattern(8, 64));
        assert!(pattern_nonzero(7, 4096).iter().all(|&b| b != 0));
    }

    #[test]
    fn below_and_shuffle_stay_in_range() {
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
