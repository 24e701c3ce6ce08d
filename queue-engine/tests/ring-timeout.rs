//! An offer nobody answers: withdrawn at the ring timeout, the agent set away as "missed call",
//! the call on to the next agent. Inputs handled before the timeout win the race.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{AgentActivity, WithdrawReason};
use voicedesk_queue_engine::{Command, EngineError, Input, MISSED_CALLS_REASON};

#[test]
fn an_unanswered_offer_moves_to_the_next_agent_and_sets_the_missed_agent_away() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.advance_secs(1);
    h.login_available("a2");
    h.arrive("c1");
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(15)));

    assert!(h.advance(Duration::from_millis(14_999)).is_empty());
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(
        out[..2],
        [
            Command::WithdrawOffer {
                call: call("c1"),
                agent: agent("a1"),
                reason: WithdrawReason::RingTimeout
            },
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::Away,
                reason: Some(MISSED_CALLS_REASON.into()),
                since: h.now,
                until: None
            },
        ]
    );
    assert_eq!(offers(&out), pairs(&[("c1", "a2")]));
    let a1 = h.engine.agent(&agent("a1")).unwrap();
    assert_eq!((a1.activity, a1.reason), (AgentActivity::Away, Some("missed_calls")));
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(15)));
}

#[test]
fn a_missed_call_waits_when_no_other_agent_is_available_and_returns_with_the_agent() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    let out = h.advance_secs(15);
    assert!(offers(&out).is_empty());
    assert_eq!(h.engine.queue_len(), 1);
    assert_eq!(h.engine.poll_timeout(), None, "nothing rings, nothing to wake up for");

    h.advance_secs(60);
    let out = h.available("a1");
    assert!(matches!(
        out.iter().find(|c| matches!(c, Command::Offer { .. })),
        Some(Command::Offer { waited, .. }) if *waited == Duration::from_secs(75)
    ));
}

#[test]
fn every_agent_missing_in_turn_leaves_the_call_queued() {
    let mut h = Harness::with_config(classic().with_ring_timeout(Duration::from_secs(10)));
    for id in ["a1", "a2", "a3"] {
        h.login_available(id);
        h.advance_secs(1);
    }
    h.arrive("c1");
    let out = h.advance_secs(30);
    assert_eq!(offers(&out), pairs(&[("c1", "a2"), ("c1", "a3")]));
    assert_eq!(withdrawals(&out).len(), 3);
    for id in ["a1", "a2", "a3"] {
        assert_eq!(h.activity(id), Some(AgentActivity::Away));
    }
    assert_eq!(h.engine.queue_len(), 1);
}

#[test]
fn an_accept_after_the_ring_timeout_was_handled_is_refused() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.arrive("c1");
    h.advance_secs(15);
    assert_eq!(h.ringing_at("a2").as_deref(), Some("c1"));
    h.refused(
        Input::Accept { agent: agent("a1"), call: call("c1") },
        EngineError::NotOfferedToYou { call: call("c1"), agent: agent("a1") },
    );
    h.accept("a2", "c1");
}

#[test]
fn an_accept_handled_before_the_due_timeout_wins_the_race() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    let deadline = h.engine.poll_timeout().unwrap();
    // The shell woke late: the deadline has passed but the accept is handled first.
    h.now = deadline + Duration::from_millis(5);
    let out = h.accept("a1", "c1");
    assert_eq!(out[0], Command::Connect { call: call("c1"), agent: agent("a1") });
    assert_eq!(h.engine.poll_timeout(), None);
    h.engine.handle_timeout(h.now);
    assert!(h.drain().is_empty(), "the cancelled ring timer does not fire");
}

#[test]
fn a_timeout_handled_early_does_nothing() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    let before = h.engine.clone();
    h.engine.handle_timeout(h.now + Duration::from_secs(14));
    assert!(h.drain().is_empty());
    assert_eq!(h.engine, before);
}

#[test]
fn each_offer_has_its_own_deadline_and_the_earliest_is_polled() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.arrive("c1");
    let first = h.now + Duration::from_secs(15);
    h.advance_secs(4);
    h.arrive("c2");
    assert_eq!(h.engine.poll_timeout(), Some(first));
    h.accept("a1", "c1");
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(15)));
    let out = h.advance_secs(15);
    assert_eq!(withdrawals(&out), [("c2".into(), "a2".into(), WithdrawReason::RingTimeout)]);
}
