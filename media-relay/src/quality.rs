//! Per-leg audio quality: what the relay measures of the audio a participant sends it, and an
//! E-model (ITU-T G.107) estimate of the listening quality that leaves, as a MOS.
//!
//! The relay receives every participant's RTP itself, so it keeps the statistics a receiver
//! report (RFC 3550 §6.4.1) would carry — packets expected from the extended highest sequence
//! number, packets received, the interarrival jitter — for the stream each leg *sends*. These
//! are the figures of the leg's uplink, the part of the path that belongs to that participant
//! (their network, their Wi-Fi): a lossy citizen shows as a low figure on the citizen's leg,
//! not on the agent's. Round-trip time is measured the RFC 3550 way (§6.4.1): the relay sends
//! a sender report on each of the leg's slots every few seconds (`crate::core`), the
//! participant's receiver report echoes its NTP time (LSR) with the delay since (DLSR), and
//! RTT = arrival − LSR − DLSR. Half of it is the leg's network delay in the estimate, beside a
//! fixed codec and playout delay ([`CODEC_AND_PLAYOUT_MS`]); until a first report comes back
//! the network's share is assumed ([`ASSUMED_NETWORK_MS`]).
//!
//! Pure arithmetic on values handed in: no clock, no I/O.

use std::time::Instant;

/// The one-way delay of the audio besides the network and the jitter buffer: a 20 ms Opus
/// frame, the encoder's look-ahead, capture and playout. Only mouth-to-ear delays past ~150 ms
/// lower the estimate much.
pub const CODEC_AND_PLAYOUT_MS: f64 = 40.0;

/// The one-way network delay taken before the leg's round-trip time is measured (a city
/// network).
pub const ASSUMED_NETWORK_MS: f64 = 20.0;

/// Weight of a new round-trip sample in the smoothed figure (RFC 6298's 1/8).
const RTT_GAIN: f64 = 0.125;

/// Opus at voice bit rates with its loss concealment: equipment impairment `Ie` 0 and packet
/// loss robustness `Bpl` 10 — conservative values (G.113 gives G.711 with PLC Bpl 25.1; Opus
/// without FEC concealment degrades about like G.729's Bpl 19 at 10–20 % loss and worse at 5 %
/// of bursts). A supervisor wants loss to show, so the figure errs low.
const OPUS_IE: f64 = 0.0;
const OPUS_BPL: f64 = 10.0;

/// The RTP clock of Opus, for jitter in milliseconds.
const CLOCK_RATE: f64 = 48_000.0;

/// What a leg's incoming audio looked like so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuality {
    /// RTP packets received from the participant.
    pub received: u64,
    /// Packets lost: expected minus received (never negative; duplicates do not hide loss
    /// for long).
    pub lost: u64,
    /// Lost over expected, 0..=1.
    pub loss: f64,
    /// Interarrival jitter (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time between the relay and the participant (smoothed), milliseconds;
    /// `None` until a receiver report answered one of the relay's sender reports.
    pub rtt_ms: Option<f64>,
    /// The E-model estimate: mean opinion score, 1.0..=4.5 (`None` before any audio).
    pub mos: Option<f64>,
}

/// Receiver statistics of one leg's incoming RTP stream (RFC 3550 A.1, A.8).
#[derive(Debug, Clone, Default)]
pub struct QualityMeter {
    ssrc: u32,
    /// Extended sequence number of the first packet of the current SSRC.
    base: u64,
    /// Extended highest sequence number received.
    max: u64,
    received: u64,
    /// Packets counted under earlier SSRCs (a participant that restarted its sender).
    earlier_expected: u64,
    earlier_received: u64,
    /// Jitter in RTP timestamp units, scaled as in RFC 3550 (a float here).
    jitter: f64,
    /// Transit (arrival − RTP timestamp, in timestamp units) of the previous packet.
    last_transit: Option<f64>,
    started: Option<Instant>,
    /// Smoothed round-trip time, milliseconds.
    rtt_ms: Option<f64>,
}

