//! The media side of a voicedesk client: one WebRTC peer connection with fixed receive slots.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCSessionDescription, Registry,
    SettingEngineBuilder, configure_rtcp_reports,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

pub use webrtc::peer_connection::RTCPeerConnectionState;

use crate::marker::{
    MARKER_PAYLOAD_LEN, Marker, Tag, micros_since_epoch, parse_marker, tag_to_string,
};

/// RTP payload type of Opus in every SDP this crate writes (and the relay answers).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;
/// Opus RTP clock rate.
pub const OPUS_CLOCK_RATE: u32 = 48_000;
/// Channels Opus is negotiated with (always 2 in SDP, RFC 7587).
pub const OPUS_CHANNELS: u16 = 2;
/// Interval between two packets a sending leg writes.
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// RTP timestamp increment per packet: 20 ms at 48 kHz.
pub const TIMESTAMP_STEP: u32 = 960;

/// How a [`MediaLeg`] is set up. [`Default`] suits a client and server on one machine.
#[derive(Debug, Clone)]
pub struct MediaLegConfig {
    /// Local UDP addresses to bind, one host candidate each. Default `127.0.0.1:0`: a concrete
    /// loopback address (webrtc 0.21 expands a wildcard like `0.0.0.0:0` into one socket per
    /// interface *skipping loopback*, so loopback must be named to be used). A softphone talking
    /// to a server on another machine passes `0.0.0.0:0` or a concrete interface address.
    pub bind_addrs: Vec<String>,
    /// How long [`MediaLeg::create_offer`] and [`MediaLeg::answer`] wait for ICE gathering to
    /// complete. Default 10 s.
    pub gather_timeout: Duration,
    /// How many of the latest markers each slot keeps in [`SlotStats::recent`]. Default 512.
    pub marker_history: usize,
    /// TURN (or STUN) servers, e.g. from [`crate::fetch_ice_servers`]. Default none: the
    /// relay's own candidate is enough wherever its port is reachable.
    pub ice_servers: Vec<IceServer>,
    /// Use only candidates relayed through a TURN server (`iceTransportPolicy: "relay"`).
    pub relay_only: bool,
}

/// One ICE server as `GET /api/ice-servers` hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `turn:`/`turns:`/`stun:` URIs.
    pub urls: Vec<String>,
    /// The TURN username (`<expiry>:<id>`).
    pub username: String,
    /// The TURN password.
    pub credential: String,
}

impl Default for MediaLegConfig {
    fn default() -> Self {
        MediaLegConfig {
            bind_addrs: vec!["127.0.0.1:0".to_owned()],
            gather_timeout: Duration::from_secs(10),
            marker_history: 512,
            ice_servers: Vec::new(),
            relay_only: false,
        }
    }
}

/// One RTP packet's position in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPoint {
    /// The packet's SSRC.
    pub ssrc: u32,
    /// The RTP sequence number.
    pub seq: u16,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// When the reading task saw it.
    pub arrived_at: Instant,
}

/// A marker as received on a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedMarker {
    /// The marker at the start of the payload.
    pub marker: Marker,
    /// Where the packet sat in the slot's RTP stream.
    pub rtp: RtpPoint,
}

impl ReceivedMarker {
    /// Arrival time.
    pub fn arrived_at(&self) -> Instant {
        self.rtp.arrived_at
    }

    /// One-way latency: arrival minus the send time in the marker (both clocks of this process).
    pub fn latency(&self) -> Duration {
        self.marker.latency(self.rtp.arrived_at)
    }
}

/// What one receive slot has received so far. A snapshot: [`MediaLeg::received`] clones it.
#[derive(Debug, Clone, Default)]
pub struct SlotStats {
    /// RTP packets received.
    pub packets: u64,
    /// Payload bytes received (RTP headers excluded).
    pub bytes: u64,
    /// Packets without a marker (e.g. the relay's hold audio).
    pub unmarked: u64,
    /// Packets per sender tag.
    pub per_tag: HashMap<Tag, u64>,
    /// Arrival of the first packet of each tag.
    pub first_arrival_by_tag: HashMap<Tag, Instant>,
    /// The latest marker of each tag.
    pub last_by_tag: HashMap<Tag, ReceivedMarker>,
    /// The latest markers, oldest first (at most [`MediaLegConfig::marker_history`]).
    pub recent: VecDeque<ReceivedMarker>,
    /// Every SSRC seen, in order of first appearance.
    pub ssrcs: Vec<u32>,
    /// Payload types seen, in order of first appearance.
    pub payload_types: Vec<u8>,
    /// The first packet.
    pub first_rtp: Option<RtpPoint>,
    /// The latest packet.
    pub last_rtp: Option<RtpPoint>,
    /// Packets whose SSRC differed from the packet before.
    pub ssrc_changes: u64,
    /// Packets whose sequence number was not the previous one plus one (loss, reordering or a
    /// source switch that was not smoothed over).
    pub seq_jumps: u64,
    /// Packets whose RTP timestamp went backwards (in wrapping 32-bit order).
    pub timestamp_backwards: u64,
}

