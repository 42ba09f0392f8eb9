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

    /// Folds in bytes, eight at a time (little-endian words, the last one padded with
    /// zeros). Every message goes through here: whole words first, without a copy.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            self.word(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
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

#[cfg(test)]
mod tests {
    use super::Trace;

    /// Bytes fold in as the words they make, the last one padded with zeros: the same
    /// hash as folding those words one by one, for every length.
    #[test]
    fn bytes_fold_in_as_padded_words() {
        let data: Vec<u8> = (1..=40).collect();
        for len in 0..=data.len() {
            let (mut by_bytes, mut by_words) = (Trace::default(), Trace::default());
            by_bytes.bytes(&data[..len]);
            by_words.word(len as u64);
            for start in (0..len).step_by(8) {
                let mut w = [0u8; 8];
                let end = (start + 8).min(len);
                w[..end - start].copy_from_slice(&data[start..end]);
                by_words.word(u64::from_le_bytes(w));
            }
            assert_eq!(by_bytes.hash(), by_words.hash(), "length {len}");
        }
    }
}
