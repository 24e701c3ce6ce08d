//! The voicedesk signaling server: HTTP API, the WebSocket protocol, authentication, and the
//! driver that carries out the call-center core's decisions on the media relay and the store.
//!
//! - [`http`]: pages, `/healthz`, `/metrics`, sign-in.
//! - [`ws`]: `/ws` — origin check, session binding, limits, reader and writer per connection.
//! - [`limits`]: rate limits per connection, address and ticket.
//! - [`listener`]: the accept loop — connection cap, header-read timeout, TLS.
//! - [`tls`]: HTTPS — certificate files, reload, self-signed certificates, the redirect.
//! - [`driver`]: the thin async driver around the call-center core (`voicedesk-call-center`),
//!   which owns every decision about calls, connections and the engine.
//! - [`auth`]: passwords, tokens, sessions.
//! - [`demo`]: demo accounts for a first try.

pub mod accounts;
mod admin;
pub mod admin_audit;
mod announcements;
mod audit_view;
pub mod auth;
mod canned_replies;
pub mod catalogue;
mod clock;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod driver;
pub mod gateway;
mod http;
pub mod ice;
mod inbox;
pub mod limits;
mod listener;
pub mod logs;
pub mod metrics;
mod origin;
pub mod passwords;
mod reports;
pub mod signin_guard;
pub mod tls;
mod users_api;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use voicedesk_media_relay::{RelayHandle, StartedRelay};
use voicedesk_store::{KnowledgeStore, MessageStore, Store};

pub use clock::Clock;
pub use config::ServerConfig;
use driver::DriverHandle;
use metrics::SignalingStats;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState(Arc<App>);

