//! The `/ws` endpoint: origin check, binding the connection to a session, frame limits, and
//! the per-connection reader and writer.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use voicedesk_protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Role, ServerMessage,
    decode_client_message,
};

use crate::AppState;
use crate::auth::{self, user_info};
use crate::driver::{ConnId, DriverInput, Identity};

/// Frames above this close the connection (close code 1009); messages between
/// [`MAX_MESSAGE_BYTES`] and this get an `error` and the connection stays.
const HARD_FRAME_LIMIT: usize = 4 * MAX_MESSAGE_BYTES;

/// How long one frame may take to go out before the connection is given up.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// `?role=agent` asks for the signed-in session in the cookie; anything else is a citizen.
#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    role: Option<String>,
}

/// Upgrades `/ws` after checking the origin and, for agents, the session.
pub(crate) async fn upgrade(
    State(app): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &app.config.allowed_origins) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::session_cookie)
        .map(str::to_owned);
    let identity = match query.role.as_deref() {
        Some("agent") => Some(authenticate_member(&app, cookie.as_deref(), Role::Agent).await),
        Some("staff") => Some(authenticate_member(&app, cookie.as_deref(), Role::Staff).await),
        _ => None,
    };
    let identity = match identity {
        Some(Ok(identity)) => Some(identity),
        Some(Err(response)) => return response,
        None => None,
    };
    ws.max_frame_size(HARD_FRAME_LIMIT)
        .max_message_size(HARD_FRAME_LIMIT)
        // tungstenite's defaults (128 KiB read buffer) would dominate an idle connection.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(app, socket, identity))
}

/// A signed-in member asking for `wanted`: agents for `agent`; staff and admins for `staff`.
async fn authenticate_member(
    app: &AppState,
    cookie: Option<&str>,
    wanted: Role,
) -> Result<Identity, Response> {
    let expired =
        || (StatusCode::UNAUTHORIZED, "session expired or invalid; sign in again").into_response();
    let token = cookie.ok_or_else(expired)?;
    let found = app.sessions.authenticate(token).await.map_err(|e| {
        tracing::error!(error = %e, "session lookup failed");
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
    })?;
    match found.and_then(|a| a.user) {
        Some(user) if user.role == wanted || (wanted == Role::Staff && user.role.is_staff()) => {
            // An agent's skills are read here, beside the socket, so the core gets the agent
            // whole and the driver never waits for the store.
            let skills = if user.role == Role::Agent {
                crate::driver::agent_skills_of(app.store.as_ref(), &user.id).await
            } else {
                Default::default()
            };
            Ok(Identity::Member { user: user_info(&user), skills })
        }
        Some(_) => Err((
            StatusCode::FORBIDDEN,
            format!("this account cannot sign in as {}", wanted.as_str()),
        )
            .into_response()),
        None => Err(expired()),
    }
}

/// The server's own origin (from `Host`) or one of the configured ones. A request without
/// `Origin` is refused: browsers always send it, and other clients can.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

async fn serve(app: AppState, socket: WebSocket, identity: Option<Identity>) {
    let conn = ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed));
    let (outbox, outgoing) = mpsc::channel(app.config.outgoing_queue);
    let welcome = match identity {
        Some(Identity::Member { user, skills }) => {
            let welcome = ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                role: user.role,
                citizen_token: None,
                user: Some(user.clone()),
            };
            (Identity::Member { user, skills }, welcome)
        }
        _ => match app.sessions.open(Role::Citizen, None).await {
            Ok(token) => {
                let citizen_id = citizen_id_of(&token);
                let welcome = ServerMessage::Welcome {
                    protocol: PROTOCOL_VERSION,
                    role: Role::Citizen,
                    citizen_token: Some(token),
                    user: None,
                };
                (Identity::Citizen { citizen_id }, welcome)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not open a citizen session");
                return;
            }
        },
    };
    let (identity, welcome) = welcome;
    let role = match &identity {
        Identity::Citizen { .. } => Role::Citizen,
        Identity::Member { user, .. } => user.role,
    };
    let _ = outbox.try_send(welcome);
    let (kick, kicked) = oneshot::channel();
    if !app.hub.send(DriverInput::Connected { conn, identity, outbox: outbox.clone(), kick }).await
    {
        return;
    }
    app.stats.connections.fetch_add(1, Ordering::Relaxed);
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, outgoing));
    read_loop(&app, conn, role, stream, outbox, kicked).await;
    app.hub.send(DriverInput::Disconnected { conn }).await;
    let _ = writer.await;
    app.stats.connections.fetch_sub(1, Ordering::Relaxed);
}

