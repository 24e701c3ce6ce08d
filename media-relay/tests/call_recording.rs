//! Call recording under simulated time: real DTLS-SRTP participants (a citizen, an agent, a
//! staff member) mark their packets; the relay records the call through monitor, whisper and
//! barge, and the Ogg file holds each speaker in its own stream, in time, with the whisper on
//! the agent side only and the monitoring staff member's microphone nowhere.

mod common;

use std::time::Duration;

use common::Sim;
use voicedesk_media_relay::ogg::{demultiplex, opus_packet_samples, parse_ogg_opus};
use voicedesk_media_relay::{LegId, RelayError, RelayTimeouts, SlotFeed, SlotRef, Speaker};

/// Packet `i` of speaker `mark`: a 20 ms CELT TOC byte (0xF8), the mark, the index.
fn tag(mark: u8, i: usize) -> [u8; 4] {
    [0xF8, mark, (i >> 8) as u8, i as u8]
}

/// Each `(participant, mark)` sends one packet per 20 ms, `n` times, numbered from `from`.
fn talk(sim: &mut Sim, who: &[(usize, u8)], from: usize, n: usize) {
    for i in from..from + n {
        let now = sim.now;
        for &(p, mark) in who {
            sim.participants[p].send_tagged(now, tag(mark, i));
        }
        sim.advance(Duration::from_millis(20));
    }
}

fn feed(leg: LegId, slot: u8, source: Option<LegId>) -> SlotFeed {
    SlotFeed { slot: SlotRef { leg, slot }, source }
}

/// (start in ms from the recording's start, mark, index) of every marked packet of a stream.
fn timeline(stream: &voicedesk_media_relay::ogg::OggOpus) -> Vec<(u64, u8, usize)> {
    let mut at = 0u64;
    let mut out = Vec::new();
    for packet in &stream.packets {
        if packet.len() > 4 {
            out.push((at / 48, packet[1], (usize::from(packet[2]) << 8) | usize::from(packet[3])));
        }
        at += u64::from(opus_packet_samples(packet).unwrap());
    }
    out
}

#[test]
fn a_call_with_monitor_whisper_and_barge_is_recorded_per_speaker_in_time() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (citizen, agent, staff) = (sim.join(2), sim.join(2), sim.join(2));
    sim.connect_all();
    let (lc, la, ls) = (sim.leg(citizen), sim.leg(agent), sim.leg(staff));
    // Before the call the agent's headset talks to nobody: not recorded.
    talk(&mut sim, &[(agent, b'x')], 0, 5);

    // The call is bridged and recorded.
    sim.relay.set_feeds(&[feed(la, 0, Some(lc)), feed(lc, 0, Some(la))]).unwrap();
    let start = sim.now;
    sim.relay
        .start_call_recording(
            sim.now,
            7,
            &[(lc, Speaker::Citizen), (la, Speaker::Agent)],
            Duration::from_secs(600),
        )
        .unwrap();
    talk(&mut sim, &[(citizen, b'C'), (agent, b'A')], 0, 50); // 0–1 s

    // Staff monitor (hears both; their microphone feeds nobody).
    sim.relay.set_feeds(&[feed(ls, 0, Some(lc)), feed(ls, 1, Some(la))]).unwrap();
    sim.relay.add_to_call_recording(7, ls, Speaker::Staff).unwrap();
    talk(&mut sim, &[(citizen, b'C'), (agent, b'A'), (staff, b'M')], 50, 25); // 1–1.5 s
    // Whisper: the staff member's microphone feeds the agent's coach slot only.
    sim.relay.set_feeds(&[feed(la, 1, Some(ls))]).unwrap();
    talk(&mut sim, &[(citizen, b'C'), (agent, b'A'), (staff, b'W')], 75, 25); // 1.5–2 s
    // Barge: the citizen hears the staff member too.
    sim.relay.set_feeds(&[feed(lc, 1, Some(ls))]).unwrap();
    talk(&mut sim, &[(agent, b'A'), (staff, b'B')], 100, 25); // 2–2.5 s
    let elapsed = sim.now.duration_since(start);
    let recording = sim.relay.stop_call_recording(7).unwrap();
    assert_eq!(sim.relay.stop_call_recording(7), Err(RelayError::UnknownCallRecording(7)));
    talk(&mut sim, &[(citizen, b'C')], 200, 5); // after the end: not kept
    assert!(!recording.truncated);
    // The last packet was sent 20 ms before the end and arrived one 10 ms step later.
    assert_eq!(recording.duration, elapsed + Duration::from_millis(10));

    // The routing did what the modes say (the whisper never reached the citizen).
    let heard_by_citizen = &sim.participants[citizen].received[1];
    assert!(heard_by_citizen.iter().all(|t| t[1] == b'B'), "the citizen heard no whisper");
    assert_eq!(heard_by_citizen.len(), 25);

    let file = recording.to_ogg();
    let streams: Vec<_> =
        demultiplex(&file).unwrap().iter().map(|s| parse_ogg_opus(s).unwrap()).collect();
    assert_eq!(streams.len(), 3);
    let sides: Vec<&str> = streams.iter().map(|s| s.comments[1].as_str()).collect();
    assert_eq!(sides, ["VOICEDESK_SIDE=citizen", "VOICEDESK_SIDE=agent", "VOICEDESK_SIDE=agent"]);
    let [citizen_side, agent_side, staff_side] = [0, 1, 2].map(|i| timeline(&streams[i]));

    // Each stream holds its speaker's packets, all of them, in order, and nothing else.
    let marks = |t: &[(u64, u8, usize)]| t.iter().map(|(_, m, i)| (*m, *i)).collect::<Vec<_>>();
    assert_eq!(marks(&citizen_side), (0..100).map(|i| (b'C', i)).collect::<Vec<_>>());
    assert_eq!(marks(&agent_side), (0..125).map(|i| (b'A', i)).collect::<Vec<_>>());
    let staff_packets: Vec<_> =
        (75..100).map(|i| (b'W', i)).chain((100..125).map(|i| (b'B', i))).collect();
    assert_eq!(marks(&staff_side), staff_packets, "whisper and barge, not the monitor");

    // In time: packet i of any speaker starts at i × 20 ms from the start (the first packet
    // of each speaker is placed by its arrival, one 10 ms network step after it was sent).
    for stream in [&citizen_side, &agent_side, &staff_side] {
        for &(at, mark, i) in stream {
            let expected = i as u64 * 20;
            assert!(
                at.abs_diff(expected) <= 10,
                "{} packet {i} at {at} ms, sent at {expected} ms",
                mark as char
            );
        }
    }
}

