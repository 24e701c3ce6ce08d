//! The relay as a state machine: datagrams, commands and time in; datagrams and events out.
//!
//! [`RelayCore`] owns every leg's sans-I/O WebRTC stack, the demultiplexing maps and the
//! routing table. It never touches a socket or reads the clock: the driver in
//! [`crate::driver`] reads the socket, passes `now`, and sends what [`RelayCore::poll_transmit`]
//! returns. The per-packet path is: find the leg by remote address → let its stack decrypt →
//! look the leg up in the routing table → rewrite the header per destination slot → let each
//! destination's stack encrypt → queue the datagrams.
//!
//! Hold audio (see [`RelayCore::set_hold`]) takes the same per-slot path: every 20 ms one
//! timer tick writes the next packet of the shared [`HoldTune`] to slot 0 of each held leg
//! whose slot 0 has no source, as if the tune were one more source leg.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::crypto::RTCCryptoProvider;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::call_recording::{CallRecording, CallRecordings, Speaker};
use crate::demux::{DatagramKind, binding_request_local_ufrag, classify};
use crate::hold::HoldTune;
use crate::leg::{FastPath, HoldPlayer, Leg, LegState, answer_offer};
use crate::metrics::RelayStats;
use crate::quality::LegQuality;
use crate::recording::{Recording, Recordings};
use crate::rewrite::{FRAME_TICKS, SourceKey};
use crate::routing::{LegId, RoutingTable, SlotFeed, SlotRef};
use crate::sdp::check_offer;
use crate::srtp_fast::{Decrypted, is_rtcp};
use crate::{LegEndReason, RelayError, RelayEvent};
use rtc::shared::marshal::{Marshal, Unmarshal};

/// Timing rules of the relay.
#[derive(Debug, Clone)]
pub struct RelayTimeouts {
    /// A leg that has not connected (ICE + DTLS) this long after its answer is failed.
    pub connect: Duration,
    /// A connected leg from which nothing (not even a STUN consent check) arrived this long
    /// is failed.
    pub silence: Duration,
}

impl Default for RelayTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(20), silence: Duration::from_secs(15) }
    }
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    /// Where to.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: BytesMut,
}

/// How often connect and silence limits are checked (and sender reports are due).
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

/// How often the relay sends a sender report on each slot that carries audio. Browsers answer
/// with receiver reports at their own pace (Chrome about every 5 s for audio), so the relay's
/// round-trip figure is never fresher than that anyway; one SRTCP packet per slot per 2 s is
/// ~1 % of the slot's 50 packets a second.
const REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// The hold tick: one 20 ms Opus frame.
const HOLD_FRAME: Duration = Duration::from_millis(20);
/// A late hold tick catches up (sends the frames it missed at once) up to this lateness;
/// beyond it the tick restarts from now (a stalled loop must not burst seconds of audio).
const HOLD_MAX_LATE: Duration = Duration::from_millis(60);
/// The hold tune's source key in slot rewriters. Leg ids start at 1 and only count up, so
/// no participant ever has this one.
const HOLD_SOURCE: SourceKey = SourceKey { leg: u64::MAX, ssrc: 0 };

/// The relay's whole state. See the module documentation.
pub struct RelayCore {
    /// The address written into every answer's one host candidate; also the local address
    /// every stack is told datagrams arrive on (ICE matches local candidates by it).
    advertised: SocketAddr,
    timeouts: RelayTimeouts,
    /// One DTLS certificate for all legs, generated at start: saves a key generation per call.
    certificate: RTCCertificate,
    /// The crypto provider every leg's key tap wraps.
    crypto: Arc<dyn RTCCryptoProvider>,
    /// Scratch: the destinations of the packet being forwarded.
    scratch_dest: Vec<SlotRef>,
    /// Scratch: the plaintext packet being written to a slot.
    scratch_plain: Vec<u8>,
    next_leg: u64,
    legs: HashMap<LegId, Leg>,
    /// First-contact demultiplexing: our ICE ufrag → leg.
    by_ufrag: HashMap<String, LegId>,
    /// Steady-state demultiplexing: remote address → leg.
    by_addr: HashMap<SocketAddr, LegId>,
    routes: RoutingTable,
    /// The zero of the relay's NTP timestamps in sender reports (no wall clock in the core:
    /// participants only echo the timestamps back, see [`crate::quality`]).
    epoch: Instant,
    /// (deadline, leg) of every leg stack's next timeout; stale entries are skipped.
    timers: BinaryHeap<Reverse<(Instant, LegId)>>,
    next_sweep: Instant,
    /// Legs marked held, in the order they were marked; the hold tick walks this list.
    held: Vec<LegId>,
    /// When the next hold tick is due (meaningful while `held` is not empty).
    next_hold_tick: Instant,
    /// No hold tick ran since `held` was last seen empty: the next one starts a new cadence.
    hold_idle: bool,
    hold_tune: Arc<HoldTune>,
    /// Voice-message recordings (see [`RelayCore::start_recording`]).
    recordings: Recordings,
    /// Call recordings (see [`RelayCore::start_call_recording`]).
    call_recordings: CallRecordings,
    transmit: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    stats: Arc<RelayStats>,
}