impl SlotStats {
    /// Packets received with `tag`.
    pub fn count(&self, tag: &Tag) -> u64 {
        self.per_tag.get(tag).copied().unwrap_or(0)
    }

    /// The kept markers of `tag`, oldest first.
    pub fn markers_of<'a>(&'a self, tag: &'a Tag) -> impl Iterator<Item = &'a ReceivedMarker> + 'a {
        self.recent.iter().filter(move |m| &m.marker.tag == tag)
    }

    /// A one-line summary for error messages.
    pub fn summary(&self) -> String {
        let mut tags: Vec<String> =
            self.per_tag.iter().map(|(t, n)| format!("{}={n}", tag_to_string(t))).collect();
        tags.sort();
        format!(
            "packets={} unmarked={} tags=[{}] ssrcs={:?} seq_jumps={}",
            self.packets,
            self.unmarked,
            tags.join(","),
            self.ssrcs,
            self.seq_jumps
        )
    }

    fn record(&mut self, packet: &rtp::Packet, arrived_at: Instant, history: usize) {
        let header = &packet.header;
        let point = RtpPoint {
            ssrc: header.ssrc,
            seq: header.sequence_number,
            timestamp: header.timestamp,
            arrived_at,
        };
        self.packets += 1;
        self.bytes += packet.payload.len() as u64;
        if !self.ssrcs.contains(&header.ssrc) {
            self.ssrcs.push(header.ssrc);
        }
        if !self.payload_types.contains(&header.payload_type) {
            self.payload_types.push(header.payload_type);
        }
        if let Some(last) = self.last_rtp {
            if last.ssrc != point.ssrc {
                self.ssrc_changes += 1;
            }
            if point.seq != last.seq.wrapping_add(1) {
                self.seq_jumps += 1;
            }
            // Wrapping comparison: a step of more than 2^31 backwards-or-forwards reads as back.
            if point.timestamp.wrapping_sub(last.timestamp) > u32::MAX / 2 {
                self.timestamp_backwards += 1;
            }
        }
        self.first_rtp.get_or_insert(point);
        self.last_rtp = Some(point);

        match parse_marker(&packet.payload) {
            Some(marker) => {
                *self.per_tag.entry(marker.tag).or_insert(0) += 1;
                self.first_arrival_by_tag.entry(marker.tag).or_insert(arrived_at);
                let received = ReceivedMarker { marker, rtp: point };
                self.last_by_tag.insert(marker.tag, received);
                if history > 0 {
                    if self.recent.len() == history {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(received);
                }
            }
            None => self.unmarked += 1,
        }
    }
}

/// What a sending slot has sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Packets handed to the peer connection.
    pub packets: u64,
    /// Payload bytes handed to the peer connection.
    pub bytes: u64,
    /// The marker sequence number of the latest packet.
    pub last_seq: Option<u32>,
    /// The tag of the latest packet.
    pub last_tag: Option<Tag>,
}

/// State shared by the leg, its event handler and its tasks.
struct Shared {
    label: String,
    history: usize,
    slots: Mutex<Vec<SlotStats>>,
    /// Woken after every received packet and every state change.
    changed: Notify,
    state: watch::Sender<RTCPeerConnectionState>,
    gathering: watch::Sender<RTCIceGatheringState>,
    /// Core transceiver id (the index webrtc hands out) → slot, known after negotiation.
    slot_map: watch::Sender<Option<HashMap<usize, usize>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Send-side impairment: every n-th packet is not written (0: none). See
    /// [`MediaLeg::set_send_loss`].
    drop_every: std::sync::atomic::AtomicU32,
}

impl Shared {
    fn slots(&self) -> MutexGuard<'_, Vec<SlotStats>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push_task(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

/// Receives the peer connection's callbacks. They run on webrtc's driver task, so each one
/// only records or spawns and returns at once.
struct Handler {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        debug!(leg = %self.shared.label, ?state, "ICE gathering");
        self.shared.gathering.send_replace(state);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        debug!(leg = %self.shared.label, %state, "connection state");
        self.shared.state.send_replace(state);
        self.shared.changed.notify_waiters();
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(read_track(Arc::clone(&shared), track));
        shared.push_task(task);
    }
}

