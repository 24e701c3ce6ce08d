//! Voice-message recording: a tap on a leg's inbound RTP (the participant's microphone, the
//! leg's send track), kept in memory as the Opus packets arrived — no decoding, no new
//! negotiation — up to a maximum length.
//!
//! [`RelayCore::start_recording`](crate::RelayCore::start_recording) arms the tap,
//! [`RelayCore::stop_recording`](crate::RelayCore::stop_recording) returns the
//! [`Recording`], and [`Recording::to_ogg_opus`] turns it into an Ogg/Opus file.
//!
//! What is kept: the packets of the first SSRC seen after the start (a leg carries one
//! microphone; packets of any other SSRC are ignored), by RTP timestamp. A packet is kept if it
//! ends (its timestamp offset from the first packet plus its duration from the Opus TOC byte,
//! 20 ms when unreadable) within the maximum; a later one is dropped and the recording marked
//! `truncated`. Packets older than the first (reordered from before the start) are dropped.
//! The length is measured on the RTP clock (48 kHz), so silences the sender compressed with DTX
//! count: a 60 s limit is 60 s of the citizen's time, not 60 s of sound. There is also a cap on
//! the packet count (one per 2.5 ms of the maximum), so a sender that never advances its
//! timestamps cannot grow the recording without bound.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::ogg::{OggOpusWriter, OpusHead, opus_packet_samples};
use crate::rewrite::FRAME_TICKS;
use crate::routing::LegId;

/// The RTP clock rate of Opus.
pub(crate) const RATE: u64 = 48_000;
/// The shortest Opus frame, in samples (2.5 ms).
pub(crate) const MIN_FRAME: u64 = 120;
/// Recordings of legs that ended while recording, kept for `stop_recording`, at most.
const ENDED_KEPT: usize = 64;

/// One Opus packet as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPacket {
    /// Its RTP timestamp (48 kHz clock, the sender's origin).
    pub rtp_timestamp: u32,
    /// The Opus packet, untouched.
    pub payload: Bytes,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recording {
    /// The packets, in RTP timestamp order (one per timestamp).
    pub packets: Vec<RecordedPacket>,
    /// From the first packet's start to the last packet's end, on the RTP clock (gaps
    /// included); zero without packets.
    pub duration: Duration,
    /// Whether packets were dropped because the maximum length was reached.
    pub truncated: bool,
}

impl Recording {
    /// The recording as an Ogg/Opus file (mono head, pre-skip 0, one logical stream).
    ///
    /// Granule positions follow the RTP timestamps: each packet counts the samples its TOC byte
    /// declares (20 ms when unreadable), and a gap between one packet's end and the next
    /// packet's timestamp (DTX, loss) is filled with **zero-length Opus frames** (a one-byte
    /// packet, TOC only, CELT 20/10/5/2.5 ms), which a decoder treats as lost frames: it plays
    /// concealment / comfort noise for exactly the gap. So the file's length is the
    /// recording's `duration` (up to 2.5 ms per gap that is not a multiple of 2.5 ms) and every
    /// page's granule position is the true decoded sample count, as RFC 7845 requires. Without
    /// packets the file has its two header pages and an empty last page.
    pub fn to_ogg_opus(&self) -> Vec<u8> {
        let first = self.packets.first().map_or(0, |p| p.rtp_timestamp);
        let serial = first ^ 0x766f_6963;
        let mut writer = OggOpusWriter::new(Vec::new(), OpusHead::new(1, 0), serial)
            .expect("a mono head is always writable");
        write_timed(
            &mut writer,
            self.packets
                .iter()
                .map(|p| (u64::from(p.rtp_timestamp.wrapping_sub(first)), p.payload.as_ref())),
        );
        writer.finish().expect("writing to memory")
    }
}

