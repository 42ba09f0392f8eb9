//! The run's trace hash: every event the simulator processes is folded into it, so two
//! runs with the same hash took the same path, bit for bit.

/// A 64-bit running hash (FNV-1a over words, then a final mix).
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    state: u64,
    events: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            state: 0xCBF2_9CE4_8422_2325,
            events: 0,
        }
    }
}

impl Trace {
    /// Folds one word in.
    pub(crate) fn word(&mut self, word: u64) {
        self.state ^= word;
        self.state = self.state.wrapping_mul(0x0000_0100_0000_01B3);
    }

    /// Folds in an event: a tag and its words.
    pub(crate) fn event(&mut self, tag: u8, words: &[u64]) {
        self.events += 1;
        self.word(u64::from(tag));
        for &w in words {
            self.word(w);
        }
    }

    /// Folds in bytes, eight at a time.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// The hash so far.
    pub(crate) fn hash(&self) -> u64 {
        let mut z = self.state ^ self.events.rotate_left(32);
        z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        z ^ (z >> 33)
    }

    /// Events folded in so far.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }
}
