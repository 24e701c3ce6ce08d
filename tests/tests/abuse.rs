//! The limits a public service needs (issue 19): floods, clients that do not read, slow or
//! idle connections, too many connections, guessed ticket codes, oversized and malformed
//! frames, a message retry by someone else, and sessions that are never used. Each test
//! tightens only the limit it proves; every client comes from 127.0.0.1.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use voicedesk_protocol::{ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, ServerMessage};
use voicedesk_softphone::{SignalingClient, handshake_status};
use voicedesk_tests::{STEP, TestOptions, TestServer, generous_limits, http};

fn leave(client_id: &str, body: &str) -> ClientMessage {
    ClientMessage::LeaveMessage {
        client_id: client_id.to_owned(),
        service: None,
        name: None,
        phone: None,
        body: body.to_owned(),
        call_id: None,
    }
}

fn client_id(n: usize) -> String {
    format!("abuse-test-client-{n:08}")
}

/// Rows of `table` in the server's database.
async fn rows(server: &TestServer, table: &str) -> i64 {
    let db = voicedesk_store::SqliteStore::open(&server.database_url).await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(db.pool()).await.unwrap();
    db.pool().close().await;
    n
}

/// Waits until `rows(table)` is `expected` (the server settles a connection's rows after the
/// connection is gone), or fails after [`STEP`].
async fn wait_rows(server: &TestServer, table: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let n = rows(server, table).await;
        if n == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{table}: {n} rows, expected {expected}");
        tokio::task::yield_now().await;
    }
}

