//! An agent declines an offer: it goes to the next available agent, the agent stays available,
//! and an agent who declined is tried again only when nobody else is available.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{AgentActivity, WithdrawReason};
use voicedesk_queue_engine::Command;

#[test]
fn a_rejected_offer_goes_to_the_next_available_agent() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.arrive("c1");
    h.advance_secs(3);
    let out = h.reject("a1", "c1");
    assert_eq!(
        out[..2],
        [
            Command::WithdrawOffer {
                call: call("c1"),
                agent: agent("a1"),
                reason: WithdrawReason::Rejected
            },
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::Available,
                reason: None,
                since: h.now,
                until: None
            },
        ]
    );
    assert_eq!(offers(&out), pairs(&[("c1", "a2")]));
    assert_eq!(h.activity("a1"), Some(AgentActivity::Available));
    assert_eq!(
        h.engine.poll_timeout(),
        Some(h.now + Duration::from_secs(15)),
        "the new offer rings for a full ring timeout"
    );
}

#[test]
fn the_only_available_agent_is_offered_the_rejected_call_again() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    let out = h.reject("a1", "c1");
    assert_eq!(withdrawals(&out).len(), 1);
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]));
}

#[test]
fn agents_who_rejected_are_tried_last_longest_idle_first() {
    let mut h = Harness::new();
    for id in ["a1", "a2", "a3"] {
        h.login_available(id);
        h.advance_secs(1);
    }
    let mut offered = offers(&h.arrive("c1"));
    for id in ["a1", "a2", "a3"] {
        offered.extend(offers(&h.reject(id, "c1")));
    }
    assert_eq!(offered, pairs(&[("c1", "a1"), ("c1", "a2"), ("c1", "a3"), ("c1", "a1")]));
}

#[test]
fn a_rejected_call_keeps_its_place_ahead_of_later_calls() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    h.arrive("c2");
    // First come first served beats "someone who has not rejected it": c1 is older.
    let out = h.reject("a1", "c1");
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]));
    assert_eq!(positions(&out), [], "nobody moved");

    // A second agent takes the next call in line.
    assert_eq!(offers(&h.available("a2")), pairs(&[("c2", "a2")]));
}
