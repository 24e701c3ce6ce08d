//! Blind transfer of a connected call to another queue.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::AgentActivity;
use voicedesk_queue_engine::{
    Command, EngineConfig, EngineError, Input, QueueSettings, TurnAway, WeeklyHours,
};

/// a1 (general) talks to c1, queued at t=0; taxman (tax) is away; c2 waits in tax since t=60.
fn hall() -> Harness {
    let mut h = Harness::with_config(EngineConfig::default());
    h.configure("tax", QueueSettings::default());
    h.login_with("taxman", &[("tax", 5)]);
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.advance_secs(60);
    h.arrive_in("c2", "tax", 0);
    h.advance_secs(30);
    h
}

#[test]
fn transfer_keeps_original_time() {
    let mut h = hall();
    let transfer = Input::Transfer {
        agent: agent("a1"),
        call: call("c1"),
        to_skill: skill("tax"),
        priority: None,
    };
    let out = h.ok(transfer);
    assert_eq!(
        out[0],
        Command::Transferred { call: call("c1"), agent: agent("a1"), skill: skill("tax") }
    );
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::AfterCallWork, None)]);
    assert_eq!(
        positions(&out),
        [("c1".into(), 1), ("c2".into(), 2)],
        "c1 was queued before c2 arrived"
    );
    let view = h.engine.call(&call("c1")).unwrap();
    assert_eq!((view.queued_at, view.skill), (h.start, &skill("tax")));
    let out = h.available("taxman");
    assert!(matches!(
        &out[1],
        Command::Offer { call, waited, .. } if call.0 == "c1" && *waited == Duration::from_secs(90)
    ));
}

#[test]
fn transfer_refused_when_target_closed_changes_nothing() {
    let mut h = hall();
    h.configure("tax", QueueSettings::default().with_hours(WeeklyHours::never()));
    h.refused(
        Input::Transfer {
            agent: agent("a1"),
            call: call("c1"),
            to_skill: skill("tax"),
            priority: None,
        },
        EngineError::TransferRefused {
            call: call("c1"),
            reason: TurnAway::Closed { opens_at_ms: None },
        },
    );
    h.refused(
        Input::Transfer {
            agent: agent("a1"),
            call: call("c1"),
            to_skill: skill("x"),
            priority: None,
        },
        EngineError::UnknownQueue(skill("x")),
    );
    h.refused(
        Input::Transfer {
            agent: agent("a1"),
            call: call("c2"),
            to_skill: skill("tax"),
            priority: None,
        },
        EngineError::NotYourCall { call: call("c2"), agent: agent("a1") },
    );
    assert_eq!(h.activity("a1"), Some(AgentActivity::OnCall));
}

#[test]
fn transfer_to_the_same_queue_with_a_higher_priority() {
    let mut h = hall();
    h.login("a2");
    h.arrive("c3");
    let out = h.ok(Input::Transfer {
        agent: agent("a1"),
        call: call("c1"),
        to_skill: skill(GENERAL),
        priority: Some(5),
    });
    assert_eq!(positions(&out), [("c1".into(), 1), ("c3".into(), 2)]);
    assert_eq!(h.engine.call(&call("c1")).unwrap().priority, 5);
}

#[test]
fn a_transfer_does_not_restart_the_wait_limit() {
    let mut h = Harness::with_config(EngineConfig::default());
    let limited = QueueSettings::default().with_max_wait(Some(Duration::from_secs(120)));
    h.configure("tax", limited);
    h.login_with("taxman", &[("tax", 5)]);
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.advance_secs(90);
    h.ok(Input::Transfer {
        agent: agent("a1"),
        call: call("c1"),
        to_skill: skill("tax"),
        priority: None,
    });
    let out = h.advance_secs(30);
    assert_eq!(
        out[0],
        Command::WaitLimitReached { call: call("c1"), waited: Duration::from_secs(120) },
        "120 s after it was first queued, not after the transfer"
    );
    assert_eq!(out.len(), 2, "and a1's after-call work ends: {out:?}");
}
