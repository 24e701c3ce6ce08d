//! Leader election: the [`ElectionCore`]'s decisions carried out against the lease and the log
//! by one tokio task, which announces each change of [`Role`].

mod core;

use std::time::Instant;

use futures::{StreamExt, stream::FuturesUnordered};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::mpsc;

pub use self::core::{Action, ElectionCore, ElectionTiming, Outcome, Role};
use crate::lease::{Lease, LeaseError};
use crate::log::{AppendError, EpochMarker, InputLog};

/// A running election for one node: take the lease when free, fence the log, keep renewing,
/// step down when the lease is lost. Dropping it stops the task (the lease then runs out).
pub struct LeaderElection {
    roles: mpsc::UnboundedReceiver<Role>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderElection {
    /// Starts electing with `lease` (its TTL sets the timing) over `log`.
    pub fn start<E>(lease: Lease, log: InputLog<E>) -> Self
    where
        E: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let (tx, roles) = mpsc::unbounded_channel();
        let timing = ElectionTiming::for_ttl(lease.ttl());
        let task = tokio::spawn(run(lease, log, timing, tx));
        Self { roles, task }
    }

    /// The next change of role; `None` once the election stopped.
    pub async fn next(&mut self) -> Option<Role> {
        self.roles.recv().await
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run<E>(
    lease: Lease,
    log: InputLog<E>,
    timing: ElectionTiming,
    roles: mpsc::UnboundedSender<Role>,
) where
    E: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let mut core = ElectionCore::new(Instant::now(), timing);
    let mut in_flight = FuturesUnordered::new();
    loop {
        while let Some(action) = core.poll_action() {
            in_flight.push(carry_out(action, lease.clone(), log.clone()));
        }
        while let Some(role) = core.poll_role() {
            match role {
                Role::Leading { epoch, last_seq } => {
                    tracing::info!(node = lease.node(), epoch, last_seq, "leading")
                }
                Role::Following => tracing::warn!(node = lease.node(), "lease lost, following"),
            }
            if roles.send(role).is_err() {
                return;
            }
        }
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            Some(outcome) = in_flight.next() => core.handle(Instant::now(), outcome),
            () = sleep_until(deadline) => core.handle_timeout(Instant::now()),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// One action against NATS, answered with its outcome.
async fn carry_out<E>(action: Action, lease: Lease, log: InputLog<E>) -> Outcome
where
    E: Serialize + DeserializeOwned,
{
    let sent = Instant::now();
    match action {
        Action::Acquire => match lease.acquire().await {
            Ok(revision) => Outcome::Acquired { revision, sent },
            Err(_) => Outcome::NotAcquired,
        },
        Action::Observe => match lease.holder().await {
            Ok(holder) => Outcome::Observed { revision: holder.map(|(_, r)| r), sent },
            Err(e) => {
                tracing::debug!(node = lease.node(), error = %e, "lease not read");
                Outcome::ObserveFailed
            }
        },
        Action::TakeOver { revision } => match lease.take_over(revision).await {
            Ok(revision) => Outcome::Acquired { revision, sent },
            Err(_) => Outcome::NotAcquired,
        },
        Action::Renew { revision } => match lease.renew(revision).await {
            Ok(revision) => Outcome::Renewed { revision, sent },
            Err(LeaseError::Lost) => Outcome::RenewRejected,
            Err(e @ LeaseError::Unavailable(_)) => {
                tracing::warn!(node = lease.node(), error = %e, "lease renewal failed");
                Outcome::RenewFailed
            }
        },
        Action::AppendEpochMarker { epoch } => {
            let marker = EpochMarker { epoch, node: lease.node().to_owned() };
            // The end of the log as its stream leader knows it; a stale leader's append that
            // lands in between makes the marker fail, and the core retries with the new end.
            let appended = match log.last_sequence().await {
                Ok(last) => log.append_epoch_marker(&marker, last).await,
                Err(e) => Err(AppendError::Unavailable(lease.ttl(), e.to_string())),
            };
            match appended {
                Ok(seq) => Outcome::MarkerAppended { seq },
                Err(e) => {
                    tracing::warn!(node = lease.node(), epoch, error = %e, "epoch marker not appended");
                    Outcome::MarkerFailed
                }
            }
        }
    }
}
