//! The relay measures each leg's round-trip time the RFC 3550 way — its sender reports, the
//! participant's receiver reports echoing them — and the leg's quality figure uses it.

mod common;

use std::time::Duration;

use common::Sim;
use voicedesk_media_relay::{RelayTimeouts, SlotFeed, SlotRef};

#[test]
fn each_legs_round_trip_is_measured_from_rtcp_and_a_long_one_lowers_its_score() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (near, far) = (sim.join(2), sim.join(2));
    sim.connect_all();
    // From now on the network takes 250 ms to bring the relay's datagrams to `far`.
    sim.participants[far].delay = Duration::from_millis(250);
    let (ln, lf) = (sim.leg(near), sim.leg(far));
    let feeds = [
        SlotFeed { slot: SlotRef { leg: ln, slot: 0 }, source: Some(lf) },
        SlotFeed { slot: SlotRef { leg: lf, slot: 0 }, source: Some(ln) },
    ];
    sim.relay.set_feeds(&feeds).unwrap();
    let before = sim.relay.leg_quality(ln).unwrap();
    assert_eq!(before.rtt_ms, None, "nothing measured before any report");

    // Both talk for 10 s: the relay reports every 2 s, the participants every second.
    for _ in 0..500 {
        let now = sim.now;
        sim.participants[near].send_tagged(now, *b"NEAR");
        sim.participants[far].send_tagged(now, *b"FARR");
        sim.advance(Duration::from_millis(20));
    }

    let near_q = sim.relay.leg_quality(ln).unwrap();
    let far_q = sim.relay.leg_quality(lf).unwrap();
    // The simulated network moves datagrams within a 10 ms step: the near leg's round trip is
    // below one step, the far one's 250 ms within one step.
    let near_rtt = near_q.rtt_ms.expect("the near leg's round trip is measured");
    let far_rtt = far_q.rtt_ms.expect("the far leg's round trip is measured");
    assert!(near_rtt < 10.0, "near {near_q:?}");
    assert!((245.0..=261.0).contains(&far_rtt), "far {far_q:?}");
    // Neither loses or jitters: the longer delay alone makes the far leg's figure lower.
    assert_eq!((near_q.lost, far_q.lost), (0, 0));
    let (near_mos, far_mos) = (near_q.mos.unwrap(), far_q.mos.unwrap());
    assert!(far_mos < near_mos - 0.03, "far {far_mos} near {near_mos}");

    // When the legs close, their round trips are in the histogram.
    sim.relay.close_leg(ln).unwrap();
    sim.relay.close_leg(lf).unwrap();
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("rtt", "", sim.stats.leg_rtt_seconds.clone());
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains("rtt_count 2\n"), "{text}");
}
