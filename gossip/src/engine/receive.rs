//! Incoming messages: decode and check, note the sender, apply piggybacked news, then
//! act on the body.

use lattice_crdt::NodeId;

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
        for update in updates {
            self.apply_update(update);
        }
        let replies = matches!(body, Body::Ping { .. } | Body::Sync { reply: false, .. });
        self.handle_body(sender, from.clone(), body);
        if std::mem::take(&mut self.doubted) && !replies && self.phase != Phase::Left {
            // The sender holds us suspect or dead, maybe at an incarnation we already
            // refuted: any message from us shows it our current one.
            return self.send(from, Some(sender), Body::Gossip);
        }
        self.tell_if_unaware(sender, from);
    }

    /// A member we hold suspect or dead has just sent us a message, so it does not know:
    /// tell it now (at most once per protocol period) rather than whenever our next
    /// message to it happens to go, so it refutes at once. Without this a stale
    /// suspicion lasts until it times out, and a stale death until the member hears of
    /// it by chance.
    fn tell_if_unaware(&mut self, sender: NodeId, from: A) {
        let Some(m) = self.members.get(&sender) else {
            return;
        };
        let recently = m
            .told_at
            .is_some_and(|at| self.now < at + self.config.probe_interval);
        if !recently && self.phase != Phase::Left && self.notice_for(sender).is_some() {
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
                for record in members {
                    self.apply_sync_record(sender, record);
                }
                if !reply && self.phase != Phase::Left {
                    self.send_sync(from, Some(sender), true);
                }
            }
        }
    }
}
