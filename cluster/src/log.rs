//! The replicated input log: one JetStream stream, written by the leader only, read by everyone.
//!
//! Every append carries `Nats-Expected-Last-Sequence`: the writer states which sequence it
//! believes is the log's last, and JetStream stores the message only if that is still true. A new
//! leader's epoch marker moves the end of the log, so the old leader's next append names a stale
//! sequence and is rejected ([`AppendError::Fenced`]) — the fencing needs no clock.
//!
//! Why a batch is one record (group commit) and not several appends in flight: with several in
//! flight, each expecting the one before, a stale writer whose first append is rejected would
//! see its (j+1)-th land if the new leader had appended exactly j records. Adding
//! `Nats-Expected-Last-Msg-Id` closes that hole in principle, but on nats-server 2.15 (R3) a
//! message rejected that way left the stream answering no other writer's append within 15 s
//! (seen while testing `epoch_fencing.rs`; `docs/cluster.md`). One record per batch is atomic and fenced by one header.
//!
//! Every append also carries `Nats-Msg-Id: <epoch>.<expected last sequence>`, the same on every
//! retry of that append, so a retry after a lost acknowledgement (a NATS server died between
//! storing and answering) is answered with the first copy's sequence instead of storing twice.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self, consumer,
    context::{PublishAckFuture, PublishErrorKind},
    message::PublishMessage,
    stream,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One record of the log: entries of the application, or the mark a new leader leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record<E> {
    /// Entries appended together by the leader of its epoch (one, or a group committed at once):
    /// stored all or none, applied in order.
    Entries(Vec<E>),
    /// A node took the lease and starts leading `epoch`; everything after it is that leader's.
    Epoch(EpochMarker),
}

/// Written once by each new leader before its first entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochMarker {
    /// The lease revision that made this node leader (strictly increasing across leaders).
    pub epoch: u64,
    /// The node's name, for logs and operators.
    pub node: String,
}

/// Where and how the log is kept.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The JetStream stream's name (also the subject prefix: entries go to `<name>.in`).
    pub stream: String,
    /// Copies JetStream keeps: 3 on a three-server cluster, 1 on a single server.
    pub replicas: usize,
    /// How long one append (or one batch) keeps retrying a NATS-side failure — a stream leader
    /// election after a server's loss takes a few seconds — before it gives up.
    pub append_deadline: Duration,
    /// How long one attempt waits for JetStream's acknowledgement before it retries.
    pub ack_timeout: Duration,
}

impl LogConfig {
    /// A log named `stream` with `replicas` copies and deadlines that ride out a stream leader
    /// election (NATS elects a new one within a few seconds).
    pub fn new(stream: impl Into<String>, replicas: usize) -> Self {
        Self {
            stream: stream.into(),
            replicas,
            append_deadline: Duration::from_secs(15),
            ack_timeout: Duration::from_secs(2),
        }
    }
}

/// Why an append was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The log moved on past the sequence this writer expected: another leader (a newer epoch)
    /// appended. The writer is stale and must stop writing; nothing of this append was stored.
    #[error("fenced: the log's last sequence is no longer {expected_last} (a newer leader wrote)")]
    Fenced {
        /// The sequence this writer believed was the log's last.
        expected_last: u64,
    },
    /// NATS did not acknowledge within the append deadline; the record may or may not be
    /// stored. The writer is closed (its lease has run out meanwhile): the next leader's replay
    /// tells what is in the log.
    #[error("no acknowledgement from JetStream within {0:?}: {1}")]
    Unavailable(Duration, String),
    /// An earlier append of this writer ended `Unavailable`. Appending other entries at the
    /// same position could be taken for a retry of the unknown one and dropped as a duplicate,
    /// so the writer takes no more.
    #[error("this writer is closed: an earlier append's outcome is unknown")]
    Closed,
    /// The entry does not fit in a NATS message, or could not be encoded. Nothing was sent.
    #[error("entry rejected before sending: {0}")]
    Invalid(String),
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The consumer reading the stream failed (NATS unreachable for longer than its retries).
    #[error("reading the log failed: {0}")]
    Read(String),
    /// A record in the log is not a `Record<E>` of this entry type.
    #[error("record {seq} of the log cannot be decoded: {reason}")]
    Decode {
        /// The record's sequence.
        seq: u64,
        /// serde's message.
        reason: String,
    },
}

