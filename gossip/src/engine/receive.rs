//! Incoming messages: decode and check, note the sender, apply piggybacked news, then
//! act on the body.

use lattice_crdt::NodeId;

use super::member::told_within;
use super::message::{self, Body, Envelope, MessageError, Update};
use super::{Address, Engine, Phase};

/// Most piggybacked updates accepted in one message.
const UPDATES_PER_MESSAGE_MAX: usize = 4096;

/// Most payloads accepted in one message.
const PAYLOADS_PER_MESSAGE_MAX: usize = 1024;

/// Most payload ids (offered or asked for) accepted in one message.
pub(super) const PAYLOAD_IDS_PER_MESSAGE_MAX: usize = 4096;

impl<A: Address> Engine<A> {
    /// Decodes and checks a message without touching any state.
    pub(super) fn decode(&self, bytes: &[u8]) -> Result<Envelope<A>, MessageError> {
        let envelope: Envelope<A> = message::decode(bytes, self.config.stream_bytes_max)?;
        if envelope.sender == self.id {
            return Err(MessageError::FromSelf);
        }
        let too_many = |what: &str| Err(MessageError::Malformed(format!("too many {what}")));
        if envelope.updates.len() > UPDATES_PER_MESSAGE_MAX {
            return too_many("updates");
        }
        let synced = match &envelope.body {
            Body::Sync { members, .. } => &members[..],
            _ => &[],
        };
        if !envelope
            .updates
            .iter()
            .chain(synced)
            .all(Update::is_bounded)
        {
            return Err(MessageError::Malformed(
                "member metadata exceeds its bound".into(),
            ));
        }
        match &envelope.body {
            Body::Push { payloads, .. } if payloads.len() > PAYLOADS_PER_MESSAGE_MAX => {
                too_many("payloads")
            }
            Body::Push { have: ids, .. } | Body::Want(ids)
                if ids.len() > PAYLOAD_IDS_PER_MESSAGE_MAX =>
            {
                too_many("payload ids")
            }
            Body::Sync { members, .. }
                if members.len() > self.config.members_max.saturating_add(1) =>
            {
                too_many("members")
            }
            _ => Ok(envelope),
        }
    }

    /// Acts on a checked message from `from`.
    pub(super) fn receive(&mut self, from: A, envelope: Envelope<A>) {
        let Envelope {
            sender,
            sender_addr,
            incarnation,
            to,
            body,
            updates,
        } = envelope;
        if to.is_some_and(|to| to != self.id) {
            return; // meant for a node that used to live at this address
        }
        self.observe_sender(sender, sender_addr, incarnation);
        self.doubted = false;
        self.behind_on = None;
        self.stats.updates_received += updates.len() as u64;
        for update in updates {
            self.apply_update(update);
        }
        self.note_unheard(sender);
        let replies = matches!(body, Body::Ping { .. } | Body::Sync { reply: false, .. });
        let sync = matches!(body, Body::Sync { .. });
        self.handle_body(sender, from.clone(), body);
        self.note_unheard(sender); // a sync's records
        if !sync {
            self.ask_for_sync(sender, from.clone());
        }
        let missed_leave = self.behind_on.take();
        let doubted = std::mem::take(&mut self.doubted) && !replies;
        let announce = self.announce_to == Some(sender);
        if (doubted || announce || missed_leave.is_some()) && self.phase != Phase::Left {
            // The sender holds us suspect or dead, maybe at an incarnation we already
            // refuted: any message from us shows it our current one. Or it lacks our
            // metadata, and a reply did not carry our record already. Or it missed that
            // a member left: the news of a leave goes out a few times only, and the
            // leaver is often gone at once, so no one else would tell it; it would hold
            // the leaver suspect, then dead, then remind it in vain.
            self.correct = missed_leave.map(|left| (sender, left));
            return self.send(from, Some(sender), Body::Gossip);
        }
        self.tell_if_unaware(sender, from);
    }

    /// Until a full membership has come in, asks `sender` for one, at most once per
    /// protocol period. A node whose join reached no seed (started while cut off, or
    /// with every seed down) would otherwise know only the members that happen to send
    /// it something until its first push-pull, 30 to 60 s after it started: nothing
    /// else tells it of members that are alive and quiet. Found by a 25-node swarm
    /// seed: a node restarted while partitioned did not know one member 26.7 s after
    /// heal.
    fn ask_for_sync(&mut self, sender: NodeId, from: A) {
        let period = self.config.probe_interval;
        let asked = told_within(self.sync_asked_at, period, self.now);
        if self.synced || asked || self.phase != Phase::Running {
            return;
        }
        self.sync_asked_at = Some(self.now);
        self.stats.syncs_asked += 1;
        self.send_sync(from, Some(sender), false);
    }

