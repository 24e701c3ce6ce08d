//! What the core asks its driver to do: [`Effect`], drained with
//! [`crate::CallCenter::poll_effect`] in order.
//!
//! Ordering is carried by the core, not by the driver: a message that reports a committed
//! record is emitted only after the [`Input::Store`](crate::Input::Store) of its write came
//! back `Ok`. The driver may run effects concurrently with one rule: store operations with the
//! same `call` run in the order emitted (the writes of one call never overtake each other),
//! messages to one connection are sent in order.

use std::time::Duration;

use voicedesk_protocol::ServerMessage;

use crate::store::StoreRequest;
use crate::{CallId, ConnId, LegId, OpId, SlotFeed};

/// One thing for the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue a message on a connection.
    Send {
        /// The connection.
        conn: ConnId,
        /// The message.
        message: ServerMessage,
    },
    /// Close a connection once its queued messages are sent (signed out, replaced).
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Run a store operation; its result comes back as [`crate::Input::Store`] with `op`.
    Store {
        /// Names the result.
        op: OpId,
        /// Operations of the same call run in order; `None`: no ordering.
        call: Option<CallId>,
        /// What to do.
        request: StoreRequest,
    },
    /// Ask the relay for a leg answering `sdp`; the answer comes back as
    /// [`crate::Input::LegCreated`] (the SDP answer is needed before the client can be told).
    CreateLeg {
        /// Names the result.
        op: OpId,
        /// The client's offer.
        sdp: String,
        /// Receive slots of the leg.
        slots: usize,
    },
    /// Command the relay without waiting; only a failure comes back
    /// ([`crate::Input::RelayFailed`]).
    Relay(RelayCommand),
    /// Ask the relay whether it could answer `sdp` (its own check, no leg made); the verdict
    /// comes back as [`crate::Input::OfferChecked`].
    CheckOffer {
        /// Names the result.
        op: OpId,
        /// The client's offer.
        sdp: String,
        /// Receive slots a leg would have.
        slots: usize,
    },
    /// Start recording a leg (at most `max`); the answer comes back as
    /// [`crate::Input::RecordingStarted`].
    StartRecording {
        /// Names the result.
        op: OpId,
        /// The leg.
        leg: LegId,
        /// The longest recording.
        max: Duration,
    },
    /// Ask the self-service assistant; the answer comes back as [`crate::Input::Searched`].
    Search {
        /// Names the result.
        op: OpId,
        /// The question.
        question: String,
    },
    /// Something for the log and the metrics.
    Report(Report),
}

/// A relay command whose answer is not needed to decide. The driver carries these out in the
/// order emitted (one queue), without the core waiting.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum RelayCommand {
    /// Change the routing table in one step.
    SetFeeds {
        /// The call the change is for (a failure may end it).
        call: Option<CallId>,
        /// The slots and their sources.
        feeds: Vec<SlotFeed>,
    },
    /// Hold audio on a citizen leg's slot 0 while it has no source.
    SetHold {
        /// The leg.
        leg: LegId,
        /// On or off.
        on: bool,
    },
    /// Stop recording a leg and drop what was recorded.
    DiscardRecording {
        /// The leg.
        leg: LegId,
    },
    /// Close a leg.
    CloseLeg {
        /// The leg.
        leg: LegId,
    },
}

/// Something worth a log line (and, for violations, a counter in `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// An invariant the core relies on did not hold; the input was refused and the core goes
    /// on serving.
    Violation(String),
    /// A store operation failed; the core decided what follows (said in `then`).
    StoreFailed {
        /// The request's kind.
        what: &'static str,
        /// The call, if any.
        call: Option<CallId>,
        /// What the store said.
        error: String,
        /// What the core did about it.
        then: &'static str,
    },
    /// A relay command failed.
    RelayFailed {
        /// What the relay said.
        error: String,
        /// What the core did about it.
        then: &'static str,
    },
    /// A call ended (for the log).
    CallEnded {
        /// The call.
        call: CallId,
        /// Why.
        reason: voicedesk_protocol::EndReason,
    },
    /// A call is over (emitted once per call that reached the queue, with the facts the
    /// metrics need; times are the core's `now` differences, no clock of its own).
    CallFinished {
        /// The call.
        call: CallId,
        /// The queue it waited in.
        skill: String,
        /// Why it ended.
        reason: voicedesk_protocol::EndReason,
        /// Never answered: how long it waited until it ended.
        waited: Option<Duration>,
        /// Answered: how long from the answer to the end.
        talked: Option<Duration>,
    },
    /// How long a waiting call waited before the answer, for the wallboard's service level.
    Answered {
        /// The call.
        call: CallId,
        /// The call's queue.
        skill: String,
        /// How long it waited.
        waited: Duration,
    },
}