/// Errors from setting the log up or asking it about its state.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LogError(pub String);

fn log_error(what: &str, err: impl std::fmt::Display) -> LogError {
    LogError(format!("{what}: {err}"))
}

/// A handle on the replicated log of entries `E`. Cheap to clone.
pub struct InputLog<E> {
    js: jetstream::Context,
    config: LogConfig,
    subject: String,
    _entries: PhantomData<fn() -> E>,
}

impl<E> Clone for InputLog<E> {
    fn clone(&self) -> Self {
        Self {
            js: self.js.clone(),
            config: self.config.clone(),
            subject: self.subject.clone(),
            _entries: PhantomData,
        }
    }
}

impl<E: Serialize + DeserializeOwned> InputLog<E> {
    /// Creates the stream if it does not exist (file storage, `replicas` copies, nothing ever
    /// discarded or deleted) and returns a handle on it.
    pub async fn open(client: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        let js = jetstream::ContextBuilder::new().timeout(config.ack_timeout).build(client);
        let subject = format!("{}.in", config.stream);
        js.get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: config.replicas,
            retention: stream::RetentionPolicy::Limits,
            // The log is the truth: it is never trimmed by size or age, and nothing in it is
            // deleted one message at a time (snapshots bound replay, not storage, for now).
            deny_delete: true,
            // Retries of one append within this window are recognised by their message id.
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| log_error("creating the log's stream", e))?;
        Ok(Self { js, config, subject, _entries: PhantomData })
    }

    /// The sequence of the log's last record (0 when empty), as the stream's leader knows it.
    pub async fn last_sequence(&self) -> Result<u64, LogError> {
        Ok(self.stream_info().await?.state.last_sequence)
    }

    /// The name of the NATS server leading the stream's replication group, if there is one.
    pub async fn stream_leader(&self) -> Result<Option<String>, LogError> {
        Ok(self.stream_info().await?.cluster.and_then(|c| c.leader))
    }

    /// The stream's state, answered by its leader.
    async fn stream_info(&self) -> Result<stream::Info, LogError> {
        let stream = self
            .js
            .get_stream_no_info(&self.config.stream)
            .await
            .map_err(|e| log_error("finding the log's stream", e))?;
        stream.get_info().await.map_err(|e| log_error("reading the log's state", e))
    }

    /// A writer for `epoch` that believes `last_seq` is the log's last record: the epoch's
    /// marker as [`Role::Leading`](crate::Role::Leading) reports it, or 0 on an empty log. Only
    /// the node holding the lease should have one; a stale one is fenced by the next marker.
    pub fn writer(&self, epoch: u64, last_seq: u64) -> LogWriter<E> {
        LogWriter { log: self.clone(), epoch, last_seq, closed: false }
    }

    /// Reads the log from sequence `from` (1 = the beginning): every record in order to the end,
    /// then each new record as it is appended. Each item says whether it was the last record
    /// the server knew of when it was delivered ([`Replayed::caught_up`]).
    pub async fn replay(&self, from: u64) -> Result<Replay<E>, ReplayError> {
        self.retrying_reads(|| self.replay_once(from)).await
    }

    /// Retries a read while NATS fails it (a timeout, JetStream unavailable in the seconds a
    /// stream takes to elect a new leader after a server's loss), until `append_deadline`.
    async fn retrying_reads<T, F, Fut>(&self, mut read: F) -> Result<T, ReplayError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ReplayError>>,
    {
        let started = Instant::now();
        loop {
            match read().await {
                Ok(value) => return Ok(value),
                Err(e) if started.elapsed() < self.config.append_deadline => {
                    tracing::debug!(stream = %self.config.stream, error = %e, "read retried");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn replay_once(&self, from: u64) -> Result<Replay<E>, ReplayError> {
        let read = |e: &dyn std::fmt::Display| ReplayError::Read(e.to_string());
        let stream = self.js.get_stream_no_info(&self.config.stream).await.map_err(|e| read(&e))?;
        // An ordered consumer: ephemeral, flow-controlled, and recreated from the last sequence
        // it delivered whenever it misses one (a NATS server's loss included).
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(|e| read(&e))?;
        let messages = consumer.messages().await.map_err(|e| read(&e))?;
        Ok(Replay { messages, next_seq: from.max(1), _entries: PhantomData })
    }

    /// Every record from `from` up to the log's last at the time of the call.
    pub async fn read_to_end(&self, from: u64) -> Result<Vec<(u64, Record<E>)>, ReplayError> {
        let last = self
            .retrying_reads(|| async {
                self.last_sequence().await.map_err(|e| ReplayError::Read(e.to_string()))
            })
            .await?;
        let mut records = Vec::new();
        if last < from {
            return Ok(records);
        }
        let mut replay = self.replay(from).await?;
        while let Some(item) = replay.next().await {
            let item = item?;
            let seq = item.seq;
            records.push((seq, item.record));
            if seq >= last {
                break;
            }
        }
        Ok(records)
    }

    /// Appends the encoded record `payload` at `at`, retrying NATS-side failures until the
    /// deadline. Returns the record's sequence.
    async fn append_payload(&self, at: Placement, payload: Bytes) -> Result<u64, AppendError> {
        let started = Instant::now();
        loop {
            let attempt = async {
                let ack = self.send(at, payload.clone()).await?;
                ack.await.map_err(|e| Attempt::classify(e.kind(), e.to_string(), at.last))
            };
            match attempt.await {
                Ok(ack) => return Ok(ack.sequence),
                Err(Attempt::Final(err)) => return Err(err),
                Err(Attempt::Retry(reason)) => self.pause_before_retry(started, reason).await?,
            }
        }
    }

    /// Appends the marker of a new leader's epoch after `expected_last`; returns its sequence.
    pub(crate) async fn append_epoch_marker(
        &self,
        marker: &EpochMarker,
        expected_last: u64,
    ) -> Result<u64, AppendError> {
        let payload = encode(&WireRecord::<E>::Epoch(marker))?;
        let at = Placement { epoch: marker.epoch, last: expected_last };
        self.append_payload(at, payload).await
    }

    /// Waits a little before the next attempt, or gives up past the append deadline.
    async fn pause_before_retry(
        &self,
        started: Instant,
        reason: String,
    ) -> Result<(), AppendError> {
        let deadline = self.config.append_deadline;
        if started.elapsed() >= deadline {
            return Err(AppendError::Unavailable(deadline, reason));
        }
        tracing::debug!(stream = %self.config.stream, %reason, "append retried");
        // A retry right away would find the same stream leader election in progress.
        tokio::time::sleep(RETRY_PAUSE).await;
        Ok(())
    }

    /// Sends one record without waiting for its acknowledgement.
    async fn send(&self, at: Placement, payload: Bytes) -> Result<PublishAckFuture, Attempt> {
        let message = PublishMessage::build()
            .payload(payload)
            .expected_last_sequence(at.last)
            .message_id(record_id(at.epoch, at.last));
        self.js
            .send_publish(self.subject.clone(), message)
            .await
            .map_err(|e| Attempt::classify(e.kind(), e.to_string(), at.last))
    }
}

/// Where a record must land: right after sequence `last`, written in `epoch`.
#[derive(Debug, Clone, Copy)]
struct Placement {
    epoch: u64,
    last: u64,
}

/// The message id of the record appended in `epoch` after sequence `last`: unique per epoch
/// and position, the same on every retry of that append.
fn record_id(epoch: u64, last: u64) -> String {
    format!("{epoch}.{last}")
}

/// Pause between two attempts of one append while NATS elects a stream leader.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A [`Record`] borrowed for encoding (the same JSON), so appending clones nothing.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum WireRecord<'a, E> {
    Entries(&'a [E]),
    Epoch(&'a EpochMarker),
}

/// Records are JSON: readable with the `nats` CLI, and the entry types are serde already.
fn encode<E: Serialize>(record: &WireRecord<'_, E>) -> Result<Bytes, AppendError> {
    serde_json::to_vec(record).map(Bytes::from).map_err(|e| AppendError::Invalid(e.to_string()))
}

/// The outcome of one failed attempt: give up now, or try again.
enum Attempt {
    Final(AppendError),
    Retry(String),
}

impl Attempt {
    fn classify(kind: PublishErrorKind, message: String, expected_last: u64) -> Self {
        match kind {
            PublishErrorKind::WrongLastSequence => {
                Attempt::Final(AppendError::Fenced { expected_last })
            }
            PublishErrorKind::MaxPayloadExceeded => Attempt::Final(AppendError::Invalid(message)),
            // Timed out, broken pipe, no stream leader yet, too many in flight: NATS-side and
            // passing; the retry carries the same message id, so it cannot store twice.
            _ => Attempt::Retry(message),
        }
    }
}

/// The leader's pen: appends entries after the sequence it knows is last.
pub struct LogWriter<E> {
    log: InputLog<E>,
    /// The epoch this writer appends for (its message ids carry it).
    epoch: u64,
    /// The log's last sequence as far as this writer knows: the previous acknowledged append,
    /// or the epoch marker it started from. Moves only on acknowledgements.
    last_seq: u64,
    /// Set when an append ended `Unavailable`: its outcome is unknown, nothing more is taken.
    closed: bool,
}

impl<E: Serialize + DeserializeOwned> LogWriter<E> {
    /// The epoch this writer writes for.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The last sequence acknowledged to this writer (or the one it started from).
    pub fn last_sequence(&self) -> u64 {
        self.last_seq
    }

    /// Appends one entry; returns its record's sequence once JetStream acknowledged it (stored
    /// on a majority of the replicas).
    pub async fn append(&mut self, entry: &E) -> Result<u64, AppendError> {
        self.append_batch(std::slice::from_ref(entry)).await
    }

    /// Appends `entries` as one record (group commit: what waited while the previous append was
    /// in flight); all are stored or none. Returns the record's sequence once acknowledged.
    pub async fn append_batch(&mut self, entries: &[E]) -> Result<u64, AppendError> {
        if self.closed {
            return Err(AppendError::Closed);
        }
        let payload = encode(&WireRecord::Entries(entries))?;
        let at = Placement { epoch: self.epoch, last: self.last_seq };
        match self.log.append_payload(at, payload).await {
            Ok(seq) => {
                self.last_seq = seq;
                Ok(seq)
            }
            Err(e) => {
                self.closed = matches!(e, AppendError::Unavailable(..));
                Err(e)
            }
        }
    }
}

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed<E> {
    /// The record's sequence in the log.
    pub seq: u64,
    /// What was appended.
    pub record: Record<E>,
    /// No later record existed when the server delivered this one.
    pub caught_up: bool,
}

/// The log read in order from some sequence, then followed.
pub struct Replay<E> {
    messages: consumer::pull::Ordered,
    /// The first sequence not delivered yet. async-nats 0.52 recreates an ordered consumer
    /// that has delivered nothing yet (a missed heartbeat on a loaded machine) with
    /// `DeliverPolicy::All`, forgetting the start sequence: what comes before is skipped here.
    next_seq: u64,
    _entries: PhantomData<fn() -> E>,
}

impl<E: DeserializeOwned> Replay<E> {
    /// The next record; waits for one to be appended when the reader is at the end.
    pub async fn next(&mut self) -> Option<Result<Replayed<E>, ReplayError>> {
        let (message, seq, pending) = loop {
            let message = match self.messages.next().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(ReplayError::Read(e.to_string()))),
            };
            let (seq, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(e) => return Some(Err(ReplayError::Read(e.to_string()))),
            };
            if seq >= self.next_seq {
                break (message, seq, pending);
            }
        };
        self.next_seq = seq + 1;
        Some(
            serde_json::from_slice(&message.payload)
                .map(|record| Replayed { seq, record, caught_up: pending == 0 })
                .map_err(|e| ReplayError::Decode { seq, reason: e.to_string() }),
        )
    }
}
