//! `/healthz` and `/metrics` tell an operator what the service is doing.

use voicedesk_protocol::{ClientMessage, EndReason, ServerMessage};
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

/// `/metrics` parsed by a Prometheus text-format parser (not the encoder's own code).
async fn scrape(server: &TestServer) -> prometheus_parse::Scrape {
    let (status, text) = http(&server.base_url, "GET", "/metrics", None).await.unwrap();
    assert_eq!(status, 200);
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("/metrics does not parse: {e}\n{text}"))
}

/// The value of the sample `name` whose labels include `labels` (a histogram's `_count` and
/// `_sum` are plain samples to the parser).
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name} is not a plain sample: {other:?}"),
        })
}

/// Every series the dashboard and the alert rules use, as documented on the page.
pub const DOCUMENTED_SERIES: &[&str] = &[
    "voicedesk_ws_connections",
    "voicedesk_queue_length",
    "voicedesk_active_calls",
    "voicedesk_calls_total",
    "voicedesk_calls_answered_total",
    "voicedesk_client_errors_total",
    "voicedesk_core_store_failures_total",
    "voicedesk_relay_legs",
    "voicedesk_relay_legs_by_state",
    "voicedesk_relay_rtp_packets_forwarded_total",
    "voicedesk_relay_busy_seconds_total",
    "voicedesk_relay_forwarded_packets_per_second",
    "voicedesk_relay_busy_seconds_per_packet",
    "voicedesk_relay_batch_seconds",
    "voicedesk_relay_leg_mos",
    "voicedesk_relay_leg_rtt_seconds",
    "voicedesk_queue_wait_seconds",
    "voicedesk_answer_after_offer_seconds",
    "voicedesk_call_setup_seconds",
    "voicedesk_call_handle_seconds",
    "voicedesk_ws_message_seconds",
    "voicedesk_store_operation_seconds",
    "voicedesk_store_errors_total",
    "voicedesk_call_mos",
];

