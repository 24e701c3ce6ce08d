//! Ending a connected call from either side (or by a media failure) ends it for both and frees
//! the agent, idle from that moment.

mod common;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason};
use voicedesk_queue_engine::{Command, EngineError, Input, Party};

fn talking() -> Harness {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.advance_secs(2);
    h.connect("a1", "c1");
    h.advance_secs(60);
    h
}

#[test]
fn a_citizen_hang_up_ends_the_call_for_both_and_frees_the_agent() {
    let mut h = talking();
    let out = h.citizen_hangs_up("c1");
    assert_eq!(
        out,
        [
            Command::End {
                call: call("c1"),
                agent: Some(agent("a1")),
                reason: EndReason::CitizenHangUp
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
    let a1 = h.engine.agent(&agent("a1")).unwrap();
    assert_eq!((a1.since, a1.idle_since, a1.call), (h.now, h.now, None));
    assert_eq!(h.engine.connected_count(), 0);
}

#[test]
fn an_agent_hang_up_ends_the_call_for_both_and_frees_the_agent() {
    let mut h = talking();
    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(ends(&out), [("c1".into(), Some("a1".into()), EndReason::AgentHangUp)]);
    assert_eq!(h.activity("a1"), Some(AgentActivity::Available));
}

#[test]
fn the_freed_agent_is_offered_the_next_waiting_call() {
    let mut h = talking();
    h.arrive("c2");
    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]));
    assert!(matches!(out[0], Command::End { .. }), "the end comes before the next offer");
}

#[test]
fn a_media_failure_ends_the_call_in_any_phase() {
    let mut h = talking();
    h.arrive("c2");
    h.login_available("a2");
    h.arrive("c3");
    let out = [
        h.ok(Input::MediaFailed { call: call("c1") }),
        h.ok(Input::MediaFailed { call: call("c2") }),
    ]
    .concat();
    let ended = ends(&out);
    assert_eq!(
        ended,
        [
            ("c1".into(), Some("a1".into()), EndReason::MediaFailed),
            ("c2".into(), None, EndReason::MediaFailed),
        ]
    );
    assert_eq!(h.engine.queue_len() + h.engine.ringing_count(), 1, "only c3 is left");
}

#[test]
fn a_second_hang_up_of_an_ended_call_is_unknown() {
    let mut h = talking();
    h.citizen_hangs_up("c1");
    h.refused(
        Input::HangUp { call: call("c1"), by: Party::Agent(agent("a1")) },
        EngineError::UnknownCall(call("c1")),
    );
    h.refused(
        Input::HangUp { call: call("c1"), by: Party::Citizen },
        EngineError::UnknownCall(call("c1")),
    );
}