pub(crate) struct App {
    pub(crate) config: ServerConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sessions: auth::Sessions,
    /// Failed sign-ins: slow-down and lock (see [`signin_guard`]).
    pub(crate) sign_in: signin_guard::SignInGuard,
    pub(crate) relay: RelayHandle,
    pub(crate) hub: DriverHandle,
    pub(crate) stats: Arc<SignalingStats>,
    pub(crate) knowledge: Arc<voicedesk_knowledge::KnowledgeBase>,
    /// Rate limits shared by every connection.
    pub(crate) limiters: limits::Limiters,
    /// The node's place in the cluster (`None` alone).
    pub(crate) cluster: Option<Arc<cluster::ClusterStatus>>,
    /// The node's gateway to the leader (`None` alone).
    pub(crate) gateway: Option<Arc<gateway::Gateway>>,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// The routes.
fn app(state: AppState) -> Router {
    let tls = state.config.tls.is_some();
    let router = Router::new()
        .route("/", get(http::hall))
        .route("/agent", get(http::agent_console))
        .route("/staff", get(http::staff_console))
        .route("/ticket", get(http::ticket_page))
        .route("/admin", get(http::admin_console))
        .route("/api/admin/users", get(users_api::list).post(users_api::create))
        .route("/api/admin/users/{id}", put(users_api::update))
        .route("/api/admin/users/{id}/disable", post(users_api::disable))
        .route("/api/admin/users/{id}/enable", post(users_api::enable))
        .route("/api/admin/users/{id}/reset-password", post(users_api::reset_password))
        .route("/api/admin/users/{id}/unlock", post(users_api::unlock))
        .route("/api/admin/sessions", get(users_api::sessions))
        .route("/api/admin/sessions/{id}", axum::routing::delete(users_api::end_session))
        .route("/api/admin/audit-log", get(admin_audit::list))
        .route("/api/admin/knowledge/try", post(admin::try_question))
        .route("/api/admin/knowledge/synonyms", get(admin::synonyms))
        .route(
            "/api/admin/knowledge/synonyms/{id}",
            put(admin::put_synonym).delete(admin::delete_synonym),
        )
        .route("/api/admin/knowledge/unanswered", get(admin::unanswered))
        .route("/api/admin/knowledge/unanswered/dismiss", post(admin::dismiss_unanswered))
        .route("/api/password", post(users_api::change_own))
        .route("/api/audit", get(http::audit))
        .route("/reports", get(http::reports_page))
        .route("/api/reports", get(reports::report))
        .route("/api/reports/{file}", get(reports::csv))
        .route("/api/catalogue", get(admin::catalogue))
        .route("/api/admin/skills/{id}", put(admin::put_skill).delete(admin::delete_skill))
        .route("/api/admin/services/{id}", put(admin::put_service).delete(admin::delete_service))
        .route("/api/admin/agents", get(admin::agents))
        .route("/api/admin/catalogue", get(admin::admin_catalogue))
        .route("/api/admin/away-reasons", put(admin::put_away_reasons))
        .route("/api/admin/dispositions", put(admin::put_dispositions))
        .route("/api/knowledge/articles", get(admin::articles))
        .route("/api/announcements", get(announcements::current))
        .route(
            "/api/admin/announcements",
            get(announcements::list)
                .post(announcements::create)
                .layer(DefaultBodyLimit::max(announcements::MAX_BODY_BYTES)),
        )
        .route(
            "/api/admin/announcements/{id}",
            get(announcements::get)
                .put(announcements::update)
                .delete(announcements::delete)
                .layer(DefaultBodyLimit::max(announcements::MAX_BODY_BYTES)),
        )
        .route("/api/canned-replies", get(canned_replies::for_service))
        .route(
            "/api/admin/canned-replies",
            get(canned_replies::list)
                .post(canned_replies::create)
                .layer(DefaultBodyLimit::max(canned_replies::MAX_BODY_BYTES)),
        )
        .route(
            "/api/admin/canned-replies/{id}",
            put(canned_replies::update)
                .delete(canned_replies::delete)
                .layer(DefaultBodyLimit::max(canned_replies::MAX_BODY_BYTES)),
        )
        .route("/api/tickets/{ticket}", get(inbox::ticket))
        .route("/api/tickets/{ticket}/rating", post(inbox::rate_ticket))
        .route("/api/inbox", get(inbox::inbox))
        .route("/api/inbox/{id}/assign", post(inbox::assign))
        .route("/api/inbox/{id}/reply", post(inbox::reply))
        .route("/api/inbox/{id}/close", post(inbox::close))
        .route("/api/inbox/{id}/voice", get(inbox::voice))
        .route("/api/follow-ups", get(inbox::follow_ups))
        .route("/api/follow-ups/{kind}/{id}/handled", post(inbox::follow_up_handled))
        .route("/api/admin/articles/{id}", put(admin::put_article).delete(admin::delete_article))
        .route("/api/admin/agents/{user_id}/skills", put(admin::put_agent_skills))
        .route("/api/admin/agents/{user_id}/chat_capacity", put(admin::put_chat_capacity))
        .route("/api/admin/holidays/{day}", put(admin::put_holiday).delete(admin::delete_holiday))
        .route(
            "/api/admin/holidays/import",
            post(admin::import_holidays).layer(DefaultBodyLimit::max(admin::MAX_IMPORT_BYTES)),
        )
        .route("/assets/{*file}", get(http::asset))
        .route("/favicon.ico", get(http::favicon))
        .route("/healthz", get(http::healthz))
        .route("/healthz/core", get(http::core_digest))
        .route("/metrics", get(http::metrics))
        .route("/api/login", post(http::login))
        .route("/api/logout", post(http::logout))
        .route("/api/me", get(http::me))
        .route("/api/ice-servers", get(ice::ice_servers))
        .route("/ws", get(ws::upgrade))
        .layer(axum::middleware::from_fn(http::api_headers))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), origin::check_api_origin))
        .with_state(state);
    if tls { router.layer(axum::middleware::from_fn(tls::hsts)) } else { router }
}

/// A running server.
pub struct RunningServer {
    /// The bound HTTP address (useful with port 0).
    pub local_addr: SocketAddr,
    /// The media relay it uses.
    pub relay: RelayHandle,
    /// The bound plain-HTTP redirect address, when TLS is on and one was asked for.
    pub redirect_addr: Option<SocketAddr>,
    tls: Option<Arc<tls::TlsState>>,
    hub: DriverHandle,
    stats: Arc<SignalingStats>,
    stop_http: Option<oneshot::Sender<()>>,
    http: tokio::task::JoinHandle<()>,
    housekeeping: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The certificate served to new connections (with TLS).
    pub fn tls_cert(&self) -> Option<tls::CertInfo> {
        self.tls.as_ref().map(|t| t.info())
    }

