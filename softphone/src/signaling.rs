//! The signaling side of a voicedesk client: the `/ws` WebSocket and the login call.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voicedesk_protocol::{ClientMessage, ServerMessage};

/// Name of the session cookie the server sets on login and reads on `/ws`.
pub const SESSION_COOKIE: &str = "vd_session";

/// What [`SignalingClient::recv_frame`] read: one WebSocket message the server sent, with
/// control frames the client answers itself (ping/pong) left out.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A text frame (the protocol's only data frame), unparsed.
    Text(String),
    /// A binary frame (the protocol never sends one).
    Binary(Vec<u8>),
    /// The server closed the connection (with its close frame, if any). Reading further
    /// returns an error.
    Closed(Option<CloseFrame>),
}

/// A client of the server's `/ws` signaling endpoint.
///
/// Every `recv*` call takes a timeout and fails when it passes; nothing here sleeps.
pub struct SignalingClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    skipped: Vec<ServerMessage>,
    closed: Option<Option<CloseFrame>>,
}

impl std::fmt::Debug for SignalingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalingClient")
            .field("skipped", &self.skipped.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl SignalingClient {
    /// Opens the WebSocket at `ws_url` with the given `Origin` header and, for signed-in users,
    /// `Cookie: vd_session=<cookie>` (pass the value [`login`] returned). A citizen connects to
    /// `ws://host:port/ws`, an agent to `ws://host:port/ws?role=agent` with its cookie; the
    /// server accepts its own origin (`http://host:port`) and the configured ones.
    ///
    /// A refused upgrade (e.g. 403 for a foreign origin, 401 without a session) is an error;
    /// [`handshake_status`] reads its HTTP status back out.
    pub async fn connect(ws_url: &str, origin: &str, cookie: Option<&str>) -> Result<Self> {
        Self::connect_tls(ws_url, origin, cookie, None).await
    }

    /// [`Self::connect`]; a `wss://` URL checks the server's certificate with `tls` (the
    /// system's roots when `None`).
    pub async fn connect_tls(
        ws_url: &str,
        origin: &str,
        cookie: Option<&str>,
        tls: Option<&ClientTls>,
    ) -> Result<Self> {
        let mut request = ws_url
            .into_client_request()
            .with_context(|| format!("bad WebSocket URL {ws_url:?}"))?;
        let headers = request.headers_mut();
        headers.insert(
            "Origin",
            HeaderValue::from_str(origin).with_context(|| format!("bad origin {origin:?}"))?,
        );
        if let Some(cookie) = cookie {
            let value = format!("{SESSION_COOKIE}={cookie}");
            headers.insert(
                "Cookie",
                HeaderValue::from_str(&value).context("session cookie is not a header value")?,
            );
        }
        let (ws, _response) = // TCP_NODELAY, as browsers do: no small message waits for a delayed ACK.
        tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            true,
            Some(tokio_tungstenite::Connector::Rustls(ClientTls::or_system(tls)?.0)),
        )
            .await
            .with_context(|| format!("WebSocket handshake with {ws_url} failed"))?;
        Ok(SignalingClient { ws, skipped: Vec::new(), closed: None })
    }

    /// Sends one protocol message as a JSON text frame.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<()> {
        let text = serde_json::to_string(message).context("encoding a client message")?;
        self.send_message(Message::text(text)).await
    }

    /// Sends `text` as one text frame, as is (for malformed and unknown messages).
    pub async fn send_raw_text(&mut self, text: &str) -> Result<()> {
        self.send_message(Message::text(text)).await
    }

    /// Sends `bytes` as one binary frame (the protocol has none; the server must refuse it).
    pub async fn send_raw_binary(&mut self, bytes: &[u8]) -> Result<()> {
        self.send_message(Message::binary(bytes.to_vec())).await
    }

    /// Sends one final *text* frame whose payload is `bytes`, which need not be UTF-8
    /// (tungstenite would refuse invalid UTF-8 in a [`Message::Text`]).
    pub async fn send_raw_text_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
        self.send_message(Message::Frame(frame)).await
    }

    /// Sends any WebSocket message or raw [`Frame`] as is.
    pub async fn send_message(&mut self, message: Message) -> Result<()> {
        self.ws.send(message).await.context("sending on the WebSocket")
    }

    /// Reads the next data frame or the close, answering pings on the way.
    pub async fn recv_frame(&mut self, timeout: Duration) -> Result<Incoming> {
        if let Some(frame) = &self.closed {
            bail!("the WebSocket is closed ({frame:?})");
        }
        let deadline = Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| anyhow!("no WebSocket message within {timeout:?}"))?;
            let message = match next {
                None => {
                    self.closed = Some(None);
                    return Ok(Incoming::Closed(None));
                }
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => {
                    self.closed = Some(None);
                    return Ok(Incoming::Closed(None));
                }
                Some(Err(e)) => return Err(e).context("reading the WebSocket"),
                Some(Ok(message)) => message,
            };
            match message {
                Message::Text(text) => return Ok(Incoming::Text(text.as_str().to_owned())),
                Message::Binary(bytes) => return Ok(Incoming::Binary(bytes.to_vec())),
                Message::Close(frame) => {
                    self.closed = Some(frame.clone());
                    return Ok(Incoming::Closed(frame));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }

    /// Reads the next server message. A close, a binary frame or a text frame that is not a
    /// [`ServerMessage`] is an error naming what arrived.
    pub async fn recv(&mut self, timeout: Duration) -> Result<ServerMessage> {
        match self.recv_frame(timeout).await? {
            Incoming::Text(text) => {
                serde_json::from_str(&text).with_context(|| format!("not a server message: {text}"))
            }
            Incoming::Binary(bytes) => bail!("unexpected binary frame of {} bytes", bytes.len()),
            Incoming::Closed(frame) => bail!("the server closed the WebSocket ({frame:?})"),
        }
    }

    /// Reads messages until one satisfies `predicate` and returns it. The messages passed over
    /// are kept, in order, in [`skipped`](Self::skipped). `timeout` bounds the whole wait.
    pub async fn recv_until<F>(
        &mut self,
        timeout: Duration,
        mut predicate: F,
    ) -> Result<ServerMessage>
    where
        F: FnMut(&ServerMessage) -> bool,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.recv(left).await.with_context(|| {
                format!(
                    "waiting {timeout:?} for a matching message (skipped so far: {:?})",
                    self.skipped
                )
            })?;
            if predicate(&message) {
                return Ok(message);
            }
            self.skipped.push(message);
        }
    }

    /// Waits for the server to close the connection, skipping (and keeping) other messages.
    /// Returns the server's close frame, if it sent one.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<Option<CloseFrame>> {
        if let Some(frame) = &self.closed {
            return Ok(frame.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_frame(left).await.context("waiting for the server to close")? {
                Incoming::Closed(frame) => return Ok(frame),
                Incoming::Text(text) => {
                    if let Ok(message) = serde_json::from_str(&text) {
                        self.skipped.push(message);
                    }
                }
                Incoming::Binary(_) => {}
            }
        }
    }

    /// The messages [`recv_until`](Self::recv_until) and [`wait_closed`](Self::wait_closed)
    /// passed over, oldest first.
    pub fn skipped(&self) -> &[ServerMessage] {
        &self.skipped
    }

    /// Takes the passed-over messages, leaving the list empty.
    pub fn take_skipped(&mut self) -> Vec<ServerMessage> {
        std::mem::take(&mut self.skipped)
    }

    /// Whether the server has closed the connection (as seen by a `recv*` call).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Closes the connection with a normal close frame and waits briefly for the server's
    /// reply. Errors from an already-gone connection are ignored.
    pub async fn close(mut self) -> Result<()> {
        if self.closed.is_none() {
            let _ = self.ws.close(None).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(_)) = self.ws.next().await {}
            })
            .await;
        }
        Ok(())
    }
}

