//! voicedesk's Rust client: what the end-to-end tests, the load generator and the command-line
//! softphone use to talk to a voicedesk server.
//!
//! - [`SignalingClient`] speaks the `/ws` protocol of [`voicedesk_protocol`] over
//!   tokio-tungstenite, and [`login`] gets an agent's session cookie.
//! - [`MediaLeg`] is one WebRTC audio connection (webrtc 0.21, Opus only) with fixed receive
//!   slots. It sends synthetic Opus packets whose payload starts with a [`Marker`] (who sent
//!   it, a sequence number, the send time) and records, per slot, everything it receives — so
//!   a test can prove at the packet level who hears whom, and how fast.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use voicedesk_protocol::{ClientMessage, ServerMessage};
//! use voicedesk_softphone::{MediaLeg, SignalingClient};
//!
//! let mut ws = SignalingClient::connect("ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080", None).await?;
//! let leg = MediaLeg::new("citizen", 2).await?;
//! let sdp = leg.create_offer().await?;
//! ws.send(&ClientMessage::Call { service: None, sdp }).await?;
//! let queued = ws
//!     .recv_until(Duration::from_secs(5), |m| matches!(m, ServerMessage::CallQueued { .. }))
//!     .await?;
//! if let ServerMessage::CallQueued { sdp, .. } = queued {
//!     leg.apply_answer(&sdp).await?;
//! }
//! leg.wait_connected(Duration::from_secs(10)).await?;
//! leg.start_sending(*b"CIT1");
//! # Ok(()) }
//! ```

mod marker;
mod media;
mod signaling;

pub use marker::{
    MARKER_LEN, MARKER_MAGIC, MARKER_PAYLOAD_LEN, Marker, PADDING_BYTE, Tag, epoch,
    micros_since_epoch, parse_marker, tag_to_string,
};
pub use media::{
    IceServer, MediaLeg, MediaLegConfig, OPUS_CHANNELS, OPUS_CLOCK_RATE, OPUS_PAYLOAD_TYPE,
    PACKET_INTERVAL, RTCPeerConnectionState, ReceivedMarker, RtpPoint, SenderStats, SlotStats,
    TIMESTAMP_STEP, media_mids,
};
pub use signaling::{
    ClientTls, HttpResponse, IceServers, Incoming, LoginRejected, SESSION_COOKIE, SignalingClient,
    fetch_ice_servers, handshake_status, http_request, login, login_tls,
};
/// The WebSocket library [`SignalingClient`] uses, for building raw messages and frames
/// ([`tungstenite::Message`], [`tungstenite::protocol::frame::Frame`]).
pub use tokio_tungstenite::tungstenite;
