//! Agents leaving (logout or disconnect), and what happens when nobody is there at all.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason};
use voicedesk_queue_engine::{CallPhase, Command, EngineError, Input};

#[test]
fn logout_while_ringing_requeues_the_call_at_the_head_with_its_original_time() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    let arrived = h.now;
    h.arrive("c1");
    h.advance_secs(3);
    h.arrive("c2");
    h.advance_secs(2);

    let out = h.logout("a1");
    // No withdraw, no agent state; nobody moved, but with nobody staffed the estimates are gone.
    assert_eq!(
        estimates(&out),
        [("c1".into(), 1, None), ("c2".into(), 2, None)],
        "only estimates: {out:?}"
    );
    assert_eq!(out.len(), 2);
    assert_eq!(h.engine.poll_timeout(), None);
    let waiting: Vec<_> =
        h.engine.waiting_calls(&skill(GENERAL)).map(|c| (c.id.0.clone(), c.phase)).collect();
    assert_eq!(waiting, [("c1".into(), CallPhase::Queued), ("c2".into(), CallPhase::Queued)]);
    assert_eq!(h.engine.call(&call("c1")).unwrap().queued_at, arrived);

    h.advance_secs(1);
    let out = h.available("a2");
    assert_eq!(offers(&out), pairs(&[("c1", "a2")]));
    assert!(out.iter().any(|c| matches!(
        c,
        Command::Offer { waited, .. } if *waited == Duration::from_secs(6)
    )));
}

#[test]
fn logout_on_a_call_ends_it_as_agent_disconnected() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    h.connect("a1", "c1");
    let out = h.logout("a1");
    assert_eq!(
        out,
        [Command::End {
            call: call("c1"),
            agent: Some(agent("a1")),
            reason: EndReason::AgentDisconnected
        }]
    );
    assert_eq!(h.activity("a1"), None);
    assert_eq!(h.engine.calls().count(), 0);
}

#[test]
fn a_call_arriving_with_no_agent_logged_in_ends_with_no_agents() {
    let mut h = Harness::new();
    let out = h.arrive("c1");
    assert_eq!(out, [Command::End { call: call("c1"), agent: None, reason: EndReason::NoAgents }]);
    assert_eq!(h.engine.calls().count(), 0);
    // The id is free again: the shell may retry later.
    h.login("a1");
    h.arrive("c1");
    assert_eq!(h.engine.position(&call("c1")), Some(1));
}

#[test]
fn calls_wait_while_agents_are_logged_in_but_busy_or_away() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    h.connect("a1", "c1");
    let out = h.arrive("c2");
    assert_eq!(positions(&out), [("c2".into(), 1)]);
    assert!(ends(&out).is_empty());
    assert_eq!(h.engine.queue_len(), 1);
}

#[test]
fn the_last_agent_logging_out_ends_the_waiting_calls_with_no_agents() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.arrive("c2");
    let out = h.logout("a1");
    assert_eq!(
        ends(&out),
        [("c1".into(), None, EndReason::NoAgents), ("c2".into(), None, EndReason::NoAgents)]
    );
    assert_eq!(out.len(), 2, "no offer, no position");
}

#[test]
fn a_logged_out_agent_can_log_in_again_and_starts_away() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.logout("a1");
    h.refused(Input::AgentAvailable { agent: agent("a1") }, EngineError::UnknownAgent(agent("a1")));
    let out = h.login("a1");
    assert_eq!(agent_states(&out), [("a1".into(), AgentActivity::Away, None)]);
}