/// Reads one remote track until it ends, recording every packet in its slot.
async fn read_track(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    let mut slot: Option<usize> = None;
    // Packets that arrive before the track's OnOpen names its receiver (not expected, but the
    // event queue gives no ordering promise).
    let mut early: Vec<(rtp::Packet, Instant)> = Vec::new();
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                let transceiver: usize = init.receiver_id.into();
                slot = slot_of(&shared, transceiver).await;
                match slot {
                    Some(s) => {
                        debug!(leg = %shared.label, slot = s, ssrc = init.ssrc, "remote track open");
                        let mut slots = shared.slots();
                        for (packet, at) in early.drain(..) {
                            slots[s].record(&packet, at, shared.history);
                        }
                    }
                    None => warn!(
                        leg = %shared.label,
                        transceiver,
                        "remote track on a transceiver that is no receive slot; ignoring it"
                    ),
                }
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let now = Instant::now();
                match slot {
                    Some(s) => {
                        shared.slots()[s].record(&packet, now, shared.history);
                        shared.changed.notify_waiters();
                    }
                    None if early.len() < 1024 => early.push((packet, now)),
                    None => {}
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
    debug!(leg = %shared.label, ?slot, "remote track ended");
}

/// The slot of a core transceiver id, waiting (boundedly) for negotiation to publish the map.
async fn slot_of(shared: &Shared, transceiver: usize) -> Option<usize> {
    let mut map = shared.slot_map.subscribe();
    let ready = tokio::time::timeout(Duration::from_secs(10), map.wait_for(Option::is_some)).await;
    match ready {
        Ok(Ok(map)) => map.as_ref().and_then(|m| m.get(&transceiver).copied()),
        _ => None,
    }
}

/// A sending slot: its local track and the task that writes to it.
struct LocalSender {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    /// `(generation, what to send)`; `None` = silent.
    command: watch::Sender<(u64, Option<Tag>)>,
    /// The latest generation the task has applied.
    applied: watch::Sender<u64>,
    stats: Arc<Mutex<SenderStats>>,
}

/// A WebRTC audio leg of a voicedesk participant, over the async `webrtc` crate.
///
/// It has a fixed number of receive slots (DESIGN.md, idea 4): slot `i` is the audio
/// transceiver of the `i`-th m-line. Slot 0 is `sendrecv` and carries the local track
/// [`start_sending`](Self::start_sending) writes marker packets to; the other slots are
/// `recvonly`. Every packet received on a slot is recorded in its [`SlotStats`].
///
/// Usual flow against the server: [`new`](Self::new) → [`create_offer`](Self::create_offer) →
/// send the SDP in `call`/`media_connect` → [`apply_answer`](Self::apply_answer) →
/// [`wait_connected`](Self::wait_connected) → [`start_sending`](Self::start_sending) → …
/// → [`close`](Self::close).
///
/// All methods take `&self`, so a leg can be shared in an `Arc` between tasks.
pub struct MediaLeg {
    shared: Arc<Shared>,
    pc: Arc<dyn PeerConnection>,
    receive_slots: usize,
    /// Per slot; `Some` where this leg sends.
    senders: Vec<Option<LocalSender>>,
    config: MediaLegConfig,
    closed: AtomicBool,
}

impl std::fmt::Debug for MediaLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLeg")
            .field("label", &self.shared.label)
            .field("receive_slots", &self.receive_slots)
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl MediaLeg {
    /// Builds the offering side of a leg with `receive_slots` (≥ 1) audio transceivers and the
    /// [default configuration](MediaLegConfig::default). `label` names it in logs and errors.
    pub async fn new(label: &str, receive_slots: usize) -> Result<Self> {
        Self::with_config(label, receive_slots, MediaLegConfig::default()).await
    }

    /// [`new`](Self::new) with an explicit configuration.
    pub async fn with_config(
        label: &str,
        receive_slots: usize,
        config: MediaLegConfig,
    ) -> Result<Self> {
        ensure!(receive_slots >= 1, "a media leg needs at least one receive slot");
        let shared = new_shared(label, receive_slots, &config);
        let pc = build_peer_connection(&shared, &config).await?;

        let sender = new_local_sender(label, 0);
        pc.add_transceiver_from_track(
            Arc::clone(&sender.track) as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendrecv,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .context("adding the sendrecv audio transceiver")?;
        for slot in 1..receive_slots {
            pc.add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await
            .with_context(|| format!("adding recvonly transceiver for slot {slot}"))?;
        }

        let mut senders: Vec<Option<LocalSender>> = (0..receive_slots).map(|_| None).collect();
        senders[0] = Some(sender);
        let leg =
            MediaLeg { shared, pc, receive_slots, senders, config, closed: AtomicBool::new(false) };
        leg.spawn_sender_tasks();
        Ok(leg)
    }

    /// Creates the SDP offer, sets it locally and waits for ICE gathering to complete, so the
    /// returned SDP carries every candidate (the server never trickles). Call once.
    pub async fn create_offer(&self) -> Result<String> {
        let offer = self.pc.create_offer(None).await.context("create_offer")?;
        self.pc.set_local_description(offer).await.context("setting the local offer")?;
        let sdp = self.gathered_local_sdp().await?;
        self.publish_slot_map(&sdp).await?;
        Ok(sdp)
    }

    /// Applies the server's SDP answer (one m-line per slot, in the offer's order).
    pub async fn apply_answer(&self, sdp: &str) -> Result<()> {
        let answer =
            RTCSessionDescription::answer(sdp.to_owned()).context("parsing the SDP answer")?;
        self.pc.set_remote_description(answer).await.context("applying the SDP answer")
    }

    /// Answers `offer_sdp` the way the relay does — one sending track per m-line, each slot
    /// able to send — and returns the leg with its answer SDP (gathering complete). Used to
    /// connect two legs directly in tests; slot `i` is again the `i`-th m-line.
    pub async fn answer(label: &str, offer_sdp: &str) -> Result<(Self, String)> {
        Self::answer_with_config(label, offer_sdp, MediaLegConfig::default()).await
    }

    /// [`answer`](Self::answer) with an explicit configuration.
    pub async fn answer_with_config(
        label: &str,
        offer_sdp: &str,
        config: MediaLegConfig,
    ) -> Result<(Self, String)> {
        let mids = media_mids(offer_sdp);
        ensure!(!mids.is_empty(), "the offer has no m-line");
        let receive_slots = mids.len();
        let shared = new_shared(label, receive_slots, &config);
        let pc = build_peer_connection(&shared, &config).await?;
        let offer =
            RTCSessionDescription::offer(offer_sdp.to_owned()).context("parsing the offer")?;
        pc.set_remote_description(offer).await.context("applying the offer")?;

        // `add_track` binds each track to the first audio transceiver without a sender, i.e.
        // in m-line order; which slot each one landed on is read back below by mid.
        let mut tracks = Vec::with_capacity(receive_slots);
        for slot in 0..receive_slots {
            let sender = new_local_sender(label, slot);
            pc.add_track(Arc::clone(&sender.track) as Arc<dyn TrackLocal>)
                .await
                .with_context(|| format!("adding the local track for slot {slot}"))?;
            let track_id = sender.track.track_id().await;
            tracks.push((track_id, sender));
        }
        let mut senders: Vec<Option<LocalSender>> = (0..receive_slots).map(|_| None).collect();
        for transceiver in pc.get_transceivers().await {
            let Some(mid) = transceiver.mid().await? else {
                continue;
            };
            let Some(slot) = mids.iter().position(|m| m.as_deref() == Some(mid.as_str())) else {
                continue;
            };
            let Some(rtp_sender) = transceiver.sender().await? else {
                continue;
            };
            let track_id = rtp_sender.track().track_id().await;
            if let Some(i) = tracks.iter().position(|(id, _)| *id == track_id) {
                senders[slot] = Some(tracks.swap_remove(i).1);
            }
        }

        let answer = pc.create_answer(None).await.context("create_answer")?;
        pc.set_local_description(answer).await.context("setting the local answer")?;
        let leg =
            MediaLeg { shared, pc, receive_slots, senders, config, closed: AtomicBool::new(false) };
        leg.publish_slot_map(offer_sdp).await?;
        let sdp = leg.gathered_local_sdp().await?;
        leg.spawn_sender_tasks();
        Ok((leg, sdp))
    }

    /// The label given at construction.
    pub fn label(&self) -> &str {
        &self.shared.label
    }

    /// Number of receive slots (= m-lines).
    pub fn receive_slots(&self) -> usize {
        self.receive_slots
    }

    /// The SSRC the local track of `slot` sends with, if this leg sends on that slot.
    pub fn local_ssrc(&self, slot: usize) -> Option<u32> {
        self.senders.get(slot)?.as_ref().map(|s| s.ssrc)
    }

    /// The peer connection's current state.
    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.shared.state.borrow()
    }

    /// Waits until the peer connection is connected (ICE and DTLS up). Fails at once if it
    /// fails or closes instead, and when `timeout` passes.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut state = self.shared.state.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            state.wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connected
                        | RTCPeerConnectionState::Failed
                        | RTCPeerConnectionState::Closed
                )
            }),
        )
        .await;
        let label = &self.shared.label;
        match reached {
            Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected => Ok(()),
            Ok(Ok(s)) => bail!("{label}: the peer connection is {} instead of connected", *s),
            Ok(Err(_)) => bail!("{label}: the peer connection is gone"),
            Err(_) => bail!(
                "{label}: not connected within {timeout:?} (state {})",
                self.connection_state()
            ),
        }
    }

    /// Starts (or re-tags) sending on slot 0: one marker packet with `tag` every 20 ms, from
    /// when the connection is up until [`stop_sending`](Self::stop_sending).
    ///
    /// # Panics
    ///
    /// If this leg does not send on slot 0 (only possible for an [`answer`](Self::answer)
    /// leg whose offer had no audio there).
    pub fn start_sending(&self, tag: Tag) {
        self.start_sending_on(0, tag);
    }

    /// Starts (or re-tags) sending on `slot` (an [`answer`](Self::answer) leg sends on every
    /// slot the offer lets it; an offering leg only on slot 0).
    ///
    /// Each packet: payload type 111, a [`MARKER_PAYLOAD_LEN`]-byte payload starting with a
    /// [`Marker`] (the marker sequence number counts per sending slot and continues across
    /// stop/start), RTP sequence number +1 and timestamp +960 per packet, the RTP marker bit
    /// on the first packet after a (re)start.
    ///
    /// # Panics
    ///
    /// If the leg does not send on `slot`.
    pub fn start_sending_on(&self, slot: usize, tag: Tag) {
        let sender = self.sender(slot);
        sender.command.send_modify(|(generation, what)| {
            *generation += 1;
            *what = Some(tag);
        });
    }

    /// Impairs what this leg sends, as a lossy network would: from now on every `every`-th
    /// packet (by the sender's own count, so the pattern is the same on every run) is not
    /// written, while sequence numbers and timestamps move on. `20` is 5 % loss; `0` stops
    /// the impairment. Packets not written are not in [`SenderStats`].
    pub fn set_send_loss(&self, every: u32) {
        self.shared.drop_every.store(every, Ordering::Relaxed);
    }

    /// Stops sending on slot 0 and returns what was sent. When it returns no further packet
    /// is handed to the peer connection (packets already handed over may still be in flight).
    pub async fn stop_sending(&self) -> SenderStats {
        self.stop_sending_on(0).await
    }

    /// [`stop_sending`](Self::stop_sending) for `slot`.
    ///
    /// # Panics
    ///
    /// If the leg does not send on `slot`.
    pub async fn stop_sending_on(&self, slot: usize) -> SenderStats {
        let sender = self.sender(slot);
        if self.closed.load(Ordering::SeqCst) {
            // `close` stopped every sender already and its tasks are gone.
            return self.sent_on(slot);
        }
        self.stop_sender(slot, sender).await
    }

    /// Tells a sender task to go silent and waits until it has.
    async fn stop_sender(&self, slot: usize, sender: &LocalSender) -> SenderStats {
        let mut target = 0;
        sender.command.send_modify(|(generation, what)| {
            *generation += 1;
            *what = None;
            target = *generation;
        });
        let mut applied = sender.applied.subscribe();
        // The task acknowledges between two writes; a write stuck for this long means the
        // peer connection is wedged, and nothing more will be sent anyway.
        let acked =
            tokio::time::timeout(Duration::from_secs(5), applied.wait_for(|g| *g >= target)).await;
        if acked.is_err() {
            warn!(leg = %self.shared.label, slot, "sender did not acknowledge stop within 5 s");
        }
        self.sent_on(slot)
    }

    /// What slot 0 has sent so far.
    pub fn sent(&self) -> SenderStats {
        self.sent_on(0)
    }

    /// What `slot` has sent so far (all zero where the leg does not send).
    pub fn sent_on(&self, slot: usize) -> SenderStats {
        match self.senders.get(slot).and_then(Option::as_ref) {
            Some(s) => *s.stats.lock().unwrap_or_else(|e| e.into_inner()),
            None => SenderStats::default(),
        }
    }

    /// A snapshot of what `slot` has received.
    ///
    /// # Panics
    ///
    /// If `slot >= receive_slots()`.
    pub fn received(&self, slot: usize) -> SlotStats {
        let slots = self.shared.slots();
        assert!(slot < slots.len(), "{}: no receive slot {slot}", self.shared.label);
        slots[slot].clone()
    }

    /// Waits until the snapshot of `slot` satisfies `predicate` and returns that snapshot.
    /// Checked after every received packet; fails with the last snapshot's summary when
    /// `timeout` passes.
    pub async fn wait_until<F>(
        &self,
        slot: usize,
        timeout: Duration,
        mut predicate: F,
    ) -> Result<SlotStats>
    where
        F: FnMut(&SlotStats) -> bool,
    {
        match self
            .wait_changed(timeout, || Some(self.received(slot)).filter(|s| predicate(s)))
            .await
        {
            Some(snapshot) => Ok(snapshot),
            None => bail!(
                "{}: slot {slot}: condition not met within {timeout:?} (state {}; {})",
                self.shared.label,
                self.connection_state(),
                self.received(slot).summary()
            ),
        }
    }

    /// Waits until the sender of slot 0 has sent at least `packets` packets in all (no
    /// polling: every packet sent wakes the waiter).
    pub async fn wait_sent(&self, packets: u64, timeout: Duration) -> Result<SenderStats> {
        match self
            .wait_changed(timeout, || Some(self.sent()).filter(|s| s.packets >= packets))
            .await
        {
            Some(stats) => Ok(stats),
            None => bail!(
                "{}: {packets} packets not sent within {timeout:?} ({} sent)",
                self.shared.label,
                self.sent().packets
            ),
        }
    }

    /// Re-evaluates `probe` each time the leg reports a change (a packet in or out, a state
    /// change) until it yields a value or `timeout` passes.
    async fn wait_changed<T>(
        &self,
        timeout: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = probe() {
                return Some(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return probe();
            }
        }
    }

    /// Waits for the first packet tagged `tag` on `slot` and returns when it arrived (which
    /// may be before this call).
    pub async fn wait_for_tag(&self, slot: usize, tag: Tag, timeout: Duration) -> Result<Instant> {
        let stats = self
            .wait_until(slot, timeout, |s| s.first_arrival_by_tag.contains_key(&tag))
            .await
            .with_context(|| format!("waiting for tag {}", tag_to_string(&tag)))?;
        stats
            .first_arrival_by_tag
            .get(&tag)
            .copied()
            .ok_or_else(|| anyhow!("tag vanished from the snapshot"))
    }

    /// Waits until `slot` has received at least `n` packets in total and returns the snapshot.
    pub async fn wait_packets(&self, slot: usize, n: u64, timeout: Duration) -> Result<SlotStats> {
        self.wait_until(slot, timeout, |s| s.packets >= n)
            .await
            .with_context(|| format!("waiting for {n} packets"))
    }

    /// Waits until `slot` has received at least `n` packets tagged `tag`.
    pub async fn wait_tag_count(
        &self,
        slot: usize,
        tag: Tag,
        n: u64,
        timeout: Duration,
    ) -> Result<SlotStats> {
        self.wait_until(slot, timeout, |s| s.count(&tag) >= n)
            .await
            .with_context(|| format!("waiting for {n} packets tagged {}", tag_to_string(&tag)))
    }

    /// The local description as currently set (after [`create_offer`](Self::create_offer) or
    /// [`answer`](Self::answer)).
    pub async fn local_sdp(&self) -> Option<String> {
        self.pc.local_description().await.map(|d| d.sdp)
    }

    /// Stops sending, closes the peer connection and ends the leg's tasks. Idempotent.
    pub async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        for (slot, sender) in self.senders.iter().enumerate() {
            if let Some(sender) = sender {
                self.stop_sender(slot, sender).await;
            }
        }
        let result = self.pc.close().await.context("closing the peer connection");
        self.abort_tasks();
        self.shared.state.send_replace(RTCPeerConnectionState::Closed);
        self.shared.changed.notify_waiters();
        result
    }

    fn sender(&self, slot: usize) -> &LocalSender {
        match self.senders.get(slot).and_then(Option::as_ref) {
            Some(s) => s,
            None => panic!("{}: this leg does not send on slot {slot}", self.shared.label),
        }
    }

    fn abort_tasks(&self) {
        let tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            task.abort();
        }
    }

    /// Waits for ICE gathering to complete and returns the local SDP with its candidates.
    async fn gathered_local_sdp(&self) -> Result<String> {
        let mut gathering = self.shared.gathering.subscribe();
        let timeout = self.config.gather_timeout;
        let complete = tokio::time::timeout(
            timeout,
            gathering.wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await;
        let sdp = self
            .pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| anyhow!("{}: no local description", self.shared.label))?;
        if !matches!(complete, Ok(Ok(_))) {
            ensure!(
                sdp.contains("a=candidate:"),
                "{}: ICE gathering did not complete within {timeout:?} and found no candidate",
                self.shared.label
            );
            warn!(leg = %self.shared.label, "ICE gathering incomplete after {timeout:?}; using the candidates found");
        }
        Ok(sdp)
    }

    /// Maps every transceiver to its slot: the position of its mid among `offer_sdp`'s m-lines.
    async fn publish_slot_map(&self, offer_sdp: &str) -> Result<()> {
        let mids = media_mids(offer_sdp);
        let mut map = HashMap::new();
        for transceiver in self.pc.get_transceivers().await {
            let Some(mid) = transceiver.mid().await? else {
                continue;
            };
            if let Some(slot) = mids.iter().position(|m| m.as_deref() == Some(mid.as_str())) {
                map.insert(transceiver.id(), slot);
            }
        }
        ensure!(
            map.len() == self.receive_slots,
            "{}: {} of {} slots have a transceiver with a mid from the offer",
            self.shared.label,
            map.len(),
            self.receive_slots
        );
        self.shared.slot_map.send_replace(Some(map));
        Ok(())
    }

    fn spawn_sender_tasks(&self) {
        for sender in self.senders.iter().flatten() {
            let task = tokio::spawn(run_sender(
                Arc::clone(&self.shared),
                Arc::clone(&sender.track),
                sender.ssrc,
                sender.command.subscribe(),
                sender.applied.clone(),
                Arc::clone(&sender.stats),
            ));
            self.shared.push_task(task);
        }
    }
}

