//! Counters of the signaling side and the `/metrics` page (Prometheus text format 0.0.4,
//! encoded by `prometheus-client`).
//!
//! Two kinds of figures: the counters and gauges in [`SignalingStats`] (plain atomics the
//! driver and handlers bump; read at each scrape into constant metrics) and the distributions
//! in [`Histograms`] (`prometheus-client` histograms, labelled only by bounded sets: queue,
//! outcome, step, message type, store operation — never a call, citizen or session id). Every
//! series and what it answers is listed in `docs/architecture.md` ("Metrics").

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use voicedesk_media_relay::RelayStats;

/// Signaling counters and gauges; updated by the driver and the WebSocket handlers.
#[derive(Debug, Default)]
pub struct SignalingStats {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Calls waiting for an answer: queued or ringing.
    pub queue_length: AtomicI64,
    /// Calls in progress (queued, ringing or talking).
    pub active_calls: AtomicI64,
    /// Calls created since start.
    pub calls_total: AtomicU64,
    /// Calls answered by an agent since start.
    pub calls_answered: AtomicU64,
    /// Client messages refused with an `error`.
    pub client_errors: AtomicU64,
    /// Sides of answered calls (citizen or agent) whose connection was lost and waited for.
    pub sides_lost: AtomicU64,
    /// Of those, the ones that came back with a new media leg within the grace period.
    pub sides_back: AtomicU64,
    /// Inputs the call-center core refused because one of its invariants did not hold (it
    /// logs each and goes on serving).
    pub invariant_violations: AtomicU64,
    /// Store operations of the core that failed (the core decided what the client was told).
    pub store_failures: AtomicU64,
    /// TCP connections refused because the server was at its connection cap.
    pub connections_refused: AtomicU64,
    /// Requests and WebSocket messages refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// WebSocket connections closed by the server for abuse or neglect: too fast for too
    /// long, not reading their replies, idle.
    pub connections_dropped: AtomicU64,
    /// TURN credentials handed out by `/api/ice-servers`.
    pub turn_credentials_issued: AtomicU64,
    /// The distributions (waits, set-up, handling, store latency).
    pub histograms: Histograms,
}

/// A queue and how a wait in it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueOutcome {
    /// The queue (skill) the call waited in.
    pub queue: String,
    /// `answered`, or the end reason of a call that was never answered (`abandoned`,
    /// `message_left`, `max_wait`, …).
    pub outcome: String,
}

/// A queue.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Queue {
    /// The queue (skill).
    pub queue: String,
}

/// A step of the server's call set-up.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SetupStep {
    /// `queued` (the citizen's `call` → `call_queued`: leg answered, record written) or
    /// `bridged` (the agent's `accept` → `call_connected`: answer written, routing set).
    pub step: &'static str,
}

/// A client message type (the protocol's names: a fixed set).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageType {
    /// The message's `type`.
    pub r#type: &'static str,
}

/// A side of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Side {
    /// `citizen` or `agent`.
    pub side: &'static str,
}

/// A media leg's state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LegState {
    /// `connecting` or `connected`.
    pub state: &'static str,
}

/// A kind of store operation (the core's request kinds, or `call_writes_group`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreOperation {
    /// The operation.
    pub operation: &'static str,
}

/// The distributions of `/metrics`. Cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct Histograms {
    /// How long a call waited in its queue until answered or until it ended unanswered.
    pub queue_wait: Family<QueueOutcome, Histogram>,
    /// From the offer reaching an agent to the agent's accept.
    pub answer_after_offer: Histogram,
    /// Server-side set-up steps.
    pub setup: Family<SetupStep, Histogram>,
    /// From answer to end of an answered call (talk time; after-call work is not in it).
    pub handle: Family<Queue, Histogram>,
    /// How long the driver took over one client message: the core's decision and handing the
    /// effects out (store and relay work that follows is in the other histograms).
    pub ws_message: Family<MessageType, Histogram>,
    /// Store operation latency, from the driver handing it out to its answer.
    pub store_write: Family<StoreOperation, Histogram>,
    /// Store operations that failed, by kind.
    pub store_errors: Family<StoreOperation, Counter>,
    /// Each finished call's audio quality per side (E-model MOS of what that side sent).
    pub call_mos: Family<Side, Histogram>,
}

/// Waits a citizen feels: 1 s … ~68 min.
fn wait_buckets() -> Histogram {
    Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0])
}

/// Talk time: 30 s … 1 h.
fn handle_buckets() -> Histogram {
    Histogram::new([30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0])
}

/// Server work: 100 µs … ~6.5 s.
fn server_buckets() -> Histogram {
    Histogram::new(exponential_buckets(100e-6, 2.0, 17))
}

/// In-process work: 5 µs … ~80 ms.
fn fast_buckets() -> Histogram {
    Histogram::new(exponential_buckets(5e-6, 2.0, 15))
}

