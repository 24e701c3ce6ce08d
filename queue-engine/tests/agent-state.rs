//! What agents are told about their own state, and when their idle time starts.

mod common;

use common::*;
use voicedesk_protocol::AgentActivity;
use voicedesk_queue_engine::{Command, Input};

#[test]
fn an_agent_logs_in_away_and_is_offered_nothing_until_available() {
    let mut h = Harness::new();
    let out = h.login("a1");
    assert_eq!(
        out,
        [Command::AgentState {
            agent: agent("a1"),
            state: AgentActivity::Away,
            reason: None,
            since: h.now,
            until: None
        }]
    );
    let out = h.arrive("c1");
    assert!(offers(&out).is_empty());
    h.advance_secs(5);
    assert_eq!(offers(&h.available("a1")), pairs(&[("c1", "a1")]));
}

#[test]
fn every_state_change_is_reported_with_its_start() {
    let mut h = Harness::new();
    let mut out = h.login_available("a1");
    h.advance_secs(1);
    out.extend(h.arrive("c1"));
    h.advance_secs(1);
    out.extend(h.accept("a1", "c1"));
    h.advance_secs(1);
    out.extend(h.citizen_hangs_up("c1"));
    h.advance_secs(1);
    out.extend(h.away("a1"));
    let reported: Vec<_> = out
        .iter()
        .filter_map(|c| match c {
            Command::AgentState { state, since, .. } => Some((*state, *since)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        [
            (AgentActivity::Away, h.at(0)),
            (AgentActivity::Available, h.at(0)),
            (AgentActivity::Ringing, h.at(1)),
            (AgentActivity::OnCall, h.at(2)),
            (AgentActivity::Available, h.at(3)),
            (AgentActivity::Away, h.at(4)),
        ]
    );
}

#[test]
fn setting_the_state_you_are_in_is_confirmed_and_changes_nothing() {
    let mut h = Harness::new();
    h.login_available("a1");
    let since = h.now;
    h.advance_secs(10);
    let out = h.available("a1");
    assert_eq!(
        out,
        [Command::AgentState {
            agent: agent("a1"),
            state: AgentActivity::Available,
            reason: None,
            since,
            until: None
        }]
    );
    assert_eq!(h.engine.agent(&agent("a1")).unwrap().idle_since, since);

    h.away("a1");
    let away_since = h.now;
    h.advance_secs(10);
    let out = h.ok(Input::AgentAway { agent: agent("a1"), reason: Some("training".into()) });
    assert_eq!(
        out,
        [Command::AgentState {
            agent: agent("a1"),
            state: AgentActivity::Away,
            reason: Some("training".into()),
            since: away_since,
            until: None
        }]
    );
}

#[test]
fn coming_back_from_away_restarts_idle_time() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.advance_secs(1);
    h.login_available("a2");
    h.advance_secs(1);
    h.away("a1");
    h.available("a1");
    // a1 was available first, but came back from away after a2 became available.
    assert_eq!(offers(&h.arrive("c1")), pairs(&[("c1", "a2")]));
}
