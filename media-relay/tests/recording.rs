//! Voice-message recording under simulated time: a real DTLS-SRTP participant talks, the relay
//! records its inbound Opus from the existing leg, and the Ogg/Opus file holds the packets sent.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::Sim;
use voicedesk_media_relay::ogg::parse_ogg_opus;
use voicedesk_media_relay::{LegId, RelayError, RelayTimeouts, SlotFeed, SlotRef};

/// The tag of packet `i`: a 20 ms CELT TOC byte (0xF8), a marker, the index.
fn tag(i: usize) -> [u8; 4] {
    [0xF8, b'V', (i >> 8) as u8, i as u8]
}

/// What `Participant::send_tagged` sends for `tag`.
fn payload(tag: [u8; 4]) -> Vec<u8> {
    let mut p = tag.to_vec();
    p.resize(80, 0xAB);
    p
}

/// `who` sends marked packets `from..to`, one per 20 ms.
fn talk(sim: &mut Sim, who: usize, packets: std::ops::Range<usize>) {
    for i in packets {
        let now = sim.now;
        sim.participants[who].send_tagged(now, tag(i));
        sim.advance(Duration::from_millis(20));
    }
}

#[test]
fn two_seconds_recorded_from_the_existing_leg_play_back_as_the_packets_sent() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(2);
    sim.connect_all();
    let leg = sim.leg(citizen);
    talk(&mut sim, citizen, 0..10); // before the recording: not kept
    sim.relay.start_recording(leg, Duration::from_secs(60)).unwrap();
    talk(&mut sim, citizen, 10..110);
    let recording = sim.relay.stop_recording(leg).unwrap();
    talk(&mut sim, citizen, 110..120); // after: not kept

    let sent: Vec<Vec<u8>> = (10..110).map(|i| payload(tag(i))).collect();
    let got: Vec<Vec<u8>> = recording.packets.iter().map(|p| p.payload.to_vec()).collect();
    assert_eq!(got, sent);
    assert_eq!(recording.duration, Duration::from_secs(2));
    assert!(!recording.truncated);
    for pair in recording.packets.windows(2) {
        assert_eq!(pair[1].rtp_timestamp.wrapping_sub(pair[0].rtp_timestamp), 960);
    }

    let ogg = parse_ogg_opus(&recording.to_ogg_opus()).unwrap();
    assert_eq!(ogg.packets, sent);
    assert_eq!(ogg.final_granule, 96_000, "2 s at 48 kHz");
    assert_eq!((ogg.head.channels, ogg.head.pre_skip), (1, 0));
    assert_eq!(sim.relay.stop_recording(leg), Err(RelayError::NotRecording(leg)));
}

#[test]
fn the_maximum_length_truncates() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    sim.connect_all();
    let leg = sim.leg(citizen);
    sim.relay.start_recording(leg, Duration::from_secs(1)).unwrap();
    talk(&mut sim, citizen, 0..100);
    let recording = sim.relay.stop_recording(leg).unwrap();
    assert!(recording.truncated);
    assert_eq!(recording.packets.len(), 50);
    assert_eq!(recording.duration, Duration::from_secs(1));
    let ogg = parse_ogg_opus(&recording.to_ogg_opus()).unwrap();
    assert_eq!(ogg.packets, (0..50).map(|i| payload(tag(i))).collect::<Vec<_>>());
    assert_eq!(ogg.final_granule, 48_000);
}

#[test]
fn starting_again_restarts_the_recording() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    sim.connect_all();
    let leg = sim.leg(citizen);
    sim.relay.start_recording(leg, Duration::from_secs(10)).unwrap();
    talk(&mut sim, citizen, 0..20);
    sim.relay.start_recording(leg, Duration::from_secs(10)).unwrap();
    talk(&mut sim, citizen, 20..30);
    let recording = sim.relay.stop_recording(leg).unwrap();
    let first: Bytes = recording.packets[0].payload.clone();
    assert_eq!(recording.packets.len(), 10);
    assert_eq!(&first[..4], &tag(20));
}

#[test]
fn unknown_legs_and_legs_not_recording_are_errors() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    sim.connect_all();
    let ghost = LegId(999);
    assert_eq!(
        sim.relay.start_recording(ghost, Duration::from_secs(1)),
        Err(RelayError::UnknownLeg(ghost))
    );
    assert_eq!(sim.relay.stop_recording(ghost), Err(RelayError::UnknownLeg(ghost)));
    let leg = sim.leg(citizen);
    assert_eq!(sim.relay.stop_recording(leg), Err(RelayError::NotRecording(leg)));
}

#[test]
fn a_leg_that_ends_while_recording_keeps_its_recording_once() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    sim.connect_all();
    let leg = sim.leg(citizen);
    sim.relay.start_recording(leg, Duration::from_secs(10)).unwrap();
    talk(&mut sim, citizen, 0..25);
    sim.relay.close_leg(leg).unwrap();
    let recording = sim.relay.stop_recording(leg).unwrap();
    assert_eq!(recording.packets.len(), 25);
    assert_eq!(recording.duration, Duration::from_millis(500));
    assert_eq!(sim.relay.stop_recording(leg), Err(RelayError::UnknownLeg(leg)));
}

#[test]
fn recording_does_not_disturb_forwarding() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (citizen, agent) = (sim.join(2), sim.join(2));
    sim.connect_all();
    let (lc, la) = (sim.leg(citizen), sim.leg(agent));
    let feed = SlotFeed { slot: SlotRef { leg: la, slot: 0 }, source: Some(lc) };
    sim.relay.set_feeds(&[feed]).unwrap();
    sim.relay.start_recording(lc, Duration::from_secs(10)).unwrap();
    talk(&mut sim, citizen, 0..100);
    let recording = sim.relay.stop_recording(lc).unwrap();
    assert_eq!(recording.packets.len(), 100);

    let heard = &sim.participants[agent];
    let tags: Vec<[u8; 4]> = (0..100).map(tag).collect();
    assert_eq!(heard.received[0], tags, "the agent hears every packet, in order");
    assert_eq!(
        heard.payloads[0].iter().map(|p| p.to_vec()).collect::<Vec<_>>(),
        tags.iter().map(|t| payload(*t)).collect::<Vec<_>>()
    );
    assert_eq!(sim.stats.rtp_forwarded.get(), 100);
    assert!(heard.received[1].is_empty());
}
