//! One participant's WebRTC connection at the relay: a webrtc-rs sans-I/O peer connection
//! answering the participant's offer, plus the receive slots the relay writes into.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rand::distr::Alphanumeric;
use rtc::crypto::RTCCryptoProvider;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::certificate::RTCCertificate;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};

use crate::RelayError;
use crate::rewrite::SlotRewriter;
use crate::routing::LegId;
use crate::rtc_setup::{host_candidate, opus_codec, opus_media_engine};
pub(crate) use crate::srtp_fast::FastPath;
use crate::srtp_fast::{KeyTap, srtp_profiles};

/// Where a leg is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegState {
    /// Answer sent; waiting for ICE and DTLS.
    Connecting,
    /// ICE and DTLS are up.
    Connected,
}

/// One receive slot: a send track on the relay's side of the connection.
pub(crate) struct Slot {
    /// The rtc sender that writes this slot's packets.
    pub(crate) sender: RTCRtpSenderId,
    /// The Opus payload type the participant negotiated for this section.
    pub(crate) payload_type: u8,
    /// Keeps the slot's stream continuous across source changes.
    pub(crate) rewriter: SlotRewriter,
    /// RTP packets and payload octets sent on this slot (a sender report's counts, RFC 3550
    /// §6.4.1: they wrap).
    pub(crate) packets_sent: u32,
    pub(crate) octets_sent: u32,
}

/// A participant's connection.
pub(crate) struct Leg {
    pub(crate) id: LegId,
    /// The sans-I/O WebRTC stack for this connection; the relay loop feeds it datagrams.
    pub(crate) pc: RTCPeerConnection,
    /// Our ICE username fragment: the demultiplexing key of first-contact STUN requests.
    pub(crate) ufrag: String,
    /// Receive slots in m-line order.
    pub(crate) slots: Vec<Slot>,
    pub(crate) state: LegState,
    pub(crate) created_at: Instant,
    /// Last datagram from the participant (any kind); silence past a limit ends the leg.
    pub(crate) last_rx: Instant,
    /// Remote addresses that passed a STUN check for this leg (for cleanup of the demux map).
    pub(crate) addrs: Vec<SocketAddr>,
    /// The deadline currently in the relay's timer heap for this leg.
    pub(crate) scheduled: Option<Instant>,
    /// Hold audio for slot 0, while the leg is held.
    pub(crate) hold: Option<HoldPlayer>,
    /// Sees the leg's SRTP master keys.
    pub(crate) tap: Arc<KeyTap>,
    pub(crate) fast: FastPath,
    /// Where the fast path sends: the participant's address on the selected pair (the last
    /// address authenticated media came from, or the stack last sent DTLS/SRTCP to).
    pub(crate) peer: Option<SocketAddr>,
    /// Receiver statistics of the audio the participant sends (loss, jitter, round trip, MOS
    /// estimate).
    pub(crate) quality: crate::quality::QualityMeter,
    /// When the relay sends this leg its next sender reports.
    pub(crate) next_report: Instant,
}

impl Leg {
    /// Switches to the fast path once DTLS-SRTP is up (called when the leg connects).
    pub(crate) fn start_fast_path(&mut self) {
        if !self.fast.start(&self.tap) {
            tracing::warn!(leg = %self.id, "SRTP keys not captured; using the stack's RTP path");
        }
    }
}

/// Where a held leg is in the hold tune. The tune is a source of its own for the slot's
/// rewriter: its sequence numbers and timestamps run on across the tune's wrap-around.
#[derive(Debug, Default)]
pub(crate) struct HoldPlayer {
    /// Index of the next tune packet.
    pub(crate) next: usize,
    /// Source-side sequence number and timestamp of the last hold packet.
    pub(crate) seq: u16,
    pub(crate) ts: u32,
    /// Whether the previous tick sent a hold packet (false at the start of every hold run,
    /// which begins at the start of the tune).
    pub(crate) running: bool,
}

