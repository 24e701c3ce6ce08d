//! The media engine: every WebRTC leg of the load generator, driven by ONE thread.
//!
//! Each leg is a sans-I/O `rtc` 0.21 peer connection on the offering side (full ICE agent,
//! controlling; DTLS client, since the relay answers `a=setup:passive`) with two audio
//! transceivers — slot 0 `sendrecv` with a local track, slot 1 `recvonly` — exactly the offer
//! a browser in the hall or the agent console makes.
//!
//! Every leg has its own UDP socket on 127.0.0.1: the relay demultiplexes steady-state
//! traffic by the participant's address (DESIGN.md idea 5), so two legs behind one socket
//! would be taken for one. One `mio` poll watches all sockets, one timer heap holds every
//! stack's next timeout and every sending leg's next packet; nothing else runs per leg (no
//! task, no thread, no channel). The async side talks to the thread through [`EngineHandle`].
//!
//! Packets carry the softphone's [`Marker`] (tag, sequence number, send time from this
//! process's [`voicedesk_softphone::epoch`]), 80-byte payloads every 20 ms (an Opus frame of
//! speech at 32 kbit/s). The receive side counts, per leg, what arrives on slot 0 per sender
//! tag, the first arrival of each tag, and the one-way latency of every packet sent inside
//! the measurement window ([`EngineHandle::set_window`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::{Bytes, BytesMut};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use rand::Rng;
use rtc::crypto::RTCCryptoProvider;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;
use rtc::shared::marshal::{Marshal, Unmarshal};
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::oneshot;
use voicedesk_media_relay::rtc_setup::{
    OPUS_PAYLOAD_TYPE, host_candidate, opus_codec, opus_media_engine,
};
use voicedesk_media_relay::srtp_fast::{Decrypted, FastPath, KeyTap, is_rtcp, srtp_profiles};
use voicedesk_softphone::{
    MARKER_PAYLOAD_LEN, Marker, PACKET_INTERVAL, TIMESTAMP_STEP, Tag, micros_since_epoch,
    parse_marker,
};

/// Index of a leg in the engine (never reused within a run).
pub(crate) type LegId = usize;

/// The poll token of the command waker; leg sockets use their [`LegId`].
const WAKER: Token = Token(usize::MAX);

/// Receive slots per leg, as the relay gives both citizens and agents.
const SLOTS: usize = 2;

/// A packet due this long ago (the thread was starved) is not sent: the leg skips it and
/// restarts at a random phase within the next 20 ms. Catching up instead would send every
/// late leg's backlog in one burst — a correlated burst thousands of independent clients
/// never produce, which would overflow the relay's socket buffer and be counted as its loss.
const LATE_SEND: Duration = Duration::from_millis(5);

/// What one leg did, as [`EngineHandle::snapshot`] reports it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LegReport {
    /// The leg.
    pub(crate) id: LegId,
    /// When ICE and DTLS came up.
    pub(crate) connected_at: Option<Instant>,
    /// The first state the connection reached after it stopped being connected (or instead
    /// of connecting): `disconnected`, `failed` or `closed`, if any, before the snapshot.
    pub(crate) failed: Option<String>,
    /// RTP packets handed to the stack (all of the run).
    pub(crate) sent_total: u64,
    /// RTP packets whose marker send time lies inside the window.
    pub(crate) sent_window: u64,
    /// Marked packets received on slot 0 (all of the run).
    pub(crate) recv_slot0: u64,
    /// Marked packets received on another slot (should stay 0 in a plain call).
    pub(crate) recv_other_slots: u64,
    /// Packets without a marker (e.g. hold audio).
    pub(crate) unmarked: u64,
    /// First arrival on slot 0 of each sender tag.
    pub(crate) first_rx: Vec<(Tag, Instant)>,
    /// Packets received on slot 0 whose marker send time lies inside the window, per tag.
    pub(crate) recv_window: Vec<(Tag, u64)>,
    /// One-way latency (µs) of every packet of `recv_window`.
    pub(crate) latencies_us: Vec<u32>,
    /// Datagrams the socket refused, RTP the stack refused, datagrams the stack refused.
    pub(crate) errors: u64,
}