async fn expect_error(ws: &mut SignalingClient, code: ErrorCode) -> (String, Option<String>) {
    match ws.recv(STEP).await.expect("a reply") {
        ServerMessage::Error { code: got, message, request_type } => {
            assert_eq!(got, code, "error code for: {message}");
            (message, request_type)
        }
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

/// A WebSocket opened by hand on a socket with a small receive buffer, so that a client that
/// does not read fills up quickly. Returns the socket after the `101` response.
async fn raw_websocket(server: &TestServer) -> TcpStream {
    let addr = server.base_url.trim_start_matches("http://");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A client text frame (masked, as clients must; a zero mask leaves the payload as it is).
fn masked_text(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// Reads until the server closes the socket; returns what arrived.
async fn read_to_close(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(STEP, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_citizen_is_refused_then_disconnected_and_others_are_still_served() {
    let options = TestOptions {
        limits: voicedesk_signaling::limits::RateLimits {
            messages_per_connection: 10,
            strikes_before_close: 20,
            messages_per_citizen_per_day: 3,
            ..generous_limits()
        },
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    let mut flood = server.citizen().await.unwrap();
    for n in 0..10_000 {
        if flood.send(&leave(&client_id(n), "flood")).await.is_err() {
            break;
        }
    }
    // The server sends 1008, then reads and discards the rest of the flood until this side's
    // close: a socket closed with unread data would be reset, and the reset would discard the
    // refusals and the close frame still queued for this side.
    let close = flood.wait_closed(STEP).await.expect("a clean close, not a reset");
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    let refused = flood
        .skipped()
        .iter()
        .filter(|m| matches!(m, ServerMessage::Error { code: ErrorCode::RateLimited, .. }))
        .count();
    assert!(refused >= 20, "told it was too fast before the close ({refused} refusals)");
    let saved =
        flood.skipped().iter().filter(|m| matches!(m, ServerMessage::MessageSaved { .. })).count();
    assert_eq!(saved, 3, "the citizen's cap of messages");
    assert_eq!(rows(&server, "messages").await, 3, "nothing beyond the cap was stored");

    // Another citizen is served as usual.
    let mut other = server.citizen().await.unwrap();
    other.send(&ClientMessage::Ping).await.unwrap();
    assert_eq!(other.recv(STEP).await.unwrap(), ServerMessage::Pong);
    other.send(&leave(&client_id(99_999), "hello")).await.unwrap();
    assert!(matches!(other.recv(STEP).await.unwrap(), ServerMessage::MessageSaved { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_may_leave_only_so_many_messages_a_day_and_a_retry_still_gets_its_ticket() {
    let options = TestOptions {
        limits: voicedesk_signaling::limits::RateLimits {
            messages_per_citizen_per_day: 2,
            ..generous_limits()
        },
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let token = match ws.take_skipped().into_iter().next() {
        Some(ServerMessage::Welcome { citizen_token, .. }) => citizen_token,
        _ => None,
    };
    for n in 0..2 {
        ws.send(&leave(&client_id(n), "question")).await.unwrap();
        assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::MessageSaved { .. }));
    }
    ws.send(&leave(&client_id(2), "question")).await.unwrap();
    let (text, _) = expect_error(&mut ws, ErrorCode::RateLimited).await;
    assert!(text.contains("24 hours"), "{text}");
    // The retry of an acknowledged message is not a new one.
    ws.send(&leave(&client_id(1), "question")).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::MessageSaved { .. }));
    assert_eq!(rows(&server, "messages").await, 2);
    let _ = token;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_from_one_address_are_refused_with_429() {
    let options = TestOptions {
        limits: voicedesk_signaling::limits::RateLimits {
            connections_per_address_per_minute: 3,
            ..generous_limits()
        },
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.citizen().await.unwrap());
    }
    let refused = SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await;
    let error = refused.err().expect("the fourth connection is refused");
    assert_eq!(handshake_status(&error), Some(429), "{error:#}");
    // The open ones are not affected.
    open[0].send(&ClientMessage::Ping).await.unwrap();
    assert_eq!(open[0].recv(STEP).await.unwrap(), ServerMessage::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_disconnected_when_replies_come_from_the_reader() {
    let options = TestOptions { outgoing_queue: 8, ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let mut tcp = raw_websocket(&server).await;
    // Pings are answered by the connection's reader, not the hub. This client never reads.
    let batch: Vec<u8> = (0..1000).flat_map(|_| masked_text(br#"{"type":"ping"}"#)).collect();
    let mut sent = 0usize;
    let outcome = tokio::time::timeout(STEP * 3, async {
        loop {
            if tcp.write_all(&batch).await.is_err() {
                return;
            }
            sent += 1000;
            assert!(sent < 20_000_000, "still connected after {sent} unread pongs");
        }
    })
    .await;
    assert!(outcome.is_ok(), "the server did not disconnect a client that does not read");
    // Other clients are fine.
    let mut other = server.citizen().await.unwrap();
    other.send(&ClientMessage::Ping).await.unwrap();
    assert_eq!(other.recv(STEP).await.unwrap(), ServerMessage::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_above_the_hard_limit_closes_with_1009() {
    let server = TestServer::start().await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let _ = ws.send_raw_text(&"y".repeat(300 * 1024)).await;
    let close = ws.wait_closed(STEP).await.unwrap().expect("a close frame");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_less_messages_take_no_fields_and_errors_do_not_echo_the_input() {
    let server = TestServer::start().await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    ws.send_raw_text(r#"{"type":"ping","admin":true}"#).await.unwrap();
    let (text, request) = expect_error(&mut ws, ErrorCode::UnknownType).await;
    assert!(text.contains("no fields"), "{text}");
    assert_eq!(request.as_deref(), Some("ping"));

    let long_type = "t".repeat(60_000);
    ws.send_raw_text(&format!(r#"{{"type":"{long_type}"}}"#)).await.unwrap();
    let (text, request) = expect_error(&mut ws, ErrorCode::UnknownType).await;
    assert!(text.len() < 1024, "a {} byte error for a 60 KB type", text.len());
    assert_eq!(request, None, "an unknown type is not echoed as the request");
    ws.send(&ClientMessage::Ping).await.unwrap();
    assert_eq!(ws.recv(STEP).await.unwrap(), ServerMessage::Pong);
    let _ = MAX_MESSAGE_BYTES;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_resent_by_another_citizen_gets_no_ticket_and_the_first_code_still_works() {
    let server = TestServer::start().await.unwrap();
    let mut first = server.citizen().await.unwrap();
    first.send(&leave(&client_id(7), "我的养老金什么时候到账？")).await.unwrap();
    let (ticket, code) = match first.recv(STEP).await.unwrap() {
        ServerMessage::MessageSaved { ticket, code: Some(code), .. } => (ticket, code),
        other => panic!("expected message_saved, got {other:?}"),
    };
    let mut second = server.citizen().await.unwrap();
    second.send(&leave(&client_id(7), "我的养老金什么时候到账？")).await.unwrap();
    match second.recv(STEP).await.unwrap() {
        ServerMessage::Error { code: ErrorCode::InvalidState, message, .. } => {
            assert!(message.contains("client_id"), "{message}");
        }
        other => panic!("another citizen must not get the ticket: {other:?}"),
    }
    let (status, body) =
        http(&server.base_url, "GET", &format!("/api/tickets/{ticket}?code={code}"), None)
            .await
            .unwrap();
    assert_eq!(status, 200, "the first citizen's code still works: {body}");
    assert_eq!(rows(&server, "messages").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_citizen_connections_that_left_nothing_are_deleted_when_they_close() {
    let server = TestServer::start().await.unwrap();
    let baseline = rows(&server, "sessions").await;
    for _ in 0..30 {
        let mut ws = server.citizen().await.unwrap();
        ws.send(&ClientMessage::Ping).await.unwrap();
        assert_eq!(ws.recv(STEP).await.unwrap(), ServerMessage::Pong);
        ws.close().await.unwrap();
    }
    wait_rows(&server, "sessions", baseline).await;

    // A connection that left a message keeps its session (a reload may come back to it).
    let mut ws = server.citizen().await.unwrap();
    ws.send(&leave(&client_id(1), "hello")).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::MessageSaved { .. }));
    ws.close().await.unwrap();
    // And a fresh connection that closes right away goes, so the count settles at one more.
    let quick = server.citizen().await.unwrap();
    quick.close().await.unwrap();
    wait_rows(&server, "sessions", baseline + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ticket_codes_are_limited_per_address_over_http_and_the_websocket() {
    let options = TestOptions {
        limits: voicedesk_signaling::limits::RateLimits {
            ticket_checks_per_address_per_minute: 5,
            ..generous_limits()
        },
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    for n in 0..5 {
        let path = format!("/api/tickets/ABCD-EFGH?code=WRONG{n:03}");
        let (status, _) = http(&server.base_url, "GET", &path, None).await.unwrap();
        assert_eq!(status, 404);
    }
    let (status, body) =
        http(&server.base_url, "GET", "/api/tickets/ABCD-EFGH?code=WXYZ2345", None).await.unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("rate_limited"), "{body}");

    let mut ws = server.citizen().await.unwrap();
    ws.send(&ClientMessage::Rate {
        call_id: None,
        ticket: Some("ABCD-EFGH".into()),
        code: Some("WXYZ2345".into()),
        level: 5,
        comment: String::new(),
    })
    .await
    .unwrap();
    expect_error(&mut ws, ErrorCode::RateLimited).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_silent_websockets_are_disconnected() {
    let options = TestOptions {
        header_read_timeout: Duration::from_secs(1),
        ws_idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    let addr = server.base_url.trim_start_matches("http://").to_owned();

    // Half a request, then nothing.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.unwrap();
    read_to_close(&mut slow).await;

    // An upgraded socket that never answers the server's ping.
    let mut silent = raw_websocket(&server).await;
    let got = read_to_close(&mut silent).await;
    assert!(got.windows(2).any(|w| w == [0x89, 0x00]), "pinged first");
    assert!(got.windows(4).any(|w| w == [0x88, 0x06, 0x03, 0xE9]), "closed with 1001 (idle)");

    // A connection that answers pings stays.
    let mut alive = server.citizen().await.unwrap();
    for _ in 0..3 {
        alive.send(&ClientMessage::Ping).await.unwrap();
        assert_eq!(alive.recv(STEP).await.unwrap(), ServerMessage::Pong);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_with_503_and_healthz_answers_again_after() {
    let options = TestOptions { max_connections: 8, ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(raw_websocket(&server).await);
    }
    let (status, body) = http(&server.base_url, "GET", "/healthz", None).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many connections"), "{body}");
    drop(held);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let answer = http(&server.base_url, "GET", "/healthz", None).await;
        if matches!(answer, Ok((200, _))) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no /healthz after the load: {answer:?}");
        tokio::task::yield_now().await;
    }
    let _ = addr;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_are_not_sniffed_or_cached() {
    let server = TestServer::start().await.unwrap();
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    for path in ["/api/catalogue", "/api/me", "/api/tickets/ABCD-EFGH?code=x"] {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await.unwrap();
        let head = String::from_utf8_lossy(&response).to_lowercase();
        let head = head.split("\r\n\r\n").next().unwrap().to_owned();
        assert!(head.contains("x-content-type-options: nosniff"), "{path}: {head}");
        assert!(head.contains("cache-control: no-store"), "{path}: {head}");
    }
}