impl RelayCore {
    /// A relay that advertises `advertised` (public IP and media port) in its answers.
    pub fn new(
        now: Instant,
        advertised: SocketAddr,
        timeouts: RelayTimeouts,
        stats: Arc<RelayStats>,
    ) -> Result<Self, RelayError> {
        let provider = rtc::crypto::default_provider()
            .map_err(|e| RelayError::Stack(format!("no crypto provider: {e}")))?;
        let certificate = RTCCertificate::generate(
            provider.crypto(),
            rtc::crypto::SignatureScheme::EcdsaP256Sha256,
            CertificateParams::new(vec!["voicedesk-relay".to_owned()])
                .map_err(|e| RelayError::Stack(e.to_string()))?,
        )
        .map_err(|e| RelayError::Stack(e.to_string()))?;
        Ok(Self {
            advertised,
            timeouts,
            certificate,
            crypto: provider,
            scratch_dest: Vec::new(),
            scratch_plain: Vec::with_capacity(1500),
            next_leg: 1,
            legs: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            routes: RoutingTable::new(),
            epoch: now,
            timers: BinaryHeap::new(),
            next_sweep: now + SWEEP_INTERVAL,
            held: Vec::new(),
            next_hold_tick: now,
            hold_idle: true,
            hold_tune: HoldTune::builtin(),
            recordings: Recordings::default(),
            call_recordings: CallRecordings::default(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats,
        })
    }

    /// Answers a participant's offer with a new leg of up to `max_slots` receive slots.
    pub fn create_leg(
        &mut self,
        now: Instant,
        offer: &str,
        max_slots: usize,
    ) -> Result<(LegId, String), RelayError> {
        let summary = check_offer(offer, max_slots)?;
        let id = LegId(self.next_leg);
        let new = answer_offer(
            now,
            id,
            offer,
            summary.audio_sections,
            self.advertised,
            &self.certificate,
            &self.crypto,
        )?;
        self.next_leg += 1;
        self.by_ufrag.insert(new.leg.ufrag.clone(), id);
        self.legs.insert(id, new.leg);
        self.stats.legs_created.inc();
        self.service(now, id);
        Ok((id, new.answer))
    }

    /// Number of receive slots of `leg`.
    pub fn slot_count(&self, leg: LegId) -> Option<usize> {
        self.legs.get(&leg).map(|l| l.slots.len())
    }

    /// Applies routing changes all or nothing: if any names an unknown leg or slot, nothing
    /// changes.
    pub fn set_feeds(&mut self, feeds: &[SlotFeed]) -> Result<(), RelayError> {
        for feed in feeds {
            let slots =
                self.slot_count(feed.slot.leg).ok_or(RelayError::UnknownLeg(feed.slot.leg))?;
            if feed.slot.slot as usize >= slots {
                return Err(RelayError::UnknownSlot(feed.slot));
            }
            if let Some(source) = feed.source {
                if !self.legs.contains_key(&source) {
                    return Err(RelayError::UnknownLeg(source));
                }
                if source == feed.slot.leg {
                    return Err(RelayError::SelfFeed(source));
                }
            }
        }
        for feed in feeds {
            self.routes.set(*feed);
            if let Some(leg) = self.legs.get_mut(&feed.slot.leg) {
                leg.slots[feed.slot.slot as usize].rewriter.detach();
            }
        }
        Ok(())
    }

    /// Marks a leg as held (`on`) or not. While a leg is held and its slot 0 has no source in
    /// the routing table, the relay plays the hold tune into slot 0, one 20 ms packet per
    /// tick, looping; every hold (and every resumption after slot 0 was fed) starts at the
    /// beginning of the tune. The packets take the slot's normal path, so the slot keeps its
    /// SSRC and one continuous sequence/timestamp line across the tune's wrap-around and
    /// across feeding: a [`RelayCore::set_feeds`] that gives slot 0 a source stops the tune
    /// at once (no hold packet follows it), one that clears slot 0's source resumes it.
    /// Marking an already held leg held again changes nothing (the tune does not restart).
    /// A held leg that is not connected yet gets nothing until it connects.
    pub fn set_hold(&mut self, leg: LegId, on: bool) -> Result<(), RelayError> {
        let entry = self.legs.get_mut(&leg).ok_or(RelayError::UnknownLeg(leg))?;
        match (on, entry.hold.is_some()) {
            (true, false) => {
                entry.hold = Some(HoldPlayer::default());
                self.held.push(leg);
            }
            (false, true) => {
                entry.hold = None;
                self.held.retain(|l| *l != leg);
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `leg` is marked held (`None` for an unknown leg).
    pub fn is_held(&self, leg: LegId) -> Option<bool> {
        self.legs.get(&leg).map(|l| l.hold.is_some())
    }

    /// Starts recording what the participant of `leg` says (its inbound Opus RTP, the
    /// microphone) for a voice message, up to `max` on the RTP clock; see
    /// [`crate::recording`]. Nothing is renegotiated and forwarding is unchanged. A leg already
    /// recording starts over: what it recorded is discarded (the citizen records again).
    /// Unknown leg: [`RelayError::UnknownLeg`].
    pub fn start_recording(&mut self, leg: LegId, max: Duration) -> Result<(), RelayError> {
        if !self.legs.contains_key(&leg) {
            return Err(RelayError::UnknownLeg(leg));
        }
        self.recordings.start(leg, max);
        Ok(())
    }

    /// Stops recording `leg` and returns the recording. A leg that ended (or was closed) while
    /// recording still returns what was recorded until then, once (the relay keeps the
    /// recordings of the last 64 such legs). A leg that is not recording:
    /// [`RelayError::NotRecording`]; a leg that never existed or ended without recording:
    /// [`RelayError::UnknownLeg`].
    pub fn stop_recording(&mut self, leg: LegId) -> Result<Recording, RelayError> {
        match self.recordings.stop(leg) {
            Some(recording) => Ok(recording),
            None if self.legs.contains_key(&leg) => Err(RelayError::NotRecording(leg)),
            None => Err(RelayError::UnknownLeg(leg)),
        }
    }

    /// Starts recording a call as `id` (the caller's number for it), up to `max` of call time,
    /// with `legs` (its participants and who they are); see [`crate::call_recording`].
    /// Forwarding is unchanged. Nothing changes on an error: an unknown leg
    /// ([`RelayError::UnknownLeg`]), an id already recording
    /// ([`RelayError::CallRecordingExists`]), a leg in another recording
    /// ([`RelayError::LegInOtherRecording`]).
    pub fn start_call_recording(
        &mut self,
        now: Instant,
        id: u64,
        legs: &[(LegId, Speaker)],
        max: Duration,
    ) -> Result<(), RelayError> {
        if let Some((leg, _)) = legs.iter().find(|(leg, _)| !self.legs.contains_key(leg)) {
            return Err(RelayError::UnknownLeg(*leg));
        }
        if let Some((leg, other)) =
            legs.iter().find_map(|(leg, _)| Some((*leg, self.call_recordings.recording_of(*leg)?)))
        {
            return Err(RelayError::LegInOtherRecording(leg, other));
        }
        if !self.call_recordings.start(now, id, max) {
            return Err(RelayError::CallRecordingExists(id));
        }
        for (leg, speaker) in legs {
            let _ = self.call_recordings.add_leg(id, *leg, *speaker);
        }
        Ok(())
    }

    /// Adds a participant (a staff member joining, the staff member taking over) to call
    /// recording `id`. Only what the leg says from now on, and only while somebody hears it, is
    /// kept.
    pub fn add_to_call_recording(
        &mut self,
        id: u64,
        leg: LegId,
        speaker: Speaker,
    ) -> Result<(), RelayError> {
        if !self.legs.contains_key(&leg) {
            return Err(RelayError::UnknownLeg(leg));
        }
        match self.call_recordings.add_leg(id, leg, speaker) {
            Ok(true) => Ok(()),
            Ok(false) => Err(RelayError::UnknownCallRecording(id)),
            Err(other) => Err(RelayError::LegInOtherRecording(leg, other)),
        }
    }

    /// The participant of `leg` left its call (the agent after a take over, staff leaving):
    /// its headset is no longer recorded. A leg not recorded: nothing happens.
    pub fn remove_from_call_recording(&mut self, leg: LegId) {
        self.call_recordings.remove_leg(leg);
    }

    /// Stops call recording `id` and returns it (also after its legs ended).
    pub fn stop_call_recording(&mut self, id: u64) -> Result<CallRecording, RelayError> {
        self.call_recordings.stop(id).ok_or(RelayError::UnknownCallRecording(id))
    }

    /// Feeds one inbound packet of `source` to its call recording, if any: `heard` if the
    /// routing table sends it anywhere.
    fn tap_call(&mut self, now: Instant, source: LegId, ssrc: u32, ts: u32, payload: &[u8]) {
        let heard = !self.routes.destinations(source).is_empty();
        self.call_recordings.tap(now, source, heard, ssrc, ts, payload);
    }

    /// Closes a leg at the owner's request. No event is emitted for it.
    pub fn close_leg(&mut self, leg: LegId) -> Result<(), RelayError> {
        self.remove_leg(leg).map(|_| ()).ok_or(RelayError::UnknownLeg(leg))
    }

    /// Number of open legs.
    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// Open legs by state: (connecting, connected).
    pub fn legs_by_state(&self) -> (usize, usize) {
        let connected = self.legs.values().filter(|l| l.state == LegState::Connected).count();
        (self.legs.len() - connected, connected)
    }

    /// The audio quality of every open leg that has sent audio (see [`crate::quality`]).
    pub fn leg_qualities(&self) -> Vec<(LegId, LegQuality)> {
        self.legs
            .iter()
            .map(|(id, leg)| (*id, leg.quality.quality()))
            .filter(|(_, q)| q.received > 0)
            .collect()
    }

    /// The audio quality of one leg, if it is open.
    pub fn leg_quality(&self, leg: LegId) -> Option<LegQuality> {
        self.legs.get(&leg).map(|l| l.quality.quality())
    }

    /// Feeds one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.stats.datagrams_in.inc();
        self.stats.bytes_in.inc_by(data.len() as u64);
        let kind = classify(data);
        let leg_id = match self.by_addr.get(&from) {
            Some(id) => *id,
            None => {
                let known = (kind == DatagramKind::Stun)
                    .then(|| binding_request_local_ufrag(data))
                    .flatten()
                    .and_then(|ufrag| self.by_ufrag.get(ufrag).copied());
                let Some(id) = known else {
                    self.stats.datagrams_dropped.inc();
                    return;
                };
                self.by_addr.insert(from, id);
                if let Some(leg) = self.legs.get_mut(&id) {
                    leg.addrs.push(from);
                }
                id
            }
        };
        if kind == DatagramKind::Unknown {
            self.stats.datagrams_dropped.inc();
            return;
        }
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            self.by_addr.remove(&from);
            self.stats.datagrams_dropped.inc();
            return;
        };
        leg.last_rx = now;
        // The participant's RTCP, once its keys are proven, is read here for the round-trip
        // time (rtc would drop it: its interceptor chain ends inbound RTCP) and goes no further.
        if kind == DatagramKind::Rtp
            && is_rtcp(data)
            && let FastPath::Ready(fast) = &mut leg.fast
            && let Some(plain) = fast.decrypt_rtcp(data)
        {
            match rtc::rtcp::packet::unmarshal(&mut &plain[..]) {
                Ok(packets) => round_trips(leg, &packets, ntp_time(self.epoch, now)),
                Err(_) => self.stats.datagrams_dropped.inc(),
            }
            return;
        }
        if kind == DatagramKind::Rtp
            && !is_rtcp(data)
            && let FastPath::Ready(fast) = &mut leg.fast
        {
            match fast.decrypt(data) {
                Decrypted::Packet(plain) => {
                    leg.peer = Some(from);
                    self.forward_plain(now, leg_id, &plain);
                    return;
                }
                Decrypted::Rejected => {
                    self.stats.datagrams_dropped.inc();
                    return;
                }
                Decrypted::GiveUp => {
                    tracing::warn!(leg = %leg_id, "captured SRTP keys do not decrypt; using the stack's RTP path");
                    leg.fast = FastPath::Off;
                }
            }
        }
        let message = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.advertised,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        };
        if let Err(e) = leg.pc.handle_read(message) {
            tracing::debug!(leg = %leg_id, error = %e, "datagram rejected by the WebRTC stack");
            self.stats.datagrams_dropped.inc();
        }
        self.service(now, leg_id);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, leg_id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(leg) = self.legs.get_mut(&leg_id) else { continue };
            if leg.scheduled != Some(at) {
                continue;
            }
            leg.scheduled = None;
            if let Err(e) = leg.pc.handle_timeout(now) {
                tracing::debug!(leg = %leg_id, error = %e, "timeout handling failed");
            }
            self.service(now, leg_id);
        }
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP_INTERVAL;
            self.sweep(now);
        }
        if self.held.is_empty() {
            self.hold_idle = true;
        } else {
            if self.hold_idle || now.saturating_duration_since(self.next_hold_tick) > HOLD_MAX_LATE
            {
                self.hold_idle = false;
                self.next_hold_tick = now;
            }
            while now >= self.next_hold_tick {
                self.next_hold_tick += HOLD_FRAME;
                self.hold_tick(now);
            }
        }
    }

    /// The earliest instant at which [`RelayCore::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Instant {
        let mut at = match self.timers.peek() {
            Some(Reverse((at, _))) => (*at).min(self.next_sweep),
            None => self.next_sweep,
        };
        if !self.held.is_empty() {
            // While idle this is in the past (or at most one frame ahead): a new hold starts
            // at once.
            at = at.min(self.next_hold_tick);
        }
        at
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.pop_front()
    }

    /// The next event for the owner of the legs.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// Ends legs that never connected or went silent; sends the sender reports that are due.
    fn sweep(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut reported = Vec::new();
        for leg in self.legs.values_mut() {
            // A leg none of whose slots has sent yet is looked at again at the next sweep.
            if leg.state == LegState::Connected
                && now >= leg.next_report
                && send_sender_reports(leg, now, ntp_time(self.epoch, now))
            {
                leg.next_report = now + REPORT_INTERVAL;
                reported.push(leg.id);
            }
            let reason = match leg.state {
                LegState::Connecting
                    if now.duration_since(leg.created_at) > self.timeouts.connect =>
                {
                    Some(LegEndReason::ConnectTimeout)
                }
                LegState::Connected if now.duration_since(leg.last_rx) > self.timeouts.silence => {
                    Some(LegEndReason::Silence)
                }
                _ => None,
            };
            if let Some(reason) = reason {
                expired.push((leg.id, reason));
            }
        }
        for leg in reported {
            self.flush(now, leg);
        }
        for (leg, reason) in expired {
            self.fail_leg(leg, reason);
        }
    }

    fn fail_leg(&mut self, leg: LegId, reason: LegEndReason) {
        if self.remove_leg(leg).is_some() {
            tracing::info!(%leg, ?reason, "media leg ended");
            self.stats.legs_failed.inc();
            self.events.push_back(RelayEvent::LegEnded { leg, reason });
        }
    }

    fn remove_leg(&mut self, id: LegId) -> Option<Leg> {
        let mut leg = self.legs.remove(&id)?;
        let quality = leg.quality.quality();
        if let Some(mos) = quality.mos {
            self.stats.leg_mos.observe(mos);
        }
        if let Some(rtt_ms) = quality.rtt_ms {
            self.stats.leg_rtt_seconds.observe(rtt_ms / 1000.0);
        }
        if leg.hold.is_some() {
            self.held.retain(|l| *l != id);
        }
        self.by_ufrag.remove(&leg.ufrag);
        for addr in &leg.addrs {
            self.by_addr.remove(addr);
        }
        self.routes.remove_leg(id);
        self.recordings.leg_ended(id);
        self.call_recordings.remove_leg(id);
        // Tell the participant (DTLS close_notify) so it does not wait for consent to fail.
        let _ = leg.pc.close();
        while let Some(out) = leg.pc.poll_write() {
            self.queue_transmit(out);
        }
        Some(leg)
    }

    fn queue_transmit(&mut self, out: TaggedBytesMut) {
        self.queue_datagram(out.transport.peer_addr, out.message);
    }

    fn queue_datagram(&mut self, to: SocketAddr, payload: BytesMut) {
        self.stats.datagrams_out.inc();
        self.stats.bytes_out.inc_by(payload.len() as u64);
        self.transmit.push_back(Transmit { to, payload });
    }

    /// Drains everything a leg's stack produced: events, received media, datagrams; then
    /// reschedules its timer.
    fn service(&mut self, now: Instant, id: LegId) {
        let mut failed = None;
        let mut media = Vec::new();
        {
            let Some(leg) = self.legs.get_mut(&id) else { return };
            while let Some(event) = leg.pc.poll_event() {
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                    match state {
                        RTCPeerConnectionState::Connected if leg.state == LegState::Connecting => {
                            leg.state = LegState::Connected;
                            leg.start_fast_path();
                            tracing::info!(leg = %id, setup_ms = now.duration_since(leg.created_at).as_millis() as u64, "media leg connected");
                            self.events.push_back(RelayEvent::LegConnected { leg: id });
                        }
                        RTCPeerConnectionState::Failed => failed = Some(LegEndReason::Failed),
                        // `Disconnected` is not an end: rtc counts only STUN checks as signs
                        // of life, so two lost consent checks would end a call still carrying
                        // audio. Silence is judged by the relay's own limit (any datagram).
                        RTCPeerConnectionState::Closed if leg.state == LegState::Connected => {
                            failed = Some(LegEndReason::Disconnected)
                        }
                        _ => {}
                    }
                }
            }
            while let Some(message) = leg.pc.poll_read() {
                if let RTCMessage::RtpPacket(_, packet) = message.message {
                    if !self.recordings.is_idle() {
                        let h = &packet.header;
                        self.recordings.tap(id, h.ssrc, h.timestamp, &packet.payload);
                    }
                    media.push(packet);
                }
            }
        }
        for packet in media {
            if !self.call_recordings.is_idle() {
                let h = &packet.header;
                self.tap_call(now, id, h.ssrc, h.timestamp, &packet.payload);
            }
            self.forward(now, id, packet);
        }
        self.flush(now, id);
        if let Some(reason) = failed {
            self.fail_leg(id, reason);
        }
    }

    /// Copies one RTP packet (decrypted by the leg's stack) from `source` to every slot the
    /// routing table names.
    fn forward(&mut self, now: Instant, source: LegId, packet: rtc::rtp::Packet) {
        let h = &packet.header;
        self.measure(now, source, h.ssrc, h.sequence_number, h.timestamp);
        let key = SourceKey { leg: source.0, ssrc: h.ssrc };
        self.forward_payload(now, key, h.sequence_number, h.timestamp, h.marker, &packet.payload);
    }

    /// Counts a packet from `source` in its leg's receiver statistics.
    fn measure(&mut self, now: Instant, source: LegId, ssrc: u32, seq: u16, timestamp: u32) {
        if let Some(leg) = self.legs.get_mut(&source) {
            leg.quality.on_packet(now, ssrc, seq, timestamp);
        }
    }

    /// The fast path's [`RelayCore::forward`]: `plain` is a decrypted RTP packet.
    fn forward_plain(&mut self, now: Instant, source: LegId, plain: &[u8]) {
        let mut rest = plain;
        let Ok(h) = rtc::rtp::header::Header::unmarshal(&mut rest) else {
            self.stats.datagrams_dropped.inc();
            return;
        };
        self.measure(now, source, h.ssrc, h.sequence_number, h.timestamp);
        let start = plain.len() - rest.len();
        let mut end = plain.len();
        if h.padding {
            end = end.saturating_sub(plain.last().copied().unwrap_or(0) as usize).max(start);
        }
        // Recording sees the fast path's packets as it sees the stack's.
        if !self.recordings.is_idle() {
            self.recordings.tap(source, h.ssrc, h.timestamp, &plain[start..end]);
        }
        if !self.call_recordings.is_idle() {
            self.tap_call(now, source, h.ssrc, h.timestamp, &plain[start..end]);
        }
        let key = SourceKey { leg: source.0, ssrc: h.ssrc };
        self.forward_payload(
            now,
            key,
            h.sequence_number,
            h.timestamp,
            h.marker,
            &plain[start..end],
        );
    }

    /// Writes one source packet to every slot fed by its leg. Header extensions and padding
    /// are not forwarded: they were negotiated with the sender, not with the receivers.
    fn forward_payload(
        &mut self,
        now: Instant,
        key: SourceKey,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) {
        self.stats.rtp_in.inc();
        let mut destinations = std::mem::take(&mut self.scratch_dest);
        destinations.clear();
        destinations.extend_from_slice(self.routes.destinations(LegId(key.leg)));
        for &dest in &destinations {
            if self.write_to_slot(now, dest, key, seq, ts, marker, payload) {
                self.stats.rtp_forwarded.inc();
            }
        }
        self.scratch_dest = destinations;
    }

    /// One hold tick: the next tune packet to slot 0 of every held, connected leg whose slot 0
    /// has no source. Allocates nothing of its own (the payload is a shared slice).
    fn hold_tick(&mut self, now: Instant) {
        let tune = Arc::clone(&self.hold_tune);
        for i in 0..self.held.len() {
            let id = self.held[i];
            let slot = SlotRef { leg: id, slot: 0 };
            let fed = self.routes.source_of(slot).is_some();
            let Some(leg) = self.legs.get_mut(&id) else { continue };
            let Some(hold) = leg.hold.as_mut() else { continue };
            if fed {
                // The agent (or anyone) feeds the slot: the tune yields; it starts over when
                // the slot is silent again.
                hold.running = false;
                hold.next = 0;
                continue;
            }
            if leg.state != LegState::Connected {
                continue;
            }
            if !hold.running {
                hold.running = true;
                // A new run of the tune is a source switch for the slot, even when the
                // previous packet on it was also the tune's: the timestamp must cover the pause.
                leg.slots[0].rewriter.detach();
            }
            let payload: &Bytes = &tune.packets()[hold.next];
            hold.next = (hold.next + 1) % tune.len();
            hold.seq = hold.seq.wrapping_add(1);
            hold.ts = hold.ts.wrapping_add(FRAME_TICKS);
            let (seq, ts) = (hold.seq, hold.ts);
            if self.write_to_slot(now, slot, HOLD_SOURCE, seq, ts, false, payload) {
                self.stats.hold_packets_sent.inc();
            }
        }
    }

    /// Writes one packet of `source` to a receive slot: rewrites its header into the slot's
    /// stream, encrypts it (our own SRTP context on the fast path, else the leg's stack) and
    /// queues the datagram. False when the leg is gone, not connected, or the packet could not
    /// be encrypted.
    #[allow(clippy::too_many_arguments)]
    fn write_to_slot(
        &mut self,
        now: Instant,
        dest: SlotRef,
        source: SourceKey,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> bool {
        let Some(leg) = self.legs.get_mut(&dest.leg) else { return false };
        if leg.state != LegState::Connected {
            return false;
        }
        let slot = &mut leg.slots[dest.slot as usize];
        let out = slot.rewriter.rewrite(now, source, seq, ts);
        slot.packets_sent = slot.packets_sent.wrapping_add(1);
        slot.octets_sent = slot.octets_sent.wrapping_add(payload.len() as u32);
        let header = rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type: slot.payload_type,
            sequence_number: out.seq,
            timestamp: out.ts,
            ssrc: out.ssrc,
            ..Default::default()
        };
        let sender = slot.sender;
        if let (FastPath::Ready(fast), Some(to)) = (&mut leg.fast, leg.peer) {
            let plain = &mut self.scratch_plain;
            plain.clear();
            plain.resize(12, 0);
            if header.marshal_to(&mut plain[..12]).is_err() {
                return false;
            }
            plain.extend_from_slice(payload);
            let Some(datagram) = fast.encrypt(plain, &header) else { return false };
            self.queue_datagram(to, datagram);
            return true;
        }
        let packet = rtc::rtp::Packet { header, payload: Bytes::copy_from_slice(payload) };
        let written = match leg.pc.rtp_sender(sender).map(|mut s| s.write_rtp(now, packet)) {
            Some(Ok(())) => true,
            Some(Err(e)) => {
                tracing::debug!(leg = %dest.leg, error = %e, "write_rtp failed");
                false
            }
            None => false,
        };
        self.flush(now, dest.leg);
        written
    }

    /// Queues a leg's outgoing datagrams and reschedules its timer.
    fn flush(&mut self, now: Instant, id: LegId) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let mut out = Vec::new();
        while let Some(datagram) = leg.pc.poll_write() {
            // DTLS and SRTCP go to the selected pair only (STUN answers every checked pair).
            if crate::demux::classify(&datagram.message) != DatagramKind::Stun {
                leg.peer = Some(datagram.transport.peer_addr);
            }
            out.push(datagram);
        }
        if let Some(at) = leg.pc.poll_timeout() {
            let at = at.max(now + Duration::from_millis(1));
            if leg.scheduled.is_none_or(|s| at < s || s < now) {
                leg.scheduled = Some(at);
                self.timers.push(Reverse((at, id)));
            }
        }
        for datagram in out {
            self.queue_transmit(datagram);
        }
    }

    /// Test hook: the routing table.
    #[doc(hidden)]
    pub fn routes(&self) -> &RoutingTable {
        &self.routes
    }
}