    /// Reads the certificate and key files again (SIGHUP): new connections get the new
    /// certificate, open ones keep theirs. A bad pair is refused and the old one stays.
    pub fn reload_tls(&self) -> std::io::Result<tls::CertInfo> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Err(std::io::Error::other("the server does not serve TLS")),
        }
    }

    /// Clean shutdown: every active call is ended and recorded, then HTTP stops.
    pub async fn shutdown(mut self) {
        self.hub.shutdown().await;
        // The driver has told everyone and dropped every outbox: give the writers a moment to
        // flush `call_ended` and close their sockets before the process goes away.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        while self.stats.connections.load(std::sync::atomic::Ordering::Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.http).await;
        self.http.abort();
        self.housekeeping.abort();
    }
}

/// Binds the HTTP listener and starts the driver around the call-center core. The relay and the store are started by the
/// caller (the binary, or a test).
/// The knowledge base from the store; an empty store is seeded with the articles shipped with
/// the binary first. An article that cannot be read is logged and left out.
async fn load_knowledge(
    store: &dyn KnowledgeStore,
) -> std::io::Result<voicedesk_knowledge::KnowledgeBase> {
    use voicedesk_knowledge::{Article, KnowledgeBase, SynonymGroup, builtin_articles};
    let mut rows = store.kb_articles().await.map_err(std::io::Error::other)?;
    if rows.is_empty() {
        let now = clock::now_ms();
        for article in builtin_articles() {
            let json = serde_json::to_string(&article).map_err(std::io::Error::other)?;
            store
                .upsert_kb_article(&article.id, &json, now)
                .await
                .map_err(std::io::Error::other)?;
        }
        rows = store.kb_articles().await.map_err(std::io::Error::other)?;
        tracing::info!(articles = rows.len(), "knowledge base seeded");
    }
    let articles: Vec<Article> = rows
        .into_iter()
        .filter_map(|(id, json)| match serde_json::from_str::<Article>(&json) {
            Ok(article) => Some(article),
            Err(e) => {
                tracing::error!(%id, error = %e, "unreadable knowledge article left out");
                None
            }
        })
        .collect();
    let kb = KnowledgeBase::new(articles).map_err(std::io::Error::other)?;
    let groups = store.kb_synonyms().await.map_err(std::io::Error::other)?;
    let groups: Vec<SynonymGroup> = groups
        .into_iter()
        .filter_map(|(id, json)| match serde_json::from_str::<SynonymGroup>(&json) {
            Ok(group) => Some(group),
            Err(e) => {
                tracing::error!(%id, error = %e, "unreadable synonym group left out");
                None
            }
        })
        .collect();
    kb.set_synonyms(groups);
    Ok(kb)
}

/// How many unanswered questions may wait to be written to the store; past that they are
/// dropped (and logged): the list is a hint for writing articles, not a record.
const UNANSWERED_BACKLOG: usize = 1024;

/// Hands every question the knowledge base has no confident answer to (asked by a citizen; an
/// admin's "try a question" is a preview and is not recorded) to a task that counts it in the
/// store, trimmed, whitespace collapsed and cut to 500 characters.
fn record_unanswered(store: Arc<dyn Store>, knowledge: &voicedesk_knowledge::KnowledgeBase) {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<(String, voicedesk_knowledge::Lang)>(UNANSWERED_BACKLOG);
    knowledge.record_misses(Box::new(move |question, lang| {
        let question: String =
            question.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(500).collect();
        if question.is_empty() {
            return;
        }
        if tx.try_send((question, lang)).is_err() {
            tracing::warn!("unanswered question not recorded: too many waiting");
        }
    }));
    tokio::spawn(async move {
        while let Some((question, lang)) = rx.recv().await {
            if let Err(e) =
                store.record_kb_unanswered(lang.code(), &question, clock::now_ms()).await
            {
                tracing::warn!(error = %e, "could not record an unanswered question");
            }
        }
    });
}

/// Creates the voice message directory and, before anything is written, removes what an
/// interrupted run left: temporary files and voice files no committed message references.
async fn sweep_voice_files(config: &ServerConfig, store: &dyn MessageStore) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.voice_dir)?;
    let referenced: std::collections::HashSet<String> =
        store.voice_files().await.map_err(std::io::Error::other)?.into_iter().collect();
    let dir = config.voice_dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        voicedesk_store::files::sweep_orphans(&dir, &referenced, std::time::Duration::ZERO)
    })
    .await
    .map_err(std::io::Error::other)??;
    if !report.removed_temp.is_empty() || !report.removed_orphans.is_empty() {
        tracing::warn!(
            temp = report.removed_temp.len(),
            orphans = report.removed_orphans.len(),
            "removed voice files left by an interrupted run"
        );
    }
    Ok(())
}