impl LegReport {
    /// First arrival of `tag` on slot 0.
    pub(crate) fn first_rx_of(&self, tag: &Tag) -> Option<Instant> {
        self.first_rx.iter().find(|(t, _)| t == tag).map(|(_, at)| *at)
    }

    /// Packets of `tag` received on slot 0 that were sent inside the window.
    pub(crate) fn recv_window_of(&self, tag: &Tag) -> u64 {
        self.recv_window.iter().find(|(t, _)| t == tag).map_or(0, |(_, n)| *n)
    }
}

/// Counters of the engine thread itself, for packets due inside the window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EngineStats {
    /// Packets sent on time (less than 5 ms after they were due).
    pub(crate) sends_on_time: u64,
    /// Packets skipped because the thread reached them 5 ms or more late.
    pub(crate) sends_skipped_late: u64,
    /// The latest any due packet was reached, in µs.
    pub(crate) max_send_lateness_us: u64,
}

enum Command {
    CreateLeg { tag: Tag, send_on_connect: bool, reply: oneshot::Sender<Result<(LegId, String)>> },
    ApplyAnswer { leg: LegId, sdp: String, reply: oneshot::Sender<Result<()>> },
    WaitConnected { leg: LegId, reply: oneshot::Sender<Result<Instant>> },
    StartSending { leg: LegId },
    StopAllSending,
    CloseLeg { leg: LegId },
    SetWindow { start: Instant, end: Instant },
    Snapshot { reply: oneshot::Sender<(Vec<LegReport>, EngineStats)> },
    Shutdown,
}

/// The async side's handle on the engine thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct EngineHandle {
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
}

/// Starts the engine thread.
///
/// `ice_check_interval` paces the legs' ICE connectivity checks. rtc's default is 200 ms, and
/// as the controlling agent it nominates the pair one interval after the pair succeeded, so
/// the default adds ~200 ms of client-side delay to every connection; browsers pace checks at
/// RFC 8445's Ta = 50 ms.
pub(crate) fn start(ice_check_interval: Duration) -> Result<(EngineHandle, JoinHandle<()>)> {
    let poll = Poll::new().context("creating the poll")?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).context("creating the waker")?);
    let provider =
        rtc::crypto::default_provider().map_err(|e| anyhow!("no crypto provider: {e}"))?;
    // One DTLS certificate for every leg, like the relay: a key generation per leg would only
    // measure the load generator.
    let certificate = RTCCertificate::generate(
        provider.crypto(),
        rtc::crypto::SignatureScheme::EcdsaP256Sha256,
        CertificateParams::new(vec!["voicedesk-loadgen".to_owned()]).map_err(|e| anyhow!("{e}"))?,
    )
    .map_err(|e| anyhow!("generating the DTLS certificate: {e}"))?;
    let (commands, command_rx) = mpsc::channel();
    let engine = Engine {
        poll,
        commands: command_rx,
        certificate,
        crypto: provider,
        legs: Vec::new(),
        retired: Vec::new(),
        timers: BinaryHeap::new(),
        window: None,
        ice_check_interval,
        stats: EngineStats::default(),
    };
    let thread = std::thread::Builder::new()
        .name("media-engine".into())
        .spawn(move || engine.run())
        .context("spawning the media engine thread")?;
    Ok((EngineHandle { commands, waker }, thread))
}