/// The HTTP status of a refused WebSocket upgrade, when `error` came from
/// [`SignalingClient::connect`] and the server answered with a non-101 response.
pub fn handshake_status(error: &anyhow::Error) -> Option<u16> {
    error.chain().find_map(|cause| match cause.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Http(response)) => Some(response.status().as_u16()),
        _ => None,
    })
}

/// Why [`login`] failed because the server said no (as opposed to a transport failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRejected {
    /// The HTTP status (401 for wrong credentials).
    pub status: u16,
    /// The `code` field of the JSON error body, when there was one (`invalid_credentials`).
    pub code: Option<String>,
    /// The response body as text.
    pub body: String,
}

impl std::fmt::Display for LoginRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "login refused with HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoginRejected {}

/// Signs in: `POST {http_base}/api/login` with JSON `{"username","password"}` and returns the
/// value of the `vd_session` cookie from `Set-Cookie`, for [`SignalingClient::connect`].
///
/// `http_base` is plain `http://host:port` (optionally with a path prefix); HTTPS is not
/// supported. A non-200 answer is an error carrying [`LoginRejected`] (downcast it to read
/// the status and the error code).
pub async fn login(http_base: &str, username: &str, password: &str) -> Result<String> {
    login_tls(http_base, username, password, None).await
}

