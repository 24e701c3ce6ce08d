//! Position updates. A position is the 1-based rank among calls waiting for an answer (queued
//! or ringing) in arrival order; it is sent when it changes, and never once the call is
//! answered or ended.

mod common;

use common::*;
use voicedesk_queue_engine::Command;

fn names(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(c, p)| (c.to_string(), *p)).collect()
}

#[test]
fn each_arriving_call_is_told_its_position_and_nobody_else_is() {
    let mut h = Harness::new();
    h.login("a1");
    let mut sent = Vec::new();
    for id in ["c1", "c2", "c3"] {
        sent.push(positions(&h.arrive(id)));
    }
    assert_eq!(sent, [names(&[("c1", 1)]), names(&[("c2", 2)]), names(&[("c3", 3)])]);
}

#[test]
fn only_calls_whose_position_changed_are_told() {
    let mut h = Harness::new();
    h.login("a1");
    for id in ["c1", "c2", "c3", "c4"] {
        h.arrive(id);
    }
    assert_eq!(positions(&h.abandon("c2")), names(&[("c3", 2), ("c4", 3)]));
    assert_eq!(positions(&h.abandon("c4")), names(&[]), "the last call leaving moves nobody");
    let out = h.away("a1");
    assert_eq!(positions(&out), names(&[]), "an unrelated change sends nothing");
}

#[test]
fn a_ringing_call_keeps_position_one_and_nobody_moves_until_it_is_answered() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    let out = h.arrive("c1");
    assert_eq!(positions(&out), names(&[("c1", 1)]), "being offered is position 1");
    assert_eq!(positions(&h.arrive("c2")), names(&[("c2", 2)]));

    // A rejected or missed offer does not move anyone backwards or forwards.
    assert_eq!(positions(&h.reject("a1", "c1")), names(&[]));
    h.available("a2");
    assert_eq!(h.ringing_at("a2").as_deref(), Some("c2"));
    // Both missed and went away: nobody moves, but the estimates go (nobody is staffed).
    let out = h.advance_secs(15);
    assert_eq!(positions(&out), names(&[("c1", 1), ("c2", 2)]));
    assert!(estimates(&out).iter().all(|(_, _, estimate)| estimate.is_none()));

    // Both missed and are queued again; a2 comes back and is offered the head, c1.
    let out = h.available("a2");
    assert_eq!(offers(&out), pairs(&[("c1", "a2")]));
    assert_eq!(positions(&out), names(&[("c1", 1), ("c2", 2)]), "estimates are back, same places");
    let out = h.accept("a2", "c1");
    assert_eq!(positions(&out), names(&[("c2", 1)]), "c2 moves up; the answered c1 hears nothing");
}

#[test]
fn calls_behind_move_up_when_the_ringing_call_is_answered() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.login("a3");
    for id in ["c1", "c2", "c3"] {
        h.arrive(id);
    }
    // c1 and c2 ring (positions 1 and 2), c3 waits at 3.
    assert_eq!(h.engine.position(&call("c3")), Some(3));
    assert_eq!(positions(&h.accept("a2", "c2")), names(&[("c3", 2)]));
    assert_eq!(positions(&h.accept("a1", "c1")), names(&[("c3", 1)]));
}

#[test]
fn a_ringing_call_is_told_when_an_older_call_ahead_of_it_is_answered() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.arrive("c1");
    h.arrive("c2");
    assert_eq!(positions(&h.accept("a1", "c1")), names(&[("c2", 1)]));
}

/// Asserts that no command in `out` is a position for one of `done`.
#[track_caller]
fn no_position_for(out: &[Command], done: &[&str]) {
    for (call, position) in positions(out) {
        assert!(
            !done.contains(&call.as_str()),
            "{call} told position {position} after it was done"
        );
    }
}

#[test]
fn no_position_is_ever_sent_after_a_call_is_answered_or_ended() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    for id in ["c1", "c2", "c3"] {
        h.arrive(id);
    }
    let out = h.accept("a1", "c1");
    assert_eq!(positions(&out), names(&[("c2", 1), ("c3", 2)]));
    no_position_for(&h.abandon("c2"), &["c1", "c2"]);
    no_position_for(&h.arrive("c4"), &["c1", "c2"]);
    no_position_for(&h.abandon("c3"), &["c1", "c2", "c3"]);
    no_position_for(&h.agent_hangs_up("a1", "c1"), &["c1", "c2", "c3"]);
    no_position_for(&h.advance_secs(30), &["c1", "c2", "c3"]);
    h.available("a2");
    no_position_for(&h.accept("a2", "c4"), &["c1", "c2", "c3", "c4"]);
    assert_eq!(h.engine.waiting_calls(&skill(GENERAL)).count(), 0);
}

#[test]
fn an_agent_logging_out_while_ringing_moves_nobody() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    h.arrive("c2");
    // Same places; only the estimates change (the last staffed agent left).
    assert_eq!(estimates(&h.logout("a1")), [("c1".into(), 1, None), ("c2".into(), 2, None)]);
    assert_eq!(h.engine.position(&call("c1")), Some(1));
    assert_eq!(h.engine.position(&call("c2")), Some(2));
}
