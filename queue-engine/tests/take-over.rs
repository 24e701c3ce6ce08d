//! A staff member takes a connected call over: the engine lets the call go and frees the agent.

mod common;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason};
use voicedesk_queue_engine::{EngineError, Input};

/// a1 talking to c1 for a minute.
fn talking() -> Harness {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.advance_secs(60);
    h
}

#[test]
fn a_taken_over_call_frees_the_agent_for_the_next_call() {
    let mut h = talking();
    h.arrive("c2");
    let out = h.ok(Input::TakenOver { call: call("c1") });
    assert_eq!(ends(&out), [("c1".into(), Some("a1".into()), EndReason::TakenOver)]);
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]), "the freed agent gets the next call");
    assert_eq!(h.engine.connected_count(), 0);
    h.refused(Input::TakenOver { call: call("c1") }, EngineError::UnknownCall(call("c1")));
}

#[test]
fn only_a_connected_call_can_be_taken_over() {
    let mut h = talking();
    h.arrive("c2");
    h.refused(Input::TakenOver { call: call("c2") }, EngineError::NotConnected(call("c2")));
    assert_eq!(h.activity("a1"), Some(AgentActivity::OnCall));
}
