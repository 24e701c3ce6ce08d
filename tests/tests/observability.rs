//! `/healthz` and `/metrics` tell an operator what the service is doing.

use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_tests::{STEP, TestServer, http, place_call, wait_ended, wait_offer};

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing from:\n{text}"))
}

/// `/metrics` once `name` reads `value`. The hub publishes its gauges after it has handled an
/// input, which may be just after the client got the reply (a race of a few microseconds), so
/// the page is read again until it agrees or `STEP` has passed.
async fn metrics_when(server: &TestServer, name: &str, value: f64) -> String {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (_, text) = http(&server.base_url, "GET", "/metrics", None).await.unwrap();
        if metric(&text, name) == value || tokio::time::Instant::now() >= deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_follow_a_call() {
    let mut server = TestServer::start().await.unwrap();
    let (status, body) = http(&server.base_url, "GET", "/healthz", None).await.unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));
    let (_, before) = http(&server.base_url, "GET", "/metrics", None).await.unwrap();
    assert_eq!(metric(&before, "voicedesk_calls_total"), 0.0);

    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    let queued = metrics_when(&server, "voicedesk_queue_length", 1.0).await;
    assert_eq!(metric(&queued, "voicedesk_queue_length"), 1.0);
    assert_eq!(metric(&queued, "voicedesk_active_calls"), 1.0);
    assert_eq!(metric(&queued, "voicedesk_ws_connections"), 2.0);
    assert_eq!(metric(&queued, "voicedesk_relay_legs"), 2.0);

    citizen.media.start_sending(*b"CITM");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.wait_tag_count(0, *b"CITM", 20, STEP).await.unwrap();
    let (_, talking) = http(&server.base_url, "GET", "/metrics", None).await.unwrap();
    assert_eq!(metric(&talking, "voicedesk_queue_length"), 0.0);
    assert_eq!(metric(&talking, "voicedesk_calls_answered_total"), 1.0);
    assert!(metric(&talking, "voicedesk_relay_rtp_packets_forwarded_total") >= 20.0);
    assert!(metric(&talking, "voicedesk_relay_bytes_received_total") > 0.0);

    citizen.ws.send(&ClientMessage::HangUp { call_id }).await.unwrap();
    wait_ended(&mut agent.ws).await.unwrap();
    let after = metrics_when(&server, "voicedesk_active_calls", 0.0).await;
    assert_eq!(metric(&after, "voicedesk_active_calls"), 0.0);
    assert_eq!(metric(&after, "voicedesk_calls_total"), 1.0);

    server.shutdown().await;
}
