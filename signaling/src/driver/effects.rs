//! Carrying out the core's effects. Nothing here decides; every answer goes back to the core.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;
use voicedesk_call_center::store::{StoreReply, StoreRequest};
use voicedesk_call_center::{
    AssistantAnswer, CallId, Effect, Input, LegFailure, LegId, OpId, RelayCommand, Report,
};
use voicedesk_knowledge::{Confidence, Hit};
use voicedesk_media_relay::{LegId as RelayLeg, RelayError, RelayHandle, SlotFeed, SlotRef};
use voicedesk_protocol::{KnowledgeHit, ServerMessage};
use voicedesk_store::{CallWrite, Store};

use super::Driver;

/// One call-record write for a writer.
pub(super) struct StoreJob {
    op: OpId,
    write: CallWrite,
    request: StoreRequest,
    queued: Instant,
}

/// Decrements the count of outstanding effects when an answer has been handed back.
fn answered(results: &mpsc::UnboundedSender<Input>, outstanding: &AtomicUsize, input: Input) {
    // The loop stops only with the server; an answer then has nobody to go to.
    results.send(input).unwrap_or(());
    outstanding.fetch_sub(1, Ordering::AcqRel);
}

/// The most writes one writer commits in one transaction.
const MAX_GROUP: usize = 512;

/// A writer: takes every call-record write queued for it and commits them in one transaction
/// (group commit); if the group fails, each write runs on its own so each gets its own answer.
/// Writes reach a writer in the order the core emitted them and are committed in that order.
pub(super) fn spawn_writer(
    store: Arc<dyn Store>,
    relay: RelayHandle,
    voice_dir: PathBuf,
    results: mpsc::UnboundedSender<Input>,
    outstanding: Arc<AtomicUsize>,
) -> mpsc::UnboundedSender<StoreJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StoreJob>();
    tokio::spawn(async move {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
            let started = Instant::now();
            let writes: Vec<CallWrite> = group.iter().map(|job| job.write.clone()).collect();
            let committed = store.commit_call_writes(&writes).await;
            let oldest = group.iter().map(|job| job.queued).min().unwrap_or(started);
            tracing::debug!(
                writes = group.len(),
                waited_us = started.duration_since(oldest).as_micros() as u64,
                commit_us = started.elapsed().as_micros() as u64,
                ok = committed.is_ok(),
                "call writes committed as a group"
            );
            for job in group.drain(..) {
                let result = match &committed {
                    Ok(()) => Ok(StoreReply::Done),
                    Err(_) => {
                        super::store_ops::run_alone(
                            &store,
                            &relay,
                            &voice_dir,
                            job.write,
                            job.request,
                        )
                        .await
                    }
                };
                answered(&results, &outstanding, Input::Store { op: job.op, result });
            }
        }
    });
    tx
}

fn relay_feeds(feeds: &[voicedesk_call_center::SlotFeed]) -> Vec<SlotFeed> {
    feeds
        .iter()
        .map(|f| SlotFeed {
            slot: SlotRef { leg: RelayLeg(f.slot.leg.0), slot: f.slot.slot },
            source: f.source.map(|l| RelayLeg(l.0)),
        })
        .collect()
}

/// The ordered relay queue: routing changes, hold and closing legs, in the order the core
/// emitted them, without the core waiting. A failure goes back to the core.
pub(super) fn spawn_relay_queue(
    relay: RelayHandle,
    results: mpsc::UnboundedSender<Input>,
    outstanding: Arc<AtomicUsize>,
) -> mpsc::UnboundedSender<RelayCommand> {
    let (tx, mut rx) = mpsc::unbounded_channel::<RelayCommand>();
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            let result = match &command {
                RelayCommand::SetFeeds { feeds, .. } => relay.set_feeds(relay_feeds(feeds)).await,
                RelayCommand::SetHold { leg, on } => relay.set_hold(RelayLeg(leg.0), *on).await,
                RelayCommand::DiscardRecording { leg } => {
                    relay.stop_recording(RelayLeg(leg.0)).await.map(|_| ())
                }
                RelayCommand::CloseLeg { leg } => relay.close_leg(RelayLeg(leg.0)).await,
            };
            match result {
                Ok(()) => {}
                // A leg the relay already let go of has nothing left to close or change.
                Err(RelayError::UnknownLeg(_) | RelayError::NotRecording(_))
                    if !matches!(command, RelayCommand::SetFeeds { call: Some(_), .. }) => {}
                Err(e) => {
                    outstanding.fetch_add(1, Ordering::AcqRel);
                    answered(
                        &results,
                        &outstanding,
                        Input::RelayFailed { command, error: e.to_string() },
                    );
                }
            }
        }
    });
    tx
}