impl EngineHandle {
    fn send(&self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| anyhow!("the media engine has stopped"))?;
        self.waker.wake().context("waking the media engine")
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply))?;
        rx.await.map_err(|_| anyhow!("the media engine has stopped"))
    }

    /// Creates a leg whose packets carry `tag`; returns it and its SDP offer (ICE gathering is
    /// complete: the offer carries the leg's one host candidate). With `send_on_connect` the
    /// leg starts sending as soon as ICE and DTLS are up.
    pub(crate) async fn create_leg(
        &self,
        tag: Tag,
        send_on_connect: bool,
    ) -> Result<(LegId, String)> {
        self.call(|reply| Command::CreateLeg { tag, send_on_connect, reply }).await?
    }

    /// Applies the relay's SDP answer.
    pub(crate) async fn apply_answer(&self, leg: LegId, sdp: String) -> Result<()> {
        self.call(|reply| Command::ApplyAnswer { leg, sdp, reply }).await?
    }

    /// Waits until the leg is connected (ICE + DTLS); returns when that happened.
    pub(crate) async fn wait_connected(&self, leg: LegId, timeout: Duration) -> Result<Instant> {
        tokio::time::timeout(timeout, self.call(|reply| Command::WaitConnected { leg, reply }))
            .await
            .map_err(|_| anyhow!("media not connected within {timeout:?}"))??
    }

    /// Starts sending one marked packet every 20 ms on slot 0.
    pub(crate) fn start_sending(&self, leg: LegId) -> Result<()> {
        self.send(Command::StartSending { leg })
    }

    /// Stops every leg's sending.
    pub(crate) fn stop_all_sending(&self) -> Result<()> {
        self.send(Command::StopAllSending)
    }

    /// Closes a leg (DTLS close_notify to the relay); its counters stay in the snapshot.
    pub(crate) fn close_leg(&self, leg: LegId) -> Result<()> {
        self.send(Command::CloseLeg { leg })
    }

    /// Sets the measurement window: packets whose marker send time is in `[start, end)` are
    /// counted as sent and, when they arrive, as received, with their latency.
    pub(crate) fn set_window(&self, start: Instant, end: Instant) -> Result<()> {
        self.send(Command::SetWindow { start, end })
    }

    /// Every leg's counters and the engine's own (the latency samples are moved out: call it
    /// once, at the end).
    pub(crate) async fn snapshot(&self) -> Result<(Vec<LegReport>, EngineStats)> {
        self.call(|reply| Command::Snapshot { reply }).await
    }

    /// Closes every leg and ends the thread.
    pub(crate) fn shutdown(&self) -> Result<()> {
        self.send(Command::Shutdown)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// The leg's stack asked for `handle_timeout`.
    Stack,
    /// The leg's next packet is due.
    Send,
}

/// Min-heap of (deadline, leg, kind); stale entries are recognised and skipped when popped.
type Timers = BinaryHeap<Reverse<(Instant, LegId, TimerKind)>>;

struct Leg {
    id: LegId,
    tag: Tag,
    socket: UdpSocket,
    local: SocketAddr,
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    receivers: Vec<RTCRtpReceiverId>,
    slot_by_track: HashMap<String, usize>,
    connected_at: Option<Instant>,
    failed: Option<String>,
    waiters: Vec<oneshot::Sender<Result<Instant>>>,
    send_on_connect: bool,
    sending: bool,
    next_send: Option<Instant>,
    stack_deadline: Option<Instant>,
    /// SRTP past the stack, as the relay does (see `voicedesk_media_relay::srtp_fast`): the
    /// load generator must be cheaper per packet than the relay it measures.
    tap: Arc<KeyTap>,
    fast: FastPath,
    /// The relay's address (where the stack sent DTLS).
    peer: Option<SocketAddr>,
    /// Receive slot of each SSRC the relay announced in its answer.
    ssrc_slots: Vec<(u32, usize)>,
    marker_seq: u32,
    rtp_seq: u16,
    rtp_ts: u32,
    report: LegReport,
}

struct Engine {
    poll: Poll,
    commands: mpsc::Receiver<Command>,
    certificate: RTCCertificate,
    crypto: Arc<dyn RTCCryptoProvider>,
    legs: Vec<Option<Leg>>,
    retired: Vec<LegReport>,
    timers: Timers,
    window: Option<(Instant, Instant)>,
    ice_check_interval: Duration,
    stats: EngineStats,
}

fn in_window(window: Option<(Instant, Instant)>, at: Instant) -> bool {
    window.is_some_and(|(start, end)| at >= start && at < end)
}

