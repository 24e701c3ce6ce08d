//! The citizen leaves before an agent answers: the call ends as abandoned; an agent it was
//! ringing at has the offer withdrawn and stays available.

mod common;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};
use voicedesk_queue_engine::{Command, EngineError, Input, Party};

#[test]
fn abandoning_while_queued_ends_the_call() {
    let mut h = Harness::new();
    h.login("a1");
    h.arrive("c1");
    let out = h.abandon("c1");
    assert_eq!(out, [Command::End { call: call("c1"), agent: None, reason: EndReason::Abandoned }]);
    assert_eq!(h.engine.queue_len(), 0);
    assert!(h.engine.call(&call("c1")).is_none(), "an ended call is forgotten");
}

#[test]
fn abandoning_while_ringing_withdraws_the_offer_and_the_agent_stays_available() {
    let mut h = Harness::new();
    h.login_available("a1");
    let idle_since = h.now;
    h.arrive("c1");
    h.advance_secs(4);
    let out = h.abandon("c1");
    assert_eq!(
        out,
        [
            Command::WithdrawOffer {
                call: call("c1"),
                agent: agent("a1"),
                reason: WithdrawReason::CitizenLeft
            },
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::Available,
                reason: None,
                since: h.now,
                until: None
            },
            Command::End { call: call("c1"), agent: None, reason: EndReason::Abandoned },
        ]
    );
    let a1 = h.engine.agent(&agent("a1")).unwrap();
    assert_eq!(a1.activity, AgentActivity::Available);
    assert_eq!(a1.idle_since, idle_since, "an offer that never became a call is not work");
    assert_eq!(h.engine.poll_timeout(), None, "the ring timer went with the offer");
}

#[test]
fn the_agent_freed_by_an_abandon_is_offered_the_next_call() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.arrive("c2");
    let out = h.abandon("c1");
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]));
    assert_eq!(positions(&out), [("c2".into(), 1)]);
}

#[test]
fn a_citizen_hanging_up_before_an_answer_is_an_abandon() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.arrive("c2");
    let out = [h.citizen_hangs_up("c1"), h.citizen_hangs_up("c2")].concat();
    assert_eq!(
        ends(&out),
        [("c1".into(), None, EndReason::Abandoned), ("c2".into(), None, EndReason::Abandoned)]
    );
}

#[test]
fn the_citizen_leaving_a_connected_call_is_a_disconnect() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    let out = h.abandon("c1");
    assert_eq!(ends(&out), [("c1".into(), Some("a1".into()), EndReason::CitizenDisconnected)]);
    assert_eq!(h.activity("a1"), Some(AgentActivity::Available));
}

#[test]
fn an_abandoned_call_is_unknown_afterwards() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.abandon("c1");
    h.refused(Input::CallAbandoned { call: call("c1") }, EngineError::UnknownCall(call("c1")));
    h.refused(
        Input::HangUp { call: call("c1"), by: Party::Citizen },
        EngineError::UnknownCall(call("c1")),
    );
    h.refused(
        Input::Accept { agent: agent("a1"), call: call("c1") },
        EngineError::UnknownCall(call("c1")),
    );
}