fn leg_failure(e: RelayError) -> LegFailure {
    match e {
        RelayError::BadSdp(why) => LegFailure::BadSdp(why),
        other => {
            tracing::error!(error = %other, "relay refused a leg");
            LegFailure::Unavailable(other.to_string())
        }
    }
}

fn knowledge_hit(hit: Hit) -> KnowledgeHit {
    KnowledgeHit {
        article_id: hit.article_id,
        title: hit.title,
        body: hit.body,
        service: hit.service_id,
    }
}

/// The writer of a call's record writes: always the same one, so they commit in order.
fn writer_of(call: &CallId, writers: usize) -> usize {
    // FNV-1a: stable, cheap, no allocation.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in call.0.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % writers.max(1) as u64) as usize
}

impl Driver {
    /// Carries out every effect the core queued, then publishes the counters. `relay`: false
    /// while a takeover's inputs are applied: their relay commands are not sent.
    pub(super) fn carry_out(&mut self, relay: bool) {
        let replicated = self.sequencer.is_replicated();
        while let Some(effect) = self.core.poll_effect() {
            // Only a cluster node may have to take over what another node left open.
            if replicated {
                self.open_ops.emitted(&effect);
            }
            if !relay && matches!(effect, Effect::Relay(_)) {
                continue;
            }
            self.execute(effect);
        }
        self.publish();
        for conn in std::mem::take(&mut self.too_slow) {
            tracing::warn!(?conn, "outgoing queue full; dropping the connection");
            if self.drop_outbox(conn) {
                self.feed(Input::Disconnected { conn });
            }
        }
        for input in std::mem::take(&mut self.follow_ups) {
            self.feed(input);
        }
    }