impl Engine {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            self.run_timers(now);
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _, _))| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(error = %e, "media engine poll failed");
                return;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {
                        if !self.run_commands() {
                            self.close_all();
                            return;
                        }
                    }
                    Token(id) => self.read_leg(id, &mut buf),
                }
            }
        }
    }

    /// Runs every command queued; `false` after `Shutdown`.
    fn run_commands(&mut self) -> bool {
        while let Ok(command) = self.commands.try_recv() {
            let now = Instant::now();
            match command {
                Command::CreateLeg { tag, send_on_connect, reply } => {
                    let _ = reply.send(self.create_leg(now, tag, send_on_connect));
                }
                Command::ApplyAnswer { leg, sdp, reply } => {
                    let result = match self.legs.get_mut(leg).and_then(Option::as_mut) {
                        Some(l) => apply_answer(now, l, sdp),
                        None => Err(anyhow!("unknown leg {leg}")),
                    };
                    self.service(now, leg);
                    let _ = reply.send(result);
                }
                Command::WaitConnected { leg, reply } => {
                    match self.legs.get_mut(leg).and_then(Option::as_mut) {
                        Some(l) => match (&l.failed, l.connected_at) {
                            (Some(why), _) => {
                                let _ = reply.send(Err(anyhow!("media failed: {why}")));
                            }
                            (None, Some(at)) => {
                                let _ = reply.send(Ok(at));
                            }
                            (None, None) => l.waiters.push(reply),
                        },
                        None => {
                            let _ = reply.send(Err(anyhow!("unknown leg {leg}")));
                        }
                    }
                }
                Command::StartSending { leg } => {
                    if let Some(l) = self.legs.get_mut(leg).and_then(Option::as_mut) {
                        start_sending(now, l, &mut self.timers);
                    }
                }
                Command::StopAllSending => {
                    for l in self.legs.iter_mut().flatten() {
                        l.sending = false;
                        l.send_on_connect = false;
                        l.next_send = None;
                    }
                }
                Command::CloseLeg { leg } => self.close_leg(leg),
                Command::SetWindow { start, end } => self.window = Some((start, end)),
                Command::Snapshot { reply } => {
                    let mut all = std::mem::take(&mut self.retired);
                    for l in self.legs.iter_mut().flatten() {
                        all.push(std::mem::take(&mut l.report));
                    }
                    all.sort_by_key(|r| r.id);
                    let _ = reply.send((all, self.stats));
                }
                Command::Shutdown => return false,
            }
        }
        true
    }

    fn create_leg(
        &mut self,
        now: Instant,
        tag: Tag,
        send_on_connect: bool,
    ) -> Result<(LegId, String)> {
        let id = self.legs.len();
        let std_socket =
            std::net::UdpSocket::bind("127.0.0.1:0").context("binding a leg socket")?;
        std_socket.set_nonblocking(true).context("non-blocking socket")?;
        let local = std_socket.local_addr()?;
        let mut socket = UdpSocket::from_std(std_socket);
        self.poll
            .registry()
            .register(&mut socket, Token(id), Interest::READABLE)
            .context("registering a leg socket")?;
        let stack = |e: rtc::shared::error::Error| anyhow!("{e}");

        let media_engine = opus_media_engine().map_err(stack)?;
        // Sender and receiver reports, as a browser sends them: part of the relay's load.
        let registry = configure_rtcp_reports(Registry::new());
        let tap = KeyTap::new(self.crypto.clone());
        let setting_engine = SettingEngineBuilder::new()
            .with_crypto_provider(tap.clone())
            .with_srtp_protection_profiles(srtp_profiles())
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_ice_connection_attempts(Some(self.ice_check_interval), None)
            .build();
        let config = RTCConfigurationBuilder::new()
            .with_certificates(vec![self.certificate.clone()])
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(setting_engine)
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(stack)?;

        let mut rng = rand::rng();
        let ssrc = loop {
            let s: u32 = rng.random();
            if s != 0 {
                break s;
            }
        };
        let label = format!("loadgen-{id}");
        let track = MediaStreamTrack::new(
            format!("{label}-stream"),
            format!("{label}-audio"),
            format!("{label} audio"),
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
        );
        let mic = pc
            .add_transceiver_from_track(
                track,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendrecv,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .map_err(stack)?;
        let extra = pc
            .add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .map_err(stack)?;

        pc.add_local_candidate(host_candidate(local).map_err(stack)?).map_err(stack)?;
        let offer = pc.create_offer(None).map_err(stack)?;
        pc.set_local_description(now, offer).map_err(stack)?;
        let sdp = pc
            .local_description()
            .ok_or_else(|| anyhow!("no local description after set_local_description"))?
            .sdp;

        let leg = Leg {
            id,
            tag,
            socket,
            local,
            pc,
            sender: RTCRtpSenderId::from(mic),
            ssrc,
            payload_type: OPUS_PAYLOAD_TYPE,
            receivers: vec![RTCRtpReceiverId::from(mic), RTCRtpReceiverId::from(extra)],
            slot_by_track: HashMap::with_capacity(SLOTS),
            connected_at: None,
            failed: None,
            waiters: Vec::new(),
            send_on_connect,
            sending: false,
            next_send: None,
            stack_deadline: None,
            tap,
            fast: FastPath::Pending,
            peer: None,
            ssrc_slots: Vec::new(),
            marker_seq: 0,
            rtp_seq: rng.random(),
            rtp_ts: rng.random(),
            report: LegReport { id, ..Default::default() },
        };
        self.legs.push(Some(leg));
        self.service(now, id);
        Ok((id, sdp))
    }

    fn close_leg(&mut self, id: LegId) {
        let Some(mut leg) = self.legs.get_mut(id).and_then(Option::take) else { return };
        let _ = leg.pc.close();
        flush(&mut leg);
        let _ = self.poll.registry().deregister(&mut leg.socket);
        for waiter in leg.waiters.drain(..) {
            let _ = waiter.send(Err(anyhow!("leg closed")));
        }
        self.retired.push(std::mem::take(&mut leg.report));
    }

    fn close_all(&mut self) {
        for id in 0..self.legs.len() {
            self.close_leg(id);
        }
    }

    /// Reads every datagram waiting on a leg's socket (edge-triggered: until `WouldBlock`).
    fn read_leg(&mut self, id: LegId, buf: &mut [u8]) {
        loop {
            let Some(leg) = self.legs.get_mut(id).and_then(Option::as_mut) else { return };
            match leg.socket.recv_from(buf) {
                Ok((n, from)) => {
                    let now = Instant::now();
                    let data = &buf[..n];
                    if (128..=191).contains(&data[0])
                        && !is_rtcp(data)
                        && let FastPath::Ready(fast) = &mut leg.fast
                    {
                        match fast.decrypt(data) {
                            Decrypted::Packet(plain) => {
                                let mut rest = &plain[..];
                                if let Ok(h) = rtc::rtp::header::Header::unmarshal(&mut rest) {
                                    let slot = leg
                                        .ssrc_slots
                                        .iter()
                                        .find(|(s, _)| *s == h.ssrc)
                                        .map(|(_, slot)| *slot);
                                    record_rtp(now, &mut leg.report, slot, rest, self.window);
                                }
                                continue;
                            }
                            Decrypted::Rejected => {
                                leg.report.errors += 1;
                                continue;
                            }
                            Decrypted::GiveUp => leg.fast = FastPath::Off,
                        }
                    }
                    let message = TaggedBytesMut {
                        now,
                        transport: TransportContext {
                            local_addr: leg.local,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(&buf[..n]),
                    };
                    if let Err(e) = leg.pc.handle_read(message) {
                        tracing::debug!(leg = id, error = %e, "datagram refused by the stack");
                        leg.report.errors += 1;
                    }
                    self.service(now, id);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(leg = id, error = %e, "receive failed");
                    leg.report.errors += 1;
                    return;
                }
            }
        }
    }

    /// Runs every due timer: stack timeouts and packet sends.
    fn run_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, id, kind))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(leg) = self.legs.get_mut(id).and_then(Option::as_mut) else { continue };
            match kind {
                TimerKind::Stack => {
                    if leg.stack_deadline != Some(at) {
                        continue;
                    }
                    leg.stack_deadline = None;
                    if let Err(e) = leg.pc.handle_timeout(now) {
                        tracing::debug!(leg = id, error = %e, "timeout handling failed");
                    }
                }
                TimerKind::Send => {
                    if !leg.sending || leg.next_send != Some(at) {
                        continue;
                    }
                    let late = now.saturating_duration_since(at);
                    let counted = in_window(self.window, at);
                    if counted {
                        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
                        self.stats.max_send_lateness_us = self.stats.max_send_lateness_us.max(us);
                    }
                    let next = if late < LATE_SEND {
                        send_packet(now, leg, self.window);
                        self.stats.sends_on_time += u64::from(counted);
                        at + PACKET_INTERVAL
                    } else {
                        self.stats.sends_skipped_late += u64::from(counted);
                        now + random_phase()
                    };
                    leg.next_send = Some(next);
                    self.timers.push(Reverse((next, id, TimerKind::Send)));
                }
            }
            self.service(now, id);
        }
    }

    /// Drains what a leg's stack produced (events, received media, datagrams) and reschedules
    /// its timer.
    fn service(&mut self, now: Instant, id: LegId) {
        let window = self.window;
        let Some(leg) = self.legs.get_mut(id).and_then(Option::as_mut) else { return };
        while let Some(event) = leg.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected if leg.connected_at.is_none() => {
                        leg.connected_at = Some(now);
                        leg.report.connected_at = Some(now);
                        if !leg.fast.start(&leg.tap) {
                            tracing::warn!(leg = id, "SRTP keys not captured; stack RTP path");
                        }
                        for waiter in leg.waiters.drain(..) {
                            let _ = waiter.send(Ok(now));
                        }
                        if leg.send_on_connect {
                            start_sending(now, leg, &mut self.timers);
                        }
                    }
                    RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Disconnected
                    | RTCPeerConnectionState::Closed
                        if leg.failed.is_none() =>
                    {
                        let why = format!("connection {state}");
                        leg.failed = Some(why.clone());
                        leg.report.failed = Some(why.clone());
                        for waiter in leg.waiters.drain(..) {
                            let _ = waiter.send(Err(anyhow!("media failed: {why}")));
                        }
                    }
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    if let Some(slot) = leg.receivers.iter().position(|r| *r == init.receiver_id) {
                        leg.slot_by_track.insert(init.track_id, slot);
                    }
                }
                _ => {}
            }
        }
        while let Some(message) = leg.pc.poll_read() {
            if let RTCMessage::RtpPacket(track_id, packet) = message.message {
                let slot = leg.slot_by_track.get(&track_id).copied();
                record_rtp(now, &mut leg.report, slot, &packet.payload, window);
            }
        }
        flush(leg);
        if let Some(at) = leg.pc.poll_timeout() {
            let at = at.max(now + Duration::from_millis(1));
            if leg.stack_deadline != Some(at) {
                leg.stack_deadline = Some(at);
                self.timers.push(Reverse((at, id, TimerKind::Stack)));
            }
        }
    }
}

