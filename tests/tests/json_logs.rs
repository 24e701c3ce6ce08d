//! `--log-format json` for log collectors: every line is one JSON object, a line about a call
//! names the call in its `call` field, and no personal data reaches the log.
//!
//! The subscriber is the binary's own (`voicedesk_signaling::logs::json`), writing into a
//! buffer; it is this test process's global subscriber, so this file holds one test.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_signaling::logs;
use voicedesk_tests::{STEP, TestServer, place_call, wait_ended, wait_offer};

/// The log as written so far (the formatter writes each line in one call).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// What the citizen tells the service: none of it may be logged.
const NAME: &str = "Wang Xiansheng";
const PHONE: &str = "139 8765 4321";
const PHONE_DIGITS: &str = "13987654321";
const MESSAGE: &str = "Please call me back about my pension transfer from Chengdu";
const QUESTION: &str = "how do I move my pension from Chengdu";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_name_their_call_and_carry_no_personal_data() {
    let captured = Captured::default();
    // The production default, and everything of the service's own crates down to debug.
    let filter = EnvFilter::new(format!(
        "{},voicedesk_signaling=debug,voicedesk_call_center=debug,voicedesk_media_relay=debug",
        logs::DEFAULT_FILTER
    ));
    tracing::subscriber::set_global_default(logs::json(filter, captured.clone())).unwrap();

    let mut server = TestServer::start().await.unwrap();
    // A call, answered, talked and hung up.
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    citizen.media.start_sending(*b"CITM");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.wait_tag_count(0, *b"CITM", 10, STEP).await.unwrap();
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    wait_ended(&mut agent.ws).await.unwrap();
    // A question to the assistant and a text message with a name and a phone number.
    let mut ws = server.citizen().await.unwrap();
    ws.send(&ClientMessage::Ask { text: QUESTION.into() }).await.unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::Answer { .. })).await.unwrap();
    ws.send(&ClientMessage::LeaveMessage {
        client_id: "json-logs-test-message-1".into(),
        service: Some("pension_claim".into()),
        name: Some(NAME.into()),
        phone: Some(PHONE.into()),
        body: MESSAGE.into(),
        call_id: None,
    })
    .await
    .unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::MessageSaved { .. })).await.unwrap();
    server.shutdown().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).expect("the log is UTF-8");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.len() > 10, "{log}");
    for line in &lines {
        assert!(line.is_object(), "{line}");
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
        assert!(line["message"].is_string(), "{line}");
        let text = line.to_string();
        // A line that mentions the call names it where a collector looks for it.
        if text.contains(&call_id) {
            assert_eq!(line["call"].as_str(), Some(call_id.as_str()), "{line}");
        }
        // The events of one call's life name it.
        if ["call answered", "call ended"].contains(&line["message"].as_str().unwrap()) {
            assert!(line["call"].is_string(), "a line about a call without its id: {line}");
        }
        for secret in [NAME, PHONE, PHONE_DIGITS, MESSAGE, QUESTION, "Chengdu"] {
            assert!(!text.contains(secret), "personal data {secret:?} in the log: {line}");
        }
    }
    // The call's answer and end are there, with its id.
    for event in ["call answered", "call ended"] {
        assert!(
            lines.iter().any(|l| l["message"] == event && l["call"] == call_id.as_str()),
            "no {event:?} line for the call in:\n{log}"
        );
    }
}
