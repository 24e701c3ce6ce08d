//! Nothing acknowledged is lost: while a citizen submits text and voice messages in a stream,
//! the real binary is killed with SIGKILL and restarted on the same data directory. Every
//! acknowledged message is there, a retry of the unacknowledged ones creates no duplicate, and
//! no voice file is left without its row.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient};

const STEP: Duration = Duration::from_secs(15);
/// Text messages sent in one burst, without waiting for their acknowledgements.
const BURST: usize = 300;
/// The server is killed once this many of them are acknowledged.
const KILL_AFTER_ACKS: usize = 10;

fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicedesk"))
        .args(["--demo", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0"])
        // One citizen sends hundreds of messages in a burst: the abuse limits (tested in
        // tests/tests/abuse.rs) are raised so this test measures durability alone.
        .args(["--ws-messages-per-sec", "100000", "--address-messages-per-sec", "100000"])
        .args(["--messages-per-citizen-per-day", "100000", "--data-dir"])
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
    // Keep reading stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, url)
}

/// A citizen's connection and its resumable session token.
async fn citizen(url: &str) -> (SignalingClient, String) {
    let ws_url = format!("{}/ws", url.replacen("http", "ws", 1));
    let mut ws = SignalingClient::connect(&ws_url, url, None).await.unwrap();
    let welcome =
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let ServerMessage::Welcome { citizen_token: Some(token), .. } = welcome else {
        panic!("a citizen's welcome carries a token: {welcome:?}");
    };
    (ws, token)
}

/// The same citizen coming back on a new connection (as the hall does after a reload): a
/// retry is only the same message when the same citizen sends it.
async fn citizen_again(url: &str, token: &str) -> SignalingClient {
    let (mut ws, _) = citizen(url).await;
    ws.send(&ClientMessage::Resume { citizen_token: token.to_owned() }).await.unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::Resumed { .. })).await.unwrap();
    ws
}

fn text(i: usize) -> ClientMessage {
    ClientMessage::LeaveMessage {
        client_id: format!("crash-test-message-{i:04}"),
        service: Some("pension_claim".into()),
        name: None,
        phone: None,
        body: format!("第 {i} 条留言 message number {i}"),
        call_id: None,
    }
}

/// Records a short voice message on a leg of its own; returns the finish message to send.
async fn record_voice(ws: &mut SignalingClient, client_id: &str) -> (MediaLeg, ClientMessage) {
    let leg = MediaLeg::new("voice", 2).await.unwrap();
    let start = ClientMessage::StartVoiceMessage {
        call_id: None,
        sdp: Some(leg.create_offer().await.unwrap()),
        service: None,
    };
    ws.send(&start).await.unwrap();
    let ServerMessage::VoiceRecording { sdp: Some(answer), .. } =
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::VoiceRecording { .. })).await.unwrap()
    else {
        panic!("expected voice_recording with an answer")
    };
    leg.apply_answer(&answer).await.unwrap();
    leg.wait_connected(STEP).await.unwrap();
    leg.start_sending(*b"VOIC");
    // A quarter of a second of speech, counted in packets sent.
    leg.wait_sent(12, STEP).await.unwrap();
    let finish = ClientMessage::FinishVoiceMessage {
        client_id: client_id.to_owned(),
        name: None,
        phone: None,
    };
    (leg, finish)
}

fn saved(m: &ServerMessage) -> Option<(String, String)> {
    match m {
        ServerMessage::MessageSaved { client_id, ticket, .. } => {
            Some((client_id.clone(), ticket.clone()))
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_message_and_leaves_no_orphan_file() {
    let dir = std::env::temp_dir().join(format!("voicedesk-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut server, url) = start(&dir);
    let mut acked: HashMap<String, String> = HashMap::new();
    let (mut ws, token) = citizen(&url).await;

    // One voice message acknowledged before the crash, one in flight when it comes.
    let (_leg, finish) = record_voice(&mut ws, "crash-test-voice-0001").await;
    ws.send(&finish).await.unwrap();
    let reply = ws.recv_until(STEP, |m| saved(m).is_some()).await.unwrap();
    let (id, ticket) = saved(&reply).unwrap();
    acked.insert(id, ticket);
    let (_leg2, in_flight_voice) = record_voice(&mut ws, "crash-test-voice-0002").await;

    // A burst of text messages and the second voice message, then SIGKILL mid-stream.
    for i in 0..BURST {
        ws.send(&text(i)).await.unwrap();
    }
    ws.send(&in_flight_voice).await.unwrap();
    while acked.len() < 1 + KILL_AFTER_ACKS {
        let reply = ws.recv_until(STEP, |m| saved(m).is_some()).await.unwrap();
        let (id, ticket) = saved(&reply).unwrap();
        acked.insert(id, ticket);
    }
    server.kill().unwrap();
    let _ = server.wait();
    // Whatever else arrived before the socket died was acknowledged too.
    while let Ok(reply) = ws.recv(Duration::from_millis(200)).await {
        if let Some((id, ticket)) = saved(&reply) {
            acked.insert(id, ticket);
        }
    }
    assert!(acked.len() < BURST + 2, "the kill came mid-stream ({} acknowledged)", acked.len());

    // Restarted on the same data: every acknowledged message is there.
    let (mut server, url) = start(&dir);
    let store = voicedesk_store::open(&format!("sqlite:{}", dir.join("voicedesk.db").display()))
        .await
        .unwrap();
    for (client_id, ticket) in &acked {
        let m = store.message_by_ticket(ticket).await.unwrap();
        assert_eq!(m.map(|m| m.client_id).as_deref(), Some(client_id.as_str()), "{ticket}");
    }
    // The client retries every text message it has no acknowledgement for: no duplicates.
    let mut ws = citizen_again(&url, &token).await;
    let mut retried = 0;
    for i in 0..BURST {
        if acked.contains_key(&format!("crash-test-message-{i:04}")) {
            continue;
        }
        ws.send(&text(i)).await.unwrap();
        let reply = ws.recv_until(STEP, |m| saved(m).is_some()).await.unwrap();
        let (id, ticket) = saved(&reply).unwrap();
        acked.insert(id, ticket);
        retried += 1;
    }
    let all = store
        .messages(&voicedesk_store::MessageFilter { state: None, overdue_at_ms: None, limit: 1000 })
        .await
        .unwrap();
    let client_ids: HashSet<&str> = all.iter().map(|m| m.client_id.as_str()).collect();
    assert_eq!(client_ids.len(), all.len(), "no client id twice");
    let texts = all.iter().filter(|m| m.client_id.starts_with("crash-test-message-")).count();
    assert_eq!(texts, BURST, "every text message exactly once after {retried} retries");

    // No orphan: the voice directory holds exactly the files the rows reference.
    let referenced: HashSet<String> = store.voice_files().await.unwrap().into_iter().collect();
    let on_disk: HashSet<String> = std::fs::read_dir(dir.join("voice"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, referenced, "voice files on disk = voice files referenced");
    assert!(!referenced.is_empty(), "the acknowledged voice message kept its file");
    eprintln!(
        "crash test: {} acknowledged before the kill, {retried} retried, {} voice files",
        acked.len() - retried,
        referenced.len()
    );

    server.kill().unwrap();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