/// [`login`]; an `https://` base checks the server's certificate with `tls` (the system's
/// roots when `None`).
pub async fn login_tls(
    http_base: &str,
    username: &str,
    password: &str,
    tls: Option<&ClientTls>,
) -> Result<String> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let response = http_request(http_base, "POST", "/api/login", &[], Some(&body), tls).await?;
    if response.status != 200 {
        let code = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned));
        return Err(LoginRejected {
            status: response.status,
            code,
            body: String::from_utf8_lossy(&response.body).into_owned(),
        }
        .into());
    }
    response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, value)| session_cookie_value(value))
        .ok_or_else(|| anyhow!("login answered 200 without a {SESSION_COOKIE} cookie"))
}

/// What `GET /api/ice-servers` handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServers {
    /// The servers, for [`crate::MediaLegConfig::ice_servers`].
    pub servers: Vec<crate::IceServer>,
    /// When their credentials expire (unix ms); `None` when there are none.
    pub expires_at_ms: Option<u64>,
}

/// Fetches fresh ICE servers (TURN credentials) for a citizen (`citizen_token` from
/// `welcome`) or a signed-in member (`cookie` from [`login`]), before each peer connection.
pub async fn fetch_ice_servers(
    http_base: &str,
    citizen_token: Option<&str>,
    cookie: Option<&str>,
    tls: Option<&ClientTls>,
) -> Result<IceServers> {
    let bearer = citizen_token.map(|t| format!("Bearer {t}"));
    let cookie = cookie.map(|c| format!("{SESSION_COOKIE}={c}"));
    let mut headers = Vec::new();
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    if let Some(cookie) = &cookie {
        headers.push(("Cookie", cookie.as_str()));
    }
    let response = http_request(http_base, "GET", "/api/ice-servers", &headers, None, tls).await?;
    if response.status != 200 {
        bail!(
            "GET /api/ice-servers answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    let body: serde_json::Value =
        serde_json::from_slice(&response.body).context("/api/ice-servers is not JSON")?;
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_owned()
    };
    let servers = body
        .get("iceServers")
        .and_then(|s| s.as_array())
        .context("/api/ice-servers without iceServers")?
        .iter()
        .map(|s| crate::IceServer {
            urls: s
                .get("urls")
                .and_then(|u| u.as_array())
                .map(|u| u.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            username: text(s, "username"),
            credential: text(s, "credential"),
        })
        .collect();
    Ok(IceServers { servers, expires_at_ms: body.get("expiresAtMs").and_then(|v| v.as_u64()) })
}

/// The `vd_session` value of one `Set-Cookie` header value.
fn session_cookie_value(set_cookie: &str) -> Option<String> {
    let first = set_cookie.split(';').next()?.trim();
    let (name, value) = first.split_once('=')?;
    (name.trim() == SESSION_COOKIE && !value.trim().is_empty()).then(|| value.trim().to_owned())
}

/// How a client checks an `https://` or `wss://` server's certificate.
#[derive(Clone)]
pub struct ClientTls(Arc<rustls::ClientConfig>);

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// The operating system's root certificates.
    pub fn system_roots() -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            bail!("no usable root certificate on this system ({:?})", found.errors);
        }
        Self::with_roots(roots)
    }

    /// Trusts exactly the certificates in `pem` (e.g. a server's self-signed certificate).
    pub fn trusting(pem: &str) -> Result<Self> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.context("not a PEM certificate")?).context("not a usable root")?;
        }
        if roots.is_empty() {
            bail!("no certificate in the PEM text");
        }
        Self::with_roots(roots)
    }

    fn with_roots(roots: rustls::RootCertStore) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self(Arc::new(config)))
    }

    fn or_system(tls: Option<&ClientTls>) -> Result<ClientTls> {
        match tls {
            Some(tls) => Ok(tls.clone()),
            None => Self::system_roots(),
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), read to the end:
/// `http://` or `https://` (checked with `tls`, the system's roots when `None`), with extra
/// request headers and an optional JSON body.
pub async fn http_request(
    http_base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    json_body: Option<&str>,
    tls: Option<&ClientTls>,
) -> Result<HttpResponse> {
    let (secure, rest) = if let Some(rest) = http_base.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = http_base.strip_prefix("http://") {
        (false, rest)
    } else {
        bail!("only http:// and https:// bases are supported, got {http_base:?}");
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    };
    let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&address))
        .await
        .map_err(|_| anyhow!("connecting to {address} timed out"))?
        .with_context(|| format!("connecting to {address}"))?;
    let mut stream: Box<dyn Stream> = if secure {
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => authority,
        };
        let name = rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .with_context(|| format!("{host:?} is not a server name"))?;
        let connector = tokio_rustls::TlsConnector::from(ClientTls::or_system(tls)?.0);
        Box::new(
            tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
                .await
                .map_err(|_| anyhow!("the TLS handshake with {address} timed out"))?
                .with_context(|| format!("TLS handshake with {address}"))?,
        )
    } else {
        Box::new(tcp)
    };

    let body = json_body.unwrap_or("");
    let mut request = format!(
        "{method} {prefix}{path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if json_body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.context("sending the HTTP request")?;

    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| anyhow!("the HTTP response from {address} did not end within 10 s"))?
        .context("reading the HTTP response")?;
    parse_http_response(&raw)
}