impl Drop for MediaLeg {
    fn drop(&mut self) {
        self.abort_tasks();
        if !self.closed.swap(true, Ordering::SeqCst)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let pc = Arc::clone(&self.pc);
            runtime.spawn(async move {
                let _ = pc.close().await;
            });
        }
    }
}

fn new_shared(label: &str, receive_slots: usize, config: &MediaLegConfig) -> Arc<Shared> {
    Arc::new(Shared {
        label: label.to_owned(),
        history: config.marker_history,
        slots: Mutex::new(vec![SlotStats::default(); receive_slots]),
        changed: Notify::new(),
        state: watch::Sender::new(RTCPeerConnectionState::New),
        gathering: watch::Sender::new(RTCIceGatheringState::New),
        slot_map: watch::Sender::new(None),
        tasks: Mutex::new(Vec::new()),
        drop_every: std::sync::atomic::AtomicU32::new(0),
    })
}

/// The Opus codec every leg negotiates: PT 111, 48 kHz, 2 channels.
fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: OPUS_CLOCK_RATE,
        channels: OPUS_CHANNELS,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

async fn build_peer_connection(
    shared: &Arc<Shared>,
    config: &MediaLegConfig,
) -> Result<Arc<dyn PeerConnection>> {
    ensure!(!config.bind_addrs.is_empty(), "a media leg needs at least one bind address");
    let mut media_engine = MediaEngine::default();
    media_engine
        .register_codec(
            RTCRtpCodecParameters { rtp_codec: opus_codec(), payload_type: OPUS_PAYLOAD_TYPE },
            RtpCodecKind::Audio,
        )
        .context("registering Opus")?;
    // Sender and receiver reports only: no NACK/TWCC, which an audio relay does not need.
    let registry = configure_rtcp_reports(Registry::new());
    let setting_engine = SettingEngineBuilder::new()
        // The default (QueryOnly) binds a multicast socket on port 5353 per connection, which a
        // load generator with hundreds of legs does not want; host candidates are plain IPs.
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        // Not consulted by webrtc 0.21's async gatherer (candidates come from the bound
        // sockets); set for the day it is, since loopback is exactly what we bind.
        .with_include_loopback_candidate(true)
        // Check pairs every 20 ms instead of 200 ms: against an ICE-lite relay the first
        // successful check is nominated on the next tick, so this is most of the set-up time
        // (200 ms → ~25 ms). 70 attempts keep the default 1.4 s before a pair fails.
        .with_ice_connection_attempts(Some(Duration::from_millis(20)), Some(70))
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(
                    config
                        .ice_servers
                        .iter()
                        .map(|s| rtc::peer_connection::configuration::RTCIceServer {
                            urls: s.urls.clone(),
                            username: s.username.clone(),
                            credential: s.credential.clone(),
                        })
                        .collect(),
                )
                .with_ice_transport_policy(if config.relay_only {
                    rtc::peer_connection::configuration::RTCIceTransportPolicy::Relay
                } else {
                    rtc::peer_connection::configuration::RTCIceTransportPolicy::All
                })
                .build(),
        )
        .with_media_engine(media_engine)
        .with_setting_engine(setting_engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler { shared: Arc::clone(shared) }))
        .with_udp_addrs(config.bind_addrs.clone())
        .build()
        .await
        .with_context(|| format!("{}: building the peer connection", shared.label))?;
    Ok(Arc::new(pc))
}

