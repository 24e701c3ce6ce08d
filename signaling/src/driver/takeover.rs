//! What a new leader does before it serves: the core it replayed believes in connections,
//! media legs and answers that were the old leader's. See `docs/cluster.md` ("Takeover").
//!
//! - **Answers still out.** Every effect that awaits an answer is remembered from the moment
//!   the core emits it (executed or not) until its answer is applied ([`OpenOps`]). At
//!   takeover, store operations and assistant searches are carried out again (the store's
//!   writes of one call are updates keyed by the call, or an insert that fails as a duplicate
//!   — which the core handles like any failed write); a leg, a recording or an offer check
//!   belonged to the old node's relay and is answered as unavailable.
//! - **Connections** the core serves that are not this node's were the old leader's. A
//!   citizen's is closed at once (`Disconnected`): a waiting call is parked and keeps its
//!   place, an answered call's side is waited for — the citizen reconnects here and resumes.
//!   An agent's or staff member's is kept for the reconnect grace (its headset is ended with
//!   the legs, below, which sets an agent away or makes the call wait for the agent): logging
//!   every agent out at once would end every waiting call as `no_agents`. A console that comes
//!   back replaces its old connection; what is left when the grace ends is closed
//!   ([`Driver::close_foreign_connections`]).
//! - **Media legs** the core knows were on the old leader's relay (a standby makes none): they
//!   are ended (`LegEnded`, lost). The relay commands these inputs produce name those legs,
//!   not this node's relay's (whose ids may collide), so they are not sent.
//! - **Timers** need nothing: the loop arms the core's `poll_timeout`, which the replay
//!   rebuilt.
//! - The **catalogue** is read again (an admin change made on a standby reached no core).
//!
//! Every one of these is an input through the log like any other, so the standbys replay
//! the takeover too.

use std::collections::BTreeMap;

use voicedesk_call_center::{Effect, Input, LegEnd, LegFailure, OpId};

use super::Driver;
use super::sequencer::{Entry, Step};

/// Effects emitted by the core whose answers have not been applied yet, by operation.
#[derive(Default)]
pub(super) struct OpenOps(BTreeMap<OpId, Effect>);

impl OpenOps {
    /// The core emitted `effect`: remembered if it awaits an answer.
    pub(super) fn emitted(&mut self, effect: &Effect) {
        let op = match effect {
            Effect::Store { op, .. }
            | Effect::CreateLeg { op, .. }
            | Effect::CheckOffer { op, .. }
            | Effect::StartRecording { op, .. }
            | Effect::Search { op, .. } => *op,
            Effect::Send { .. } | Effect::Close { .. } | Effect::Relay(_) | Effect::Report(_) => {
                return;
            }
        };
        self.0.insert(op, effect.clone());
    }

    /// `input` is about to be applied: the operation it answers is no longer open.
    pub(super) fn answered(&mut self, input: &Input) {
        let op = match input {
            Input::Store { op, .. }
            | Input::LegCreated { op, .. }
            | Input::OfferChecked { op, .. }
            | Input::RecordingStarted { op, .. }
            | Input::Searched { op, .. } => op,
            _ => return,
        };
        self.0.remove(op);
    }

    /// A new core (a `Start` entry): nothing it knows is open.
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.0).into_values().collect()
    }
}

/// Why an answer of the old leader's relay will never come.
const OLD_RELAY: &str = "the leader changed: the old leader's relay is gone";

impl Driver {
    /// This node leads from now on: submits what makes the replayed core true of this node
    /// (see the module's description). Returns how many entries were submitted, whose relay
    /// commands are not sent.
    pub(super) fn take_over(&mut self, epoch: u64) -> usize {
        let mut inputs = Vec::new();
        let mut again = Vec::new();
        for effect in self.open_ops.take() {
            match effect {
                Effect::CreateLeg { op, .. } => inputs.push(Input::LegCreated {
                    op,
                    result: Err(LegFailure::Unavailable(OLD_RELAY.into())),
                }),
                Effect::CheckOffer { op, .. } => inputs.push(Input::OfferChecked {
                    op,
                    result: Err(LegFailure::Unavailable(OLD_RELAY.into())),
                }),
                Effect::StartRecording { op, .. } => {
                    inputs.push(Input::RecordingStarted { op, result: Err(OLD_RELAY.into()) })
                }
                other => again.push(other),
            }
        }
        let conns: Vec<_> = self
            .core
            .citizen_connection_ids()
            .into_iter()
            .filter(|conn| !self.outboxes.contains_key(conn))
            .collect();
        inputs.extend(conns.iter().map(|&conn| Input::Disconnected { conn }));
        let legs = self.core.leg_ids();
        inputs.extend(legs.iter().map(|&leg| Input::LegEnded { leg, reason: LegEnd::Lost }));
        tracing::info!(
            epoch,
            answers_failed = inputs.len() - conns.len() - legs.len(),
            effects_again = again.len(),
            citizens_gone = conns.len(),
            legs_gone = legs.len(),
            "taking over the core"
        );
        let submitted = inputs.len();
        for input in inputs {
            let entry = Entry { at: super::now(), step: Step::Input(input) };
            if let Some(entry) = self.sequencer.submit(entry) {
                self.apply(entry, true);
            }
        }
        // Carried out as if just emitted: their answers come back as inputs.
        for effect in again {
            self.execute(effect);
        }
        submitted
    }

    /// The reconnect grace after a takeover has passed: every connection the core still
    /// serves that is not this node's (a console that did not come back) is closed.
    pub(super) fn close_foreign_connections(&mut self) {
        let gone: Vec<_> = self
            .core
            .connection_ids()
            .into_iter()
            .filter(|conn| !self.outboxes.contains_key(conn))
            .collect();
        if !gone.is_empty() {
            tracing::info!(connections = gone.len(), "the old leader's consoles did not come back");
        }
        for conn in gone {
            self.feed(Input::Disconnected { conn });
        }
    }
}