/// A plain or TLS byte stream.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// Parses a complete HTTP/1.1 response (read until the server closed the connection).
fn parse_http_response(raw: &[u8]) -> Result<HttpResponse> {
    let mut header_buf = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut header_buf);
    let header_len = match parsed.parse(raw).context("malformed HTTP response")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => bail!("truncated HTTP response ({} bytes)", raw.len()),
    };
    let status = parsed.code.ok_or_else(|| anyhow!("HTTP response without a status"))?;
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let header = |name: &str| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    };
    let rest = &raw[header_len..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().context("bad Content-Length")?;
        rest.get(..len)
            .ok_or_else(|| anyhow!("HTTP body shorter than its Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { status, headers, body })
}

/// Decodes a `Transfer-Encoding: chunked` body (trailers ignored).
fn decode_chunked(mut rest: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("truncated chunk size line"))?;
        let size_text = std::str::from_utf8(&rest[..line_end]).context("chunk size is not text")?;
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).context("bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or_else(|| anyhow!("truncated chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or_else(|| anyhow!("truncated chunk end"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_read_from_set_cookie() {
        assert_eq!(
            session_cookie_value("vd_session=abc123; HttpOnly; SameSite=Strict; Path=/"),
            Some("abc123".to_owned())
        );
        assert_eq!(session_cookie_value("other=1; Path=/"), None);
        assert_eq!(session_cookie_value("vd_session=; Path=/"), None);
    }

    #[test]
    fn responses_with_length_and_chunked_bodies_parse() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                    content-length: 30\r\n\r\n{\"code\":\"invalid_credentials\"}";
        let r = parse_http_response(raw).unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.body, b"{\"code\":\"invalid_credentials\"}");

        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let r = parse_http_response(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
    }
}