/// The scripted calls: one that waits, is answered and talked; one that gives up while
/// queued (the agent is in after-call work). Returns once the driver has handled both ends.
async fn answered_and_abandoned_calls(server: &TestServer) {
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(server, "medical_reimbursement").await.unwrap();
    citizen.media.start_sending(*b"CITM");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.wait_tag_count(0, *b"CITM", 10, STEP).await.unwrap();
    citizen.ws.send(&ClientMessage::HangUp { call_id }).await.unwrap();
    wait_ended(&mut agent.ws).await.unwrap();

    let mut second = place_call(server, "medical_reimbursement").await.unwrap();
    let second_id = second.call_id.clone();
    second.ws.send(&ClientMessage::HangUp { call_id: second_id }).await.unwrap();
    assert_eq!(wait_ended(&mut second.ws).await.unwrap(), EndReason::Abandoned);
    // The page is read after the driver handled the end (its gauges say so).
    metrics_when(server, "voicedesk_active_calls", 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_page_parses_and_its_histograms_move_with_a_waited_and_an_abandoned_call() {
    let mut server = TestServer::start().await.unwrap();
    answered_and_abandoned_calls(&server).await;
    let after = scrape(&server).await;
    for name in DOCUMENTED_SERIES {
        assert!(after.docs.contains_key(*name), "{name} is not on the page");
    }
    let queue = |outcome: &str| {
        let labels = [("queue", "medical"), ("outcome", outcome)];
        (
            sample(&after, "voicedesk_queue_wait_seconds_count", &labels),
            sample(&after, "voicedesk_queue_wait_seconds_sum", &labels),
        )
    };
    let (answered, answered_sum) = queue("answered");
    assert_eq!(answered, Some(1.0), "one answered wait");
    assert!(answered_sum.unwrap() > 0.0, "the answered call waited");
    assert_eq!(queue("abandoned").0, Some(1.0), "one abandoned wait");
    assert_eq!(
        sample(&after, "voicedesk_call_handle_seconds_count", &[("queue", "medical")]),
        Some(1.0)
    );
    assert_eq!(sample(&after, "voicedesk_answer_after_offer_seconds_count", &[]), Some(1.0));
    assert_eq!(
        sample(&after, "voicedesk_call_setup_seconds_count", &[("step", "queued")]),
        Some(2.0)
    );
    assert_eq!(
        sample(&after, "voicedesk_call_setup_seconds_count", &[("step", "bridged")]),
        Some(1.0)
    );
    assert!(
        sample(&after, "voicedesk_ws_message_seconds_count", &[("type", "call")]).unwrap() >= 2.0
    );
    let inserts = [("operation", "insert_call")];
    assert_eq!(sample(&after, "voicedesk_store_operation_seconds_count", &inserts), Some(2.0));
    assert!(sample(&after, "voicedesk_relay_batch_seconds_count", &[]).unwrap() > 0.0);
    assert_eq!(sample(&after, "voicedesk_calls_total", &[]), Some(2.0));
    // Bounded labels only: never a call, citizen or session id.
    let allowed = ["queue", "outcome", "step", "type", "operation", "side", "state"];
    for s in &after.samples {
        for (k, _) in s.labels.iter() {
            assert!(allowed.contains(&k.as_str()), "{} has label {k}", s.metric);
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_citizen_scores_below_the_clean_agent_live_and_in_the_call_record() {
    let mut server = TestServer::start().await.unwrap();
    let mut staff = server.ready_staff("staff1").await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    // 5 % loss on the citizen's way to the relay, the same packets every run.
    citizen.media.set_send_loss(20);
    citizen.media.start_sending(*b"CITM");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.start_sending(*b"AGNT");
    agent.media.wait_tag_count(0, *b"CITM", 60, STEP).await.unwrap();
    citizen.media.wait_tag_count(0, *b"AGNT", 60, STEP).await.unwrap();

    // The supervisor sees it on the wallboard while the call goes on.
    let board = staff
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::Wallboard(b) if b.calls.iter().any(|c| {
                c.call_id == call_id
                    && c.agent_quality.is_some_and(|q| q.rtt_ms.is_some())
                    && c.citizen_quality.is_some_and(|q| q.loss_pct >= 4.0 && q.rtt_ms.is_some())
            }))
        })
        .await
        .unwrap();
    let ServerMessage::Wallboard(board) = board else { unreachable!() };
    let row = board.calls.iter().find(|c| c.call_id == call_id).unwrap();
    let (citizen_q, agent_q) = (row.citizen_quality.unwrap(), row.agent_quality.unwrap());
    assert!(citizen_q.loss_pct < 6.0, "{citizen_q:?}");
    assert!(agent_q.loss_pct < 0.5, "{agent_q:?}");
    assert!(agent_q.mos > 4.0, "{agent_q:?}");
    assert!(citizen_q.mos < agent_q.mos - 0.5, "citizen {citizen_q:?} agent {agent_q:?}");
    // Both ends are on this machine: the round trip the relay measured from RTCP is a
    // loopback's (well under the 20 ms one way the estimate assumes unmeasured), with room
    // for a loaded test machine.
    for q in [citizen_q, agent_q] {
        let rtt = q.rtt_ms.unwrap();
        assert!((0.0..200.0).contains(&rtt), "{q:?}");
    }

    // Kept with the call record, in the same commit as its end: once `call_ended` is out
    // (it waits for that commit), the figures are there.
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    wait_ended(&mut agent.ws).await.unwrap();
    let kept = server.store.call_quality(&call_id).await.unwrap();
    assert_eq!(kept.iter().map(|q| q.side).collect::<Vec<_>>(), ["citizen", "agent"]);
    assert!(kept[0].mos < kept[1].mos - 0.5, "{kept:?}");
    assert!((4.0..6.0).contains(&kept[0].loss_pct), "{kept:?}");
    assert!(kept.iter().all(|q| q.rtt_ms.is_some_and(|rtt| rtt < 200.0)), "{kept:?}");

    // And in the histogram, one observation per side.
    let page = scrape(&server).await;
    assert_eq!(sample(&page, "voicedesk_call_mos_count", &[("side", "citizen")]), Some(1.0));
    assert_eq!(sample(&page, "voicedesk_call_mos_count", &[("side", "agent")]), Some(1.0));
    server.shutdown().await;
}

/// The `voicedesk_*` names in a PromQL expression.
fn series_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("voicedesk_") {
        let tail = &rest[at..];
        let end =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Whether the page documents `name` (a histogram's `_bucket`, `_sum` and `_count` belong to
/// its base name).
fn on_page(page: &prometheus_parse::Scrape, name: &str) -> bool {
    page.docs.contains_key(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(|base| page.docs.contains_key(base)))
}

fn deploy_file(path: &str) -> String {
    let at = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(path);
    std::fs::read_to_string(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alert_rules_name_only_series_on_the_metrics_page() {
    let mut server = TestServer::start().await.unwrap();
    answered_and_abandoned_calls(&server).await;
    let page = scrape(&server).await;
    server.shutdown().await;

    // The dashboard: Grafana's JSON model, every panel with a query over existing series.
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy_file("grafana/voicedesk.json")).expect("dashboard is JSON");
    assert_eq!(dashboard["uid"], "voicedesk");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queried = 0;
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        let grid = &panel["gridPos"];
        assert!(["h", "w", "x", "y"].iter().all(|k| grid[k].is_u64()), "{title}: gridPos");
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: targets"));
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}: expr"));
            let names = series_in(expr);
            assert!(!names.is_empty() || expr.contains("up{"), "{title}: {expr}");
            for name in names {
                assert!(on_page(&page, &name), "panel {title:?} queries {name}, not on /metrics");
            }
            queried += 1;
        }
    }
    assert!(queried >= 20, "{queried} queries");
    // Each series the issue names has a panel.
    let all: String = panels.iter().map(|p| p["targets"].to_string()).collect();
    for name in DOCUMENTED_SERIES {
        assert!(all.contains(name), "no panel shows {name}");
    }

    // The alert rules: the structure Prometheus loads, and only existing series.
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&deploy_file("prometheus/alerts.yml")).expect("alerts are YAML");
    let groups = rules["groups"].as_sequence().expect("groups");
    let mut alerts = Vec::new();
    for group in groups {
        assert!(group["name"].as_str().is_some());
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("alert name").to_owned();
            let expr = rule["expr"].as_str().expect("expr");
            assert!(rule["labels"]["severity"].as_str().is_some(), "{name}: severity");
            assert!(rule["annotations"]["summary"].as_str().is_some(), "{name}: summary");
            for series in series_in(expr) {
                assert!(on_page(&page, &series), "alert {name} uses {series}, not on /metrics");
            }
            alerts.push(name);
        }
    }
    for wanted in [
        "ServiceLevelBelowTarget",
        "AbandonRateHigh",
        "RelayNearCapacity",
        "StoreErrors",
        "NodeDown",
    ] {
        assert!(alerts.iter().any(|a| a.ends_with(wanted)), "no {wanted} alert in {alerts:?}");
    }
    // Prometheus's own checker, where it is installed (Debian: `apt-get install prometheus`).
    if let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/prometheus/alerts.yml"),
        )
        .output()
    {
        assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    }
}
