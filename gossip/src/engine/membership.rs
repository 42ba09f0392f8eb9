//! Applying membership news: SWIM's state transitions, refutation, suspicion timeouts,
//! reaping and tombstones.

use lattice_crdt::NodeId;

use super::member::{supersedes, Member, MemberBody, MemberState};
use super::message::Update;
use super::phi::PhiAccrual;
use super::suspicion::Suspicion;
use super::{Address, Engine, Event, Phase, Timer, Tombstone};

impl<A: Address> Engine<A> {
    /// Applies one piece of news from gossip.
    pub(super) fn apply_update(&mut self, update: Update<A>) {
        if update.subject() == self.id {
            return self.about_self(update);
        }
        let id = update.subject();
        let missed_leave = match update {
            Update::Alive {
                id,
                addr,
                incarnation,
                meta,
            } => self.apply_alive(id, addr, incarnation, Some(meta)),
            Update::Suspect {
                id,
                incarnation,
                from,
            } => self.apply_suspect(id, incarnation, from),
            Update::Dead {
                id, incarnation, ..
            } => self.apply_down(id, incarnation, MemberState::Dead),
            Update::Left { id, incarnation } => self.apply_down(id, incarnation, MemberState::Left),
        };
        if missed_leave {
            self.note_missed_leave(id);
        }
    }

    /// Notes that the message being handled showed its sender missed that `id` left;
    /// the first such member of a message is noted, and the sender told
    /// ([`Engine::receive`]).
    pub(super) fn note_missed_leave(&mut self, id: NodeId) {
        self.behind_on.get_or_insert(id);
    }

    /// Whether we hold a tombstone of `id` that says it left at `incarnation` or later.
    fn left_tombstone(&self, id: NodeId, incarnation: u64) -> bool {
        self.tombstones
            .get(&id)
            .is_some_and(|t| t.left && incarnation <= t.incarnation)
    }

    /// Applies a peer's full membership. A record alive followed by a doubt about the
    /// same member (suspect, dead) is a pair that carries the doubted member's address
    /// ([`Engine::full_state`]): a member we know takes the doubt alone, as from gossip;
    /// one we do not know is added, and then doubted, so that we can reach it. Without
    /// the address the doubt was dropped, and a node that joined or restarted while a
    /// member was held dead never heard of that member again unless it happened to
    /// message us: if its refutation went round while we joined, it passed us by (a
    /// 50-node swarm seed, 940045, had a restarted node not know a member 16 s after
    /// heal).
    pub(super) fn apply_sync_records(&mut self, sender: NodeId, records: Vec<Update<A>>) {
        let mut records = records.into_iter().peekable();
        while let Some(record) = records.next() {
            let id = record.subject();
            let pair = matches!(record, Update::Alive { .. })
                && records.peek().is_some_and(|next| {
                    next.subject() == id
                        && matches!(next, Update::Suspect { .. } | Update::Dead { .. })
                });
            if pair {
                let doubt = records.next().expect("peeked");
                let known = self.members.contains_key(&id) || self.tombstones.contains_key(&id);
                if !known && id != self.id {
                    self.apply_sync_record(sender, record);
                }
                self.apply_sync_record(sender, doubt);
            } else {
                self.apply_sync_record(sender, record);
            }
        }
    }

    /// Applies one record of a peer's full membership: as gossip, except that a peer's
    /// "dead" about a member we hold reachable only makes it suspect (the peer may just
    /// have been cut off from it; the member gets a chance to refute).
    fn apply_sync_record(&mut self, sender: NodeId, update: Update<A>) {
        if let Update::Dead {
            id, incarnation, ..
        } = update
        {
            if id != self.id && self.members.get(&id).is_some_and(|m| m.is_reachable()) {
                self.apply_suspect(id, incarnation, sender);
                return;
            }
        }
        self.apply_update(update);
    }

    /// News about ourselves: refute anything but "alive" at our incarnation or above.
    fn about_self(&mut self, update: Update<A>) {
        if self.phase == Phase::Left {
            return;
        }
        let (incarnation, alive) = match update {
            Update::Alive {
                incarnation, meta, ..
            } => {
                // Our record without our metadata: the sender gets our own record.
                self.unheard |= incarnation == self.incarnation && meta != self.meta;
                (incarnation, true)
            }
            Update::Suspect { incarnation, .. }
            | Update::Dead { incarnation, .. }
            | Update::Left { incarnation, .. } => (incarnation, false),
        };
        self.doubted |= !alive;
        if (alive && incarnation > self.incarnation) || (!alive && incarnation >= self.incarnation)
        {
            self.refute(incarnation);
        }
    }

    fn refute(&mut self, over: u64) {
        self.incarnation = over.saturating_add(1);
        self.updates.push(self.self_update());
        self.stats.refutations += 1;
        if self.config.lifeguard {
            self.awareness.apply(1);
        }
    }