/// `now` as a 64-bit NTP timestamp (32.32 fixed point seconds) counted from `epoch`, plus one
/// second so that its middle 32 bits — what a receiver report echoes — are never 0 ("no
/// sender report received") at the start.
fn ntp_time(epoch: Instant, now: Instant) -> u64 {
    let since = now.saturating_duration_since(epoch) + Duration::from_secs(1);
    (since.as_secs() << 32) | ((u64::from(since.subsec_nanos()) << 32) / 1_000_000_000)
}

/// Writes one sender report (RFC 3550 §6.4.1) per slot that has sent audio into the leg's
/// stack (SRTCP is the stack's). True if any was written.
fn send_sender_reports(leg: &mut Leg, now: Instant, ntp: u64) -> bool {
    let mut wrote = false;
    for slot in &leg.slots {
        let Some(rtp_time) = slot.rewriter.timestamp_at(now) else { continue };
        let report = rtc::rtcp::sender_report::SenderReport {
            ssrc: slot.rewriter.ssrc,
            ntp_time: ntp,
            rtp_time,
            packet_count: slot.packets_sent,
            octet_count: slot.octets_sent,
            ..Default::default()
        };
        match leg.pc.rtp_sender(slot.sender).map(|mut s| s.write_rtcp(now, vec![Box::new(report)]))
        {
            Some(Ok(())) => wrote = true,
            Some(Err(e)) => tracing::debug!(leg = %leg.id, error = %e, "sender report not written"),
            None => {}
        }
    }
    wrote
}

/// Takes the round-trip times out of a participant's RTCP: every reception report block (in a
/// receiver or a sender report) about one of the leg's slots that echoes a sender report of
/// ours gives RTT = arrival − LSR − DLSR (RFC 3550 §6.4.1, in 1/65536 s). `arrival` is the
/// NTP time the compound packet arrived.
fn round_trips(leg: &mut Leg, packets: &[Box<dyn rtc::rtcp::Packet>], arrival: u64) {
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::rtcp::sender_report::SenderReport;
    let arrival = (arrival >> 16) as u32;
    for packet in packets {
        let any = packet.as_any();
        let blocks = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            &rr.reports
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            &sr.reports
        } else {
            continue;
        };
        for block in blocks {
            if block.last_sender_report == 0
                || !leg.slots.iter().any(|s| s.rewriter.ssrc == block.ssrc)
            {
                continue;
            }
            let rtt = arrival.wrapping_sub(block.last_sender_report).wrapping_sub(block.delay);
            // A "negative" round trip (a report older than our clock's start, or a
            // participant that miscounts its delay) is no measurement.
            if rtt < 1 << 31 {
                leg.quality.on_round_trip(f64::from(rtt) * 1000.0 / 65536.0);
            }
        }
    }
}
