//! Bad input gets a clear error, changes nothing, and leaves the rest of the system working.

use std::time::Duration;

use voicedesk_protocol::{ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient, handshake_status, login};
use voicedesk_tests::{STEP, TestServer, http, place_call, wait_offer};

async fn expect_error(ws: &mut SignalingClient, code: ErrorCode) -> String {
    match ws.recv(STEP).await.expect("a reply") {
        ServerMessage::Error { code: got, message, .. } => {
            assert_eq!(got, code, "error code for: {message}");
            message
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

/// After each bad message the same connection still answers a ping.
async fn still_usable(ws: &mut SignalingClient) {
    ws.send(&ClientMessage::Ping).await.unwrap();
    assert_eq!(ws.recv(STEP).await.unwrap(), ServerMessage::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_and_oversized_messages_get_errors_and_the_connection_stays() {
    let server = TestServer::start().await.unwrap();
    let mut ws = server.citizen().await.unwrap();

    ws.send_raw_text("{not json").await.unwrap();
    expect_error(&mut ws, ErrorCode::BadJson).await;
    still_usable(&mut ws).await;

    ws.send_raw_text(r#"{"type":"teleport"}"#).await.unwrap();
    expect_error(&mut ws, ErrorCode::UnknownType).await;
    still_usable(&mut ws).await;

    ws.send_raw_text(r#"{"type":"call"}"#).await.unwrap();
    expect_error(&mut ws, ErrorCode::UnknownType).await;

    ws.send_raw_binary(&[1, 2, 3]).await.unwrap();
    expect_error(&mut ws, ErrorCode::BadJson).await;

    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    ws.send_raw_text(&huge).await.unwrap();
    let text = expect_error(&mut ws, ErrorCode::MessageTooLarge).await;
    assert!(text.contains("65536"), "{text}");
    still_usable(&mut ws).await;

    ws.send_raw_text_bytes(&[0xff, 0xfe, b'{']).await.ok();
    // Invalid UTF-8 in a text frame is a protocol violation: the server closes the socket.
    assert!(ws.wait_closed(STEP).await.is_ok());

    // A frame far beyond the hard limit closes the connection instead of being buffered.
    let mut ws = server.citizen().await.unwrap();
    let giant = "y".repeat(8 * MAX_MESSAGE_BYTES);
    let _ = ws.send_raw_text(&giant).await;
    assert!(ws.wait_closed(STEP).await.is_ok());

    // Other connections were not affected.
    let mut other = server.citizen().await.unwrap();
    still_usable(&mut other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_both_ways() {
    let server = TestServer::start().await.unwrap();
    let mut citizen = server.citizen().await.unwrap();
    citizen.send(&ClientMessage::Accept { call_id: "x".into() }).await.unwrap();
    expect_error(&mut citizen, ErrorCode::Forbidden).await;
    citizen.send(&ClientMessage::MediaConnect { sdp: "v=0".into() }).await.unwrap();
    expect_error(&mut citizen, ErrorCode::Forbidden).await;

    let mut agent = server.ready_agent("agent1").await.unwrap();
    agent.ws.send(&ClientMessage::Call { service: None, sdp: "v=0".into() }).await.unwrap();
    expect_error(&mut agent.ws, ErrorCode::Forbidden).await;
    agent.ws.send(&ClientMessage::Resume { citizen_token: "0".repeat(64) }).await.unwrap();
    expect_error(&mut agent.ws, ErrorCode::Forbidden).await;
    still_usable(&mut agent.ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_the_wrong_state_change_nothing() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut other = server.ready_agent("agent2").await.unwrap();

    // Accepting a call that does not exist, or is not offered to you.
    agent.ws.send(&ClientMessage::Accept { call_id: "no-such-call".into() }).await.unwrap();
    expect_error(&mut agent.ws, ErrorCode::UnknownCall).await;
    let citizen = place_call(&server, "pension_benefit_inquiry").await.unwrap();
    let call_id = wait_offer(&mut agent).await.unwrap();
    other.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    expect_error(&mut other.ws, ErrorCode::InvalidState).await;
    other.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    expect_error(&mut other.ws, ErrorCode::InvalidState).await;
    // The offer still rings at the right agent, who can accept it.
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    // A citizen cannot hang up somebody else's call.
    let mut stranger = server.citizen().await.unwrap();
    stranger.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    expect_error(&mut stranger, ErrorCode::UnknownCall).await;
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert!(record.ended_at_ms.is_none(), "the call is still going");
    drop(citizen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_that_are_not_audio_are_refused_without_a_call() {
    let server = TestServer::start().await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    ws.send(&ClientMessage::Call { service: None, sdp: "this is not sdp".into() }).await.unwrap();
    expect_error(&mut ws, ErrorCode::BadSdp).await;
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    let video = offer.replace("m=audio", "m=video");
    ws.send(&ClientMessage::Call { service: None, sdp: video }).await.unwrap();
    let text = expect_error(&mut ws, ErrorCode::BadSdp).await;
    assert!(text.contains("audio"), "{text}");
    assert_eq!(server.store.count_calls().await.unwrap(), 0, "no call was recorded");
    // The same connection can still place a proper call (with nobody signed in it is turned
    // away at once, without media, and recorded).
    ws.send(&ClientMessage::Call { service: None, sdp: offer }).await.unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: voicedesk_protocol::EndReason::NoAgents, .. }
    ));
    assert_eq!(server.store.count_calls().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_on_the_media_port_do_not_disturb_a_call() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    citizen.media.start_sending(*b"CITG");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id }).await.unwrap();
    agent.media.wait_tag_count(0, *b"CITG", 10, STEP).await.unwrap();

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media = server.media_addr();
    let junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 1200],
        vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42], // truncated STUN
        vec![0x80; 40],                                       // RTP-looking from a stranger
        vec![22, 254, 253, 0, 0, 0, 0],                       // DTLS-looking
    ];
    for _ in 0..50 {
        for d in &junk {
            socket.send_to(d, media).await.unwrap();
        }
        // Paced, so the kernel's receive buffer does not drop any before the relay sees them.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = agent.media.received(0).count(b"CITG");
    agent.media.wait_tag_count(0, *b"CITG", before + 25, STEP).await.unwrap();
    let (_, metrics) = http(&server.base_url, "GET", "/metrics", None).await.unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("voicedesk_relay_datagrams_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(dropped >= 240, "the 250 garbage datagrams were counted as dropped: {dropped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_forged_or_expired_sessions_are_refused() {
    let server = TestServer::start().await.unwrap();
    let wrong_password = login(&server.base_url, "agent1", "nope").await.unwrap_err().to_string();
    let no_such_user = login(&server.base_url, "nobody", "demo").await.unwrap_err().to_string();
    assert!(wrong_password.contains("invalid_credentials"), "{wrong_password}");
    // No hint which part was wrong: the same answer for both.
    assert_eq!(wrong_password.replace("agent1", ""), no_such_user.replace("nobody", ""));

    let forged = "ab".repeat(32);
    let status = refused_with(&server.agent_ws(), &server.base_url, Some(&forged)).await;
    assert_eq!(status, 401);
    let status = refused_with(&server.agent_ws(), &server.base_url, None).await;
    assert_eq!(status, 401);

    // An expired session: valid token, expiry in the past.
    let token = voicedesk_signaling::auth::new_token();
    let user = server.store.user_by_username("agent1").await.unwrap().unwrap();
    server
        .store
        .create_session(&voicedesk_store::NewSession {
            token_hash: voicedesk_signaling::auth::token_hash(&token),
            role: voicedesk_protocol::Role::Agent,
            user_id: Some(user.id),
            created_at_ms: 0,
            expires_at_ms: 1,
        })
        .await
        .unwrap();
    let status = refused_with(&server.agent_ws(), &server.base_url, Some(&token)).await;
    assert_eq!(status, 401);

    // A staff account is not an agent.
    let staff = login(&server.base_url, "staff1", "demo").await.unwrap();
    let status = refused_with(&server.agent_ws(), &server.base_url, Some(&staff)).await;
    assert_eq!(status, 403);

    // A foreign origin cannot open the socket at all.
    let status = refused_with(&server.citizen_ws(), "http://evil.example", None).await;
    assert_eq!(status, 403);

    // A forged citizen resume token is refused and the connection goes on.
    let mut citizen = server.citizen().await.unwrap();
    citizen.send(&ClientMessage::Resume { citizen_token: forged }).await.unwrap();
    expect_error(&mut citizen, ErrorCode::SessionExpired).await;
    still_usable(&mut citizen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_resumes_an_earlier_identity() {
    let server = TestServer::start().await.unwrap();
    let mut first =
        SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await.unwrap();
    let ServerMessage::Welcome { citizen_token: Some(token), .. } = first.recv(STEP).await.unwrap()
    else {
        panic!("no token")
    };
    // A session is kept only once it holds something (an idle one is deleted when its
    // connection closes): here, a message left.
    first
        .send(&ClientMessage::LeaveMessage {
            client_id: "resume-test-message-0001".into(),
            service: None,
            name: None,
            phone: None,
            body: "kept for the next connection".into(),
            call_id: None,
        })
        .await
        .unwrap();
    first.recv_until(STEP, |m| matches!(m, ServerMessage::MessageSaved { .. })).await.unwrap();
    first.close().await.unwrap();
    let mut second = server.citizen().await.unwrap();
    second.send(&ClientMessage::Resume { citizen_token: token.clone() }).await.unwrap();
    assert_eq!(
        second.recv(STEP).await.unwrap(),
        ServerMessage::Resumed { citizen_token: token, parked_call: None, active_call: None }
    );
}

/// The HTTP status a refused WebSocket handshake got.
async fn refused_with(url: &str, origin: &str, cookie: Option<&str>) -> u16 {
    let error = SignalingClient::connect(url, origin, cookie)
        .await
        .expect_err("the handshake must be refused");
    handshake_status(&error).unwrap_or_else(|| panic!("no HTTP status in {error:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_agents_connection_and_session() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (status, _) =
        http(&server.base_url, "POST", "/api/logout", Some(&agent.cookie)).await.unwrap();
    assert_eq!(status, 204);
    let ended = agent.ws.recv(STEP).await.unwrap();
    assert!(
        matches!(ended, ServerMessage::Error { code: ErrorCode::SessionExpired, .. }),
        "{ended:?}"
    );
    agent.ws.wait_closed(STEP).await.unwrap();
    let (status, _) = http(&server.base_url, "GET", "/api/me", Some(&agent.cookie)).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(refused_with(&server.agent_ws(), &server.base_url, Some(&agent.cookie)).await, 401);
}
