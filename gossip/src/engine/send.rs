//! Building outgoing messages: envelope, piggybacked updates within the size limit, and
//! the bounded transmit queue.

use lattice_crdt::NodeId;

use super::message::{self, encoded_len, len_with_updates, Body, Envelope, Update};
use super::updates::retransmit_limit;
use super::{Address, Engine, Kind, MemberState, Transmit};

/// Room left in a stream message for piggybacked updates after a full membership sync.
const SYNC_HEADROOM_BYTES: usize = 4096;

impl<A: Address> Engine<A> {
    /// Sends `body` to `to` (member `to_id` if known), piggybacking what fits: first the
    /// recipient's own record if we hold it as not alive (so it can refute), then queued
    /// updates, least sent first.
    pub(super) fn send(&mut self, to: A, to_id: Option<NodeId>, body: Body<A>) {
        let kind = Self::body_kind(&body);
        let max = match kind {
            Kind::Datagram => self.config.datagram_bytes_max,
            Kind::Stream => self.config.stream_bytes_max,
        };
        let mut forced: Vec<Update<A>> = to_id
            .and_then(|id| self.notice_for(id))
            .into_iter()
            .collect();
        if let Some(id) = to_id.filter(|_| !forced.is_empty()) {
            let now = Some(self.now);
            if let Some(m) = self.members.get_mut(&id) {
                m.told_at = now;
                m.meta_asked = true; // if that was the notice: asked once
            } else if let Some(t) = self.tombstones.get_mut(&id) {
                t.told_at = now;
            }
        }
        if to_id.is_some() && to_id == self.announce_to {
            self.announce_to = None;
            forced.push(self.self_update());
        }
        if let Some((_, left)) = self.correct.filter(|(to, _)| Some(*to) == to_id) {
            self.correct = None;
            forced.extend(self.left_record(left));
        }
        let envelope = Envelope {
            sender: self.id,
            sender_addr: self.addr.clone(),
            incarnation: self.incarnation,
            to: to_id,
            body,
            updates: Vec::new(),
        };
        // The version byte and the message without updates: measured, not encoded.
        let base = 1 + encoded_len(&envelope);
        let forced_bytes: usize = forced.iter().map(encoded_len).sum();
        let limit = retransmit_limit(self.config.retransmit_mult.get(), self.cluster_size());
        // Piggybacked news takes at most a datagram's room, on streams too: news spreads
        // by being sent to many random members, not by filling one large message.
        let room = self.config.datagram_bytes_max;
        let fits = |count: usize, bytes: usize| {
            len_with_updates(base, count + forced.len(), bytes + forced_bytes) <= max
                && bytes <= room
        };
        let (forced, (count, queued)) = if fits(0, 0) {
            (&forced[..], self.updates.take(limit, to_id, fits))
        } else {
            (&[][..], (0, Vec::new()))
        };
        let capacity = (base + forced_bytes + room).min(max);
        let bytes = message::encode_with_updates(&envelope, forced, count, &queued, capacity);
        self.enqueue(to, bytes, kind, max);
    }

    fn enqueue(&mut self, to: A, bytes: Vec<u8>, kind: Kind, max: usize) {
        if bytes.len() > max || self.transmits.len() >= self.config.transmit_queue_max {
            self.stats.transmits_dropped += 1;
            return;
        }
        self.transmits.push_back(Transmit { to, bytes, kind });
    }