/// MOS 1 … 4.5: below 2.6 bad, below 3.1 poor, below 3.6 fair, below 4.0 good.
fn mos_buckets() -> Histogram {
    Histogram::new([1.5, 2.0, 2.6, 3.1, 3.6, 4.0, 4.3, 4.5])
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            queue_wait: Family::new_with_constructor(wait_buckets),
            answer_after_offer: Histogram::new([
                0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0,
            ]),
            setup: Family::new_with_constructor(server_buckets),
            handle: Family::new_with_constructor(handle_buckets),
            ws_message: Family::new_with_constructor(fast_buckets),
            store_write: Family::new_with_constructor(server_buckets),
            store_errors: Family::default(),
            call_mos: Family::new_with_constructor(mos_buckets),
        }
    }
}

/// A counter read from an atomic at scrape time (`name` without `_total`: the encoder adds it).
fn counter(reg: &mut Registry, name: &str, help: &str, value: u64) {
    reg.register(name, help, ConstCounter::new(value));
}

fn gauge(reg: &mut Registry, name: &str, help: &str, value: i64) {
    reg.register(name, help, ConstGauge::new(value));
}

fn gauge_f(reg: &mut Registry, name: &str, help: &str, value: f64) {
    reg.register(name, help, ConstGauge::new(value));
}

/// Renders every metric; a cluster node adds its own (with its replay lag, if NATS answered).
pub fn render(
    s: &SignalingStats,
    r: &RelayStats,
    cluster: Option<(&crate::cluster::ClusterStatus, Option<u64>)>,
) -> String {
    let mut reg = Registry::default();
    let g = |a: &AtomicI64| a.load(Ordering::Relaxed);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let rg = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    let reg_ = &mut reg;
    gauge(reg_, "voicedesk_ws_connections", "Open WebSocket connections", g(&s.connections));
    gauge(
        reg_,
        "voicedesk_queue_length",
        "Calls waiting for an answer (queued or ringing)",
        g(&s.queue_length),
    );
    gauge(reg_, "voicedesk_active_calls", "Calls queued, ringing or talking", g(&s.active_calls));
    counter(reg_, "voicedesk_calls", "Calls placed since start", c(&s.calls_total));
    counter(
        reg_,
        "voicedesk_calls_answered",
        "Calls answered by an agent since start",
        c(&s.calls_answered),
    );
    counter(
        reg_,
        "voicedesk_client_errors",
        "Client messages refused with an error",
        c(&s.client_errors),
    );
    counter(
        reg_,
        "voicedesk_call_sides_lost",
        "Citizens and agents whose connection was lost during an answered call (the call waited for them)",
        c(&s.sides_lost),
    );
    counter(
        reg_,
        "voicedesk_call_sides_back",
        "Citizens and agents who came back to their call with a new media leg within the grace period",
        c(&s.sides_back),
    );
    counter(
        reg_,
        "voicedesk_core_invariant_violations",
        "Inputs the call-center core refused because one of its invariants did not hold (logged; the service went on)",
        c(&s.invariant_violations),
    );
    counter(
        reg_,
        "voicedesk_core_store_failures",
        "Store operations of the call-center core that failed (the core decided what the client was told)",
        c(&s.store_failures),
    );
    counter(
        reg_,
        "voicedesk_connections_refused",
        "TCP connections refused at the connection cap (503)",
        c(&s.connections_refused),
    );
    counter(
        reg_,
        "voicedesk_rate_limited",
        "Requests and WebSocket messages refused by a rate limit",
        c(&s.rate_limited),
    );
    counter(
        reg_,
        "voicedesk_ws_dropped",
        "WebSocket connections closed for abuse or neglect (too fast, not reading, idle)",
        c(&s.connections_dropped),
    );
    counter(
        reg_,
        "voicedesk_turn_credentials_issued",
        "TURN credentials handed out by /api/ice-servers",
        c(&s.turn_credentials_issued),
    );
    gauge(reg_, "voicedesk_relay_legs", "Open media legs", rg(&r.legs_open));
    let by_state = Family::<LegState, Gauge>::default();
    by_state.get_or_create(&LegState { state: "connecting" }).set(rg(&r.legs_connecting));
    by_state.get_or_create(&LegState { state: "connected" }).set(rg(&r.legs_connected));
    reg_.register(
        "voicedesk_relay_legs_by_state",
        "Open media legs by state (connecting: answered, ICE/DTLS not up yet; connected)",
        by_state,
    );
    counter(
        reg_,
        "voicedesk_relay_legs_failed",
        "Media legs ended by failure or silence",
        r.legs_failed.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_datagrams_received",
        "UDP datagrams received on the media port",
        r.datagrams_in.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_datagrams_sent",
        "UDP datagrams sent from the media port",
        r.datagrams_out.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_datagrams_dropped",
        "Datagrams dropped (unknown sender or not STUN/DTLS/RTP)",
        r.datagrams_dropped.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_bytes_received",
        "Bytes received on the media port",
        r.bytes_in.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_bytes_sent",
        "Bytes sent from the media port",
        r.bytes_out.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_rtp_packets_received",
        "RTP packets received from participants",
        r.rtp_in.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_rtp_packets_forwarded",
        "RTP packets written to receive slots",
        r.rtp_forwarded.get(),
    );
    counter(
        reg_,
        "voicedesk_relay_hold_packets_sent",
        "Hold-tune packets played to queued citizens",
        r.hold_packets_sent.get(),
    );
    reg_.register(
        "voicedesk_relay_busy_seconds",
        "Wall time the relay loop spent working (not waiting for datagrams or timers)",
        ConstCounter::new(r.busy_ns.get() as f64 / 1e9),
    );
    gauge_f(
        reg_,
        "voicedesk_relay_forwarded_packets_per_second",
        "RTP packets forwarded per second, averaged over the last minute",
        r.forwarded_per_second.get(),
    );
    gauge_f(
        reg_,
        "voicedesk_relay_busy_seconds_per_packet",
        "Relay loop busy time per forwarded packet over the last minute (the CPU one packet costs)",
        r.busy_seconds_per_packet.get(),
    );
    reg_.register(
        "voicedesk_relay_batch_seconds",
        "Time the relay loop spent on one batch of received datagrams",
        r.batch_seconds.clone(),
    );
    reg_.register(
        "voicedesk_relay_leg_mos",
        "E-model MOS estimate of each media leg's received audio (loss, jitter, round trip), observed when the leg closes",
        r.leg_mos.clone(),
    );
    reg_.register(
        "voicedesk_relay_leg_rtt_seconds",
        "Round-trip time between the relay and each media leg's participant (RTCP sender/receiver reports), observed when the leg closes",
        r.leg_rtt_seconds.clone(),
    );
    let h = &s.histograms;
    reg_.register(
        "voicedesk_queue_wait_seconds",
        "How long calls waited in their queue, until answered (outcome=answered) or until they ended unanswered (outcome=the end reason)",
        h.queue_wait.clone(),
    );
    reg_.register(
        "voicedesk_answer_after_offer_seconds",
        "From an offer reaching an agent's console to the agent's accept",
        h.answer_after_offer.clone(),
    );
    reg_.register(
        "voicedesk_call_setup_seconds",
        "Server-side call set-up: step=queued (call -> call_queued), step=bridged (accept -> call_connected)",
        h.setup.clone(),
    );
    reg_.register(
        "voicedesk_call_handle_seconds",
        "Talk time of answered calls, answer to end, by queue",
        h.handle.clone(),
    );
    reg_.register(
        "voicedesk_ws_message_seconds",
        "Time the driver took over one client message (decision and handing out its effects), by message type",
        h.ws_message.clone(),
    );
    reg_.register(
        "voicedesk_store_operation_seconds",
        "Store operation latency, from the driver handing it out to its answer, by operation",
        h.store_write.clone(),
    );
    reg_.register(
        "voicedesk_call_mos",
        "Audio quality of finished calls per side (E-model MOS estimate of what that side sent: loss, jitter, round trip)",
        h.call_mos.clone(),
    );
    reg_.register(
        "voicedesk_store_errors",
        "Store operations that failed, by operation",
        h.store_errors.clone(),
    );
    if let Some((status, lag)) = cluster {
        register_cluster(reg_, status, lag);
    }
    let mut out = String::with_capacity(8192);
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &reg);
    out
}

