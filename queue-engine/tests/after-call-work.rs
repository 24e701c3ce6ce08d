//! After-call work and away reasons.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason};
use voicedesk_queue_engine::{Command, EngineConfig, EngineError, Input, MISSED_CALLS_REASON};

fn wrapped_up() -> Harness {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.advance_secs(60);
    h
}

#[test]
fn after_call_work_then_available() {
    let mut h = wrapped_up();
    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(
        out,
        [
            Command::End {
                call: call("c1"),
                agent: Some(agent("a1")),
                reason: EndReason::AgentHangUp
            },
            Command::AgentState {
                agent: agent("a1"),
                state: AgentActivity::AfterCallWork,
                reason: None,
                since: h.now,
                until: Some(h.now + Duration::from_secs(30)),
            },
        ]
    );
    assert!(offers(&h.arrive("c2")).is_empty(), "no offer during after-call work");
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(30)));
    let out = h.advance_secs(30);
    assert_eq!(agent_states(&out)[0], ("a1".into(), AgentActivity::Available, None));
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]));
    assert_eq!(h.engine.agent(&agent("a1")).unwrap().idle_since, h.now);
}

#[test]
fn agent_ends_after_call_work_early() {
    let mut h = wrapped_up();
    h.citizen_hangs_up("c1");
    h.arrive("c2");
    h.advance_secs(5);
    let out = h.available("a1");
    assert_eq!(offers(&out), pairs(&[("c2", "a1")]));
    assert_eq!(h.engine.poll_timeout(), Some(h.now + Duration::from_secs(15)), "only the ring");
}

#[test]
fn every_way_of_freeing_an_agent_goes_through_after_call_work() {
    for end in ["media", "taken_over", "citizen_disconnected"] {
        let mut h = wrapped_up();
        let input = match end {
            "media" => Input::MediaFailed { call: call("c1") },
            "taken_over" => Input::TakenOver { call: call("c1") },
            _ => Input::CitizenDisconnected { call: call("c1") },
        };
        h.ok(input);
        assert_eq!(h.activity("a1"), Some(AgentActivity::AfterCallWork), "{end}");
    }
}

#[test]
fn zero_after_call_work_is_straight_to_available() {
    let mut h = Harness::with_config(EngineConfig::default().with_after_call_work(Duration::ZERO));
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    let out = h.citizen_hangs_up("c1");
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::Available, None)]);
}

#[test]
fn away_reason_must_be_from_the_list() {
    let mut h = wrapped_up();
    h.citizen_hangs_up("c1");
    for bad in ["nap", MISSED_CALLS_REASON, "Break"] {
        h.refused(
            Input::AgentAway { agent: agent("a1"), reason: Some(bad.into()) },
            EngineError::UnknownAwayReason(bad.into()),
        );
    }
    let out = h.ok(Input::AgentAway { agent: agent("a1"), reason: Some("meal".into()) });
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::Away, Some("meal".into()))]);
    assert_eq!(h.engine.poll_timeout(), None, "going away from after-call work ends it");
    let out = h.ok(Input::AgentAway { agent: agent("a1"), reason: None });
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::Away, None)]);

    let mut h = Harness::with_config(EngineConfig::default().with_away_reasons(["nap"]));
    h.login("a1");
    h.ok(Input::AgentAway { agent: agent("a1"), reason: Some("nap".into()) });
    h.refused(
        Input::AgentAway { agent: agent("a1"), reason: Some("break".into()) },
        EngineError::UnknownAwayReason("break".into()),
    );
}

#[test]
fn away_reasons_replaced_at_run_time_take_effect_for_new_choices_only() {
    let mut h = Harness::new();
    h.login("a1");
    h.login("a2");
    h.ok(Input::AgentAway { agent: agent("a2"), reason: Some("meeting".into()) });
    h.ok(Input::SetAwayReasons { reasons: vec!["lunch".into(), MISSED_CALLS_REASON.into()] });

    let out = h.ok(Input::AgentAway { agent: agent("a1"), reason: Some("lunch".into()) });
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::Away, Some("lunch".into()))]);
    for gone in ["meeting", MISSED_CALLS_REASON] {
        h.refused(
            Input::AgentAway { agent: agent("a1"), reason: Some(gone.into()) },
            EngineError::UnknownAwayReason(gone.into()),
        );
    }
    let a2 = h.engine.agents().find(|a| a.id.0 == "a2").expect("a2 is signed in");
    assert_eq!(a2.reason, Some("meeting"), "an agent already away keeps the old reason");
}
