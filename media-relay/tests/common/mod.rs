//! A simulated network for [`RelayCore`]: participants are webrtc-rs sans-I/O peer
//! connections (full ICE, the offering side, like a browser), datagrams move in memory, and
//! time is a number the test advances. No sockets, no sleeps.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use voicedesk_media_relay::rtc_setup::{host_candidate, opus_codec, opus_media_engine};
use voicedesk_media_relay::{LegId, RelayCore, RelayEvent, RelayStats, RelayTimeouts};

/// Where the relay "listens" in the simulation.
pub const RELAY_ADDR: &str = "192.0.2.1:7900";

/// One simulated browser.
pub struct Participant {
    pub addr: SocketAddr,
    pub pc: RTCPeerConnection,
    pub leg: Option<LegId>,
    mic: RTCRtpSenderId,
    mic_ssrc: u32,
    seq: u16,
    ts: u32,
    /// Transceiver index (= slot) by remote track id.
    slot_of_track: HashMap<String, usize>,
    /// Payload tags (first 4 bytes) received, per slot, in order.
    pub received: Vec<Vec<[u8; 4]>>,
    /// (ssrc, seq, ts) of every packet received per slot.
    pub headers: Vec<Vec<(u32, u16, u32)>>,
    /// Whole payloads of every packet received per slot.
    pub payloads: Vec<Vec<Bytes>>,
    pub connected: bool,
    /// When false, the network drops everything this participant sends.
    pub online: bool,
    /// How long the network takes to bring the relay's datagrams to this participant (zero:
    /// at once).
    pub delay: Duration,
}

impl Participant {
    /// A participant at `addr` with `slots` audio sections; returns it and its offer.
    pub fn new(now: Instant, addr: SocketAddr, slots: usize) -> (Self, String) {
        let media = opus_media_engine().unwrap();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(configure_rtcp_reports(Registry::new()))
            .build(now)
            .unwrap();
        let mic_ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            "mic".into(),
            format!("mic-{addr}"),
            "mic".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(mic_ssrc),
                    ..Default::default()
                },
                codec: opus_codec(),
                ..Default::default()
            }],
        );
        let mic = pc.add_track(track).unwrap();
        for _ in 1..slots {
            pc.add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .unwrap();
        }
        pc.add_local_candidate(host_candidate(addr).unwrap()).unwrap();
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(now, offer).unwrap();
        let sdp = pc.local_description().unwrap().sdp;
        let participant = Self {
            addr,
            pc,
            leg: None,
            mic,
            mic_ssrc,
            seq: rand::random(),
            ts: rand::random(),
            slot_of_track: HashMap::new(),
            received: vec![Vec::new(); slots],
            headers: vec![Vec::new(); slots],
            payloads: vec![Vec::new(); slots],
            connected: false,
            online: true,
            delay: Duration::ZERO,
        };
        (participant, sdp)
    }

    pub fn apply_answer(&mut self, now: Instant, sdp: String) {
        self.pc.set_remote_description(now, RTCSessionDescription::answer(sdp).unwrap()).unwrap();
    }

    /// Sends one 20 ms packet whose payload starts with `tag`.
    pub fn send_tagged(&mut self, now: Instant, tag: [u8; 4]) {
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(960);
        let mut payload = tag.to_vec();
        payload.resize(80, 0xAB);
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: 111,
                sequence_number: self.seq,
                timestamp: self.ts,
                ssrc: self.mic_ssrc,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        self.pc.rtp_sender(self.mic).unwrap().write_rtp(now, packet).unwrap();
    }

    pub fn drain(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(
                    RTCPeerConnectionState::Connected,
                ) => self.connected = true,
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let index: usize =
                        rtc::rtp_transceiver::RTCRtpTransceiverId::from(init.receiver_id);
                    self.slot_of_track.insert(init.track_id, index);
                }
                _ => {}
            }
        }
        while let Some(message) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(track, packet) = message.message {
                let slot = self.slot_of_track.get(&track).copied().unwrap_or(usize::MAX);
                let mut tag = [0u8; 4];
                let n = packet.payload.len().min(4);
                tag[..n].copy_from_slice(&packet.payload[..n]);
                if slot < self.received.len() {
                    self.received[slot].push(tag);
                    let h = &packet.header;
                    self.headers[slot].push((h.ssrc, h.sequence_number, h.timestamp));
                    self.payloads[slot].push(packet.payload.clone());
                }
            }
        }
    }

    pub fn count(&self, slot: usize, tag: [u8; 4]) -> usize {
        self.received[slot].iter().filter(|t| **t == tag).count()
    }
}

