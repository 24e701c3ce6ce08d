//! The election's decisions, without I/O or clock: `handle_timeout(now)`, `handle(now, outcome)`,
//! then `poll_action()` / `poll_role()` / `poll_timeout()` — the shape of the call-center core.
//! The driver (`super::LeaderElection`) carries the actions out against NATS and hands back
//! their outcomes; `tests/election_core.rs` moves fake time.
//!
//! How a lease changes hands. The key does not expire by itself: a candidate **observes** it
//! (a read through the KV stream's leader) and takes it over — `update` at the revision it saw —
//! only once it has seen the *same* revision for a whole TTL of successful reads, by its own
//! clock, counted from the first read that answered with it. A read that fails (the KV stream
//! has no leader, NATS unreachable) starts the count again. A key that holds no value is taken
//! with `create` at once.
//!
//! The holder counts its lease as valid until `sent + ttl`, where `sent` is when it *sent* the
//! create or update that the server acknowledged: a candidate first saw that revision after it
//! was stored, so it cannot take over before. A holder that cannot renew in time because the
//! process was paused announces `Following` the moment it notices, before anything else.
//!
//! **Riding out a NATS server's loss.** When the server leading the KV's stream dies, JetStream
//! takes seconds (its Raft election timeout is 4–9 s) to elect another; meanwhile every
//! renewal, and every candidate's read, fails. No candidate can take over then (its count keeps
//! starting again), and once the stream has a leader the holder's next renewal (every
//! `retry_every`) comes long before a candidate's TTL of reads. So a holder whose renewals are
//! *answered as failing* keeps leading past `valid_until`, for at most `ride_out`; a holder that
//! heard nothing (paused) steps down. If the holder alone was cut off (its renewals fail, the
//! candidates' reads do not), a candidate takes over and its epoch marker fences the holder's
//! next append: the holder's core acts only on what it appended, so it changes nothing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// This node's part, as announced to the driver's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This node holds the lease and its epoch marker is in the log at `last_seq`: it may
    /// append after `last_seq` (once it has applied everything up to it) and execute effects.
    Leading {
        /// The lease revision that made this node leader; in the marker's message ids.
        epoch: u64,
        /// The epoch marker's sequence: the log's last record when this node took over.
        last_seq: u64,
    },
    /// Another node leads (or nobody, for now): replay, apply, execute nothing.
    Following,
}

/// How often the election acts, all derived from the lease's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionTiming {
    /// A lease not renewed for this long is gone.
    pub ttl: Duration,
    /// The leader renews this long after its last successful renewal was sent.
    pub renew_every: Duration,
    /// A failed renewal or marker is retried this often.
    pub retry_every: Duration,
    /// A candidate reads the lease this often.
    pub observe_every: Duration,
    /// How long past its lease a holder whose renewals keep failing (answered: no KV stream
    /// leader, timeout) goes on leading: longer than JetStream takes to elect a stream leader.
    pub ride_out: Duration,
}

impl ElectionTiming {
    /// Renew three times per TTL (two renewals may fail before the lease is lost), read the
    /// lease eight times per TTL (a dead leader is replaced within about 1.25 TTL of its last
    /// renewal), ride a KV outage out for 15 s (the log's append deadline).
    pub fn for_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            renew_every: ttl / 3,
            retry_every: ttl / 4,
            observe_every: ttl / 8,
            ride_out: Duration::from_secs(15),
        }
    }
}

/// What the driver must do against NATS; each is answered by one [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `create` the lease key (it holds no value).
    Acquire,
    /// Read the lease key's revision (through the KV stream's leader).
    Observe,
    /// `update` the lease key at `revision`, which a holder left unrenewed for a TTL.
    TakeOver {
        /// The revision seen for a TTL.
        revision: u64,
    },
    /// Read the log's last sequence and append an epoch marker expecting it.
    AppendEpochMarker {
        /// The new epoch (the acquiring revision).
        epoch: u64,
    },
    /// `update` the lease key at `revision`.
    Renew {
        /// The revision of our last successful create or update.
        revision: u64,
    },
}