/// (SSRC, m-section index) of every `a=ssrc:` line of an SDP.
fn answer_ssrcs(sdp: &str) -> Vec<(u32, usize)> {
    let mut section = None::<usize>;
    let mut out = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            section = Some(section.map_or(0, |s| s + 1));
        } else if let (Some(rest), Some(slot)) = (line.strip_prefix("a=ssrc:"), section)
            && let Some(ssrc) = rest.split(' ').next().and_then(|v| v.parse().ok())
            && !out.iter().any(|(s, _)| *s == ssrc)
        {
            out.push((ssrc, slot));
        }
    }
    out
}

fn apply_answer(now: Instant, leg: &mut Leg, sdp: String) -> Result<()> {
    let sdp_text = sdp.clone();
    let answer = RTCSessionDescription::answer(sdp).map_err(|e| anyhow!("bad answer: {e}"))?;
    leg.pc.set_remote_description(now, answer).map_err(|e| anyhow!("answer refused: {e}"))?;
    leg.ssrc_slots = answer_ssrcs(&sdp_text);
    // The payload type the relay negotiated for slot 0 (111 in practice).
    if let Some(pt) = leg.pc.rtp_sender(leg.sender).and_then(|mut s| {
        s.get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS))
            .map(|c| c.payload_type)
    }) {
        leg.payload_type = pt;
    }
    Ok(())
}

