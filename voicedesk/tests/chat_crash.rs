//! Nothing acknowledged is lost, for chats too (issue 16): while three citizens send bursts of
//! chat texts to one agent, the real binary is killed with SIGKILL and restarted on the same
//! data directory. Every text acknowledged with `chat_sent` is there under its seq, each chat
//! numbered without gaps, and the chats left open by the crash are ended `server_shutdown` at
//! the restart.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use voicedesk_protocol::{AgentActivity, AgentAvailability, ClientMessage, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient};

const STEP: Duration = Duration::from_secs(15);
/// Chats at once (the default chat capacity of the one agent).
const CHATS: usize = 3;
/// Texts each citizen sends in one burst, without waiting for acknowledgements (the flood
/// limit of one side of a chat).
const BURST: usize = 10;
/// The server is killed once this many texts are acknowledged.
const KILL_AFTER_ACKS: usize = 5;

fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicedesk"))
        .args(["--demo", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0"])
        .args(["--ws-messages-per-sec", "100000", "--address-messages-per-sec", "100000"])
        .arg("--data-dir")
        .arg(dir)
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
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, url)
}

async fn ready_agent(url: &str) -> (SignalingClient, MediaLeg) {
    let cookie =
        voicedesk_softphone::login(url, "agent1", voicedesk_signaling::demo::DEMO_PASSWORD)
            .await
            .unwrap();
    let ws_url = format!("{}/ws?role=agent", url.replacen("http", "ws", 1));
    let mut ws = SignalingClient::connect(&ws_url, url, Some(&cookie)).await.unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let headset = MediaLeg::new("agent1", 2).await.unwrap();
    ws.send(&ClientMessage::MediaConnect { sdp: headset.create_offer().await.unwrap() })
        .await
        .unwrap();
    let ServerMessage::MediaAnswer { sdp } =
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. })).await.unwrap()
    else {
        unreachable!()
    };
    headset.apply_answer(&sdp).await.unwrap();
    headset.wait_connected(STEP).await.unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await.unwrap();
    ws.send(&ClientMessage::SetState { state: AgentAvailability::Available, reason: None })
        .await
        .unwrap();
    ws.recv_until(STEP, |m| {
        matches!(m, ServerMessage::AgentState { state: AgentActivity::Available, .. })
    })
    .await
    .unwrap();
    (ws, headset)
}

fn text(chat_id: &str, i: usize) -> ClientMessage {
    ClientMessage::SendChat {
        chat_id: chat_id.to_owned(),
        client_id: format!("c0ffee00-crash-chat-{i:012}"),
        text: format!("第 {i} 条 text number {i}"),
    }
}

/// A citizen's chat accepted by the agent: its connection and id.
async fn chat(url: &str, agent: &mut SignalingClient) -> (SignalingClient, String) {
    let ws_url = format!("{}/ws", url.replacen("http", "ws", 1));
    let mut citizen = SignalingClient::connect(&ws_url, url, None).await.unwrap();
    citizen.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let start = ClientMessage::StartChat { service: Some("pension_benefit_inquiry".into()) };
    citizen.send(&start).await.unwrap();
    let ServerMessage::ChatQueued { chat_id } =
        citizen.recv_until(STEP, |m| matches!(m, ServerMessage::ChatQueued { .. })).await.unwrap()
    else {
        unreachable!()
    };
    agent.recv_until(STEP, |m| matches!(m, ServerMessage::ChatOffered { .. })).await.unwrap();
    agent.send(&ClientMessage::Accept { call_id: chat_id.clone() }).await.unwrap();
    citizen.recv_until(STEP, |m| matches!(m, ServerMessage::ChatConnected { .. })).await.unwrap();
    (citizen, chat_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_chat_text() {
    let dir = std::env::temp_dir().join(format!("voicedesk-chat-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut server, url) = start(&dir);
    let (mut agent, _headset) = ready_agent(&url).await;
    let mut chats = Vec::new();
    for _ in 0..CHATS {
        chats.push(chat(&url, &mut agent).await);
    }

    // Every citizen sends a burst; SIGKILL once a few texts are acknowledged.
    for (citizen, chat_id) in &mut chats {
        for i in 0..BURST {
            citizen.send(&text(chat_id, i)).await.unwrap();
        }
    }
    // (chat id, client id) → seq.
    let mut acked: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (first, first_id) = &mut chats[0];
    while acked.len() < KILL_AFTER_ACKS {
        let reply =
            first.recv_until(STEP, |m| matches!(m, ServerMessage::ChatSent { .. })).await.unwrap();
        if let ServerMessage::ChatSent { client_id, seq, .. } = reply {
            acked.insert((first_id.clone(), client_id), seq);
        }
    }
    server.kill().unwrap();
    let _ = server.wait();
    // Whatever else arrived before the sockets died was acknowledged too.
    for (citizen, chat_id) in &mut chats {
        for reply in citizen.take_skipped() {
            if let ServerMessage::ChatSent { client_id, seq, .. } = reply {
                acked.insert((chat_id.clone(), client_id), seq);
            }
        }
        while let Ok(reply) = citizen.recv(Duration::from_millis(200)).await {
            if let ServerMessage::ChatSent { client_id, seq, .. } = reply {
                acked.insert((chat_id.clone(), client_id), seq);
            }
        }
    }
    let total = CHATS * BURST;
    assert!(acked.len() < total, "the kill came mid-stream ({} of {total} acked)", acked.len());

    // Restarted on the same data: every acknowledged text is there under its seq.
    let (mut server, _url) = start(&dir);
    let store = voicedesk_store::open(&format!("sqlite:{}", dir.join("voicedesk.db").display()))
        .await
        .unwrap();
    let mut stored_total = 0;
    for (_, chat_id) in &chats {
        let stored = store.chat_messages(chat_id, 0, 500).await.unwrap();
        stored_total += stored.len();
        let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>(), "numbered without gaps");
        let by_client: BTreeMap<&str, i64> =
            stored.iter().map(|m| (m.client_id.as_str(), m.seq)).collect();
        for ((chat, client_id), seq) in &acked {
            if chat == chat_id {
                let found = by_client.get(client_id.as_str()).copied();
                assert_eq!(found, Some(*seq as i64), "{client_id}");
            }
        }
        let row = store.chat(chat_id).await.unwrap().unwrap();
        assert_eq!(row.end_reason.as_deref(), Some("server_shutdown"), "closed at the restart");
    }
    eprintln!("chat crash test: {} acknowledged, {stored_total} stored", acked.len());

    server.kill().unwrap();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
