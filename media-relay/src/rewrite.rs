//! Keeps one receive slot's RTP stream continuous while its source changes.
//!
//! A slot is one outgoing stream with a fixed SSRC for the life of the leg. Its source can
//! change at any packet (a call is bridged, a supervisor barges in, the next call arrives at
//! the agent's headset). The receiver must see one stream: sequence numbers that go on by
//! one, and timestamps that advance by the real time that passed — otherwise its jitter
//! buffer would treat the new source as a glitch or discard it.
//!
//! Within one source the offsets stay fixed, so loss and reordering pass through unchanged.
//! At a switch, new offsets make the first packet of the new source follow the last packet
//! sent, with the timestamp advanced by the wall-clock gap (at least one 20 ms frame).

use std::time::Instant;

/// Opus RTP clock rate (RFC 7587).
pub const OPUS_CLOCK_RATE: u32 = 48_000;
/// One 20 ms Opus frame in RTP timestamp units.
pub const FRAME_TICKS: u32 = OPUS_CLOCK_RATE / 50;

/// Identifies a source stream: which leg and which SSRC it sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceKey {
    /// The sending leg (relay-internal id).
    pub leg: u64,
    /// The SSRC the sender used.
    pub ssrc: u32,
}

/// Rewrites sequence numbers and timestamps for one slot.
#[derive(Debug, Clone)]
pub struct SlotRewriter {
    /// The slot's own SSRC, announced in the SDP answer; constant for the leg's life.
    pub ssrc: u32,
    /// The stream currently feeding the slot, with the offsets that map it.
    current: Option<Mapping>,
    /// The highest sequence number and its timestamp sent so far, and when; `None` before the
    /// first packet.
    last_out: Option<LastOut>,
    /// Where the first stream starts (random per slot, RFC 3550 §5.1).
    initial_seq: u16,
    initial_ts: u32,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    source: SourceKey,
    seq_offset: u16,
    ts_offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u16,
    ts: u32,
    at: Instant,
}

/// The rewritten header fields of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// The slot's SSRC.
    pub ssrc: u32,
    /// The slot's sequence number for this packet.
    pub seq: u16,
    /// The slot's timestamp for this packet.
    pub ts: u32,
}

impl SlotRewriter {
    /// A slot that will send with `ssrc`, starting at the given random sequence and timestamp.
    pub fn new(ssrc: u32, initial_seq: u16, initial_ts: u32) -> Self {
        Self { ssrc, current: None, last_out: None, initial_seq, initial_ts }
    }

    /// Maps one packet of `source` arriving at `now`.
    pub fn rewrite(&mut self, now: Instant, source: SourceKey, seq: u16, ts: u32) -> Rewritten {
        let mapping = match self.current {
            Some(m) if m.source == source => m,
            _ => {
                let (next_seq, next_ts) = match self.last_out {
                    None => (self.initial_seq, self.initial_ts),
                    Some(last) => {
                        let gap = now.saturating_duration_since(last.at);
                        let ticks = (gap.as_micros() as u64 * OPUS_CLOCK_RATE as u64 / 1_000_000)
                            .clamp(FRAME_TICKS as u64, u32::MAX as u64 / 2)
                            as u32;
                        (last.seq.wrapping_add(1), last.ts.wrapping_add(ticks))
                    }
                };
                let m = Mapping {
                    source,
                    seq_offset: next_seq.wrapping_sub(seq),
                    ts_offset: next_ts.wrapping_sub(ts),
                };
                self.current = Some(m);
                m
            }
        };
        let out = Rewritten {
            ssrc: self.ssrc,
            seq: seq.wrapping_add(mapping.seq_offset),
            ts: ts.wrapping_add(mapping.ts_offset),
        };
        let newer = match self.last_out {
            None => true,
            Some(last) => seq_newer(out.seq, last.seq),
        };
        if newer {
            self.last_out = Some(LastOut { seq: out.seq, ts: out.ts, at: now });
        }
        out
    }

