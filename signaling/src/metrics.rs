//! Counters of the signaling side and the `/metrics` page (Prometheus text format 0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Renders every metric.
pub fn render(s: &SignalingStats, r: &RelayStats) -> String {
    let mut out = String::with_capacity(2048);
    let g = |a: &AtomicI64| a.load(Ordering::Relaxed);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    metric(
        &mut out,
        "voicedesk_ws_connections",
        "gauge",
        "Open WebSocket connections.",
        g(&s.connections),
    );
    metric(
        &mut out,
        "voicedesk_queue_length",
        "gauge",
        "Calls waiting for an answer (queued or ringing).",
        g(&s.queue_length),
    );
    metric(
        &mut out,
        "voicedesk_active_calls",
        "gauge",
        "Calls queued, ringing or talking.",
        g(&s.active_calls),
    );
    metric(
        &mut out,
        "voicedesk_calls_total",
        "counter",
        "Calls placed since start.",
        c(&s.calls_total),
    );
    metric(
        &mut out,
        "voicedesk_calls_answered_total",
        "counter",
        "Calls answered by an agent since start.",
        c(&s.calls_answered),
    );
    metric(
        &mut out,
        "voicedesk_client_errors_total",
        "counter",
        "Client messages refused with an error.",
        c(&s.client_errors),
    );
    metric(
        &mut out,
        "voicedesk_call_sides_lost_total",
        "counter",
        "Citizens and agents whose connection was lost during an answered call (the call waited for them).",
        c(&s.sides_lost),
    );
    metric(
        &mut out,
        "voicedesk_call_sides_back_total",
        "counter",
        "Citizens and agents who came back to their call with a new media leg within the grace period.",
        c(&s.sides_back),
    );
    metric(
        &mut out,
        "voicedesk_core_invariant_violations_total",
        "counter",
        "Inputs the call-center core refused because one of its invariants did not hold (logged; the service went on).",
        c(&s.invariant_violations),
    );
    metric(
        &mut out,
        "voicedesk_core_store_failures_total",
        "counter",
        "Store operations of the call-center core that failed (the core decided what the client was told).",
        c(&s.store_failures),
    );
    metric(
        &mut out,
        "voicedesk_connections_refused_total",
        "counter",
        "TCP connections refused at the connection cap (503).",
        c(&s.connections_refused),
    );
    metric(
        &mut out,
        "voicedesk_rate_limited_total",
        "counter",
        "Requests and WebSocket messages refused by a rate limit.",
        c(&s.rate_limited),
    );
    metric(
        &mut out,
        "voicedesk_ws_dropped_total",
        "counter",
        "WebSocket connections closed for abuse or neglect (too fast, not reading, idle).",
        c(&s.connections_dropped),
    );
    metric(
        &mut out,
        "voicedesk_turn_credentials_issued_total",
        "counter",
        "TURN credentials handed out by /api/ice-servers.",
        c(&s.turn_credentials_issued),
    );
    metric(
        &mut out,
        "voicedesk_relay_legs",
        "gauge",
        "Open media legs.",
        r.legs_open.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "voicedesk_relay_legs_failed_total",
        "counter",
        "Media legs ended by failure or silence.",
        r.legs_failed.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_datagrams_received_total",
        "counter",
        "UDP datagrams received on the media port.",
        r.datagrams_in.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_datagrams_sent_total",
        "counter",
        "UDP datagrams sent from the media port.",
        r.datagrams_out.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_datagrams_dropped_total",
        "counter",
        "Datagrams dropped (unknown sender or not STUN/DTLS/RTP).",
        r.datagrams_dropped.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_bytes_received_total",
        "counter",
        "Bytes received on the media port.",
        r.bytes_in.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_bytes_sent_total",
        "counter",
        "Bytes sent from the media port.",
        r.bytes_out.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_rtp_packets_received_total",
        "counter",
        "RTP packets received from participants.",
        r.rtp_in.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_rtp_packets_forwarded_total",
        "counter",
        "RTP packets written to receive slots.",
        r.rtp_forwarded.get(),
    );
    metric(
        &mut out,
        "voicedesk_relay_hold_packets_sent_total",
        "counter",
        "Hold-tune packets played to queued citizens.",
        r.hold_packets_sent.get(),
    );
    out
}

/// Appends the cluster node's figures: whether it leads, its epoch, takeovers, the last log
/// record applied and the replay lag (`None`: NATS did not answer, the lag is left out). The
/// roles are a label of `voicedesk_cluster_node`.
pub fn render_cluster(out: &mut String, c: &crate::cluster::ClusterStatus, lag: Option<u64>) {
    let _ = writeln!(
        out,
        "# HELP voicedesk_cluster_node This node's name and roles.\n\
         # TYPE voicedesk_cluster_node gauge\n\
         voicedesk_cluster_node{{node=\"{}\",roles=\"{}\"}} 1",
        c.node,
        c.roles.names()
    );
    let l = |a: &AtomicU64| a.load(Ordering::Acquire);
    let leading = u8::from(c.leading.load(Ordering::Acquire));
    metric(out, "voicedesk_cluster_leading", "gauge", "1 while this node leads the core.", leading);
    metric(out, "voicedesk_cluster_epoch", "gauge", "The epoch led or last led.", l(&c.epoch));
    metric(
        out,
        "voicedesk_cluster_takeovers_total",
        "counter",
        "Times this node became leader.",
        l(&c.takeovers),
    );
    metric(
        out,
        "voicedesk_cluster_applied_record",
        "gauge",
        "The last log record applied to this node's core.",
        l(&c.applied),
    );
    if let Some(lag) = lag {
        metric(
            out,
            "voicedesk_cluster_replay_lag_records",
            "gauge",
            "Log records not yet applied to this node's core.",
            lag,
        );
    }
}
