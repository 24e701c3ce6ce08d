//! The relay state machine under simulated time: connection, routing, slot continuity and
//! the ends of legs, proven at the packet level without sockets.

mod common;

use std::time::Duration;

use common::Sim;
use voicedesk_media_relay::{
    LegEndReason, RelayError, RelayEvent, RelayTimeouts, SlotFeed, SlotRef,
};

fn feed(
    dest: voicedesk_media_relay::LegId,
    slot: u8,
    source: Option<voicedesk_media_relay::LegId>,
) -> SlotFeed {
    SlotFeed { slot: SlotRef { leg: dest, slot }, source }
}

/// Everyone sends one packet per 20 ms for `ms` milliseconds.
fn talk(sim: &mut Sim, tags: &[(usize, [u8; 4])], ms: u64) {
    for _ in 0..ms / 20 {
        for &(who, tag) in tags {
            let now = sim.now;
            sim.participants[who].send_tagged(now, tag);
        }
        sim.advance(Duration::from_millis(20));
    }
}

#[test]
fn packets_reach_exactly_the_slots_the_table_names() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (a, b, c) = (sim.join(2), sim.join(2), sim.join(2));
    sim.connect_all();
    let (la, lb, lc) = (sim.leg(a), sim.leg(b), sim.leg(c));
    // A and B talk; C hears A on its slot 0 and B on its slot 1; nobody hears C.
    sim.relay
        .set_feeds(&[
            feed(la, 0, Some(lb)),
            feed(lb, 0, Some(la)),
            feed(lc, 0, Some(la)),
            feed(lc, 1, Some(lb)),
        ])
        .unwrap();
    talk(&mut sim, &[(a, *b"AAAA"), (b, *b"BBBB"), (c, *b"CCCC")], 1000);

    let p = &sim.participants;
    assert!(p[a].count(0, *b"BBBB") >= 45, "A hears B: {}", p[a].count(0, *b"BBBB"));
    assert!(p[b].count(0, *b"AAAA") >= 45);
    assert!(p[c].count(0, *b"AAAA") >= 45 && p[c].count(1, *b"BBBB") >= 45);
    for who in [a, b] {
        for slot in 0..2 {
            assert_eq!(p[who].count(slot, *b"CCCC"), 0, "nobody hears C");
        }
    }
    assert!(
        p[a].received[1].is_empty() && p[b].received[1].is_empty(),
        "unrouted slots stay silent"
    );
    assert_eq!(p[c].count(0, *b"BBBB"), 0, "C's slot 0 carries only A");
}

#[test]
fn switching_a_slots_source_keeps_one_continuous_stream() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (agent, first, second) = (sim.join(2), sim.join(2), sim.join(2));
    sim.connect_all();
    let la = sim.leg(agent);
    sim.relay.set_feeds(&[feed(la, 0, Some(sim.leg(first)))]).unwrap();
    talk(&mut sim, &[(first, *b"FRST"), (second, *b"SCND")], 400);
    sim.relay.set_feeds(&[feed(la, 0, Some(sim.leg(second)))]).unwrap();
    talk(&mut sim, &[(first, *b"FRST"), (second, *b"SCND")], 400);

    let slot = &sim.participants[agent].headers[0];
    let tags = &sim.participants[agent].received[0];
    let switch = tags.iter().position(|t| t == b"SCND").expect("second source heard");
    assert!(tags[switch..].iter().all(|t| t == b"SCND"), "after the switch only the new source");
    assert!(slot.iter().all(|h| h.0 == slot[0].0), "one SSRC on the slot");
    for pair in slot.windows(2) {
        assert_eq!(pair[1].1, pair[0].1.wrapping_add(1), "sequence numbers continue by one");
        let advance = pair[1].2.wrapping_sub(pair[0].2);
        assert!((960..=960 * 3).contains(&advance), "timestamp advance {advance}");
    }
}

#[test]
fn a_leg_whose_packets_stop_arriving_is_ended_as_silent() {
    let mut sim = Sim::new(RelayTimeouts { silence: Duration::from_secs(3), ..Default::default() });
    let (a, b) = (sim.join(2), sim.join(2));
    sim.connect_all();
    let lb = sim.leg(b);
    // B's network goes away; A keeps sending keepalives by itself.
    sim.participants[b].online = false;
    sim.advance(Duration::from_secs(5));
    assert!(
        sim.events.contains(&RelayEvent::LegEnded { leg: lb, reason: LegEndReason::Silence }),
        "{:?}",
        sim.events
    );
    let la = sim.leg(a);
    assert!(
        !sim.events.iter().any(|e| matches!(e, RelayEvent::LegEnded { leg, .. } if *leg == la))
    );
    // The ended leg is gone from routing and control.
    assert_eq!(sim.relay.set_feeds(&[feed(la, 0, Some(lb))]), Err(RelayError::UnknownLeg(lb)));
}

#[test]
fn a_muted_participant_that_only_sends_ice_keepalives_is_kept() {
    let mut sim = Sim::new(RelayTimeouts { silence: Duration::from_secs(3), ..Default::default() });
    let a = sim.join(2);
    sim.connect_all();
    sim.advance(Duration::from_secs(30));
    assert!(
        !sim.events.iter().any(|e| matches!(e, RelayEvent::LegEnded { .. })),
        "ICE consent traffic alone keeps a leg: {:?}",
        sim.events
    );
    let _ = a;
}

#[test]
fn a_leg_that_never_connects_is_ended_after_the_connect_limit() {
    let mut sim = Sim::new(RelayTimeouts { connect: Duration::from_secs(2), ..Default::default() });
    let a = sim.join(2);
    sim.participants[a].online = false;
    sim.advance(Duration::from_secs(3));
    assert_eq!(
        sim.events,
        vec![RelayEvent::LegEnded { leg: sim.leg(a), reason: LegEndReason::ConnectTimeout }]
    );
    assert_eq!(sim.relay.leg_count(), 0);
}

#[test]
fn routing_changes_naming_unknown_legs_or_slots_change_nothing() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (a, b) = (sim.join(2), sim.join(1));
    sim.connect_all();
    let (la, lb) = (sim.leg(a), sim.leg(b));
    let bad_slot = sim.relay.set_feeds(&[feed(la, 0, Some(lb)), feed(lb, 1, Some(la))]);
    assert!(matches!(bad_slot, Err(RelayError::UnknownSlot(_))), "{bad_slot:?}");
    assert!(sim.relay.routes().is_empty(), "the valid half was not applied either");
    assert_eq!(sim.relay.set_feeds(&[feed(la, 0, Some(la))]), Err(RelayError::SelfFeed(la)));
    assert!(sim.relay.routes().is_empty());
}
