//! The real binary: it starts with no flags but ports and a data directory, serves a call, and
//! on SIGTERM ends the call for both sides, records it, and exits cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use voicedesk_protocol::{AgentAvailability, ClientMessage, EndReason, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient, login};

const STEP: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_active_calls_for_both_sides_and_exits_cleanly() {
    let dir = std::env::temp_dir().join(format!("voicedesk-sigterm-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicedesk"))
        .args(["--demo", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("voicedesk listening on ").map(str::to_owned))
        .expect("the listening line");
    let ws_base = url.replacen("http", "ws", 1);

    // An agent with a headset, available.
    let cookie = login(&url, "agent1", "demo").await.unwrap();
    let mut agent =
        SignalingClient::connect(&format!("{ws_base}/ws?role=agent"), &url, Some(&cookie))
            .await
            .unwrap();
    let headset = MediaLeg::new("agent", 2).await.unwrap();
    agent
        .send(&ClientMessage::MediaConnect { sdp: headset.create_offer().await.unwrap() })
        .await
        .unwrap();
    let ServerMessage::MediaAnswer { sdp } =
        agent.recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. })).await.unwrap()
    else {
        unreachable!()
    };
    headset.apply_answer(&sdp).await.unwrap();
    agent.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await.unwrap();
    agent
        .send(&ClientMessage::SetState { state: AgentAvailability::Available, reason: None })
        .await
        .unwrap();

    // A citizen calls and the agent answers.
    let mut citizen = SignalingClient::connect(&format!("{ws_base}/ws"), &url, None).await.unwrap();
    let phone = MediaLeg::new("citizen", 2).await.unwrap();
    citizen
        .send(&ClientMessage::Call { service: None, sdp: phone.create_offer().await.unwrap() })
        .await
        .unwrap();
    let ServerMessage::CallQueued { call_id, sdp } =
        citizen.recv_until(STEP, |m| matches!(m, ServerMessage::CallQueued { .. })).await.unwrap()
    else {
        unreachable!()
    };
    phone.apply_answer(&sdp).await.unwrap();
    agent.recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. })).await.unwrap();
    agent.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    citizen.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();

    for ws in [&mut citizen, &mut agent] {
        let ended =
            ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await.unwrap();
        assert_eq!(
            ended,
            ServerMessage::CallEnded {
                call_id: call_id.clone(),
                reason: EndReason::ServerShutdown,
                opens_at_ms: None,
            }
        );
    }
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status}");

    // The record survived the shutdown: a new run opens the same database and finds it ended.
    let store = voicedesk_store_check(&dir, &call_id).await;
    assert_eq!(store.as_deref(), Some("server_shutdown"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads the call's outcome straight from the SQLite file the binary wrote.
async fn voicedesk_store_check(dir: &std::path::Path, call_id: &str) -> Option<String> {
    let url = format!("sqlite:{}", dir.join("voicedesk.db").display());
    let store = voicedesk_store::open(&url).await.unwrap();
    store.call(call_id).await.unwrap().and_then(|c| c.outcome)
}
