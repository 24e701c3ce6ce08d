//! Call recording (issue 18): what each participant of a call said, kept without decoding, in
//! time with each other, as one Ogg file with one Opus logical stream per speaker.
//!
//! - **Tracks.** A recording has one track per participant leg: the citizen, the agent, and
//!   each staff member who joins. Each track is labelled with its speaker and its *side*:
//!   the citizen's track is the citizen side; the agent's and staff's tracks are the agent
//!   side (the hall's side of the conversation). The citizen-side stream therefore only ever
//!   holds the citizen's own microphone.
//! - **What is kept: what somebody in the call heard.** A packet of a track's leg is kept only
//!   if the routing table sent it to at least one slot (`heard`). So a staff member who only
//!   monitors is not recorded (their microphone feeds nobody); one who whispers is recorded on
//!   the agent side (their microphone feeds the agent's coach slot only, never the citizen's);
//!   one who barges or takes over is recorded (the citizen hears them). A leg removed from the
//!   call (the agent after a take over, a staff member who left) is no longer recorded, though
//!   its headset leg lives on for the next call.
//! - **Time.** Every stream starts at the recording's start (granule 0). A track's first packet
//!   is placed by its arrival time (the relay's clock) and later packets by their RTP
//!   timestamps from that anchor, so DTX silences and losses keep their length; a new SSRC,
//!   or a timestamp more than a second away from the arrival time, anchors the track again.
//!   Gaps are filled with zero-length frames (see [`crate::recording`]), so playing each
//!   stream from its start puts every word where it was said.
//! - **Bounds.** At most `max` of call time (then `truncated`), and a packet cap per track.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ogg::{OggOpusWriter, OpusHead, multiplex, opus_packet_samples};
use crate::recording::{MIN_FRAME, RATE, write_timed};
use crate::rewrite::FRAME_TICKS;
use crate::routing::LegId;

/// Who speaks on a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// The citizen (the citizen side).
    Citizen,
    /// The agent who answered (the agent side).
    Agent,
    /// A staff member supporting the call (the agent side).
    Staff,
}

impl Speaker {
    /// The stable name, as written in the file's tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Citizen => "citizen",
            Speaker::Agent => "agent",
            Speaker::Staff => "staff",
        }
    }

    /// The side of the call the speaker is on: `citizen` or `agent`.
    pub fn side(self) -> &'static str {
        match self {
            Speaker::Citizen => "citizen",
            Speaker::Agent | Speaker::Staff => "agent",
        }
    }
}

/// Arrival time and RTP timestamp further apart than this (in samples, 1 s) anchor a track
/// again: the sender's clock jumped.
const REANCHOR: i64 = RATE as i64;

/// One speaker's packets.
#[derive(Debug, Clone)]
struct Track {
    leg: LegId,
    speaker: Speaker,
    /// Whether the leg is still in the call.
    active: bool,
    /// (SSRC, RTP timestamp, offset from the recording's start) of the anchor packet.
    anchor: Option<(u32, u32, u64)>,
    /// (offset from the recording's start, packet).
    packets: Vec<(u64, Bytes)>,
}

/// A call being recorded. Pure: the caller gives the time of every packet.
#[derive(Debug, Clone)]
pub struct CallRecorder {
    started: Instant,
    max_samples: u64,
    max_packets: usize,
    tracks: Vec<Track>,
    truncated: bool,
}

/// One speaker's part of a finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTrack {
    /// The participant's leg.
    pub leg: LegId,
    /// Who spoke.
    pub speaker: Speaker,
    /// (offset from the recording's start in 48 kHz samples, Opus packet), in time order.
    pub packets: Vec<(u64, Bytes)>,
}

/// A finished call recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecording {
    /// The tracks, in the order their legs joined.
    pub tracks: Vec<RecordedTrack>,
    /// From the start to the end of the last packet of any track.
    pub duration: Duration,
    /// Whether packets were dropped at the maximum length.
    pub truncated: bool,
}

impl CallRecorder {
    /// A recording that starts at `now`, of at most `max` (capped at 12 hours).
    pub fn new(now: Instant, max: Duration) -> Self {
        let max_samples = (max.as_nanos() * u128::from(RATE) / 1_000_000_000).min(1 << 31) as u64;
        Self {
            started: now,
            max_samples,
            max_packets: (max_samples / MIN_FRAME) as usize + 1,
            tracks: Vec::new(),
            truncated: false,
        }
    }

    /// Records `leg` from now on as `speaker` (again, if it had left: same track).
    pub fn add_leg(&mut self, leg: LegId, speaker: Speaker) {
        match self.tracks.iter_mut().find(|t| t.leg == leg) {
            Some(track) => track.active = true,
            None => self.tracks.push(Track {
                leg,
                speaker,
                active: true,
                anchor: None,
                packets: Vec::new(),
            }),
        }
    }