    /// The slot's RTP timestamp for the instant `now`: the last one sent, advanced by the time
    /// since (a sender report's RTP time). `None` before the first packet.
    pub fn timestamp_at(&self, now: Instant) -> Option<u32> {
        let last = self.last_out?;
        let ticks = now.saturating_duration_since(last.at).as_micros() as u64
            * OPUS_CLOCK_RATE as u64
            / 1_000_000;
        Some(last.ts.wrapping_add(ticks as u32))
    }

    /// Forgets the current source, so its next packet (even from the same stream) is treated
    /// as a switch. Called when the slot is re-routed.
    pub fn detach(&mut self) {
        self.current = None;
    }
}

/// RFC 1982 serial-number comparison: is `a` after `b`?
fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn a_switch_continues_the_sequence_and_advances_time_by_the_gap() {
        let t0 = Instant::now();
        let mut slot = SlotRewriter::new(7, 100, 5_000);
        let a = SourceKey { leg: 1, ssrc: 11 };
        let b = SourceKey { leg: 2, ssrc: 22 };
        let first = slot.rewrite(t0, a, 40_000, 1_000_000);
        assert_eq!((first.ssrc, first.seq, first.ts), (7, 100, 5_000));
        let second = slot.rewrite(t0 + Duration::from_millis(20), a, 40_001, 1_000_960);
        assert_eq!((second.seq, second.ts), (101, 5_960));
        // B starts 1 s later with unrelated numbers.
        let switched = slot.rewrite(t0 + Duration::from_millis(1_020), b, 3, 77);
        assert_eq!(switched.seq, 102);
        assert_eq!(switched.ts, 5_960 + 48_000);
        let next = slot.rewrite(t0 + Duration::from_millis(1_040), b, 4, 77 + 960);
        assert_eq!((next.seq, next.ts), (103, 5_960 + 48_000 + 960));
    }

    #[test]
    fn reordering_within_a_source_passes_through() {
        let t0 = Instant::now();
        let mut slot = SlotRewriter::new(7, 0, 0);
        let a = SourceKey { leg: 1, ssrc: 11 };
        slot.rewrite(t0, a, 10, 0);
        let late = slot.rewrite(t0, a, 12, 1920);
        let early = slot.rewrite(t0, a, 11, 960);
        assert_eq!((late.seq, early.seq), (2, 1));
        assert_eq!((late.ts, early.ts), (1920, 960));
    }

    proptest! {
        /// However sources alternate, in-order input yields output whose sequence numbers go
        /// up by exactly one per packet and whose timestamps never go back.
        #[test]
        fn output_stays_one_continuous_stream(
            start_seq in any::<u16>(), start_ts in any::<u32>(),
            packets in prop::collection::vec((0u64..3, 1u64..200), 1..300),
        ) {
            let t0 = Instant::now();
            let mut slot = SlotRewriter::new(9, start_seq, start_ts);
            let mut src_seq = [0u16, 30_000, 65_500];
            let mut src_ts = [0u32, u32::MAX - 5_000, 123];
            let mut now = t0;
            let mut prev: Option<Rewritten> = None;
            for (source, gap_ms) in packets {
                now += Duration::from_millis(gap_ms);
                let i = source as usize;
                src_seq[i] = src_seq[i].wrapping_add(1);
                src_ts[i] = src_ts[i].wrapping_add(960);
                let out = slot.rewrite(now, SourceKey { leg: source, ssrc: source as u32 }, src_seq[i], src_ts[i]);
                prop_assert_eq!(out.ssrc, 9);
                if let Some(p) = prev {
                    prop_assert_eq!(out.seq, p.seq.wrapping_add(1));
                    let advance = out.ts.wrapping_sub(p.ts);
                    prop_assert!(advance > 0 && advance < u32::MAX / 2, "timestamp went back: {} -> {}", p.ts, out.ts);
                }
                prev = Some(out);
            }
        }
    }
}