    /// A member is alive at `incarnation` (from gossip, with its metadata, or from its
    /// own message, without). A member's metadata is fixed per incarnation (it raises its
    /// incarnation to change it), so metadata newly learned at the member's incarnation
    /// is taken and spread even when the news is otherwise not new.
    ///
    /// Returns whether we hold that the member left, at that incarnation or later: the
    /// news shows its sender missed the leave. So do the other `apply_` functions.
    pub(super) fn apply_alive(
        &mut self,
        id: NodeId,
        addr: A,
        incarnation: u64,
        meta: Option<Vec<u8>>,
    ) -> bool {
        let now = self.now;
        // A member is in the table or has a tombstone, never both: most news is about
        // members in the table, so they are looked up first.
        let Some(m) = self.members.get_mut(&id) else {
            if let Some(t) = self.tombstones.get(&id) {
                if incarnation <= t.incarnation {
                    return t.left;
                }
                self.tombstones.remove(&id);
            }
            self.add_member(id, addr, incarnation, meta.unwrap_or_default());
            return false;
        };
        // Empty metadata at the member's own incarnation is news from a node that had
        // not heard it yet (it learned of the member from the member's own message).
        let learned = meta.filter(|meta| {
            let newer = incarnation > m.incarnation || !meta.is_empty();
            newer && incarnation >= m.incarnation && *meta != m.meta
        });
        if !supersedes(MemberState::Alive, incarnation, m.state, m.incarnation) {
            let left = m.state == MemberState::Left;
            if let Some(meta) = learned {
                m.meta = meta.clone();
                let (addr, incarnation) = (m.addr.clone(), m.incarnation);
                if m.state == MemberState::Alive {
                    self.announce_alive(id, addr, incarnation, meta, false);
                }
            }
            return left;
        }
        if let Some(meta) = learned {
            m.meta = meta;
        }
        let (was, moved) = (m.state, m.addr != addr);
        m.state = MemberState::Alive;
        m.incarnation = incarnation;
        m.addr = addr.clone();
        m.suspicion = None;
        if was != MemberState::Alive {
            m.since = now;
        }
        let meta = m.meta.clone();
        self.timers.cancel(Timer::Suspicion(id));
        let up = was != MemberState::Alive || moved;
        self.announce_alive(id, addr, incarnation, meta, up);
        false
    }

    /// Spreads that `id` is alive at `incarnation`, and tells the application if `up`.
    fn announce_alive(&mut self, id: NodeId, addr: A, incarnation: u64, meta: Vec<u8>, up: bool) {
        if up {
            self.emit(Event::MemberUp {
                id,
                addr: addr.clone(),
            });
        }
        self.updates.push(Update::Alive {
            id,
            addr,
            incarnation,
            meta,
        });
    }

    fn add_member(&mut self, id: NodeId, addr: A, incarnation: u64, meta: Vec<u8>) {
        debug_assert!(
            !self.tombstones.contains_key(&id),
            "member {id} added while it has a tombstone"
        );
        if self.members.len() >= self.config.members_max {
            self.stats.members_refused += 1;
            return;
        }
        let c = &self.config;
        let window = c.phi_window_samples.get() as usize;
        let body = MemberBody {
            id,
            addr: addr.clone(),
            meta: meta.clone(),
            since: self.now,
            suspicion: None,
            told_at: None,
            meta_asked: false,
            heartbeat: PhiAccrual::new(window, c.phi_std_deviation_min),
            ack_delay: PhiAccrual::new(window, c.ack_std_deviation_min),
        };
        let member = Member::new(MemberState::Alive, incarnation, body);
        self.members.insert(id, member);
        let slot = self.probe_next + self.rng.below(self.probe_order.len() - self.probe_next + 1);
        self.probe_order.insert(slot, id);
        self.announce_alive(id, addr, incarnation, meta, true);
    }

    /// `from` suspects a member at `incarnation` (we may be `from`).
    pub(super) fn apply_suspect(&mut self, id: NodeId, incarnation: u64, from: NodeId) -> bool {
        let Some(m) = self.members.get_mut(&id) else {
            return self.left_tombstone(id, incarnation);
        };
        if m.state == MemberState::Suspect && m.incarnation == incarnation {
            // Another suspicion of a suspect: an independent one shortens its timeout
            // and is passed on.
            let new = m.suspicion.as_ref().is_some_and(|s| s.would_confirm(from));
            if !new || !self.vouches(from) {
                return false;
            }
            let m = self.members.get_mut(&id).expect("checked above");
            let Some(s) = m.suspicion.as_mut() else {
                return false;
            };
            s.confirm(from);
            let deadline = s.deadline();
            self.timers.set(Timer::Suspicion(id), deadline);
            self.updates.push(Update::Suspect {
                id,
                incarnation,
                from,
            });
            return false;
        }
        if !supersedes(MemberState::Suspect, incarnation, m.state, m.incarnation) {
            return m.state == MemberState::Left;
        }
        let suspicion = self.new_suspicion(from);
        self.timers.set(Timer::Suspicion(id), suspicion.deadline());
        let now = self.now;
        let m = self.members.get_mut(&id).expect("checked above");
        m.state = MemberState::Suspect;
        m.incarnation = incarnation;
        m.since = now;
        m.suspicion = Some(suspicion);
        let addr = m.addr.clone();
        self.emit(Event::MemberSuspect { id, addr });
        if self.config.lifeguard && self.suspects.len() < self.config.members_max {
            self.suspects.push_back(id);
        }
        self.updates.push(Update::Suspect {
            id,
            incarnation,
            from,
        });
        false
    }

