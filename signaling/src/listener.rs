//! The HTTP accept loop: a cap on open connections below the process's file limit, a
//! deadline for a request's headers, and a clean stop. `axum::serve` has neither the cap nor a
//! timer for hyper's header-read timeout, so the loop is ours (after `axum::serve`'s own).
//!
//! - **Cap.** Every accepted TCP connection holds a [`ConnectionPermit`] for as long as its
//!   socket is open — a WebSocket keeps it after the upgrade (the `/ws` handler carries it into
//!   the connection's task). Past the cap a connection gets `503` with `Retry-After` and is
//!   closed at once: the server keeps the file descriptors it needs for the store, the relay
//!   and `/healthz` once the overload is gone, instead of failing `accept` for everyone.
//! - **Slow headers.** A request's headers, and the next request on a kept-alive connection,
//!   must arrive within `header_read_timeout`; a client trickling them is disconnected.
//!   WebSocket idleness is `ws.rs`'s (pings and an idle timeout).
//! - HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tower::ServiceExt;

use crate::metrics::SignalingStats;

/// One open client connection's share of the cap; the connection is counted until every clone
/// is dropped (the HTTP connection's task and, after an upgrade, the WebSocket's).
#[derive(Clone)]
pub(crate) struct ConnectionPermit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// The listener's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListenerLimits {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
}

/// What a refused connection is told before it is closed.
const REFUSAL_BODY: &str = "too many connections: the server is at its limit; try again shortly\n";

/// Accepts and serves until `stop` fires, then lets open HTTP connections finish their
/// request (WebSockets are ended by the driver's shutdown).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    stats: Arc<SignalingStats>,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Dropped to ask every connection to finish; `closed()` says when all have.
    let (stopping, stop_seen) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: the cap should prevent them; wait instead of spinning.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: at the cap");
            tokio::spawn(refuse(tcp));
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // Signaling messages are small and often come in twos (`call_queued` then
            // `queue_position`): without TCP_NODELAY the second waits for the peer's delayed
            // ACK (~40 ms on Linux).
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let permit = ConnectionPermit(Arc::new(permit));
        tokio::spawn(connection(tcp, peer, router.clone(), permit, limits, stop_seen.clone()));
    }
    let _ = stopping.send(());
    drop(stop_seen);
    stopping.closed().await;
}

async fn refuse(mut tcp: TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Retry-After: 5\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{REFUSAL_BODY}",
        REFUSAL_BODY.len()
    );
    // Written, then the request read and dropped until the client closes (or a second
    // passes): closing with unread bytes would reset the connection before the refusal is read.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tcp.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    permit: ConnectionPermit,
    limits: ListenerLimits,
    mut stop: watch::Receiver<()>,
) {
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(permit.clone());
        request.map(Body::new)
    });
    let service = TowerToHyperService::new(service.map_err(|e: Infallible| match e {}));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(tcp), service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
            return;
        }
        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
    }
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended");
    }
}
