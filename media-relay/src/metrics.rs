//! Counters the relay keeps for `/metrics`. Plain atomics: the relay loop increments them,
//! the HTTP side reads them, nobody locks. The histograms and float gauges are
//! `prometheus-client`'s (shared handles; the signaling side registers the same ones), touched
//! once per batch, per second or per leg, never per packet.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use crate::quality::LegQuality;
use crate::routing::LegId;

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
#[derive(Debug)]
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
    /// Of those, legs still connecting (ICE and DTLS not up yet; set by the driver).
    pub legs_connecting: AtomicU64,
    /// Of those, legs connected.
    pub legs_connected: AtomicU64,
    /// Time the relay loop spent handling one batch of received datagrams, seconds.
    pub batch_seconds: Histogram,
    /// Wall time the relay loop spent busy (datagram batches, timers, commands), nanoseconds.
    pub busy_ns: Counter,
    /// RTP packets forwarded per second, averaged over the last minute (set by the driver).
    pub forwarded_per_second: Gauge<f64, AtomicU64>,
    /// Relay loop busy time per forwarded packet over the last minute, seconds (the CPU one
    /// packet costs; 20 ms of one core over this is the packet rate one core can carry).
    pub busy_seconds_per_packet: Gauge<f64, AtomicU64>,
    /// E-model MOS estimate of each leg's received audio, observed when the leg closes.
    pub leg_mos: Histogram,
    /// Each leg's round-trip time between relay and participant (RTCP), seconds, observed when
    /// the leg closes (legs without a measurement are not counted).
    pub leg_rtt_seconds: Histogram,
    /// The audio quality of every open leg that has sent audio, published once a second by
    /// the driver (the staff console's live calls read it).
    pub live_quality: Mutex<HashMap<LegId, LegQuality>>,
}

impl Default for RelayStats {
    fn default() -> Self {
        RelayStats {
            datagrams_in: Counter::default(),
            bytes_in: Counter::default(),
            datagrams_out: Counter::default(),
            bytes_out: Counter::default(),
            datagrams_dropped: Counter::default(),
            rtp_in: Counter::default(),
            rtp_forwarded: Counter::default(),
            hold_packets_sent: Counter::default(),
            legs_created: Counter::default(),
            legs_failed: Counter::default(),
            legs_open: AtomicU64::new(0),
            legs_connecting: AtomicU64::new(0),
            legs_connected: AtomicU64::new(0),
            // 10 µs … ~80 ms: a batch is up to 32 datagrams of ~10 µs each.
            batch_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(10e-6, 2.0, 14),
            ),
            busy_ns: Counter::default(),
            forwarded_per_second: Gauge::default(),
            busy_seconds_per_packet: Gauge::default(),
            // MOS 1 … 4.5: "bad" below 2.6, "poor" below 3.1, "fair" below 3.6, "good" below 4.0.
            leg_mos: Histogram::new([1.5, 2.0, 2.6, 3.1, 3.6, 4.0, 4.3, 4.5]),
            // 5 ms … 1.3 s: a city network to a bad mobile one (G.114: one way past 150 ms
            // is noticed).
            leg_rtt_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 9),
            ),
            live_quality: Mutex::new(HashMap::new()),
        }
    }
}

impl RelayStats {
    /// The quality of one open leg as last published (`None`: gone, or no audio yet).
    pub fn live_quality(&self, leg: LegId) -> Option<LegQuality> {
        self.live_quality.lock().unwrap_or_else(|e| e.into_inner()).get(&leg).copied()
    }
}

/// Over the last minute: forwarded packets and busy time, in one-second slots, for the
/// capacity gauges.
#[derive(Debug)]
pub(crate) struct CapacityWindow {
    slots: [(u64, u64); 60],
    /// Index of the slot being filled.
    at: usize,
    /// Totals at the start of the current slot.
    last: (u64, u64),
    filled: usize,
}

impl CapacityWindow {
    pub(crate) fn new() -> Self {
        CapacityWindow { slots: [(0, 0); 60], at: 0, last: (0, 0), filled: 0 }
    }

    /// Closes a one-second slot with the running totals (forwarded, busy ns) and returns
    /// (packets per second, busy seconds per packet) over the slots filled so far.
    pub(crate) fn tick(&mut self, forwarded: u64, busy_ns: u64) -> (f64, f64) {
        self.slots[self.at] =
            (forwarded.saturating_sub(self.last.0), busy_ns.saturating_sub(self.last.1));
        self.last = (forwarded, busy_ns);
        self.at = (self.at + 1) % self.slots.len();
        self.filled = (self.filled + 1).min(self.slots.len());
        let (packets, busy) = self.slots.iter().fold((0u64, 0u64), |a, s| (a.0 + s.0, a.1 + s.1));
        let rate = packets as f64 / self.filled as f64;
        let per_packet = if packets == 0 { 0.0 } else { busy as f64 / 1e9 / packets as f64 };
        (rate, per_packet)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_window_averages_the_last_minute() {
        let mut w = super::CapacityWindow::new();
        let (rate, per) = w.tick(100, 1_000_000);
        assert_eq!(rate, 100.0);
        assert!((per - 1e-5).abs() < 1e-12);
        for i in 2..=70u64 {
            w.tick(100 * i, 1_000_000 * i);
        }
        let (rate, _) = w.tick(100 * 71, 1_000_000 * 71);
        assert_eq!(rate, 100.0);
    }
}
