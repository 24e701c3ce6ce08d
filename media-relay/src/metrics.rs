//! Counters the relay keeps for `/metrics`. Plain atomics: the relay loop increments them,
//! the HTTP side reads them, nobody locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the relay has done since it started.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// UDP datagrams received on the media port.
    pub datagrams_in: Counter,
    /// Bytes received on the media port.
    pub bytes_in: Counter,
    /// UDP datagrams sent.
    pub datagrams_out: Counter,
    /// Bytes sent.
    pub bytes_out: Counter,
    /// Datagrams dropped: unknown sender, not STUN/DTLS/RTP, or refused by a leg's stack.
    pub datagrams_dropped: Counter,
    /// RTP packets received from participants (after decryption).
    pub rtp_in: Counter,
    /// RTP packets written to receive slots (one per destination).
    pub rtp_forwarded: Counter,
    /// Hold-tune RTP packets written to the slot 0 of held legs (not in `rtp_forwarded`).
    pub hold_packets_sent: Counter,
    /// Legs answered.
    pub legs_created: Counter,
    /// Legs ended by failure, connect timeout or silence.
    pub legs_failed: Counter,
    /// Legs open right now (set by the driver).
    pub legs_open: AtomicU64,
}
