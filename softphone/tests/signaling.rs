//! The signaling client against small in-test servers that play the server's side of the
//! contract (the real server lives in another crate).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use voicedesk_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use voicedesk_softphone::{Incoming, LoginRejected, SignalingClient, handshake_status, login};

const T: Duration = Duration::from_secs(10);
const ORIGIN: &str = "http://hall.test";

fn welcome() -> ServerMessage {
    ServerMessage::Welcome { protocol: 1, role: Role::Agent, citizen_token: None, user: None }
}

/// A one-connection WebSocket server: refuses a foreign Origin with 403, records the Cookie,
/// sends Welcome, then answers every text frame and finally closes on `hang_up`.
// The handshake callback's `Err(ErrorResponse)` type is tungstenite's, not ours to box.
#[allow(clippy::result_large_err)]
async fn fake_ws_server() -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let mut cookie = None;
            let accepted =
                tokio_tungstenite::accept_hdr_async(stream, |req: &Request, resp: Response| {
                    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
                    if origin != Some(ORIGIN) {
                        let mut refusal = ErrorResponse::new(Some("foreign origin".into()));
                        *refusal.status_mut() = StatusCode::FORBIDDEN;
                        return Err(refusal);
                    }
                    cookie = req
                        .headers()
                        .get("cookie")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    Ok(resp)
                })
                .await;
            let Ok(mut ws) = accepted else { continue };
            seen.push(format!("cookie: {cookie:?}"));
            ws.send(Message::text(serde_json::to_string(&welcome()).unwrap())).await.unwrap();
            while let Some(Ok(message)) = ws.next().await {
                match message {
                    Message::Text(text) => {
                        seen.push(text.as_str().to_owned());
                        let reply = match voicedesk_protocol::decode_client_message(text.as_str()) {
                            Ok(ClientMessage::Ping) => vec![
                                ServerMessage::QueuePosition {
                                    call_id: "c1".into(),
                                    position: 2,
                                    estimated_wait_ms: None,
                                },
                                ServerMessage::QueuePosition {
                                    call_id: "c1".into(),
                                    position: 1,
                                    estimated_wait_ms: None,
                                },
                                ServerMessage::Pong,
                            ],
                            Ok(ClientMessage::HangUp { .. }) => {
                                ws.send(Message::Close(None)).await.unwrap();
                                continue;
                            }
                            Ok(_) => vec![],
                            Err(e) => vec![ServerMessage::error(
                                e.code,
                                e.message,
                                e.request_type.as_deref(),
                            )],
                        };
                        for m in reply {
                            ws.send(Message::text(serde_json::to_string(&m).unwrap()))
                                .await
                                .unwrap();
                        }
                    }
                    Message::Binary(b) => {
                        seen.push(format!("binary {}", b.len()));
                        let m = ServerMessage::error(ErrorCode::BadJson, "binary", None);
                        ws.send(Message::text(serde_json::to_string(&m).unwrap())).await.unwrap();
                    }
                    _ => {}
                }
            }
            return seen;
        }
    });
    (url, task)
}