fn start_sending(now: Instant, leg: &mut Leg, timers: &mut Timers) {
    if leg.sending {
        return;
    }
    if leg.connected_at.is_none() {
        // Not up yet: start when it is.
        leg.send_on_connect = true;
        return;
    }
    leg.sending = true;
    let at = now + random_phase();
    leg.next_send = Some(at);
    timers.push(Reverse((at, leg.id, TimerKind::Send)));
}

/// A random offset within one packet interval, so a thousand legs do not all send in the same
/// millisecond.
fn random_phase() -> Duration {
    Duration::from_micros(rand::rng().random_range(0..PACKET_INTERVAL.as_micros() as u64))
}

fn send_packet(now: Instant, leg: &mut Leg, window: Option<(Instant, Instant)>) {
    let marker = Marker { tag: leg.tag, seq: leg.marker_seq, sent_at_us: micros_since_epoch(now) };
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type: leg.payload_type,
            sequence_number: leg.rtp_seq,
            timestamp: leg.rtp_ts,
            ssrc: leg.ssrc,
            ..Default::default()
        },
        payload: Bytes::from(marker.encode(MARKER_PAYLOAD_LEN)),
    };
    leg.marker_seq = leg.marker_seq.wrapping_add(1);
    leg.rtp_seq = leg.rtp_seq.wrapping_add(1);
    leg.rtp_ts = leg.rtp_ts.wrapping_add(TIMESTAMP_STEP);
    if let (FastPath::Ready(fast), Some(to)) = (&mut leg.fast, leg.peer) {
        let mut plain = [0u8; 12 + MARKER_PAYLOAD_LEN];
        let sent = packet.header.marshal_to(&mut plain[..12]).is_ok() && {
            plain[12..].copy_from_slice(&packet.payload[..MARKER_PAYLOAD_LEN]);
            fast.encrypt(&plain, &packet.header)
                .is_some_and(|datagram| leg.socket.send_to(&datagram, to).is_ok())
        };
        if sent {
            leg.report.sent_total += 1;
            if in_window(window, marker.sent_at()) {
                leg.report.sent_window += 1;
            }
        } else {
            leg.report.errors += 1;
        }
        return;
    }
    match leg.pc.rtp_sender(leg.sender).map(|mut s| s.write_rtp(now, packet)) {
        Some(Ok(())) => {
            leg.report.sent_total += 1;
            if in_window(window, marker.sent_at()) {
                leg.report.sent_window += 1;
            }
        }
        Some(Err(e)) => {
            tracing::debug!(leg = leg.id, error = %e, "write_rtp failed");
            leg.report.errors += 1;
        }
        None => leg.report.errors += 1,
    }
}