/// What came back from an [`Action`]. `sent` is when the driver sent the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The lease is ours at `revision`.
    Acquired {
        /// The key's new revision.
        revision: u64,
        /// When the create was sent.
        sent: Instant,
    },
    /// Someone else holds the lease, or NATS did not answer.
    NotAcquired,
    /// The lease key's revision, `None` when it holds no value.
    Observed {
        /// The key's last revision, if it holds a value.
        revision: Option<u64>,
        /// When the read was sent.
        sent: Instant,
    },
    /// The read failed (no KV stream leader, NATS unreachable).
    ObserveFailed,
    /// The epoch marker is in the log at `seq`.
    MarkerAppended {
        /// The marker's sequence.
        seq: u64,
    },
    /// The marker was not appended (another append got in first, or NATS did not answer).
    MarkerFailed,
    /// The lease was renewed at `revision`.
    Renewed {
        /// The key's new revision.
        revision: u64,
        /// When the update was sent.
        sent: Instant,
    },
    /// The key's revision is no longer ours: another node took the lease.
    RenewRejected,
    /// NATS did not answer the renewal; the lease may still be ours until it runs out.
    RenewFailed,
}

/// The lease while this node holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: u64,
    revision: u64,
    /// Past this instant the lease may be someone else's.
    valid_until: Instant,
    /// When the next renewal is due (unless one is in flight).
    renew_at: Instant,
    renewing: bool,
    /// Since when renewals have been answered as failing (none since the last success).
    failing_since: Option<Instant>,
    phase: Phase,
}

impl Held {
    /// Whether the lease still counts as ours at `now` (see "Riding out" above).
    fn valid(&self, now: Instant, timing: ElectionTiming) -> bool {
        now < self.valid_until || now < self.ride_out_until(timing)
    }