#[tokio::test]
async fn client_sends_origin_and_cookie_and_reads_replies_in_order() {
    let (url, server) = fake_ws_server().await;

    // A foreign origin is refused during the handshake, with the HTTP status readable.
    let refused = SignalingClient::connect(&url, "http://evil.test", None).await.unwrap_err();
    assert_eq!(handshake_status(&refused), Some(403), "{refused:#}");

    let mut ws = SignalingClient::connect(&url, ORIGIN, Some("tok123")).await.unwrap();
    assert_eq!(ws.recv(T).await.unwrap(), welcome());

    ws.send(&ClientMessage::Ping).await.unwrap();
    let pong = ws.recv_until(T, |m| matches!(m, ServerMessage::Pong)).await.unwrap();
    assert_eq!(pong, ServerMessage::Pong);
    assert_eq!(ws.skipped().len(), 2, "both queue positions were skipped and kept");
    assert!(matches!(ws.skipped()[1], ServerMessage::QueuePosition { position: 1, .. }));
    assert_eq!(ws.take_skipped().len(), 2);
    assert!(ws.skipped().is_empty());

    ws.send_raw_text("{").await.unwrap();
    let reply = ws.recv(T).await.unwrap();
    assert!(matches!(reply, ServerMessage::Error { code: ErrorCode::BadJson, .. }), "{reply:?}");
    ws.send_raw_text(r#"{"type":"fly"}"#).await.unwrap();
    let reply = ws.recv(T).await.unwrap();
    assert!(
        matches!(&reply, ServerMessage::Error { code: ErrorCode::UnknownType, request_type: None, message } if message.contains("fly")),
        "{reply:?}"
    );
    ws.send_raw_binary(&[1, 2, 3]).await.unwrap();
    assert!(matches!(ws.recv(T).await.unwrap(), ServerMessage::Error { .. }));

    // Nothing more is coming: recv times out instead of hanging.
    let quiet = ws.recv(Duration::from_millis(200)).await.unwrap_err();
    assert!(format!("{quiet:#}").contains("no WebSocket message"), "{quiet:#}");

    // The server closes; the client sees it.
    ws.send(&ClientMessage::HangUp { call_id: "c1".into() }).await.unwrap();
    ws.wait_closed(T).await.unwrap();
    assert!(ws.is_closed());
    assert!(ws.recv(T).await.is_err());
    assert!(ws.recv_frame(T).await.is_err());
    ws.close().await.unwrap();

    let seen = server.await.unwrap();
    assert_eq!(seen[0], "cookie: Some(\"vd_session=tok123\")");
    assert!(seen.contains(&r#"{"type":"ping"}"#.to_owned()), "{seen:?}");
    assert!(seen.contains(&"binary 3".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn recv_frame_shows_the_close_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        ws.send(Message::text("not json")).await.unwrap();
        ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 1009u16.into(),
            reason: "too big".into(),
        }))
        .await
        .unwrap();
        while ws.next().await.is_some() {}
    });
    let mut ws = SignalingClient::connect(&url, ORIGIN, None).await.unwrap();
    let err = ws.recv(T).await.unwrap_err();
    assert!(format!("{err:#}").contains("not json"), "{err:#}");
    match ws.recv_frame(T).await.unwrap() {
        Incoming::Closed(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1009);
            assert_eq!(frame.reason.as_str(), "too big");
        }
        other => panic!("expected the close, got {other:?}"),
    }
}

/// A plain-HTTP server answering each connection with the next canned response, returning the
/// requests it read.
async fn fake_http_server(
    responses: Vec<&'static str>,
) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        for response in responses {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            loop {
                let n = stream.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + length || n == 0 {
                        break;
                    }
                }
            }
            requests.push(String::from_utf8_lossy(&buf).to_string());
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
        requests
    });
    (base, task)
}

#[tokio::test]
async fn login_posts_credentials_and_returns_the_session_cookie() {
    let (base, server) = fake_http_server(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
         set-cookie: vd_session=s3cr3t-token; HttpOnly; SameSite=Strict; Path=/\r\n\
         content-length: 2\r\n\r\n{}",
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 59\r\n\r\n\
         {\"code\":\"invalid_credentials\",\"message\":\"wrong password!!\"}",
    ])
    .await;

    let cookie = login(&base, "agent1", "pa\"ss").await.unwrap();
    assert_eq!(cookie, "s3cr3t-token");

    let err = login(&base, "agent1", "wrong").await.unwrap_err();
    let rejected = err.downcast_ref::<LoginRejected>().expect("a LoginRejected");
    assert_eq!(rejected.status, 401);
    assert_eq!(rejected.code.as_deref(), Some("invalid_credentials"));

    let requests = server.await.unwrap();
    let first = &requests[0];
    assert!(first.starts_with("POST /api/login HTTP/1.1\r\n"), "{first}");
    assert!(first.to_ascii_lowercase().contains("content-type: application/json"), "{first}");
    let body = &first[first.find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json, serde_json::json!({"username": "agent1", "password": "pa\"ss"}));
}

#[tokio::test]
async fn login_refuses_https_and_unreachable_servers() {
    assert!(login("https://example.test", "a", "b").await.is_err());
    // A port nobody listens on (bound, then released).
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let err = login(&format!("http://{addr}"), "a", "b").await.unwrap_err();
    assert!(err.downcast_ref::<LoginRejected>().is_none(), "{err:#}");
}