    /// Stops recording `leg` (it left the call); what it said stays in the recording.
    pub fn remove_leg(&mut self, leg: LegId) {
        if let Some(track) = self.tracks.iter_mut().find(|t| t.leg == leg) {
            track.active = false;
        }
    }

    /// Whether `leg` is being recorded: the per-packet check.
    pub fn records(&self, leg: LegId) -> bool {
        self.tracks.iter().any(|t| t.leg == leg && t.active)
    }

    /// One inbound packet of `leg` at `now`; kept if the leg is in the recording and the
    /// packet was `heard` (forwarded to at least one slot).
    pub fn push(
        &mut self,
        now: Instant,
        leg: LegId,
        heard: bool,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
    ) {
        if !heard || payload.is_empty() {
            return;
        }
        let Some(track) = self.tracks.iter_mut().find(|t| t.leg == leg && t.active) else {
            return;
        };
        let arrival = (now.saturating_duration_since(self.started).as_nanos() * u128::from(RATE)
            / 1_000_000_000) as u64;
        let offset = match track.anchor {
            Some((anchor_ssrc, anchor_ts, anchor_at)) if anchor_ssrc == ssrc => {
                let delta = i64::from(timestamp.wrapping_sub(anchor_ts) as i32);
                let at = anchor_at as i64 + delta;
                if (at - arrival as i64).abs() > REANCHOR {
                    track.anchor = Some((ssrc, timestamp, arrival));
                    arrival
                } else if at < 0 {
                    return;
                } else {
                    at as u64
                }
            }
            _ => {
                track.anchor = Some((ssrc, timestamp, arrival));
                arrival
            }
        };
        let samples = opus_packet_samples(payload).unwrap_or(FRAME_TICKS);
        if offset + u64::from(samples) > self.max_samples || track.packets.len() >= self.max_packets
        {
            self.truncated = true;
            return;
        }
        track.packets.push((offset, Bytes::copy_from_slice(payload)));
    }

    /// The recording: each track's packets in time order, one per start time (a duplicate
    /// or a packet overlapping the one before is dropped).
    pub fn finish(self) -> CallRecording {
        let mut end = 0;
        let tracks = self
            .tracks
            .into_iter()
            .map(|mut track| {
                track.packets.sort_by_key(|(offset, _)| *offset);
                let mut kept: Vec<(u64, Bytes)> = Vec::with_capacity(track.packets.len());
                let mut free_from = 0;
                for (offset, payload) in track.packets {
                    if !kept.is_empty() && offset < free_from {
                        continue;
                    }
                    let samples = opus_packet_samples(&payload).unwrap_or(FRAME_TICKS);
                    free_from = offset + u64::from(samples);
                    end = end.max(free_from);
                    kept.push((offset, payload));
                }
                RecordedTrack { leg: track.leg, speaker: track.speaker, packets: kept }
            })
            .collect();
        CallRecording {
            tracks,
            duration: Duration::from_nanos(end * 1_000_000_000 / RATE),
            truncated: self.truncated,
        }
    }
}

impl CallRecording {
    /// The recording as one Ogg file: one mono Opus logical stream per track, all starting at
    /// the recording's start, multiplexed in time order. Each stream's `OpusTags` name it:
    /// `VOICEDESK_SPEAKER=citizen|agent|staff`, `VOICEDESK_SIDE=citizen|agent`,
    /// `VOICEDESK_TRACK=<n>` (its order).
    pub fn to_ogg(&self) -> Vec<u8> {
        let streams: Vec<Vec<u8>> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(n, track)| {
                let comments = vec![
                    format!("VOICEDESK_SPEAKER={}", track.speaker.as_str()),
                    format!("VOICEDESK_SIDE={}", track.speaker.side()),
                    format!("VOICEDESK_TRACK={n}"),
                ];
                let serial = 0x7663_0000 ^ n as u32;
                let mut writer = OggOpusWriter::with_comments(
                    Vec::new(),
                    OpusHead::new(1, 0),
                    serial,
                    &comments,
                )
                .expect("a mono head with short tags is always writable");
                write_timed(&mut writer, track.packets.iter().map(|(o, p)| (*o, p.as_ref())));
                writer.finish().expect("writing to memory")
            })
            .collect();
        multiplex(&streams).expect("our own streams are well formed")
    }
}

/// Every call recording of a relay, and which recording each recorded leg is in (a leg is in
/// one call at a time).
#[derive(Debug, Default)]
pub(crate) struct CallRecordings {
    recorders: HashMap<u64, CallRecorder>,
    by_leg: HashMap<LegId, u64>,
}