    /// If the message showed its sender lacks our metadata, our next message to it
    /// carries our own record: a member that learned of us from our own message (which
    /// carries no metadata) asks that way, and would otherwise wait for a push-pull
    /// (up to a minute) whenever the few transmissions of our news all went elsewhere.
    fn note_unheard(&mut self, sender: NodeId) {
        if std::mem::take(&mut self.unheard) && self.phase != Phase::Left {
            self.announce_to = Some(sender);
        }
    }

    /// A member we hold suspect or dead (or alive without its metadata) has just sent us
    /// a message, so it does not know: tell it now (at most once per protocol period)
    /// rather than whenever our next message to it happens to go, so it refutes (or
    /// answers) at once. Without this a stale suspicion lasts until it times out, and a
    /// stale death until the member hears of it by chance. A member reaped while it was
    /// only cut off is told too: until it refutes, its tombstone refuses news of it
    /// alive at the incarnation it still has.
    fn tell_if_unaware(&mut self, sender: NodeId, from: A) {
        let told_at = match self.members.get(&sender) {
            Some(m) => m.told_at,
            None => match self.tombstones.get(&sender) {
                Some(t) => t.told_at,
                None => return,
            },
        };
        let told = told_within(told_at, self.config.probe_interval, self.now);
        if !told && self.phase != Phase::Left && self.notice_for(sender).is_some() {
            self.send(from, Some(sender), Body::Gossip);
        }
    }

