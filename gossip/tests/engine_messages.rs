//! Untrusted bytes: `handle_message` never panics on arbitrary or mutated input, and
//! refused input changes nothing but the counters.

use std::time::Duration;

use lattice_crdt::NodeId;
use lattice_gossip::engine::{Config, Engine, MemberInfo};
use proptest::prelude::*;

fn node(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// Real messages of every kind, captured from two engines talking.
fn corpus() -> Vec<Vec<u8>> {
    let mut a = Engine::new(node(1), 1u32, Config::default(), 1);
    let mut b = Engine::new(node(2), 2u32, Config::default(), 2);
    a.join(Duration::ZERO, &[2]);
    let mut out = Vec::new();
    let mut now = Duration::ZERO;
    for step in 0..400u64 {
        now += Duration::from_millis(50);
        if step == 100 {
            a.broadcast(now, [9; 16], b"payload".to_vec());
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(t) = a.poll_transmit() {
            out.push(t.bytes.clone());
            let _ = b.handle_message(now, 1, &t.bytes);
        }
        while let Some(t) = b.poll_transmit() {
            out.push(t.bytes.clone());
            let _ = a.handle_message(now, 2, &t.bytes);
        }
    }
    assert!(out.len() > 20, "corpus too small: {}", out.len());
    out
}

fn snapshot(e: &Engine<u32>) -> Vec<MemberInfo<u32>> {
    e.members().collect()
}

/// An engine that knows a few members, to notice any state change.
fn populated() -> Engine<u32> {
    let mut e = Engine::new(node(3), 3u32, Config::default(), 3);
    let corpus = corpus();
    for bytes in &corpus {
        let _ = e.handle_message(Duration::from_secs(1), 1, bytes);
    }
    while e.poll_transmit().is_some() {}
    while e.poll_event().is_some() {}
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut e = Engine::new(node(3), 3u32, Config::default(), 3);
        let _ = e.handle_message(Duration::from_secs(1), 9, &bytes);
        let mut versioned = vec![1u8];
        versioned.extend(&bytes);
        let _ = e.handle_message(Duration::from_secs(1), 9, &versioned);
    }

    #[test]
    fn mutated_messages_never_panic_and_refusals_change_nothing(
        pick in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let corpus = corpus();
        let mut bytes = pick.get(&corpus).clone();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let cut_at = cut.index(bytes.len() + 1);
        let mut e = populated();
        let stats = e.stats();
        for candidate in [bytes.clone(), bytes[..cut_at].to_vec()] {
            while e.poll_transmit().is_some() {}
            while e.poll_event().is_some() {}
            let before = snapshot(&e);
            if e.handle_message(Duration::from_secs(1), 9, &candidate).is_err() {
                prop_assert_eq!(snapshot(&e), before);
                prop_assert!(e.poll_transmit().is_none());
                prop_assert!(e.poll_event().is_none());
            }
        }
        prop_assert!(e.stats().messages_received == stats.messages_received + 2);
    }
}

#[test]
fn oversized_and_self_addressed_messages_are_refused() {
    let mut e = populated();
    let huge = vec![1u8; Config::default().stream_bytes_max + 1];
    assert!(e.handle_message(Duration::from_secs(2), 9, &huge).is_err());
    let corpus = corpus();
    let mut from_self = Engine::new(node(1), 1u32, Config::default(), 5);
    let own = corpus
        .iter()
        .filter(|b| from_self.handle_message(Duration::ZERO, 1, b).is_err())
        .count();
    assert!(
        own > 0,
        "messages claiming to be from this node are refused"
    );
    assert!(e.stats().malformed_dropped >= 1);
}