/// A new leg and the SDP answer to send back.
pub(crate) struct NewLeg {
    pub(crate) leg: Leg,
    pub(crate) answer: String,
}

fn random_token(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Answers `offer` (already checked by [`crate::sdp::check_offer`]) with an ICE-lite,
/// DTLS-passive peer connection whose one host candidate is `advertised`.
pub(crate) fn answer_offer(
    now: Instant,
    id: LegId,
    offer: &str,
    audio_sections: usize,
    advertised: SocketAddr,
    certificate: &RTCCertificate,
    crypto: &Arc<dyn RTCCryptoProvider>,
) -> Result<NewLeg, RelayError> {
    let stack = |e: rtc::shared::error::Error| RelayError::Stack(e.to_string());
    let ufrag = random_token(16);
    let tap = KeyTap::new(crypto.clone());
    let setting_engine = SettingEngineBuilder::new()
        .with_crypto_provider(tap.clone())
        .with_srtp_protection_profiles(srtp_profiles())
        .with_lite(true)
        .with_ice_credentials(ufrag.clone(), random_token(32))
        // The participant starts DTLS; the relay never sends first to an address.
        .with_answering_dtls_role(RTCDtlsRole::Server)
        .build();

    let media_engine = opus_media_engine().map_err(stack)?;
    // No interceptors: RTP takes the fast path past the stack (crate::srtp_fast), so report
    // interceptors would see none of it; they cost ~12 % of the relay's CPU when it did. The
    // relay writes its own sender reports every few seconds and reads the participants'
    // reports for the round-trip time (crate::core, crate::quality).
    let registry = Registry::new();
    let config =
        RTCConfigurationBuilder::new().with_certificates(vec![certificate.clone()]).build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(config)
        .with_setting_engine(setting_engine)
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(stack)?;

    let description = RTCSessionDescription::offer(offer.to_owned())
        .map_err(|e| RelayError::BadSdp(e.to_string()))?;
    pc.set_remote_description(now, description).map_err(|e| RelayError::BadSdp(e.to_string()))?;

    let mut rng = rand::rng();
    let mut senders = Vec::with_capacity(audio_sections);
    for slot in 0..audio_sections {
        let ssrc: u32 = rng.random();
        let track = MediaStreamTrack::new(
            format!("voicedesk-{id}"),
            format!("{id}-slot-{slot}"),
            format!("slot {slot}"),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: opus_codec(),
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).map_err(stack)?;
        senders.push((sender, ssrc));
    }

    pc.add_local_candidate(host_candidate(advertised).map_err(stack)?).map_err(stack)?;

    let answer = pc.create_answer(None).map_err(stack)?;
    pc.set_local_description(now, answer).map_err(stack)?;
    let answer = pc
        .local_description()
        .ok_or_else(|| RelayError::Stack("no local description after answering".into()))?
        .sdp;

    let mut slots = Vec::with_capacity(senders.len());
    for (sender, ssrc) in senders {
        let payload_type = pc
            .rtp_sender(sender)
            .and_then(|mut s| {
                s.get_parameters()
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS))
                    .map(|c| c.payload_type)
            })
            .ok_or_else(|| RelayError::BadSdp("no Opus payload type was negotiated".into()))?;
        slots.push(Slot {
            sender,
            payload_type,
            rewriter: SlotRewriter::new(ssrc, rng.random(), rng.random()),
            packets_sent: 0,
            octets_sent: 0,
        });
    }

    Ok(NewLeg {
        leg: Leg {
            id,
            pc,
            ufrag,
            slots,
            state: LegState::Connecting,
            created_at: now,
            last_rx: now,
            addrs: Vec::new(),
            scheduled: None,
            hold: None,
            tap,
            fast: FastPath::Pending,
            peer: None,
            quality: Default::default(),
            next_report: now,
        },
        answer,
    })
}