    fn handle_body(&mut self, sender: NodeId, from: A, body: Body<A>) {
        match body {
            Body::Ping { seq } => self.send(from, Some(sender), Body::Ack { seq }),
            Body::Ack { seq } => self.on_ack(sender, seq),
            Body::PingReq {
                seq,
                target,
                target_addr,
            } => self.on_ping_req(sender, from, seq, target, target_addr),
            Body::IndirectAck { seq } => self.on_indirect_ack(seq),
            Body::Nack { seq } => self.on_nack(seq),
            Body::Gossip => {}
            Body::Push { payloads, have } => self.receive_push(sender, from, payloads, have),
            Body::Want(ids) => self.send_wanted(sender, from, ids),
            Body::Sync { reply, members } => {
                self.synced = true;
                self.apply_sync_records(sender, members);
                if !reply && self.phase != Phase::Left {
                    self.send_sync(from, Some(sender), true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Stale suspicions end fast: the node holding one reminds the suspect, and a node
    //! told it is doubted answers, even when it refuted long ago.

    use std::time::Duration;

    use lattice_crdt::NodeId;

    use super::super::message::{self, Body, Envelope, Update};
    use super::super::{Config, Engine, Event, MemberState};

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    /// Node `n` at address `n`, started alone, knowing node `peer` alive (as if from a
    /// sync: it does not ask members for one).
    fn engine(n: u64, peer: u64) -> Engine<u32> {
        let mut e = Engine::new(id(n), n as u32, Config::default(), n);
        e.join(Duration::ZERO, &[]);
        e.apply_alive(id(peer), peer as u32, 0, Some(Vec::new()));
        e.synced = true;
        sent(&mut e);
        e
    }

    /// A message to node 1 from node `n` (at address `n`) at `incarnation`.
    fn to_node_1(
        n: u64,
        incarnation: u64,
        body: Body<u32>,
        updates: Vec<Update<u32>>,
    ) -> Envelope<u32> {
        Envelope {
            sender: id(n),
            sender_addr: n as u32,
            incarnation,
            to: Some(id(1)),
            body,
            updates,
        }
    }

    /// What the engine sent since the last call, decoded.
    fn sent(e: &mut Engine<u32>) -> Vec<(u32, Envelope<u32>)> {
        let max = e.config.stream_bytes_max;
        std::iter::from_fn(|| e.poll_transmit())
            .map(|t| (t.to, message::decode(&t.bytes, max).unwrap()))
            .collect()
    }

    /// A node whose join reached no seed asks the first member it hears from for the
    /// full membership, at most once per protocol period, and no more once a sync came
    /// in. Without this it learned of quiet members only at its first push-pull.
    #[test]
    fn a_node_whose_join_went_unanswered_asks_the_members_it_hears_from() {
        let mut a = Engine::new(id(1), 1, Config::default(), 1);
        a.join(Duration::ZERO, &[9]);
        assert!(
            matches!(&sent(&mut a)[..], [(9, e)] if matches!(e.body, Body::Sync { reply: false, .. })),
            "the join asks the seed"
        );
        let ping = |seq| to_node_1(2, 0, Body::Ping { seq }, Vec::new());
        let asked = |a: &mut Engine<u32>| {
            sent(a)
                .into_iter()
                .filter(|(to, e)| *to == 2 && matches!(e.body, Body::Sync { reply: false, .. }))
                .count()
        };
        a.receive(2, ping(1));
        assert_eq!(asked(&mut a), 0, "the seed's answer may still come");
        a.now = a.config.probe_interval;
        a.receive(2, ping(2));
        assert_eq!(
            asked(&mut a),
            1,
            "no answer within a period: ask the member"
        );
        a.receive(2, ping(3));
        assert_eq!(asked(&mut a), 0, "once per period");
        a.now += a.config.probe_interval;
        let sync = Body::Sync {
            reply: true,
            members: vec![Update::Alive {
                id: id(2),
                addr: 2,
                incarnation: 0,
                meta: Vec::new(),
            }],
        };
        a.receive(2, to_node_1(2, 0, sync, Vec::new()));
        a.now += a.config.probe_interval;
        a.receive(2, ping(4));
        assert_eq!(asked(&mut a), 0, "a sync came in: no more asking");
        assert_eq!(a.stats().syncs_asked, 1);
    }

    /// Of the suspicions that confirm one already held, only those of members we hold
    /// alive (and our own) shorten its timeout: a suspector we hold suspect may be on
    /// the far side of a cut, where every member suspects every member on this side.
    #[test]
    fn only_members_held_alive_confirm_a_suspicion() {
        let mut e = Engine::new(id(1), 1u32, Config::default(), 1);
        e.join(Duration::ZERO, &[]);
        for n in 2..=8 {
            e.apply_alive(id(n), n as u32, 0, Some(Vec::new()));
        }
        e.apply_suspect(id(4), 0, id(3));
        e.apply_suspect(id(2), 0, id(5));
        let deadline = |e: &Engine<u32>| e.members[&id(2)].suspicion.as_ref().unwrap().deadline();
        let first = deadline(&e);
        e.apply_suspect(id(2), 0, id(4));
        assert_eq!(
            deadline(&e),
            first,
            "node 4 is suspect here: its word does not count"
        );
        e.apply_suspect(id(2), 0, id(3));
        let confirmed = deadline(&e);
        assert!(confirmed < first, "node 3 is alive here: a confirmation");
        e.apply_suspect(id(2), 0, id(1));
        assert!(deadline(&e) < confirmed, "our own suspicion counts");
        assert_eq!(e.members[&id(2)].state, MemberState::Suspect);
    }

    /// A sync names a doubted member with its address (its record alive, then the
    /// doubt): a node that did not know the member adds it and doubts it, so it can
    /// remind it; a node that knew it takes the doubt alone, with no news of it alive.
    #[test]
    fn a_sync_gives_the_address_of_members_it_doubts() {
        let mut b = engine(2, 1);
        b.apply_alive(id(3), 3, 4, Some(Vec::new()));
        b.apply_alive(id(4), 4, 0, Some(Vec::new()));
        b.apply_suspect(id(3), 4, id(2));
        b.suspicion_expired(id(3));
        b.apply_suspect(id(4), 0, id(2));
        let members = b.full_state();
        let about = |n| members.iter().filter(|u| u.subject() == id(n)).count();
        assert_eq!(
            (about(3), about(4)),
            (2, 2),
            "alive, then the doubt: {members:?}"
        );

        // Node 1 knew neither: it can now reach both, and doubts both.
        let mut a = engine(1, 2);
        let sync = Body::Sync {
            reply: true,
            members: members.clone(),
        };
        a.receive(2, to_node_1(2, 0, sync, Vec::new()));
        let held = |a: &Engine<u32>, n| a.member(id(n)).map(|m| (m.state, m.addr));
        assert_eq!(
            held(&a, 3),
            Some((MemberState::Suspect, 3)),
            "dead at the peer: suspect here"
        );
        assert_eq!(held(&a, 4), Some((MemberState::Suspect, 4)));

        // Node 5 held node 3 suspect at an older incarnation: it takes the doubt alone,
        // rather than node 3 alive and then doubted (a member up and down at once).
        let mut c = engine(5, 2);
        c.apply_alive(id(3), 3, 1, Some(Vec::new()));
        c.apply_suspect(id(3), 1, id(5));
        std::iter::from_fn(|| c.poll_event()).for_each(drop);
        let sync = Body::Sync {
            reply: true,
            members,
        };
        let to_c = Envelope {
            to: Some(id(5)),
            ..to_node_1(2, 0, sync, Vec::new())
        };
        c.receive(2, to_c);
        assert_eq!(held(&c, 3), Some((MemberState::Suspect, 3)));
        let ups = std::iter::from_fn(|| c.poll_event())
            .filter(|e| matches!(e, Event::MemberUp { id: up, .. } if *up == id(3)))
            .count();
        assert_eq!(ups, 0, "no news of it alive on the way");
    }

    /// A payload still being pushed here counts as seen even when the seen set, sized
    /// smaller than the push queue, has forgotten its id: a copy is not delivered again
    /// and an offer of it is not asked for.
    #[test]
    fn a_payload_still_pushed_is_not_taken_or_asked_for_again() {
        let config = Config {
            seen_payloads_max: 16,
            payload_queue_max: 64,
            ..Config::default()
        };
        let mut a = Engine::new(id(1), 1, config, 1);
        a.join(Duration::ZERO, &[]);
        a.apply_alive(id(2), 2, 0, Some(Vec::new()));
        for n in 0..40u8 {
            a.broadcast(Duration::ZERO, [n; 16], vec![n]);
        }
        assert!(!a.seen.contains(&[0; 16]) && a.is_pushing(&[0; 16]));
        sent(&mut a);
        let copy = message::WirePayload {
            id: [0; 16],
            hops: 1,
            bytes: vec![0].into(),
        };
        a.receive_push(id(2), 2, vec![copy], vec![[0; 16]]);
        let asked = sent(&mut a)
            .into_iter()
            .any(|(_, e)| matches!(e.body, Body::Want(_)));
        assert!(!asked, "an offer of a payload held was asked for");
        assert!(
            std::iter::from_fn(|| a.poll_event()).all(|e| !matches!(e, Event::Payload { .. })),
            "a copy of a payload held was delivered again"
        );
    }

    /// A node that learned of a member from the member's own message (no metadata)
    /// asks it once, on a message to it that carries its metadata-less record; the
    /// member answers with its own record, and the node has the metadata.
    #[test]
    fn a_member_heard_of_without_metadata_is_asked_once_and_answers_with_it() {
        let (mut a, mut b) = (engine(1, 3), engine(2, 3));
        a.set_meta(b"a".to_vec()).unwrap();
        b.set_meta(b"b".to_vec()).unwrap();
        b.updates = Default::default(); // b's own news has gone elsewhere
        let ping = Envelope {
            sender: id(2),
            sender_addr: 2,
            incarnation: b.incarnation,
            to: Some(id(1)),
            body: Body::Ping { seq: 7 },
            updates: Vec::new(),
        };
        a.receive(2, ping.clone());
        assert!(a.members[&id(2)].meta.is_empty());
        let mut out = sent(&mut a);
        assert_eq!(out.len(), 1, "the ask rides on the ack: {out:?}");
        let (to, ack) = out.pop().unwrap();
        let asked = Update::Alive {
            id: id(2),
            addr: 2,
            incarnation: b.incarnation,
            meta: Vec::new(),
        };
        assert!(to == 2 && ack.updates.contains(&asked), "{ack:?}");
        a.now += a.config.probe_interval;
        a.receive(2, ping);
        let again = sent(&mut a);
        let twice = again.iter().any(|(_, e)| e.updates.contains(&asked));
        assert!(!twice, "asked twice: {again:?}");

        b.receive(1, ack);
        let mut out = sent(&mut b);
        assert_eq!(out.len(), 1, "{out:?}");
        let (to, answer) = out.pop().unwrap();
        assert_eq!(to, 1);
        a.receive(2, answer);
        assert_eq!(a.members[&id(2)].meta, b"b");
        assert!(sent(&mut a).is_empty(), "the answer was asked again");
    }

    /// A member declared dead while it was only cut off, then reaped, keeps the
    /// incarnation that its tombstone refuses, and hears of it from nobody once that
    /// gossip is spent. It is told when it writes to us and retried by the rejoin round,
    /// each carrying its death, so it refutes and is back.
    #[test]
    fn a_member_reaped_while_cut_off_is_told_and_retried_until_it_refutes() {
        let mut a = engine(1, 2);
        a.apply_update(Update::Dead {
            id: id(2),
            incarnation: 0,
            from: id(3),
        });
        a.now += a.config.reap_after + Duration::from_secs(1);
        a.reap();
        assert!(!a.members.contains_key(&id(2)) && a.tombstones.contains_key(&id(2)));
        a.updates = Default::default();
        sent(&mut a);
        let dead = Update::Dead {
            id: id(2),
            incarnation: 0,
            from: id(1),
        };
        let from_b = |incarnation| to_node_1(2, incarnation, Body::Gossip, Vec::new());
        a.receive(2, from_b(0));
        let out = sent(&mut a);
        assert!(
            out.iter()
                .any(|(to, e)| *to == 2 && e.updates.contains(&dead)),
            "not told: {out:?}"
        );
        a.receive(2, from_b(0));
        assert!(sent(&mut a).is_empty(), "told within the period");
        a.now += a.config.probe_interval;
        a.rejoin_round();
        let out = sent(&mut a);
        let retried = out.iter().any(|(to, e)| {
            *to == 2 && matches!(e.body, Body::Sync { .. }) && e.updates.contains(&dead)
        });
        assert!(retried, "not retried: {out:?}");
        a.receive(2, from_b(1));
        let back = a
            .members()
            .any(|m| m.id == id(2) && m.state == MemberState::Alive);
        assert!(back && !a.tombstones.contains_key(&id(2)));
    }

    #[test]
    fn a_suspect_is_reminded_once_per_protocol_period_while_suspect() {
        let mut a = engine(1, 2);
        // A suspicion heard from node 3, whose gossip is spent: nothing queued is left.
        a.apply_suspect(id(2), 0, id(3));
        a.updates = Default::default();
        sent(&mut a);
        a.remind_a_suspect();
        let out = sent(&mut a);
        let notice = Update::Suspect {
            id: id(2),
            incarnation: 0,
            from: id(1),
        };
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].0, 2);
        assert!(out[0].1.updates.contains(&notice), "{out:?}");
        a.remind_a_suspect();
        assert!(sent(&mut a).is_empty(), "told within the period");
        a.now += a.config.probe_interval;
        a.remind_a_suspect();
        assert_eq!(sent(&mut a).len(), 1, "told again a period later");
        a.apply_alive(id(2), 2, 1, None);
        a.now += a.config.probe_interval;
        a.remind_a_suspect();
        assert!(sent(&mut a).is_empty(), "alive again: not reminded");
        assert!(a.suspects.is_empty());
    }

    /// A node that missed a refutation while it was cut off holds a live member dead
    /// with nothing left to tell it otherwise: it reminds the members it holds dead in
    /// turn, each once per protocol period, so one that is alive refutes.
    #[test]
    fn members_held_dead_are_reminded_in_turn_once_per_protocol_period() {
        let mut a = engine(1, 2);
        for n in 3..=4 {
            a.apply_alive(id(n), n as u32, 0, Some(Vec::new()));
        }
        for n in 2..=3 {
            a.apply_update(Update::Dead {
                id: id(n),
                incarnation: 0,
                from: id(4),
            });
        }
        a.updates = Default::default();
        sent(&mut a);
        let dead = |n| Update::Dead {
            id: id(n),
            incarnation: 0,
            from: id(1),
        };
        let remind = |a: &mut Engine<u32>| {
            a.remind_a_dead_member();
            let out = sent(a);
            assert!(out.len() <= 1, "one reminder at a time: {out:?}");
            out.into_iter().next().map(|(to, e)| {
                assert!(e.updates.contains(&dead(u64::from(to))), "{e:?}");
                to
            })
        };
        assert_eq!(remind(&mut a), Some(2));
        assert_eq!(remind(&mut a), Some(3), "in turn");
        assert_eq!(remind(&mut a), None, "both told within the period");
        a.now += a.config.probe_interval;
        assert_eq!(remind(&mut a), Some(2), "again a period later");
        let from_2 = Envelope {
            sender: id(2),
            sender_addr: 2,
            incarnation: 1,
            to: Some(id(1)),
            body: Body::Gossip,
            updates: Vec::new(),
        };
        a.receive(2, from_2);
        sent(&mut a);
        a.now += a.config.probe_interval;
        assert_eq!(remind(&mut a), Some(3));
        assert_eq!(remind(&mut a), None, "node 2 refuted: alive, not reminded");
    }

    #[test]
    fn a_node_told_it_is_doubted_answers_with_its_incarnation() {
        let mut b = engine(2, 1);
        // b refuted a suspicion long ago; node 1 never heard the refutation.
        b.apply_update(Update::Suspect {
            id: id(2),
            incarnation: 0,
            from: id(3),
        });
        assert_eq!(b.incarnation, 1);
        sent(&mut b);
        let reminder = Envelope {
            sender: id(1),
            sender_addr: 1u32,
            incarnation: 0,
            to: Some(id(2)),
            body: Body::Gossip,
            updates: vec![Update::Suspect {
                id: id(2),
                incarnation: 0,
                from: id(1),
            }],
        };
        b.handle_message(Duration::from_secs(1), 1, &message::encode(&reminder))
            .unwrap();
        let out = sent(&mut b);
        assert!(
            out.iter().any(|(to, e)| *to == 1 && e.incarnation == 1),
            "{out:?}"
        );
        let mut a = engine(1, 2);
        a.apply_suspect(id(2), 0, id(3));
        for (_, answer) in out {
            a.handle_message(Duration::from_secs(1), 2, &message::encode(&answer))
                .unwrap();
        }
        assert_eq!(a.member(id(2)).map(|m| m.state), Some(MemberState::Alive));
    }

    /// A node that missed a leave (the news goes out a few times only, and the leaver
    /// is often gone at once) shows it by news of the leaver alive, suspect or dead at
    /// its incarnation, or by asking for a probe of it: it is told the leave at once,
    /// also after the leaver was reaped. News from a leaver that came back at a higher
    /// incarnation is newer, and corrects nobody.
    #[test]
    fn a_node_that_missed_a_leave_is_told_of_it() {
        let mut a = engine(1, 2);
        a.apply_update(Update::Alive {
            id: id(3),
            addr: 3,
            incarnation: 4,
            meta: Vec::new(),
        });
        a.apply_update(Update::Left {
            id: id(3),
            incarnation: 4,
        });
        a.updates = Default::default();
        sent(&mut a);
        let left = Update::Left {
            id: id(3),
            incarnation: 4,
        };
        let from_b = |body, updates| to_node_1(2, 0, body, updates);
        let told = |a: &mut Engine<u32>| {
            sent(a)
                .iter()
                .any(|(to, e)| *to == 2 && e.updates.contains(&left))
        };
        let suspect = Update::Suspect {
            id: id(3),
            incarnation: 4,
            from: id(2),
        };
        let dead = Update::Dead {
            id: id(3),
            incarnation: 3,
            from: id(2),
        };
        let probe = Body::PingReq {
            seq: 1,
            target: id(3),
            target_addr: 3,
        };
        a.receive(2, from_b(Body::Gossip, vec![suspect.clone()]));
        assert!(told(&mut a), "suspect news of a leaver went uncorrected");
        a.receive(2, from_b(Body::Gossip, vec![dead]));
        assert!(told(&mut a), "dead news of a leaver went uncorrected");
        a.receive(2, from_b(probe.clone(), Vec::new()));
        assert!(
            told(&mut a),
            "a probe request for a leaver went uncorrected"
        );
        a.receive(2, from_b(Body::Gossip, vec![left.clone()]));
        assert!(!told(&mut a), "a node that knows was told");

        a.now += a.config.reap_after + Duration::from_secs(1);
        a.reap();
        assert!(a.tombstones.get(&id(3)).is_some_and(|t| t.left));
        sent(&mut a);
        a.receive(2, from_b(Body::Gossip, vec![suspect]));
        assert!(told(&mut a), "not told once the leaver was reaped");

        let back = Update::Alive {
            id: id(3),
            addr: 3,
            incarnation: 5,
            meta: Vec::new(),
        };
        a.receive(2, from_b(Body::Gossip, vec![back]));
        assert!(!told(&mut a), "news of the leaver back was corrected");
        assert_eq!(a.member(id(3)).map(|m| m.state), Some(MemberState::Alive));
    }
}