/// The relay and its participants on a simulated network.
pub struct Sim {
    pub now: Instant,
    pub relay: RelayCore,
    pub relay_addr: SocketAddr,
    pub participants: Vec<Participant>,
    pub events: Vec<RelayEvent>,
    pub stats: Arc<RelayStats>,
    /// The relay's datagrams on their way to delayed participants: (due, to, payload).
    in_flight: Vec<(Instant, SocketAddr, BytesMut)>,
}

impl Sim {
    pub fn new(timeouts: RelayTimeouts) -> Self {
        let now = Instant::now();
        let relay_addr: SocketAddr = RELAY_ADDR.parse().unwrap();
        let stats = Arc::new(RelayStats::default());
        let relay = RelayCore::new(now, relay_addr, timeouts, stats.clone()).unwrap();
        Self {
            now,
            relay,
            relay_addr,
            participants: Vec::new(),
            events: Vec::new(),
            stats,
            in_flight: Vec::new(),
        }
    }

    /// Adds a participant whose offer the relay answers; returns its index.
    pub fn join(&mut self, slots: usize) -> usize {
        let index = self.participants.len();
        let addr: SocketAddr = format!("198.51.100.{}:5000", index + 10).parse().unwrap();
        let (mut p, offer) = Participant::new(self.now, addr, slots);
        let (leg, answer) = self.relay.create_leg(self.now, &offer, 2).unwrap();
        p.apply_answer(self.now, answer);
        p.leg = Some(leg);
        self.participants.push(p);
        index
    }

    /// Moves every pending datagram until nothing is left to move now (datagrams to a delayed
    /// participant wait until their time).
    pub fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.in_flight).into_iter().partition(|(at, ..)| *at <= now);
            self.in_flight = later;
            for (_, to, payload) in due {
                moved = true;
                self.deliver(to, payload);
            }
            for i in 0..self.participants.len() {
                while let Some(out) = self.participants[i].pc.poll_write() {
                    moved = true;
                    if self.participants[i].online && out.transport.peer_addr == self.relay_addr {
                        let from = self.participants[i].addr;
                        self.relay.handle_datagram(self.now, from, &out.message);
                    }
                }
                self.participants[i].drain();
            }
            while let Some(t) = self.relay.poll_transmit() {
                moved = true;
                let delay = self.participants.iter().find(|p| p.addr == t.to).map(|p| p.delay);
                match delay {
                    Some(d) if !d.is_zero() => self.in_flight.push((self.now + d, t.to, t.payload)),
                    _ => self.deliver(t.to, t.payload),
                }
            }
            while let Some(e) = self.relay.poll_event() {
                self.events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    /// Hands one of the relay's datagrams to the participant at `to`.
    fn deliver(&mut self, to: SocketAddr, payload: BytesMut) {
        if let Some(p) = self.participants.iter_mut().find(|p| p.addr == to) {
            let message = TaggedBytesMut {
                now: self.now,
                transport: TransportContext {
                    local_addr: p.addr,
                    peer_addr: self.relay_addr,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: payload,
            };
            p.pc.handle_read(message).unwrap();
            p.drain();
        }
    }

    /// Advances simulated time by `d` in 10 ms steps, running every timer on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(10);
            self.relay.handle_timeout(self.now);
            for p in &mut self.participants {
                let _ = p.pc.handle_timeout(self.now);
            }
            self.pump();
        }
    }

    /// Runs until every participant is connected (ICE + DTLS), at most 10 simulated seconds.
    pub fn connect_all(&mut self) {
        self.pump();
        for _ in 0..1000 {
            if self.participants.iter().all(|p| p.connected)
                && self
                    .events
                    .iter()
                    .filter(|e| matches!(e, RelayEvent::LegConnected { .. }))
                    .count()
                    >= self.participants.len()
            {
                return;
            }
            self.advance(Duration::from_millis(10));
        }
        panic!("participants did not connect: {:?}", self.events);
    }

    pub fn leg(&self, i: usize) -> LegId {
        self.participants[i].leg.unwrap()
    }
}
