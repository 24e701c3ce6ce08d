//! A citizen whose connection drops before an answer keeps their place for the grace time.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{EndReason, WithdrawReason};
use voicedesk_queue_engine::{EngineError, Input};

fn three_waiting() -> Harness {
    let mut h = Harness::new();
    h.login("a1");
    for id in ["c1", "c2", "c3"] {
        h.arrive(id);
    }
    h
}

#[test]
fn reconnect_within_grace_keeps_place() {
    let mut h = three_waiting();
    let out = h.ok(Input::CitizenDisconnected { call: call("c1") });
    assert!(out.is_empty(), "nobody moves: {out:?}");
    h.refused(
        Input::CitizenDisconnected { call: call("c1") },
        EngineError::AlreadyParked(call("c1")),
    );
    assert!(h.engine.call(&call("c1")).unwrap().parked);
    assert_eq!(offers(&h.available("a1")), pairs(&[("c2", "a1")]), "a parked call is skipped");
    assert_eq!(h.engine.position(&call("c1")), Some(1));

    h.advance_secs(59);
    let out = h.ok(Input::CitizenReconnected { call: call("c1") });
    assert!(ends(&out).is_empty());
    h.refused(Input::CitizenReconnected { call: call("c1") }, EngineError::NotParked(call("c1")));
    h.login_available("a2");
    assert_eq!(h.ringing_at("a2").as_deref(), Some("c1"), "back at the head");
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(15)));
}

#[test]
fn disconnecting_while_ringing_withdraws_the_offer() {
    let mut h = three_waiting();
    h.available("a1");
    let out = h.ok(Input::CitizenDisconnected { call: call("c1") });
    assert_eq!(withdrawals(&out)[0], ("c1".into(), "a1".into(), WithdrawReason::CitizenLeft));
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]));
}

#[test]
fn grace_expiry_abandons() {
    let mut h = three_waiting();
    h.ok(Input::CitizenDisconnected { call: call("c1") });
    let out = h.advance_secs(60);
    assert_eq!(ends(&out), [("c1".into(), None, EndReason::Abandoned)]);
    assert_eq!(positions(&out), [("c2".into(), 1), ("c3".into(), 2)]);
}