/// Registers the cluster node's figures: its name and roles, whether it leads, its epoch,
/// takeovers, the last log record applied and the replay lag (`None`: NATS did not answer, the
/// lag is left out).
fn register_cluster(reg: &mut Registry, c: &crate::cluster::ClusterStatus, lag: Option<u64>) {
    let node = Family::<Vec<(String, String)>, Gauge>::default();
    node.get_or_create(&vec![
        ("node".to_owned(), c.node.clone()),
        ("roles".to_owned(), c.roles.names()),
    ])
    .set(1);
    reg.register("voicedesk_cluster_node", "This node's name and roles", node);
    let l = |a: &AtomicU64| i64::try_from(a.load(Ordering::Acquire)).unwrap_or(i64::MAX);
    let leading = i64::from(c.leading.load(Ordering::Acquire));
    gauge(reg, "voicedesk_cluster_leading", "1 while this node leads the core", leading);
    gauge(reg, "voicedesk_cluster_epoch", "The epoch led or last led", l(&c.epoch));
    counter(
        reg,
        "voicedesk_cluster_takeovers",
        "Times this node became leader",
        c.takeovers.load(Ordering::Acquire),
    );
    gauge(
        reg,
        "voicedesk_cluster_applied_record",
        "The last log record applied to this node's core",
        l(&c.applied),
    );
    if let Some(lag) = lag {
        gauge(
            reg,
            "voicedesk_cluster_replay_lag_records",
            "Log records not yet applied to this node's core",
            i64::try_from(lag).unwrap_or(i64::MAX),
        );
    }
}

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
