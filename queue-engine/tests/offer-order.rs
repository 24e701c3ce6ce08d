//! Which call is offered, to whom, and when: first come first served, longest-idle agent first,
//! one offer per call and per agent.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::AgentActivity;
use voicedesk_queue_engine::Command;

#[test]
fn calls_are_offered_first_come_first_served() {
    let mut h = Harness::new();
    h.login("a1");
    for id in ["c1", "c2", "c3"] {
        h.arrive(id);
        h.advance_secs(1);
    }
    assert_eq!(h.engine.queue_len(), 3, "the only agent is away: every call waits");

    let mut offered = offers(&h.available("a1"));
    for id in ["c1", "c2"] {
        h.accept("a1", id);
        offered.extend(offers(&h.citizen_hangs_up(id)));
    }
    assert_eq!(offered, pairs(&[("c1", "a1"), ("c2", "a1"), ("c3", "a1")]));
}

#[test]
fn the_longest_idle_available_agent_is_offered_first() {
    let mut h = Harness::new();
    for id in ["a1", "a2", "a3"] {
        h.login(id);
    }
    // Idle since they became available: a2 first, then a3, then a1.
    for id in ["a2", "a3", "a1"] {
        h.available(id);
        h.advance_secs(1);
    }
    let mut offered = Vec::new();
    for id in ["c1", "c2", "c3"] {
        offered.extend(offers(&h.arrive(id)));
    }
    assert_eq!(offered, pairs(&[("c1", "a2"), ("c2", "a3"), ("c3", "a1")]));
}

#[test]
fn an_agent_who_ends_a_call_goes_to_the_back_of_the_rotation() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.advance_secs(1);
    h.login_available("a2");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.advance_secs(10);
    h.citizen_hangs_up("c1");
    let a1 = h.engine.agent(&agent("a1")).unwrap();
    assert_eq!((a1.activity, a1.idle_since), (AgentActivity::Available, h.now));

    // a2 has been idle since t=1, a1 only since t=11.
    assert_eq!(offers(&h.arrive("c2")), pairs(&[("c2", "a2")]));
    assert_eq!(offers(&h.arrive("c3")), pairs(&[("c3", "a1")]));
}

#[test]
fn an_offer_that_does_not_become_a_call_keeps_the_agents_place() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.advance_secs(1);
    h.login_available("a2");
    h.arrive("c1");
    h.reject("a1", "c1");
    assert_eq!(h.ringing_at("a2").as_deref(), Some("c1"));
    // a1 rang but did not work: still the longest idle.
    assert_eq!(offers(&h.arrive("c2")), pairs(&[("c2", "a1")]));
}

#[test]
fn one_call_rings_at_one_agent_and_an_agent_gets_one_call_at_a_time() {
    let mut h = Harness::new();
    h.login_available("a1");
    let out = [h.arrive("c1"), h.arrive("c2")].concat();
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]));
    assert_eq!(h.engine.ringing_count(), 1);
    assert_eq!(h.engine.queue_len(), 1);

    h.accept("a1", "c1");
    h.login_available("a2");
    assert_eq!(h.ringing_at("a2").as_deref(), Some("c2"));
    assert_eq!(h.engine.connected_count(), 1);
}

#[test]
fn an_offer_tells_the_agent_the_service_the_wait_and_the_ring_timeout() {
    let mut h = Harness::new();
    h.login("a1");
    h.arrive("c1");
    h.advance_secs(5);
    let out = h.available("a1");
    assert_eq!(
        out,
        [
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::Available,
                reason: None,
                since: h.now,
                until: None
            },
            Command::Offer {
                call: call("c1"),
                agent: agent("a1"),
                skill: skill(GENERAL),
                ring_timeout: Duration::from_secs(15),
                waited: Duration::from_secs(5),
                service: Some("pension inquiry".into()),
            },
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::Ringing,
                reason: None,
                since: h.now,
                until: None
            },
            // Still position 1; the estimate appears now that someone is staffed.
            Command::Position {
                call: call("c1"),
                position: 1,
                estimated_wait: Some(Duration::from_secs(180)),
            },
        ],
    );
}
