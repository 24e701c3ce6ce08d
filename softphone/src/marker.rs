//! The marker carried at the start of every RTP payload a [`MediaLeg`](crate::MediaLeg) sends.
//!
//! Layout (all integers big-endian), [`MARKER_PAYLOAD_LEN`] bytes in total:
//!
//! | bytes  | field                                                               |
//! |--------|---------------------------------------------------------------------|
//! | 0..4   | tag: who sent it, e.g. `b"CIT1"`                                    |
//! | 4..8   | `u32` per-leg sequence number (0, 1, 2, … across start/stop)       |
//! | 8..16  | `u64` send time, microseconds since the process-wide [`epoch`]      |
//! | 16..20 | [`MARKER_MAGIC`], so a real Opus frame is not mistaken for a marker |
//! | 20..   | padding ([`PADDING_BYTE`])                                          |
//!
//! The send time is only meaningful to a receiver in the same process (the end-to-end tests and
//! the load generator run both ends), which is why it counts from [`epoch`] rather than the wall
//! clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Length of the marker fields that [`parse_marker`] requires (tag, sequence, time, magic).
pub const MARKER_LEN: usize = 20;

/// Length of the whole payload a [`MediaLeg`](crate::MediaLeg) sends: roughly one 20 ms Opus
/// frame of speech at 32 kbit/s.
pub const MARKER_PAYLOAD_LEN: usize = 80;

/// Bytes 16..20 of every marker payload.
pub const MARKER_MAGIC: [u8; 4] = *b"vdMK";

/// The byte the payload is padded with after the marker.
pub const PADDING_BYTE: u8 = 0x5a;

/// A sender's tag: four bytes naming who sent a packet, e.g. `*b"CIT1"`.
pub type Tag = [u8; 4];

/// The decoded start of a marker payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Marker {
    /// Who sent the packet.
    pub tag: Tag,
    /// The sender's per-leg sequence number.
    pub seq: u32,
    /// When it was sent, in microseconds since [`epoch`].
    pub sent_at_us: u64,
}

impl Marker {
    /// The send time as an [`Instant`] of this process.
    pub fn sent_at(&self) -> Instant {
        epoch() + Duration::from_micros(self.sent_at_us)
    }

    /// Time from sending to `arrived_at` (zero if `arrived_at` is earlier, which only happens
    /// when the marker was not made in this process).
    pub fn latency(&self, arrived_at: Instant) -> Duration {
        arrived_at.saturating_duration_since(self.sent_at())
    }

    /// Writes this marker followed by padding into a payload of `len` bytes
    /// (at least [`MARKER_LEN`]).
    ///
    /// # Panics
    ///
    /// If `len` is shorter than [`MARKER_LEN`].
    pub fn encode(&self, len: usize) -> Vec<u8> {
        assert!(len >= MARKER_LEN, "a marker payload needs at least {MARKER_LEN} bytes");
        let mut payload = Vec::with_capacity(len);
        payload.extend_from_slice(&self.tag);
        payload.extend_from_slice(&self.seq.to_be_bytes());
        payload.extend_from_slice(&self.sent_at_us.to_be_bytes());
        payload.extend_from_slice(&MARKER_MAGIC);
        payload.resize(len, PADDING_BYTE);
        payload
    }
}

/// Reads the marker at the start of an RTP payload. `None` when the payload is shorter than
/// [`MARKER_LEN`] or does not carry [`MARKER_MAGIC`] (hold audio, a browser's real Opus).
pub fn parse_marker(payload: &[u8]) -> Option<Marker> {
    if payload.len() < MARKER_LEN || payload[16..20] != MARKER_MAGIC {
        return None;
    }
    let tag: Tag = payload[0..4].try_into().ok()?;
    let seq = u32::from_be_bytes(payload[4..8].try_into().ok()?);
    let sent_at_us = u64::from_be_bytes(payload[8..16].try_into().ok()?);
    Some(Marker { tag, seq, sent_at_us })
}

/// The process-wide instant marker times count from (fixed on first use).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds from [`epoch`] to `at` (zero if `at` is earlier).
pub fn micros_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_micros()).unwrap_or(u64::MAX)
}

/// Shows a tag as text when it is printable ASCII, else as hex.
pub fn tag_to_string(tag: &Tag) -> String {
    if tag.iter().all(|b| b.is_ascii_graphic()) {
        tag.iter().map(|&b| char::from(b)).collect()
    } else {
        tag.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse_is_identity() {
        let m = Marker { tag: *b"AGT1", seq: 0xdead_beef, sent_at_us: 0x0102_0304_0506_0708 };
        let payload = m.encode(MARKER_PAYLOAD_LEN);
        assert_eq!(payload.len(), MARKER_PAYLOAD_LEN);
        assert_eq!(&payload[..4], b"AGT1");
        assert_eq!(&payload[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert!(payload[MARKER_LEN..].iter().all(|&b| b == PADDING_BYTE));
        assert_eq!(parse_marker(&payload), Some(m));
    }

    #[test]
    fn epoch_is_fixed() {
        let a = epoch();
        assert_eq!(a, epoch());
        assert!(micros_since_epoch(Instant::now()) < 3_600_000_000);
    }
}