/// The citizen id stored with call records: derived from the token's hash, so it is stable
/// across a resume and reveals nothing of the token.
fn citizen_id_of(token: &str) -> String {
    format!("c-{}", &auth::token_hash(token)[..16])
}

async fn write_loop(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<ServerMessage>,
) {
    while let Some(message) = outgoing.recv().await {
        let text = serde_json::to_string(&message).expect("server messages always serialize");
        // A peer that stops reading must not hold this task forever.
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000, reason: "bye".into() }))).await;
}

async fn read_loop(
    app: &AppState,
    conn: ConnId,
    role: Role,
    mut stream: futures::stream::SplitStream<WebSocket>,
    outbox: mpsc::Sender<ServerMessage>,
    mut kicked: oneshot::Receiver<()>,
) {
    let reply = |message: ServerMessage| {
        // A full outbox means the hub will drop this connection anyway.
        let _ = outbox.try_send(message);
    };
    let refuse = |code: ErrorCode, text: String, request: Option<&str>| {
        app.stats.client_errors.fetch_add(1, Ordering::Relaxed);
        reply(ServerMessage::error(code, text, request));
    };
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            // The hub forgot this connection: stop reading; the writer flushes and closes.
            _ = &mut kicked => return,
        };
        let Some(frame) = frame else { return };
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(_)) => {
                refuse(
                    ErrorCode::BadJson,
                    "binary frames are not part of the protocol; send JSON text".into(),
                    None,
                );
                continue;
            }
            Ok(Message::Close(_)) => return,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(?conn, error = %e, "websocket read ended");
                return;
            }
        };
        if text.len() > MAX_MESSAGE_BYTES {
            refuse(
                ErrorCode::MessageTooLarge,
                format!(
                    "messages are limited to {MAX_MESSAGE_BYTES} bytes; this one had {}",
                    text.len()
                ),
                None,
            );
            continue;
        }
        let message = match decode_client_message(text.as_str()) {
            Ok(message) => message,
            Err(e) => {
                refuse(e.code, e.message, e.request_type.as_deref());
                continue;
            }
        };
        // Who may send what is the core's rule; only the two messages answered here (ping,
        // resume) are checked here, with the same table.
        if matches!(message, ClientMessage::Ping | ClientMessage::Resume { .. })
            && !message.allowed_for(role)
        {
            refuse(
                ErrorCode::Forbidden,
                format!(
                    "\"{}\" is not allowed for a {} connection",
                    message.type_name(),
                    role.as_str()
                ),
                Some(message.type_name()),
            );
            continue;
        }
        match message {
            ClientMessage::Ping => reply(ServerMessage::Pong),
            ClientMessage::Resume { citizen_token } => {
                match app.sessions.authenticate(&citizen_token).await {
                    Ok(Some(found)) if found.session.role == Role::Citizen => {
                        let citizen_id = citizen_id_of(&citizen_token);
                        app.hub
                            .send(DriverInput::Resumed { conn, citizen_id, citizen_token })
                            .await;
                    }
                    Ok(_) => refuse(
                        ErrorCode::SessionExpired,
                        "that citizen session is unknown or expired; carry on with the new one"
                            .into(),
                        Some("resume"),
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "session lookup failed");
                        refuse(
                            ErrorCode::Internal,
                            "could not check the session; try again".into(),
                            Some("resume"),
                        );
                    }
                }
            }
            message => {
                if !app.hub.send(DriverInput::Message { conn, message }).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn only_the_own_origin_and_configured_ones_may_connect() {
        let allowed = vec!["https://hall.example.gov.cn".to_owned()];
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &allowed
        ));
        assert!(origin_allowed(
            &headers(Some("https://hall.example.gov.cn"), "10.0.0.1:8080"),
            &allowed
        ));
        assert!(!origin_allowed(&headers(Some("http://evil.example"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(None, "127.0.0.1:8080"), &allowed));
    }
}