/// Writes `(offset, packet)` pairs (offsets in samples from the stream's start, ascending)
/// so that each packet starts at its offset: a gap before a packet (the start, DTX, loss) is
/// filled with zero-length Opus frames (TOC only, CELT 20/10/5/2.5 ms), which a decoder plays
/// as concealment for exactly the gap (to 2.5 ms).
pub(crate) fn write_timed<'a>(
    writer: &mut OggOpusWriter<Vec<u8>>,
    packets: impl Iterator<Item = (u64, &'a [u8])>,
) {
    let mut at: u64 = 0;
    for (offset, payload) in packets {
        while offset >= at + MIN_FRAME {
            let gap = offset - at;
            let (toc, samples) = [(0xF8u8, 960u64), (0xF0, 480), (0xE8, 240), (0xE0, 120)]
                .into_iter()
                .find(|&(_, samples)| samples <= gap)
                .expect("gap >= 120");
            writer.write_packet(&[toc], samples as u32).expect("writing to memory");
            at += samples;
        }
        let samples = opus_packet_samples(payload).unwrap_or(FRAME_TICKS);
        writer.write_packet(payload, samples).expect("writing to memory");
        at += u64::from(samples);
    }
}

/// One leg's recording in progress.
#[derive(Debug)]
pub(crate) struct Recorder {
    max_samples: u64,
    max_packets: usize,
    /// The SSRC and timestamp of the first packet.
    origin: Option<(u32, u32)>,
    /// (offset from the first packet, packet).
    packets: Vec<(u64, RecordedPacket)>,
    end: u64,
    truncated: bool,
}

impl Recorder {
    pub(crate) fn new(max: Duration) -> Self {
        // Beyond 2^31 samples (12 hours) timestamp offsets would be ambiguous.
        let max_samples = (max.as_nanos() * u128::from(RATE) / 1_000_000_000).min(1 << 31) as u64;
        Self {
            max_samples,
            max_packets: (max_samples / MIN_FRAME) as usize + 1,
            origin: None,
            packets: Vec::new(),
            end: 0,
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let (origin_ssrc, first) = *self.origin.get_or_insert((ssrc, timestamp));
        if ssrc != origin_ssrc {
            return;
        }
        let Ok(offset) = u64::try_from(timestamp.wrapping_sub(first) as i32) else {
            return;
        };
        let samples = opus_packet_samples(payload).unwrap_or(FRAME_TICKS);
        let end = offset + u64::from(samples);
        if end > self.max_samples || self.packets.len() >= self.max_packets {
            self.truncated = true;
            return;
        }
        self.end = self.end.max(end);
        self.packets.push((
            offset,
            RecordedPacket { rtp_timestamp: timestamp, payload: Bytes::copy_from_slice(payload) },
        ));
    }

    pub(crate) fn finish(mut self) -> Recording {
        self.packets.sort_by_key(|(offset, _)| *offset);
        self.packets.dedup_by_key(|(offset, _)| *offset);
        Recording {
            packets: self.packets.into_iter().map(|(_, p)| p).collect(),
            duration: Duration::from_nanos(self.end * 1_000_000_000 / RATE),
            truncated: self.truncated,
        }
    }
}

/// Every recording of a relay: the legs being recorded, and the recordings of legs that ended
/// while recording (kept for `stop_recording`, the oldest dropped beyond 64).
#[derive(Debug, Default)]
pub(crate) struct Recordings {
    active: HashMap<LegId, Recorder>,
    ended: VecDeque<(LegId, Recording)>,
}

impl Recordings {
    /// Whether no leg is being recorded: the per-packet check when nothing records.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.active.is_empty()
    }

    /// Feeds one inbound RTP packet of `leg` to its recorder, if any.
    pub(crate) fn tap(&mut self, leg: LegId, ssrc: u32, rtp_timestamp: u32, payload: &[u8]) {
        if let Some(recorder) = self.active.get_mut(&leg) {
            recorder.push(ssrc, rtp_timestamp, payload);
        }
    }

    /// Starts (or restarts, discarding what was recorded) recording `leg`.
    pub(crate) fn start(&mut self, leg: LegId, max: Duration) {
        self.active.insert(leg, Recorder::new(max));
    }

    /// The recording of `leg`, finished now (or when the leg ended); `None` if it was not
    /// recording.
    pub(crate) fn stop(&mut self, leg: LegId) -> Option<Recording> {
        if let Some(recorder) = self.active.remove(&leg) {
            return Some(recorder.finish());
        }
        let at = self.ended.iter().position(|(l, _)| *l == leg)?;
        self.ended.remove(at).map(|(_, r)| r)
    }