fn record_rtp(
    now: Instant,
    report: &mut LegReport,
    slot: Option<usize>,
    payload: &[u8],
    window: Option<(Instant, Instant)>,
) {
    let Some(marker) = parse_marker(payload) else {
        report.unmarked += 1;
        return;
    };
    if slot != Some(0) {
        report.recv_other_slots += 1;
        return;
    }
    report.recv_slot0 += 1;
    if !report.first_rx.iter().any(|(t, _)| *t == marker.tag) {
        report.first_rx.push((marker.tag, now));
    }
    if in_window(window, marker.sent_at()) {
        match report.recv_window.iter_mut().find(|(t, _)| *t == marker.tag) {
            Some((_, n)) => *n += 1,
            None => report.recv_window.push((marker.tag, 1)),
        }
        let us = u32::try_from(marker.latency(now).as_micros()).unwrap_or(u32::MAX);
        report.latencies_us.push(us);
    }
}

/// Sends every datagram the stack has queued on the leg's socket.
fn flush(leg: &mut Leg) {
    while let Some(out) = leg.pc.poll_write() {
        if out.message.first().is_some_and(|b| *b > 3) {
            // Not STUN: DTLS/SRTCP go to the selected pair, the relay's media address.
            leg.peer = Some(out.transport.peer_addr);
        }
        match leg.socket.send_to(&out.message, out.transport.peer_addr) {
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(leg = leg.id, error = %e, "send failed");
                leg.report.errors += 1;
            }
        }
    }
}