    /// While renewals are answered as failing, a leader leads until this instant.
    fn ride_out_until(&self, timing: ElectionTiming) -> Instant {
        match (self.failing_since, self.phase) {
            (Some(_), Phase::Leading) => self.valid_until + timing.ride_out,
            _ => self.valid_until,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The epoch marker is not in the log yet; try (again) at `retry_at` unless in flight.
    Fencing { retry_at: Instant, in_flight: bool },
    /// Announced `Leading`.
    Leading,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Not holding the lease; read it (or take it, as the last read said) at `attempt_at`
    /// unless a request is in flight. `seen`: the revision every read since `since` answered.
    Candidate {
        attempt_at: Instant,
        in_flight: bool,
        seen: Option<(u64, Instant)>,
    },
    Holding(Held),
}

/// One node's election state machine.
#[derive(Debug)]
pub struct ElectionCore {
    timing: ElectionTiming,
    state: State,
    actions: VecDeque<Action>,
    roles: VecDeque<Role>,
}

impl ElectionCore {
    /// A candidate that tries to take the lease at once.
    pub fn new(now: Instant, timing: ElectionTiming) -> Self {
        let mut core = Self {
            timing,
            state: State::Candidate { attempt_at: now, in_flight: false, seen: None },
            actions: VecDeque::new(),
            roles: VecDeque::new(),
        };
        core.handle_timeout(now);
        core
    }

    /// Whether this node believes it leads (announced `Leading`, lease not run out).
    pub fn is_leading(&self) -> bool {
        matches!(self.state, State::Holding(Held { phase: Phase::Leading, .. }))
    }

    /// Advances time: gives up a lease that ran out, starts what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Candidate { attempt_at, in_flight, .. } => {
                if !*in_flight && now >= *attempt_at {
                    *in_flight = true;
                    self.actions.push_back(Action::Observe);
                }
            }
            State::Holding(held) => {
                // First: a lease that may have run out is not ours any more.
                if !held.valid(now, self.timing) {
                    self.step_down(now);
                    return;
                }
                if !held.renewing && now >= held.renew_at {
                    held.renewing = true;
                    self.actions.push_back(Action::Renew { revision: held.revision });
                }
                if let Phase::Fencing { retry_at, in_flight } = &mut held.phase
                    && !*in_flight
                    && now >= *retry_at
                {
                    *in_flight = true;
                    self.actions.push_back(Action::AppendEpochMarker { epoch: held.epoch });
                }
            }
        }
    }

    /// Takes in what an action came back with.
    pub fn handle(&mut self, now: Instant, outcome: Outcome) {
        // Time first: an answer that arrives after the lease ran out changes nothing.
        self.handle_timeout(now);
        let timing = self.timing;
        match (&mut self.state, outcome) {
            (State::Candidate { in_flight, .. }, Outcome::Acquired { revision, sent }) => {
                *in_flight = false;
                if now < sent + timing.ttl {
                    self.state = State::Holding(Held {
                        epoch: revision,
                        revision,
                        valid_until: sent + timing.ttl,
                        renew_at: sent + timing.renew_every,
                        renewing: false,
                        failing_since: None,
                        phase: Phase::Fencing { retry_at: now, in_flight: false },
                    });
                } else {
                    self.state = State::Candidate { attempt_at: now, in_flight: false, seen: None };
                }
            }
            (State::Candidate { attempt_at, in_flight, seen }, Outcome::NotAcquired) => {
                *in_flight = false;
                *seen = None;
                *attempt_at = now + timing.observe_every;
            }
            (
                State::Candidate { attempt_at, in_flight, seen },
                Outcome::Observed { revision, sent },
            ) => match (revision, *seen) {
                (None, _) => {
                    *seen = None;
                    self.actions.push_back(Action::Acquire);
                }
                (Some(revision), Some((seen_revision, since))) if seen_revision == revision => {
                    if sent >= since + timing.ttl {
                        self.actions.push_back(Action::TakeOver { revision });
                    } else {
                        *in_flight = false;
                        *attempt_at = now + timing.observe_every;
                    }
                }
                (Some(revision), _) => {
                    *seen = Some((revision, now));
                    *in_flight = false;
                    *attempt_at = now + timing.observe_every;
                }
            },
            (State::Candidate { attempt_at, in_flight, seen }, Outcome::ObserveFailed) => {
                *seen = None;
                *in_flight = false;
                *attempt_at = now + timing.observe_every;
            }
            (State::Holding(held), Outcome::MarkerAppended { seq }) => {
                if let Phase::Fencing { .. } = held.phase {
                    held.phase = Phase::Leading;
                    self.roles.push_back(Role::Leading { epoch: held.epoch, last_seq: seq });
                }
            }
            (State::Holding(held), Outcome::MarkerFailed) => {
                if let Phase::Fencing { retry_at, in_flight } = &mut held.phase {
                    *in_flight = false;
                    *retry_at = now + timing.retry_every;
                }
            }
            (State::Holding(held), Outcome::Renewed { revision, sent }) => {
                held.renewing = false;
                held.failing_since = None;
                held.revision = revision;
                held.valid_until = sent + timing.ttl;
                held.renew_at = sent + timing.renew_every;
            }
            (State::Holding(_), Outcome::RenewRejected) => self.step_down(now),
            (State::Holding(held), Outcome::RenewFailed) => {
                held.renewing = false;
                held.failing_since.get_or_insert(now);
                held.renew_at = now + timing.retry_every;
            }
            // An answer to an action of a state this node has since left (a renewal that
            // returned after the lease ran out, a marker after stepping down): ignored. A lease
            // acquired that way simply runs out.
            _ => {}
        }
        self.handle_timeout(now);
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next change of role to announce.
    pub fn poll_role(&mut self) -> Option<Role> {
        self.roles.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Candidate { attempt_at, in_flight, .. } => (!in_flight).then_some(attempt_at),
            State::Holding(held) => {
                let mut next = held.ride_out_until(self.timing);
                if !held.renewing {
                    next = next.min(held.renew_at);
                }
                if let Phase::Fencing { retry_at, in_flight: false } = held.phase {
                    next = next.min(retry_at);
                }
                Some(next)
            }
        }
    }

    fn step_down(&mut self, now: Instant) {
        if self.is_leading() {
            self.roles.push_back(Role::Following);
        }
        self.state = State::Candidate {
            attempt_at: now + self.timing.observe_every,
            in_flight: false,
            seen: None,
        };
    }
}