    /// The leg is gone: its recording, if any, is finished and kept for `stop`.
    pub(crate) fn leg_ended(&mut self, leg: LegId) {
        if let Some(recorder) = self.active.remove(&leg) {
            if self.ended.len() == ENDED_KEPT {
                self.ended.pop_front();
            }
            self.ended.push_back((leg, recorder.finish()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogg::parse_ogg_opus;

    /// A 20 ms CELT packet (TOC 0xF8) tagged `n`.
    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![0xF8, n, n, n])
    }

    #[test]
    fn packets_are_kept_in_timestamp_order_up_to_the_maximum() {
        let mut r = Recorder::new(Duration::from_millis(100));
        let base = u32::MAX - 1000; // wraps around during the recording
        r.push(7, base, &frame(0));
        r.push(7, base.wrapping_add(1920), &frame(2)); // reordered
        r.push(7, base.wrapping_add(960), &frame(1));
        r.push(7, base.wrapping_add(960), &frame(9)); // duplicate timestamp
        r.push(8, base.wrapping_add(2880), &frame(3)); // another SSRC
        r.push(7, base.wrapping_sub(960), &frame(4)); // before the start
        r.push(7, base.wrapping_add(3840), &Bytes::new()); // empty
        r.push(7, base.wrapping_add(3840), &frame(5)); // ends at 100 ms: kept
        let recording = r.finish();
        let tags: Vec<u8> = recording.packets.iter().map(|p| p.payload[1]).collect();
        assert_eq!(tags, [0, 1, 2, 5]);
        assert_eq!(recording.duration, Duration::from_millis(100));
        assert!(!recording.truncated);

        let mut r = Recorder::new(Duration::from_millis(100));
        for i in 0..10u8 {
            r.push(1, u32::from(i) * 960, &frame(i));
        }
        let recording = r.finish();
        assert_eq!(recording.packets.len(), 5);
        assert!(recording.truncated);
        assert_eq!(recording.duration, Duration::from_millis(100));
    }

    #[test]
    fn a_timestamp_gap_is_filled_with_zero_length_frames() {
        let mut r = Recorder::new(Duration::from_secs(10));
        r.push(1, 1000, &frame(0));
        // 960 + 3 × 960 + 480 + 120 samples of gap (DTX): 4 missing 20 ms frames, 12.5 ms more.
        r.push(1, 1000 + 960 * 4 + 600, &frame(1));
        let recording = r.finish();
        assert_eq!(
            recording.duration,
            Duration::from_micros(((960 * 5 + 600) * 1_000_000) / 48_000)
        );
        let ogg = parse_ogg_opus(&recording.to_ogg_opus()).unwrap();
        assert_eq!(ogg.head.channels, 1);
        assert_eq!(ogg.head.pre_skip, 0);
        let expected: Vec<Vec<u8>> = vec![
            frame(0).to_vec(),
            vec![0xF8],
            vec![0xF8],
            vec![0xF8],
            vec![0xF0],
            vec![0xE0],
            frame(1).to_vec(),
        ];
        assert_eq!(ogg.packets, expected);
        assert_eq!(ogg.final_granule, 960 * 5 + 600);
    }

    #[test]
    fn an_empty_recording_is_a_valid_empty_file() {
        let ogg = parse_ogg_opus(&Recording::default().to_ogg_opus()).unwrap();
        assert!(ogg.packets.is_empty());
        assert_eq!(ogg.final_granule, 0);
    }

    #[test]
    fn recordings_of_ended_legs_are_kept_for_stop() {
        let mut all = Recordings::default();
        assert!(all.is_idle());
        all.start(LegId(1), Duration::from_secs(1));
        assert!(!all.is_idle());
        all.leg_ended(LegId(1));
        assert!(all.is_idle());
        assert!(all.stop(LegId(1)).is_some());
        assert!(all.stop(LegId(1)).is_none(), "once");
        for leg in 0..(ENDED_KEPT as u64 + 1) {
            all.start(LegId(100 + leg), Duration::from_secs(1));
            all.leg_ended(LegId(100 + leg));
        }
        assert!(all.stop(LegId(100)).is_none(), "the oldest was dropped");
        assert!(all.stop(LegId(101)).is_some());
    }
}
