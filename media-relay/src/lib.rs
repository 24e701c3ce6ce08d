//! The voicedesk media relay: a small SFU for voice.
//!
//! It terminates every participant's WebRTC connection (ICE-lite, DTLS-SRTP, Opus) on ONE UDP
//! port, demultiplexed by STUN username and remote address, using the sans-I/O core of
//! webrtc-rs (`rtc`). It forwards RTP between legs by a routing table of fixed receive slots
//! and rewrites SSRC, sequence numbers and timestamps so every slot stays one continuous
//! stream when its source changes — calls are bridged by re-routing, never by renegotiation.
//!
//! While a citizen waits, the relay plays a hold tune into the citizen's slot 0 (the slot the
//! agent will feed): [`RelayCore::set_hold`] / [`RelayHandle::set_hold`]. The tune is an
//! embedded Ogg/Opus loop sent one 20 ms packet per timer tick through the slot's normal
//! rewriting path, so the slot stays one stream across the tune's wrap-around and across
//! bridging; it yields the moment `set_feeds` gives slot 0 a source and resumes (from its
//! start) if that source is cleared while the leg is still held.
//!
//! - [`routing`]: the routing table (pure): which source feeds which slot.
//! - [`rewrite`]: per-slot header rewriting (pure).
//! - [`demux`]: datagram classification and first-contact STUN parsing (pure).
//! - [`sdp`]: offer checks.
//! - [`ogg`]: Ogg/Opus reading and writing (pure).
//! - [`hold`]: the embedded hold tune.
//! - [`call_recording`]: call recording, one Opus stream per speaker in one Ogg file.
//! - [`recording`]: voice-message recording from a leg's inbound RTP, and its Ogg/Opus file.
//! - [`rtc_setup`]: codec and candidate settings shared with sans-I/O clients.
//! - [`srtp_fast`]: RTP forwarded with our own SRTP contexts, past rtc's per-packet pipeline.
//! - [`core`]: the relay state machine (sans-I/O: datagrams, commands and time in).
//! - [`driver`]: the tokio task around it, and [`RelayHandle`] to control it.

pub mod call_recording;
pub mod core;
pub mod demux;
pub mod driver;
pub mod hold;
mod leg;
pub mod metrics;
pub mod ogg;
pub mod quality;
pub mod recording;
pub mod rewrite;
pub mod routing;
pub mod rtc_setup;
pub mod sdp;
pub mod srtp_fast;

pub use crate::core::{RelayCore, RelayTimeouts};
pub use call_recording::{CallRecording, RecordedTrack, Speaker};
pub use driver::{RelayConfig, RelayHandle, StartedRelay, start};
pub use hold::HoldTune;
pub use metrics::RelayStats;
pub use quality::LegQuality;
pub use recording::{RecordedPacket, Recording};
pub use routing::{LegId, RoutingTable, SlotFeed, SlotRef};

/// Why a relay request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The offer is not a usable audio offer.
    #[error("unusable SDP offer: {0}")]
    BadSdp(String),
    /// No such leg (never existed or already ended).
    #[error("unknown media leg {0}")]
    UnknownLeg(LegId),
    /// The leg has no such receive slot.
    #[error("media leg {} has no receive slot {}", .0.leg, .0.slot)]
    UnknownSlot(SlotRef),
    /// The leg is not being recorded (see [`RelayCore::stop_recording`]).
    #[error("media leg {0} is not being recorded")]
    NotRecording(LegId),
    /// No call recording has this id (see [`RelayCore::stop_call_recording`]).
    #[error("no call recording {0}")]
    UnknownCallRecording(u64),
    /// A call recording with this id is already running.
    #[error("call recording {0} is already running")]
    CallRecordingExists(u64),
    /// The leg is already in another call recording.
    #[error("media leg {0} is already in call recording {1}")]
    LegInOtherRecording(LegId, u64),
    /// A leg cannot hear itself.
    #[error("media leg {0} cannot feed its own slot")]
    SelfFeed(LegId),
    /// The WebRTC stack refused something.
    #[error("WebRTC stack error: {0}")]
    Stack(String),
    /// A socket error.
    #[error("media socket: {0}")]
    Io(String),
    /// The relay task has stopped.
    #[error("the media relay has stopped")]
    Stopped,
}

/// Why a leg ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegEndReason {
    /// ICE or DTLS failed.
    Failed,
    /// The participant closed the connection (DTLS close_notify) after it was up.
    Disconnected,
    /// It never connected within the connect limit.
    ConnectTimeout,
    /// Nothing arrived from it within the silence limit.
    Silence,
}

/// What the relay tells the owner of the legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// ICE and DTLS are up; media can flow.
    LegConnected {
        /// The leg.
        leg: LegId,
    },
    /// The leg is gone (not sent for legs closed by [`RelayHandle::close_leg`]).
    LegEnded {
        /// The leg.
        leg: LegId,
        /// Why.
        reason: LegEndReason,
    },
}