    /// What `id` should hear about itself: our record of it if we hold it down, or
    /// suspect (only with Lifeguard: its "buddy system"), or alive without metadata,
    /// which asks for it once (the member answers with its own record). A member learned
    /// of from its own message (which carries none) lacks it, and the few transmissions
    /// of its news may all have gone elsewhere. Only a node that announces metadata
    /// asks: a cluster that announces none pays nothing.
    pub(super) fn notice_for(&self, id: NodeId) -> Option<Update<A>> {
        // In the table or tombstoned, never both; the table is the common case.
        let Some(m) = self.members.get(&id) else {
            let t = self.tombstones.get(&id)?;
            return Some(self.down_record(id, t.incarnation, t.left));
        };
        match m.state {
            MemberState::Alive if m.meta_asked || !m.meta.is_empty() || self.meta.is_empty() => {
                None
            }
            MemberState::Alive => Some(Update::Alive {
                id,
                addr: m.addr.clone(),
                incarnation: m.incarnation,
                meta: m.meta.clone(),
            }),
            MemberState::Suspect if !self.config.lifeguard => None,
            MemberState::Suspect => Some(Update::Suspect {
                id,
                incarnation: m.incarnation,
                from: self.id,
            }),
            MemberState::Dead => Some(self.down_record(id, m.incarnation, false)),
            MemberState::Left => Some(self.down_record(id, m.incarnation, true)),
        }
    }

    /// Our record that `id` left, if we hold one (in the table or as a tombstone).
    pub(super) fn left_record(&self, id: NodeId) -> Option<Update<A>> {
        let incarnation = match self.members.get(&id) {
            Some(m) if m.state == MemberState::Left => m.incarnation,
            Some(_) => return None,
            None => self.tombstones.get(&id).filter(|t| t.left)?.incarnation,
        };
        Some(Update::Left { id, incarnation })
    }

    /// Our record of a member that is down.
    pub(super) fn down_record(&self, id: NodeId, incarnation: u64, left: bool) -> Update<A> {
        if left {
            Update::Left { id, incarnation }
        } else {
            Update::Dead {
                id,
                incarnation,
                from: self.id,
            }
        }
    }

    /// Sends our full membership to `to` (push–pull; `reply` answers a request).
    pub(super) fn send_sync(&mut self, to: A, to_id: Option<NodeId>, reply: bool) {
        let members = self.full_state();
        self.send(to, to_id, Body::Sync { reply, members });
    }

    /// Everything we know, as records: ourselves, members, tombstones; cut to fit a
    /// stream message with room to spare.
    ///
    /// A member held suspect or dead (or reaped, not left) goes as its record alive at
    /// its incarnation followed by that doubt: a receiver that does not know the member
    /// learns its address from the pair, so it can probe or remind it, instead of
    /// dropping the doubt about a member it cannot reach (see
    /// [`Engine::apply_sync_records`]). The budget takes or leaves a pair whole.
    pub(super) fn full_state(&self) -> Vec<Update<A>> {
        let budget = self
            .config
            .stream_bytes_max
            .saturating_sub(SYNC_HEADROOM_BYTES);
        let alive = |id: NodeId, addr: &A, incarnation: u64, meta: &[u8]| Update::Alive {
            id,
            addr: addr.clone(),
            incarnation,
            meta: meta.to_vec(),
        };
        let members = self.sorted_members().into_iter().map(|m| {
            let record = alive(m.id, &m.addr, m.incarnation, &m.meta);
            match m.state {
                MemberState::Alive => vec![record],
                MemberState::Suspect => vec![
                    record,
                    Update::Suspect {
                        id: m.id,
                        incarnation: m.incarnation,
                        from: self.id,
                    },
                ],
                MemberState::Dead => vec![record, self.down_record(m.id, m.incarnation, false)],
                MemberState::Left => vec![self.down_record(m.id, m.incarnation, true)],
            }
        });
        let tombstones = self.tombstones.iter().map(|(id, t)| {
            let down = self.down_record(*id, t.incarnation, t.left);
            if t.left {
                vec![down]
            } else {
                vec![alive(*id, &t.addr, t.incarnation, &[]), down]
            }
        });
        let all = std::iter::once(vec![self.self_update()])
            .chain(members)
            .chain(tombstones);
        let mut used = 0;
        all.take_while(|group| {
            used += group.iter().map(encoded_len).sum::<usize>();
            used <= budget
        })
        .flatten()
        .collect()
    }
}