    /// Carries one effect out (its answer, if any, comes back as an input).
    pub(super) fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::Send { conn, mut message } => {
                self.timing.sent(&self.stats.histograms, conn, &message);
                if let ServerMessage::Wallboard(board) = &mut message {
                    self.add_quality(board);
                }
                match self.outboxes.get_mut(&conn) {
                    Some(super::Outbox::Local { tx, .. }) => match tx.try_send(message) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => self.too_slow.push(conn),
                        // The handler is gone; its `Disconnected` is on the way.
                        Err(mpsc::error::TrySendError::Closed(_)) => {}
                    },
                    // Its gateway drops it if it is too slow, and says so.
                    Some(super::Outbox::Remote { node, next_out, .. }) => {
                        if let Some(link) = &self.link {
                            link.send(node, conn, *next_out, message);
                        }
                        *next_out += 1;
                    }
                    None => {}
                }
            }
            Effect::Close { conn } => {
                // Dropping the outbox and the kick ends the writer (after what is queued)
                // and the reader.
                self.drop_outbox(conn);
            }
            Effect::Store { op, call, request } => self.store_op(op, call, request),
            Effect::CreateLeg { op, sdp, slots } => {
                let (relay, results, outstanding) = self.answer_path();
                tokio::spawn(async move {
                    let asked = Instant::now();
                    let result = relay
                        .create_leg(sdp, slots)
                        .await
                        .map(|(leg, answer)| (LegId(leg.0), answer))
                        .map_err(leg_failure);
                    tracing::debug!(
                        leg_us = asked.elapsed().as_micros() as u64,
                        ok = result.is_ok(),
                        "relay answered a leg"
                    );
                    answered(&results, &outstanding, Input::LegCreated { op, result });
                });
            }
            Effect::CheckOffer { op, sdp, slots } => {
                // The relay's own check (pure, microseconds): no leg is made. The verdict is
                // an input like any other (in a cluster, it goes through the log).
                let result = voicedesk_media_relay::sdp::check_offer(&sdp, slots)
                    .map(|_| ())
                    .map_err(leg_failure);
                self.follow_ups.push(Input::OfferChecked { op, result });
            }
            Effect::StartRecording { op, leg, max } => {
                let (relay, results, outstanding) = self.answer_path();
                tokio::spawn(async move {
                    let result = relay
                        .start_recording(RelayLeg(leg.0), max)
                        .await
                        .map_err(|e| e.to_string());
                    answered(&results, &outstanding, Input::RecordingStarted { op, result });
                });
            }
            Effect::Relay(command) => {
                if self.relay_commands.send(command).is_err() {
                    tracing::error!("relay command queue stopped");
                }
            }
            Effect::Search { op, question } => {
                let (_, results, outstanding) = self.answer_path();
                let knowledge = self.knowledge.clone();
                tokio::task::spawn_blocking(move || {
                    let answer = knowledge.answer(&question, None);
                    let confident = answer.confidence == Confidence::High;
                    let answer = AssistantAnswer {
                        best: answer.best.map(knowledge_hit),
                        suggestions: answer.suggestions.into_iter().map(knowledge_hit).collect(),
                        confident,
                    };
                    answered(&results, &outstanding, Input::Searched { op, answer });
                });
            }
            Effect::Report(report) => self.report(report),
        }
    }

    /// What a spawned effect needs to hand its answer back (and counts it as outstanding).
    fn answer_path(&self) -> (RelayHandle, mpsc::UnboundedSender<Input>, Arc<AtomicUsize>) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        (self.relay.clone(), self.results.clone(), self.outstanding.clone())
    }

    /// A call-record write goes to its call's writer (group commit, in order); anything else
    /// runs on its own task at once.
    fn store_op(&mut self, op: OpId, call: Option<CallId>, request: StoreRequest) {
        self.timing.store_op(op, &request);
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        if let (Some(call), Some(write)) =
            (&call, super::store_ops::call_write(&request, self.relay.stats()))
        {
            if let CallWrite::Ended { quality, .. } = &write {
                for q in quality {
                    super::timing::call_quality(&self.stats.histograms, q.side, q.mos);
                }
            }
            let writer = writer_of(call, self.writers.len());
            let job = StoreJob { op, write, request, queued: Instant::now() };
            if self.writers[writer].send(job).is_err() {
                tracing::error!(writer, "store writer stopped");
            }
            return;
        }
        let (store, relay, dir) = (self.store.clone(), self.relay.clone(), self.voice_dir.clone());
        let (results, outstanding) = (self.results.clone(), self.outstanding.clone());
        tokio::spawn(async move {
            let result = super::store_ops::run(&store, &relay, &dir, request).await;
            answered(&results, &outstanding, Input::Store { op, result });
        });
    }

    fn report(&self, report: Report) {
        match report {
            Report::Violation(what) => {
                tracing::error!(%what, "call-center invariant violated; input refused, service goes on")
            }
            Report::StoreFailed { what, call, error, then } => {
                tracing::error!(what, call = call.as_ref().map(|c| c.0.as_str()), %error, then, "store operation failed")
            }
            Report::RelayFailed { error, then } => {
                tracing::warn!(%error, then, "relay command failed")
            }
            Report::CallEnded { call, reason } => {
                tracing::info!(%call, reason = reason.as_str(), "call ended")
            }
            Report::Answered { call, skill, waited } => {
                super::timing::answered(&self.stats.histograms, &skill, waited);
                tracing::info!(%call, %skill, waited_ms = waited.as_millis() as u64, "call answered")
            }
            Report::CallFinished { skill, reason, waited, talked, .. } => {
                super::timing::finished(&self.stats.histograms, &skill, reason, waited, talked);
            }
        }
    }

    /// Puts the relay's latest audio figures on the wallboard's calls (measured, not decided:
    /// the core does not know them).
    fn add_quality(&self, board: &mut voicedesk_protocol::Wallboard) {
        let relay = self.relay.stats();
        for row in &mut board.calls {
            let call = CallId(row.call_id.clone());
            if let Some((citizen, agent)) = self.core.call_media_legs(&call) {
                row.citizen_quality = super::timing::leg_quality(relay, citizen.map(|l| l.0));
                row.agent_quality = super::timing::leg_quality(relay, agent.map(|l| l.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_calls_writes_always_go_to_the_same_writer() {
        let call = voicedesk_call_center::CallId("0b5e1f3a-0000-4000-8000-000000000001".into());
        assert_eq!(super::writer_of(&call, 4), super::writer_of(&call.clone(), 4));
        assert!(super::writer_of(&call, 4) < 4);
        assert_eq!(super::writer_of(&call, 1), 0);
    }
}