#[test]
fn a_leg_that_leaves_or_ends_is_no_longer_recorded_and_errors_change_nothing() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (citizen, agent, staff) = (sim.join(2), sim.join(2), sim.join(2));
    sim.connect_all();
    let (lc, la, ls) = (sim.leg(citizen), sim.leg(agent), sim.leg(staff));
    sim.relay.set_feeds(&[feed(la, 0, Some(lc)), feed(lc, 0, Some(la))]).unwrap();
    let max = Duration::from_secs(600);
    let both = [(lc, Speaker::Citizen), (la, Speaker::Agent)];
    sim.relay.start_call_recording(sim.now, 1, &both, max).unwrap();
    assert_eq!(
        sim.relay.start_call_recording(sim.now, 1, &[], max),
        Err(RelayError::CallRecordingExists(1))
    );
    assert_eq!(
        sim.relay.start_call_recording(
            sim.now,
            2,
            &[(ls, Speaker::Staff), (la, Speaker::Agent)],
            max
        ),
        Err(RelayError::LegInOtherRecording(la, 1))
    );
    assert_eq!(
        sim.relay.add_to_call_recording(3, ls, Speaker::Staff),
        Err(RelayError::UnknownCallRecording(3))
    );
    talk(&mut sim, &[(citizen, b'C'), (agent, b'A')], 0, 10);
    // The staff member takes over: the agent leaves the call (their headset stays up).
    sim.relay.add_to_call_recording(1, ls, Speaker::Staff).unwrap();
    sim.relay
        .set_feeds(&[feed(lc, 0, Some(ls)), feed(ls, 0, Some(lc)), feed(la, 0, None)])
        .unwrap();
    sim.relay.remove_from_call_recording(la);
    talk(&mut sim, &[(citizen, b'C'), (agent, b'A'), (staff, b'T')], 10, 10);
    // The citizen's leg ends (the browser closed): what it said is kept.
    sim.relay.close_leg(lc).unwrap();
    talk(&mut sim, &[(staff, b'T')], 20, 5);
    let recording = sim.relay.stop_call_recording(1).unwrap();
    let counts: Vec<usize> = recording.tracks.iter().map(|t| t.packets.len()).collect();
    // The citizen: 20; the agent: 10 (not after leaving); the staff member: 10 while the
    // citizen heard them, none after the citizen's leg was gone (nobody heard them).
    assert_eq!(counts, [20, 10, 10]);
    // The staff member can be recorded in another call now.
    sim.relay.start_call_recording(sim.now, 2, &[(ls, Speaker::Staff)], max).unwrap();
}
