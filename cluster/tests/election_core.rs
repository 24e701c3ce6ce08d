//! The election's rules, with fake time (no NATS): when a candidate leads, when a leader
//! renews, and when it steps down.

use std::time::{Duration, Instant};

use voicedesk_cluster::election::{Action, ElectionCore, ElectionTiming, Outcome, Role};

const TTL: Duration = Duration::from_millis(900);

fn timing() -> ElectionTiming {
    ElectionTiming::for_ttl(TTL)
}

/// Drives a core to `Leading` at `t0`; returns it with the epoch 7 and marker seq 42.
fn leader(t0: Instant) -> ElectionCore {
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Acquire));
    core.handle(t0, Outcome::Acquired { revision: 7, sent: t0 });
    assert_eq!(core.poll_action(), Some(Action::AppendEpochMarker { epoch: 7 }));
    core.handle(t0, Outcome::MarkerAppended { seq: 42 });
    assert_eq!(core.poll_role(), Some(Role::Leading { epoch: 7, last_seq: 42 }));
    core
}

#[test]
fn a_candidate_leads_only_after_its_epoch_marker_is_in_the_log() {
    let t0 = Instant::now();
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Acquire));
    core.handle(t0, Outcome::Acquired { revision: 3, sent: t0 });
    assert_eq!(core.poll_role(), None, "not leading before the marker");
    assert!(!core.is_leading());
    assert_eq!(core.poll_action(), Some(Action::AppendEpochMarker { epoch: 3 }));
    core.handle(t0, Outcome::MarkerFailed);
    assert_eq!(core.poll_action(), None);
    let retry = t0 + timing().retry_every;
    assert_eq!(core.poll_timeout(), Some(retry));
    core.handle_timeout(retry);
    assert_eq!(core.poll_action(), Some(Action::AppendEpochMarker { epoch: 3 }));
    core.handle(retry, Outcome::MarkerAppended { seq: 9 });
    assert_eq!(core.poll_role(), Some(Role::Leading { epoch: 3, last_seq: 9 }));
}

#[test]
fn a_held_lease_is_not_taken_again_until_the_retry_interval() {
    let t0 = Instant::now();
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Acquire));
    core.handle(t0, Outcome::NotAcquired);
    assert_eq!(core.poll_action(), None);
    core.handle_timeout(t0 + timing().retry_every - Duration::from_millis(1));
    assert_eq!(core.poll_action(), None);
    core.handle_timeout(t0 + timing().retry_every);
    assert_eq!(core.poll_action(), Some(Action::Acquire));
}

#[test]
fn the_leader_renews_with_the_revision_of_its_last_renewal() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let due = t0 + timing().renew_every;
    assert_eq!(core.poll_timeout(), Some(due));
    core.handle_timeout(due);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    core.handle(due, Outcome::Renewed { revision: 11, sent: due });
    let next = due + timing().renew_every;
    core.handle_timeout(next);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 11 }));
    assert!(core.is_leading());
}

#[test]
fn a_leader_whose_renewals_fail_steps_down_when_its_lease_runs_out() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let mut now = t0 + timing().renew_every;
    core.handle_timeout(now);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    core.handle(now, Outcome::RenewFailed);
    now += timing().retry_every;
    core.handle_timeout(now);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    core.handle(now, Outcome::RenewFailed);
    assert!(core.is_leading(), "still within the lease");
    core.handle_timeout(t0 + TTL);
    assert_eq!(core.poll_role(), Some(Role::Following));
    assert!(!core.is_leading());
}

#[test]
fn a_paused_leader_steps_down_before_it_renews() {
    // The process was stopped past its lease: on waking, the overdue renewal and the run-out
    // lease are both due; the lease wins and no renewal goes out for a lease that may be
    // another node's.
    let t0 = Instant::now();
    let mut core = leader(t0);
    let woke = t0 + TTL * 5;
    core.handle_timeout(woke);
    assert_eq!(core.poll_role(), Some(Role::Following));
    assert_eq!(core.poll_action(), None);
    core.handle_timeout(woke + timing().retry_every);
    assert_eq!(core.poll_action(), Some(Action::Acquire));
}

#[test]
fn a_rejected_renewal_steps_down_at_once() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let due = t0 + timing().renew_every;
    core.handle_timeout(due);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    core.handle(due, Outcome::RenewRejected);
    assert_eq!(core.poll_role(), Some(Role::Following));
}

#[test]
fn a_renewal_acknowledged_after_the_lease_ran_out_does_not_revive_it() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let due = t0 + timing().renew_every;
    core.handle_timeout(due);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    let late = t0 + TTL + Duration::from_millis(1);
    core.handle(late, Outcome::Renewed { revision: 8, sent: due });
    assert_eq!(core.poll_role(), Some(Role::Following));
    assert!(!core.is_leading());
}

#[test]
fn validity_counts_from_when_the_request_was_sent() {
    // An acquisition acknowledged late leaves less lease: valid until sent + ttl.
    let t0 = Instant::now();
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Acquire));
    let acked = t0 + TTL - Duration::from_millis(10);
    core.handle(acked, Outcome::Acquired { revision: 5, sent: t0 });
    core.handle(acked, Outcome::MarkerAppended { seq: 1 });
    assert!(core.poll_role().is_some());
    core.handle_timeout(t0 + TTL);
    assert_eq!(core.poll_role(), Some(Role::Following));
}
