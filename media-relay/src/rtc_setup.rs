//! The few webrtc-rs settings every voicedesk peer connection shares (the relay's legs, the
//! simulated participants of the tests, Rust clients built on the sans-I/O core).

use std::net::SocketAddr;

use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::shared::error::Result;

/// The payload type browsers use for Opus.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// Opus as browsers offer it (RFC 7587: always 2 channels in SDP).
pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A media engine that knows Opus and nothing else.
pub fn opus_media_engine() -> Result<MediaEngine> {
    let mut engine = MediaEngine::default();
    engine.register_codec(
        RTCRtpCodecParameters { rtp_codec: opus_codec(), payload_type: OPUS_PAYLOAD_TYPE },
        RtpCodecKind::Audio,
    )?;
    Ok(engine)
}

/// A UDP host candidate at `addr`, ready for `add_local_candidate`.
pub fn host_candidate(addr: SocketAddr) -> Result<RTCIceCandidateInit> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    RTCIceCandidate::from(&candidate).to_json()
}
