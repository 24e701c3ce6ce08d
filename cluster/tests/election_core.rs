//! The election's rules, with fake time (no NATS): when a candidate takes the lease, when a
//! leader renews, when it steps down, and how it rides out a KV stream without a leader.

use std::time::{Duration, Instant};

use voicedesk_cluster::election::{Action, ElectionCore, ElectionTiming, Outcome, Role};

const TTL: Duration = Duration::from_millis(900);

fn timing() -> ElectionTiming {
    ElectionTiming::for_ttl(TTL)
}

/// Drives a core to `Leading` at `t0`; returns it with the epoch 7 and marker seq 42.
fn leader(t0: Instant) -> ElectionCore {
    let mut core = candidate_of_a_free_lease(t0);
    core.handle(t0, Outcome::Acquired { revision: 7, sent: t0 });
    assert_eq!(core.poll_action(), Some(Action::AppendEpochMarker { epoch: 7 }));
    core.handle(t0, Outcome::MarkerAppended { seq: 42 });
    assert_eq!(core.poll_role(), Some(Role::Leading { epoch: 7, last_seq: 42 }));
    core
}

/// A new candidate that read the key empty and is asked to `create` it.
fn candidate_of_a_free_lease(t0: Instant) -> ElectionCore {
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Observe));
    core.handle(t0, Outcome::Observed { revision: None, sent: t0 });
    assert_eq!(core.poll_action(), Some(Action::Acquire));
    core
}

#[test]
fn a_candidate_leads_only_after_its_epoch_marker_is_in_the_log() {
    let t0 = Instant::now();
    let mut core = candidate_of_a_free_lease(t0);
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

/// Feeds reads answered with `revision` every `observe_every` from `from` until the core asks
/// for something other than another read; returns that action and when.
fn observe_until_action(
    core: &mut ElectionCore,
    from: Instant,
    revision: u64,
) -> (Action, Instant) {
    let mut now = from;
    loop {
        core.handle_timeout(now);
        assert_eq!(core.poll_action(), Some(Action::Observe));
        core.handle(now, Outcome::Observed { revision: Some(revision), sent: now });
        if let Some(action) = core.poll_action() {
            return (action, now);
        }
        assert_eq!(core.poll_timeout(), Some(now + timing().observe_every));
        now += timing().observe_every;
    }
}

#[test]
fn a_held_lease_is_taken_over_once_its_revision_was_seen_unchanged_for_a_ttl() {
    let t0 = Instant::now();
    let mut core = ElectionCore::new(t0, timing());
    let (action, at) = observe_until_action(&mut core, t0, 7);
    assert_eq!(action, Action::TakeOver { revision: 7 });
    assert!(
        at >= t0 + TTL && at < t0 + TTL + timing().observe_every,
        "taken over at {:?}",
        at - t0
    );
    core.handle(at, Outcome::Acquired { revision: 9, sent: at });
    assert_eq!(core.poll_action(), Some(Action::AppendEpochMarker { epoch: 9 }));
}

#[test]
fn a_renewed_lease_or_a_failed_read_starts_the_count_again() {
    let t0 = Instant::now();
    let mut core = ElectionCore::new(t0, timing());
    assert_eq!(core.poll_action(), Some(Action::Observe));
    core.handle(t0, Outcome::Observed { revision: Some(7), sent: t0 });
    // Just before a TTL: the holder renewed (a new revision).
    let renewed = t0 + TTL - timing().observe_every;
    core.handle_timeout(renewed);
    assert_eq!(core.poll_action(), Some(Action::Observe));
    core.handle(renewed, Outcome::Observed { revision: Some(8), sent: renewed });
    assert_eq!(core.poll_action(), None);
    // Then the KV stream has no leader for a while: a failed read forgets what was seen.
    let failed = renewed + TTL / 2;
    core.handle_timeout(failed);
    assert_eq!(core.poll_action(), Some(Action::Observe));
    core.handle(failed, Outcome::ObserveFailed);
    let back = failed + timing().observe_every;
    let (action, at) = observe_until_action(&mut core, back, 8);
    assert_eq!(action, Action::TakeOver { revision: 8 });
    assert!(at >= back + TTL, "a full TTL of reads after the failure, not {:?}", at - back);
    // The holder renewed meanwhile: the take-over is refused and the count starts again.
    core.handle(at, Outcome::NotAcquired);
    let (action, again) = observe_until_action(&mut core, at + timing().observe_every, 8);
    assert_eq!(action, Action::TakeOver { revision: 8 });
    assert!(again >= at + TTL);
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

/// Renewals answered as failing every `retry_every` from `from` until `until`.
fn renewals_fail(core: &mut ElectionCore, from: Instant, until: Instant) {
    let mut now = from;
    while now < until {
        core.handle_timeout(now);
        assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
        core.handle(now, Outcome::RenewFailed);
        now += timing().retry_every;
    }
}

#[test]
fn a_leader_whose_renewals_fail_rides_out_a_kv_outage_and_renews_after_it() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let outage_ends = t0 + TTL * 5;
    renewals_fail(&mut core, t0 + timing().renew_every, outage_ends);
    assert!(core.is_leading(), "renewals answered as failing: still leading past the lease");
    assert_eq!(core.poll_role(), None);
    // The stream has a leader again: the next renewal, due a retry interval after the last
    // failure, succeeds.
    let next = core.poll_timeout().unwrap();
    assert!(next >= outage_ends && next <= outage_ends + timing().retry_every);
    core.handle_timeout(next);
    assert_eq!(core.poll_action(), Some(Action::Renew { revision: 7 }));
    core.handle(next, Outcome::Renewed { revision: 12, sent: next });
    assert!(core.is_leading());
    // Back to the ordinary rule: an unanswered lease runs out one TTL after its renewal.
    core.handle_timeout(next + TTL);
    assert_eq!(core.poll_role(), Some(Role::Following));
}

#[test]
fn a_leader_whose_renewals_keep_failing_steps_down_after_riding_out() {
    let t0 = Instant::now();
    let mut core = leader(t0);
    let end = t0 + TTL + timing().ride_out;
    renewals_fail(&mut core, t0 + timing().renew_every, end);
    assert!(core.is_leading(), "still riding out");
    assert_eq!(core.poll_timeout().map(|t| t <= end), Some(true));
    core.handle_timeout(end);
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
    core.handle_timeout(woke + timing().observe_every);
    assert_eq!(core.poll_action(), Some(Action::Observe));
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
    let mut core = candidate_of_a_free_lease(t0);
    let acked = t0 + TTL - Duration::from_millis(10);
    core.handle(acked, Outcome::Acquired { revision: 5, sent: t0 });
    core.handle(acked, Outcome::MarkerAppended { seq: 1 });
    assert!(core.poll_role().is_some());
    core.handle_timeout(t0 + TTL);
    assert_eq!(core.poll_role(), Some(Role::Following));
}