    /// Whether a suspicion raised by `from` counts as a confirmation here: ours does, and
    /// that of a member we hold alive. A member we hold suspect or dead ourselves may be
    /// the one cut off, and on the far side of a cut every member suspects every member
    /// on this side: their word would shrink the timeout of a member that is fine here
    /// to its minimum, often too short for its refutation to reach every node on its own
    /// side. In the 1,000-node membership-only run (a one-way cut of half the cluster)
    /// that declared members dead that their declarers could reach, 6 times.
    fn vouches(&self, from: NodeId) -> bool {
        from == self.id
            || self
                .members
                .get(&from)
                .is_some_and(|m| m.state == MemberState::Alive)
    }

    /// A suspicion starting now, sized for the current cluster (memberlist's
    /// `suspicionTimeout`: min = mult × max(1, log10 n) × probe_interval).
    fn new_suspicion(&self, from: NodeId) -> Suspicion {
        let c = &self.config;
        let n = self.cluster_size();
        let scale = (n as f64).log10().max(1.0);
        let min = c
            .probe_interval
            .mul_f64(f64::from(c.suspicion_mult.get()) * scale);
        let max = min.saturating_mul(c.suspicion_max_timeout_mult.get());
        let wanted = c.suspicion_mult.get().saturating_sub(2);
        let expected = if !c.lifeguard || n.saturating_sub(2) < wanted as usize {
            0
        } else {
            wanted
        };
        let max = if c.lifeguard { max } else { min };
        Suspicion::new(self.now, from, expected, min, max)
    }

    /// A suspect's time is up: dead.
    pub(super) fn suspicion_expired(&mut self, id: NodeId) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        if m.state != MemberState::Suspect {
            return;
        }
        self.stats.declared_dead += 1;
        let incarnation = m.incarnation;
        self.apply_down(id, incarnation, MemberState::Dead);
    }

    /// A member is dead or left (`state`) at `incarnation`.
    fn apply_down(&mut self, id: NodeId, incarnation: u64, state: MemberState) -> bool {
        let now = self.now;
        let dead = state == MemberState::Dead;
        let Some(m) = self.members.get_mut(&id) else {
            return dead && self.left_tombstone(id, incarnation);
        };
        if !supersedes(state, incarnation, m.state, m.incarnation) {
            return dead && m.state == MemberState::Left;
        }
        m.state = state;
        m.incarnation = incarnation;
        m.since = now;
        m.suspicion = None;
        let addr = m.addr.clone();
        self.timers.cancel(Timer::Suspicion(id));
        let left = state == MemberState::Left;
        let update = self.down_record(id, incarnation, left);
        self.updates.push(update);
        self.emit(if left {
            Event::MemberLeft { id, addr }
        } else {
            Event::MemberDown { id, addr }
        });
        false
    }

    /// Forgets members down for `reap_after`, keeping a tombstone; expires tombstones.
    pub(super) fn reap(&mut self) {
        let now = self.now;
        let reap_after = self.config.reap_after;
        self.tombstones.retain(|_, t| t.expires > now);
        self.debug_check_index();
        for id in self.index.down_for(reap_after, now) {
            self.reap_member(id);
        }
    }

    fn reap_member(&mut self, id: NodeId) {
        let Some(m) = self.members.remove(&id) else {
            return;
        };
        self.probe_order.retain(|p| *p != id);
        self.probe_next = self.probe_next.min(self.probe_order.len());
        if self.tombstones.len() >= self.config.members_max {
            let oldest = self
                .tombstones
                .iter()
                .min_by_key(|(_, t)| t.expires)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                self.tombstones.remove(&oldest);
            }
        }
        let tombstone = Tombstone {
            incarnation: m.incarnation,
            left: m.state == MemberState::Left,
            expires: self.now + self.config.tombstone_ttl,
            addr: m.addr.clone(),
            told_at: m.told_at,
        };
        self.tombstones.insert(id, tombstone);
        let addr = m.into_body().addr;
        self.emit(Event::MemberReaped { id, addr });
    }

    /// A message from `id` at `incarnation`: direct evidence that it is alive (news that
    /// cannot override a suspicion or death at the same incarnation; the member learns
    /// of those from our reply and refutes), and a heartbeat for its phi.
    pub(super) fn observe_sender(&mut self, id: NodeId, addr: A, incarnation: u64) {
        self.apply_alive(id, addr, incarnation, None);
        let (now, gap) = (self.now, self.config.gossip_interval);
        if let Some(m) = self.members.get_mut(&id) {
            m.heartbeat.record_arrival(now, gap);
        }
    }
}