impl CallRecordings {
    /// Whether no leg is being recorded: the per-packet check when nothing records.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.by_leg.is_empty()
    }

    /// The recording `leg` is in, if any.
    pub(crate) fn recording_of(&self, leg: LegId) -> Option<u64> {
        self.by_leg.get(&leg).copied()
    }

    pub(crate) fn start(&mut self, now: Instant, id: u64, max: Duration) -> bool {
        if self.recorders.contains_key(&id) {
            return false;
        }
        self.recorders.insert(id, CallRecorder::new(now, max));
        true
    }

    /// Adds `leg` to recording `id`; `Err(other)` if the leg is in another recording, `Ok(false)`
    /// if there is no recording `id`.
    pub(crate) fn add_leg(&mut self, id: u64, leg: LegId, speaker: Speaker) -> Result<bool, u64> {
        if let Some(&other) = self.by_leg.get(&leg)
            && other != id
        {
            return Err(other);
        }
        let Some(recorder) = self.recorders.get_mut(&id) else { return Ok(false) };
        recorder.add_leg(leg, speaker);
        self.by_leg.insert(leg, id);
        Ok(true)
    }

    /// The leg left the call (or ended): it is no longer recorded.
    pub(crate) fn remove_leg(&mut self, leg: LegId) {
        if let Some(id) = self.by_leg.remove(&leg)
            && let Some(recorder) = self.recorders.get_mut(&id)
        {
            recorder.remove_leg(leg);
        }
    }

    pub(crate) fn stop(&mut self, id: u64) -> Option<CallRecording> {
        let recorder = self.recorders.remove(&id)?;
        self.by_leg.retain(|_, r| *r != id);
        Some(recorder.finish())
    }

    pub(crate) fn tap(
        &mut self,
        now: Instant,
        leg: LegId,
        heard: bool,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
    ) {
        if let Some(id) = self.by_leg.get(&leg)
            && let Some(recorder) = self.recorders.get_mut(id)
        {
            recorder.push(now, leg, heard, ssrc, timestamp, payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogg::{demultiplex, parse_ogg_opus};

    /// A 20 ms CELT packet (TOC 0xF8) tagged with a speaker mark and a number.
    fn frame(mark: u8, n: u8) -> Vec<u8> {
        vec![0xF8, mark, n]
    }

    const CITIZEN: LegId = LegId(1);
    const AGENT: LegId = LegId(2);
    const STAFF: LegId = LegId(3);

    fn ms(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// The decoded timeline of one stream: (start in ms, mark, n) of each marked packet.
    fn timeline(stream: &crate::ogg::OggOpus) -> Vec<(u64, u8, u8)> {
        let mut at = 0;
        let mut out = Vec::new();
        for packet in &stream.packets {
            if packet.len() == 3 {
                out.push((at * 1000 / RATE, packet[1], packet[2]));
            }
            at += u64::from(opus_packet_samples(packet).unwrap());
        }
        out
    }

    #[test]
    fn both_sides_are_kept_apart_and_in_time_and_whisper_is_on_the_agent_side_only() {
        let t0 = Instant::now();
        let mut r = CallRecorder::new(t0, Duration::from_secs(60));
        r.add_leg(CITIZEN, Speaker::Citizen);
        r.add_leg(AGENT, Speaker::Agent);
        // The citizen talks first (timestamps from their own origin), the agent answers 1 s in.
        for i in 0..5u8 {
            let at = ms(t0, 20 * u64::from(i));
            r.push(at, CITIZEN, true, 11, 5_000 + 960 * u32::from(i), &frame(b'c', i));
        }
        for i in 0..3u8 {
            let at = ms(t0, 1_000 + 20 * u64::from(i));
            r.push(at, AGENT, true, 22, 90_000 + 960 * u32::from(i), &frame(b'a', i));
        }
        // A staff member monitors (heard by nobody: not recorded), then whispers at 2 s
        // (heard by the agent only), then barges at 3 s.
        r.add_leg(STAFF, Speaker::Staff);
        r.push(ms(t0, 1_500), STAFF, false, 33, 0, &frame(b's', 0));
        r.push(ms(t0, 2_000), STAFF, true, 33, 24_000, &frame(b'w', 1));
        r.push(ms(t0, 3_000), STAFF, true, 33, 72_000, &frame(b'b', 2));
        // The citizen goes on after a DTX silence: placed by the RTP timestamp, not by arrival.
        r.push(ms(t0, 4_070), CITIZEN, true, 11, 5_000 + 960 * 200, &frame(b'c', 9));
        // A leg that is not in the call is not recorded.
        r.push(ms(t0, 4_000), LegId(9), true, 44, 0, &frame(b'x', 0));
        let recording = r.finish();
        assert_eq!(recording.duration, Duration::from_millis(4_020));

        let file = recording.to_ogg();
        let streams: Vec<_> =
            demultiplex(&file).unwrap().iter().map(|s| parse_ogg_opus(s).unwrap()).collect();
        assert_eq!(streams.len(), 3);
        let tags: Vec<_> = streams.iter().map(|s| s.comments[..2].to_vec()).collect();
        assert_eq!(
            tags,
            [
                ["VOICEDESK_SPEAKER=citizen", "VOICEDESK_SIDE=citizen"],
                ["VOICEDESK_SPEAKER=agent", "VOICEDESK_SIDE=agent"],
                ["VOICEDESK_SPEAKER=staff", "VOICEDESK_SIDE=agent"],
            ]
        );
        assert_eq!(
            timeline(&streams[0]),
            [
                (0, b'c', 0),
                (20, b'c', 1),
                (40, b'c', 2),
                (60, b'c', 3),
                (80, b'c', 4),
                (4_000, b'c', 9)
            ]
        );
        assert_eq!(timeline(&streams[1]), [(1_000, b'a', 0), (1_020, b'a', 1), (1_040, b'a', 2)]);
        assert_eq!(timeline(&streams[2]), [(2_000, b'w', 1), (3_000, b'b', 2)]);
        for (stream, end) in streams.iter().zip([4_020, 1_060, 3_020]) {
            assert_eq!(stream.final_granule, end * 48, "every stream starts at the start");
        }
    }

    #[test]
    fn pages_are_interleaved_in_time_order() {
        let t0 = Instant::now();
        let mut r = CallRecorder::new(t0, Duration::from_secs(60));
        r.add_leg(CITIZEN, Speaker::Citizen);
        r.add_leg(AGENT, Speaker::Agent);
        for i in 0..250u32 {
            let at = ms(t0, 20 * u64::from(i));
            r.push(at, CITIZEN, true, 1, 960 * i, &frame(b'c', i as u8));
            r.push(at, AGENT, true, 2, 960 * i, &frame(b'a', i as u8));
        }
        let file = r.finish().to_ogg();
        // Walk the pages: BOS pages first, then the granules of data pages never go back.
        let mut offset = 0;
        let mut seen = Vec::new();
        while offset < file.len() {
            let flags = file[offset + 5];
            let granule = u64::from_le_bytes(file[offset + 6..offset + 14].try_into().unwrap());
            let segments = file[offset + 26] as usize;
            let body: usize =
                file[offset + 27..offset + 27 + segments].iter().map(|&l| l as usize).sum();
            seen.push((flags & 0x02 != 0, granule));
            offset += 27 + segments + body;
        }
        assert!(seen[0].0 && seen[1].0, "both BOS pages come first");
        let data: Vec<u64> = seen[4..].iter().map(|(_, g)| *g).collect();
        assert!(data.windows(2).all(|w| w[0] <= w[1]), "{data:?}");
        assert!(data.len() >= 10, "5 s in pages of about 1 s per stream: {data:?}");
    }

    #[test]
    fn a_leg_that_left_is_not_recorded_and_a_new_ssrc_is_placed_by_arrival() {
        let t0 = Instant::now();
        let mut r = CallRecorder::new(t0, Duration::from_secs(60));
        r.add_leg(AGENT, Speaker::Agent);
        r.push(ms(t0, 0), AGENT, true, 1, 1_000, &frame(b'a', 0));
        assert!(r.records(AGENT));
        r.remove_leg(AGENT); // taken over: the headset lives on for the next call
        assert!(!r.records(AGENT));
        r.push(ms(t0, 500), AGENT, true, 1, 1_000 + 24_000, &frame(b'a', 1));
        r.add_leg(AGENT, Speaker::Agent);
        // The browser restarted its sender: a new SSRC with an unrelated timestamp.
        r.push(ms(t0, 700), AGENT, true, 2, 7, &frame(b'a', 2));
        // A sender whose clock jumps by an hour is placed by arrival again.
        r.push(ms(t0, 800), AGENT, true, 2, 7 + 48_000 * 3_600, &frame(b'a', 3));
        let recording = r.finish();
        let offsets: Vec<(u64, u8)> =
            recording.tracks[0].packets.iter().map(|(o, p)| (o * 1000 / RATE, p[2])).collect();
        assert_eq!(offsets, [(0, 0), (700, 2), (800, 3)]);
    }

    #[test]
    fn the_maximum_length_truncates() {
        let t0 = Instant::now();
        let mut r = CallRecorder::new(t0, Duration::from_millis(100));
        r.add_leg(CITIZEN, Speaker::Citizen);
        for i in 0..10u8 {
            r.push(
                ms(t0, 20 * u64::from(i)),
                CITIZEN,
                true,
                1,
                960 * u32::from(i),
                &frame(b'c', i),
            );
        }
        let recording = r.finish();
        assert_eq!(recording.tracks[0].packets.len(), 5);
        assert!(recording.truncated);
        assert_eq!(recording.duration, Duration::from_millis(100));
    }
}
