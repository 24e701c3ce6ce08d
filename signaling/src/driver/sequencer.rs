//! The seam between the driver and the order in which the core sees its inputs.
//!
//! Alone (the default), every step is applied the moment it happens: [`Sequencer::Local`]
//! hands it straight back. In a cluster, [`Sequencer::Replicated`] appends it to the
//! replicated log first (group commit) and hands it back — to every node, in the log's order —
//! once JetStream stored it; only the leader executes the effects (`crate::cluster`).
//! The driver applies whatever comes back in the same way, so the core cannot tell the two
//! apart, and neither can the rest of the driver.

use serde::{Deserialize, Serialize};
use voicedesk_call_center::{Input, UnixMs};

/// One step of the core, as the log carries it: what happened and when.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    /// The leader's wall clock when the step was submitted; every replica hands the core this
    /// time, never its own.
    pub at: UnixMs,
    /// What happened.
    pub step: Step,
}

/// What a log entry tells the core.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Step {
    /// The core starts here (the first entry of a log, written by its first leader): with
    /// this id seed and today's figures read from the store, so every replica builds the same
    /// core.
    Start {
        /// [`voicedesk_call_center::CoreConfig::id_seed`].
        id_seed: u64,
        /// Today's answered, answered within the service level and abandoned calls by queue.
        today: std::collections::BTreeMap<String, voicedesk_call_center::DayCounts>,
    },
    /// An input.
    Input(Input),
    /// The core's deadline passed.
    Timeout,
}

/// What the order hands the driver.
pub(crate) enum Ordered {
    /// Entries in their final order, to apply to the core. `execute`: this node leads and
    /// carries the effects out; otherwise they are dropped (a standby).
    Apply {
        /// The entries.
        entries: Vec<Entry>,
        /// Carry the effects out.
        execute: bool,
        /// The log record they came in.
        seq: u64,
    },
    /// This node leads from now on: everything before its epoch marker has been applied.
    Leading {
        /// The epoch (the lease's revision).
        epoch: u64,
    },
    /// This node no longer leads (lease lost, or an append was fenced or failed).
    Following,
}

/// Who orders the core's inputs.
pub(crate) enum Sequencer {
    /// One process: apply at once.
    Local,
    /// A cluster: through the replicated log.
    Replicated(crate::cluster::Replicated),
}

impl Sequencer {
    /// Submits `entry`; returns it when it may be applied at once, `None` when it comes back
    /// through [`Sequencer::next`] once ordered (or is dropped: a standby orders nothing).
    pub(crate) fn submit(&mut self, entry: Entry) -> Option<Entry> {
        match self {
            Sequencer::Local => Some(entry),
            Sequencer::Replicated(r) => {
                r.submit(entry);
                None
            }
        }
    }

    /// The next thing the order has for the driver; never for [`Sequencer::Local`].
    pub(crate) async fn next(&mut self) -> Ordered {
        match self {
            Sequencer::Local => std::future::pending().await,
            Sequencer::Replicated(r) => match r.next().await {
                Some(ordered) => ordered,
                // The cluster task stopped (the node is shutting down): nothing more comes.
                None => std::future::pending().await,
            },
        }
    }

    /// A cluster node (whose start-up and shutdown must not touch the others' calls).
    pub(crate) fn is_replicated(&self) -> bool {
        matches!(self, Sequencer::Replicated(_))
    }
}