impl QualityMeter {
    /// Counts one received RTP packet.
    pub fn on_packet(&mut self, now: Instant, ssrc: u32, seq: u16, timestamp: u32) {
        let started = *self.started.get_or_insert(now);
        let arrival = now.duration_since(started).as_secs_f64() * CLOCK_RATE;
        if self.received == 0 || ssrc != self.ssrc {
            if self.received > 0 {
                self.earlier_expected += self.max - self.base + 1;
                self.earlier_received += self.received;
            }
            self.ssrc = ssrc;
            self.base = u64::from(seq) + (1 << 16);
            self.max = self.base;
            self.received = 1;
            self.last_transit = Some(arrival - f64::from(timestamp));
            return;
        }
        // Extend the 16-bit number to the one nearest the highest seen (reordering and
        // wrap-around both land right).
        let max_low = (self.max & 0xffff) as u16;
        let delta = seq.wrapping_sub(max_low) as i16;
        let ext = (self.max as i64 + i64::from(delta)).max(0) as u64;
        if ext > self.max {
            self.max = ext;
        }
        self.received += 1;
        let transit = arrival - f64::from(timestamp);
        if let Some(last) = self.last_transit {
            let mut d = (transit - last).abs();
            // A timestamp that wrapped (or a jump) is not jitter.
            if d > CLOCK_RATE {
                d = 0.0;
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Takes one round-trip measurement (from a receiver report) into the smoothed figure.
    pub fn on_round_trip(&mut self, rtt_ms: f64) {
        if !(rtt_ms.is_finite() && rtt_ms >= 0.0) {
            return;
        }
        self.rtt_ms = Some(match self.rtt_ms {
            None => rtt_ms,
            Some(srtt) => srtt + RTT_GAIN * (rtt_ms - srtt),
        });
    }

    /// The figures so far.
    pub fn quality(&self) -> LegQuality {
        let expected =
            self.earlier_expected + if self.received > 0 { self.max - self.base + 1 } else { 0 };
        let received = self.earlier_received + self.received;
        let lost = expected.saturating_sub(received);
        let loss = if expected == 0 { 0.0 } else { lost as f64 / expected as f64 };
        let jitter_ms = self.jitter / CLOCK_RATE * 1000.0;
        let network_ms = self.rtt_ms.map_or(ASSUMED_NETWORK_MS, |rtt| rtt / 2.0);
        let delay_ms = CODEC_AND_PLAYOUT_MS + network_ms;
        let mos = (received > 0).then(|| e_model_mos(loss, jitter_ms, delay_ms));
        LegQuality { received, lost, loss, jitter_ms, rtt_ms: self.rtt_ms, mos }
    }
}

/// The E-model's rating `R` turned into a MOS (G.107 annex B), for audio with `loss` (0..=1)
/// random packet loss, `jitter_ms` interarrival jitter and `delay_ms` one-way delay besides the
/// jitter buffer (taken as twice the jitter).
pub fn e_model_mos(loss: f64, jitter_ms: f64, delay_ms: f64) -> f64 {
    let ppl = (loss.clamp(0.0, 1.0)) * 100.0;
    let ie_eff = OPUS_IE + (95.0 - OPUS_IE) * ppl / (ppl + OPUS_BPL);
    let d = delay_ms + 2.0 * jitter_ms.max(0.0);
    // Delay impairment Id (G.107's simplification used by most monitoring tools).
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let r = 93.2 - id - ie_eff;
    mos_of_r(r)
}

/// G.107 annex B: R → MOS.
fn mos_of_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn feed(meter: &mut QualityMeter, packets: u16, drop_every: u16) {
        let t0 = Instant::now();
        for i in 0..packets {
            if drop_every > 0 && i % drop_every == drop_every - 1 {
                continue;
            }
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            meter.on_packet(now, 7, 65_000u16.wrapping_add(i), 960 * u32::from(i));
        }
    }

    #[test]
    fn a_clean_steady_stream_scores_near_the_top() {
        let mut m = QualityMeter::default();
        feed(&mut m, 1000, 0);
        let q = m.quality();
        assert_eq!((q.received, q.lost), (1000, 0));
        assert!(q.jitter_ms < 0.01, "{q:?}");
        assert!(q.mos.unwrap() > 4.3, "{q:?}");
    }

    #[test]
    fn five_percent_loss_across_a_sequence_wrap_is_counted_and_lowers_the_score() {
        let mut m = QualityMeter::default();
        // 1001: the 1000th packet is dropped, and a loss at the very end is not seen yet.
        feed(&mut m, 1001, 20);
        let q = m.quality();
        assert_eq!(q.lost, 50, "{q:?}");
        assert!((q.loss - 0.05).abs() < 0.001, "{q:?}");
        let mos = q.mos.unwrap();
        assert!(mos < 3.8 && mos > 2.0, "{q:?}");
    }

    #[test]
    fn late_packets_make_jitter() {
        let mut m = QualityMeter::default();
        let t0 = Instant::now();
        for i in 0..200u16 {
            let wobble = if i % 2 == 0 { 0 } else { 15 };
            let now = t0 + Duration::from_millis(20 * u64::from(i) + wobble);
            m.on_packet(now, 1, i, 960 * u32::from(i));
        }
        let q = m.quality();
        assert!(q.jitter_ms > 10.0, "{q:?}");
        assert_eq!(q.lost, 0);
    }

    #[test]
    fn a_new_ssrc_keeps_what_the_old_one_lost() {
        let mut m = QualityMeter::default();
        feed(&mut m, 100, 10);
        let before = m.quality().lost;
        m.on_packet(Instant::now(), 99, 5, 0);
        m.on_packet(Instant::now(), 99, 6, 960);
        assert_eq!(m.quality().lost, before);
        assert_eq!(m.quality().received, 90 + 2);
    }

    #[test]
    fn a_measured_round_trip_replaces_the_assumed_delay_and_a_long_one_lowers_the_score() {
        let mut m = QualityMeter::default();
        feed(&mut m, 500, 0);
        let assumed = m.quality();
        assert_eq!(assumed.rtt_ms, None);
        // A short round trip: about the assumed delay, about the same score.
        m.on_round_trip(40.0);
        let short = m.quality();
        assert_eq!(short.rtt_ms, Some(40.0));
        assert!((short.mos.unwrap() - assumed.mos.unwrap()).abs() < 0.01, "{short:?}");
        // A satellite-like path: 600 ms round trip, smoothed in over a few reports.
        for _ in 0..60 {
            m.on_round_trip(600.0);
        }
        let long = m.quality();
        assert!((long.rtt_ms.unwrap() - 600.0).abs() < 1.0, "{long:?}");
        assert!(long.mos.unwrap() < short.mos.unwrap() - 0.3, "{long:?} vs {short:?}");
        // Nonsense is not a measurement.
        m.on_round_trip(f64::NAN);
        m.on_round_trip(-5.0);
        assert!((m.quality().rtt_ms.unwrap() - 600.0).abs() < 1.0);
    }

    #[test]
    fn no_audio_no_score() {
        assert_eq!(QualityMeter::default().quality().mos, None);
        assert!(e_model_mos(1.0, 0.0, 0.0) < 1.6);
    }
}