fn new_local_sender(label: &str, slot: usize) -> LocalSender {
    let ssrc = loop {
        let s: u32 = rand::random();
        if s != 0 {
            break s;
        }
    };
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("{label}-stream"),
        format!("{label}-audio-{slot}"),
        format!("{label} audio {slot}"),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            active: true,
            codec: opus_codec(),
            ..Default::default()
        }],
    )));
    LocalSender {
        track,
        ssrc,
        command: watch::Sender::new((0, None)),
        applied: watch::Sender::new(0),
        stats: Arc::new(Mutex::new(SenderStats::default())),
    }
}

/// The task behind one sending slot: idle until told to send, then one packet per 20 ms.
async fn run_sender(
    shared: Arc<Shared>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mut command: watch::Receiver<(u64, Option<Tag>)>,
    applied: watch::Sender<u64>,
    stats: Arc<Mutex<SenderStats>>,
) {
    let mut rtp_seq: u16 = rand::random();
    let mut rtp_timestamp: u32 = rand::random();
    let mut marker_seq: u32 = 0;
    let mut state = shared.state.subscribe();
    loop {
        let (generation, what) = *command.borrow_and_update();
        // Nothing is being written at this point, so the command is in force.
        applied.send_replace(generation);
        let Some(tag) = what else {
            if command.changed().await.is_err() {
                return;
            }
            continue;
        };
        // Wait for the connection: a packet written before DTLS is up is dropped by webrtc.
        tokio::select! {
            changed = command.changed() => {
                if changed.is_err() { return; }
                continue;
            }
            up = state.wait_for(|s| *s == RTCPeerConnectionState::Connected) => {
                if up.is_err() { return; }
            }
        }
        let mut ticker = tokio::time::interval(PACKET_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut talkspurt_start = true;
        loop {
            tokio::select! {
                biased;
                changed = command.changed() => {
                    if changed.is_err() { return; }
                    break;
                }
                _ = ticker.tick() => {
                    let marker = Marker {
                        tag,
                        seq: marker_seq,
                        sent_at_us: micros_since_epoch(Instant::now()),
                    };
                    let payload = marker.encode(MARKER_PAYLOAD_LEN);
                    let len = payload.len() as u64;
                    let packet = rtp::Packet {
                        header: rtp::header::Header {
                            version: 2,
                            marker: talkspurt_start,
                            payload_type: OPUS_PAYLOAD_TYPE,
                            sequence_number: rtp_seq,
                            timestamp: rtp_timestamp,
                            ssrc,
                            ..Default::default()
                        },
                        payload: Bytes::from(payload),
                    };
                    let every = shared.drop_every.load(Ordering::Relaxed);
                    let lost = every > 0 && marker_seq % every == every - 1;
                    if lost {
                        // Lost on the way: the numbers move on, nothing is written.
                        rtp_seq = rtp_seq.wrapping_add(1);
                        rtp_timestamp = rtp_timestamp.wrapping_add(TIMESTAMP_STEP);
                        marker_seq = marker_seq.wrapping_add(1);
                        continue;
                    }
                    if let Err(e) = track.write_rtp(packet).await {
                        debug!(leg = %shared.label, "write_rtp failed: {e}");
                        continue;
                    }
                    talkspurt_start = false;
                    rtp_seq = rtp_seq.wrapping_add(1);
                    rtp_timestamp = rtp_timestamp.wrapping_add(TIMESTAMP_STEP);
                    marker_seq = marker_seq.wrapping_add(1);
                    {
                        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
                        s.packets += 1;
                        s.bytes += len;
                        s.last_seq = Some(marker.seq);
                        s.last_tag = Some(tag);
                    }
                    // Wakes `wait_sent` (and any other waiter, who re-checks its condition).
                    shared.changed.notify_waiters();
                }
            }
        }
    }
}

/// The `a=mid` of every m-line of `sdp`, in order (`None` for an m-line without one).
pub fn media_mids(sdp: &str) -> Vec<Option<String>> {
    let mut mids = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            mids.push(None);
        } else if let Some(mid) = line.strip_prefix("a=mid:")
            && let Some(last) = mids.last_mut()
        {
            *last = Some(mid.trim().to_owned());
        }
    }
    mids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mids_are_read_per_m_line() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\na=group:BUNDLE 0 1\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x\r\n";
        assert_eq!(media_mids(sdp), vec![Some("0".into()), None, Some("x".into())]);
    }

    #[test]
    fn stats_track_continuity() {
        let mut s = SlotStats::default();
        let now = Instant::now();
        let pkt = |ssrc, seq, ts, tag: &Tag| rtp::Packet {
            header: rtp::header::Header {
                ssrc,
                sequence_number: seq,
                timestamp: ts,
                payload_type: 111,
                ..Default::default()
            },
            payload: Bytes::from(
                Marker { tag: *tag, seq: u32::from(seq), sent_at_us: 0 }.encode(80),
            ),
        };
        s.record(&pkt(1, 65535, 0, b"AAAA"), now, 2);
        s.record(&pkt(1, 0, 960, b"AAAA"), now, 2);
        s.record(&pkt(2, 5, 100, b"BBBB"), now, 2);
        s.record(
            &rtp::Packet {
                header: pkt(2, 6, 1060, b"BBBB").header,
                payload: Bytes::from_static(b"opus"),
            },
            now,
            2,
        );
        assert_eq!(s.packets, 4);
        assert_eq!(s.unmarked, 1);
        assert_eq!(s.count(b"AAAA"), 2);
        assert_eq!(s.count(b"BBBB"), 1);
        assert_eq!(s.ssrcs, vec![1, 2]);
        assert_eq!(s.ssrc_changes, 1);
        assert_eq!(s.seq_jumps, 1, "65535 → 0 wraps; 0 → 5 jumps");
        assert_eq!(s.timestamp_backwards, 1, "960 → 100 goes back");
        assert_eq!(s.recent.len(), 2, "history is bounded");
        assert_eq!(s.first_rtp.unwrap().seq, 65535);
        assert_eq!(s.last_rtp.unwrap().seq, 6);
    }
}