pub async fn start(
    config: ServerConfig,
    store: Arc<dyn Store>,
    relay: StartedRelay,
) -> std::io::Result<RunningServer> {
    let tls = config.tls.clone().map(tls::TlsState::load).transpose()?.map(Arc::new);
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    let redirect = match (config.http_redirect_listen, &tls) {
        (Some(addr), Some(_)) => Some(TcpListener::bind(addr).await?),
        (Some(_), None) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an HTTP redirect needs TLS (a certificate and key)",
            ));
        }
        (None, _) => None,
    };
    let redirect_addr = redirect.as_ref().map(|l| l.local_addr()).transpose()?;
    // In a cluster the open calls are the other nodes' (the leader's core ends them); alone,
    // they were left by an earlier run of this process.
    let (mode, cluster, gateway) = match &config.cluster {
        None => {
            match store.end_open_calls(clock::now_ms(), "server_shutdown").await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(n, "closed call records left open by an earlier run"),
                Err(e) => {
                    tracing::error!(error = %e, "could not close call records of an earlier run")
                }
            }
            driver::end_open_chats(store.as_ref()).await;
            (driver::Mode::Alone, None, None)
        }
        Some(cluster) => {
            let (replicated, status, client) =
                cluster::join(cluster).await.map_err(std::io::Error::other)?;
            ws::number_connections_from_random_base();
            tracing::info!(node = %cluster.node, roles = %cluster.roles.names(), "joined the cluster");
            let gateway = gateway::Gateway::start(client.clone(), &cluster.stream, &cluster.node);
            let (link, forwarded) =
                gateway::LeaderLink::new(client, &cluster.stream, &cluster.node);
            let gateways = driver::Gateways { gateway: gateway.clone(), link, forwarded };
            (driver::Mode::Cluster { replicated, gateways }, Some(status), Some(gateway))
        }
    };
    sweep_voice_files(&config, store.as_ref()).await?;
    let stats = Arc::new(SignalingStats::default());
    let knowledge = Arc::new(load_knowledge(store.as_ref()).await?);
    record_unanswered(store.clone(), &knowledge);
    let hub = driver::spawn(
        store.clone(),
        relay.handle.clone(),
        relay.events,
        &config,
        knowledge.clone(),
        stats.clone(),
        mode,
    )
    .await;
    let state = AppState(Arc::new(App {
        sessions: auth::Sessions::new(store.clone(), store.clone(), config.session_ttl),
        limiters: limits::Limiters::new(&config.limits),
        sign_in: signin_guard::SignInGuard::new(
            store.clone(),
            config.sign_in,
            config.clock.clone(),
        ),
        config,
        store,
        relay: relay.handle.clone(),
        hub: hub.clone(),
        stats: stats.clone(),
        knowledge,
        cluster,
        gateway,
    }));
    let (stop_http, stopped) = oneshot::channel::<()>();
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let limits = listener::ListenerLimits {
        max_connections: state.config.max_connections,
        header_read_timeout: state.config.header_read_timeout,
    };
    let router = app(state);
    let main = listener::serve(listener, router, limits, stats.clone(), tls.clone(), stopped);
    let http = match redirect {
        None => tokio::spawn(main),
        // The redirect stops with the server.
        Some(redirect) => {
            let (stop_redirect, redirect_stopped) = oneshot::channel::<()>();
            let router = tls::redirect_router(local_addr.port());
            let redirect = tokio::spawn(listener::serve(
                redirect,
                router,
                limits,
                stats.clone(),
                None,
                redirect_stopped,
            ));
            tokio::spawn(async move {
                main.await;
                let _ = stop_redirect.send(());
                let _ = redirect.await;
            })
        }
    };
    Ok(RunningServer {
        local_addr,
        relay: relay.handle,
        redirect_addr,
        tls,
        hub,
        stats,
        stop_http: Some(stop_http),
        http,
        housekeeping,
    })
}

/// How often expired sessions are deleted and refilled rate-limit buckets forgotten.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes expired sessions (at start and every [`HOUSEKEEPING_EVERY`]) and drops rate-limit
/// buckets that have refilled, so neither grows with the clients ever seen.
async fn housekeeping(app: AppState) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match app.store.delete_expired_sessions(clock::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "expired sessions deleted"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired sessions"),
        }
        app.limiters.forget_refilled();
    }
}
