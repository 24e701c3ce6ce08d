//! One behaviour suite, run against both backends.
//!
//! Every case in [`cases`] is an `async fn(TestDb)`; the `suite!` macro instantiates it once in
//! `mod sqlite` (a fresh database file in a temporary directory) and once in `mod postgres` (a
//! fresh schema in the database named by `VOICEDESK_TEST_POSTGRES_URL`, dropped afterwards, so
//! parallel tests never see each other's rows). Without that variable the Postgres variants
//! print a SKIPPED line and pass.

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection as _;
use voicedesk_store::{Store, StoreError};

const POSTGRES_URL_VAR: &str = "VOICEDESK_TEST_POSTGRES_URL";

/// A database for one test: `open` may be called several times and opens the same data.
struct TestDb {
    url: String,
}

impl TestDb {
    async fn open(&self) -> Arc<dyn Store> {
        voicedesk_store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening the test store failed: {e}"))
    }
}

/// Removes the temporary directory of a SQLite test, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("voicedesk-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("voicedesk.db").display());
    case(TestDb { url }).await;
    drop(dir);
}

async fn run_postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(base_url) = std::env::var(POSTGRES_URL_VAR) else {
        // Straight to stderr, past the test harness's output capture, so the skip is visible.
        let _ =
            writeln!(std::io::stderr(), "SKIPPED postgres::{name}: {POSTGRES_URL_VAR} is not set");
        return;
    };
    let schema = format!("vd_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR} failed: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create test schema");

    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options[search_path]={schema}");
    // Run the case as a task so a panic comes back as a value and the schema is still dropped.
    let outcome = tokio::spawn(case(TestDb { url })).await;

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop test schema");
    let _ = admin.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_sqlite(crate::cases::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_postgres(stringify!($name), crate::cases::$name).await;
                }
            )*
        }
    };
}

suite!(
    ping_succeeds_and_names_the_backend,
    migrations_apply_twice_idempotently,
    created_user_is_found_by_username_and_by_id,
    duplicate_username_is_a_conflict,
    duplicate_user_id_is_a_conflict,
    user_with_citizen_role_is_refused,
    unknown_user_is_none,
    session_is_returned_only_before_it_expires,
    citizen_session_has_no_user,
    session_for_unknown_user_is_an_invalid_reference,
    duplicate_session_token_hash_is_a_conflict,
    deleted_session_is_gone,
    delete_expired_sessions_removes_only_expired_ones,
    call_lifecycle_records_queued_offered_answered_ended,
    call_ends_only_once,
    duplicate_call_id_is_a_conflict,
    unknown_call_is_not_found,
    offer_to_unknown_agent_is_an_invalid_reference,
    end_open_calls_ends_only_open_calls,
    concurrent_call_inserts_all_commit,
);

mod cases {
    use voicedesk_protocol::{EndReason, Role};
    use voicedesk_store::{NewCall, NewSession, NewUser, StoreError};

    use crate::TestDb;

    fn new_user(id: &str, username: &str, role: Role) -> NewUser {
        NewUser {
            id: id.to_owned(),
            username: username.to_owned(),
            display_name: format!("Agent {username}"),
            role,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            created_at_ms: 1_700_000_000_000,
        }
    }

    fn new_session(
        token_hash: &str,
        role: Role,
        user_id: Option<&str>,
        expires: i64,
    ) -> NewSession {
        NewSession {
            token_hash: token_hash.to_owned(),
            role,
            user_id: user_id.map(str::to_owned),
            created_at_ms: 1_000,
            expires_at_ms: expires,
        }
    }

    fn new_call(id: &str, queued_at_ms: i64) -> NewCall {
        NewCall {
            id: id.to_owned(),
            citizen_session: format!("citizen-of-{id}"),
            service: Some("pension-inquiry".to_owned()),
            queued_at_ms,
        }
    }

    pub(crate) async fn ping_succeeds_and_names_the_backend(db: TestDb) {
        let store = db.open().await;
        store.ping().await.unwrap();
        let expected = if db.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        assert_eq!(store.backend(), expected);
    }

    pub(crate) async fn migrations_apply_twice_idempotently(db: TestDb) {
        let first = db.open().await;
        first.create_user(&new_user("u1", "alice", Role::Agent)).await.unwrap();
        first.insert_call(&new_call("c1", 10)).await.unwrap();
        // Opening again runs the migrator again: nothing to apply, nothing lost.
        let second = db.open().await;
        second.ping().await.unwrap();
        assert!(second.user_by_username("alice").await.unwrap().is_some());
        assert_eq!(second.count_calls().await.unwrap(), 1);
        drop(first);
        let third = db.open().await;
        assert_eq!(third.count_calls().await.unwrap(), 1);
    }

    pub(crate) async fn created_user_is_found_by_username_and_by_id(db: TestDb) {
        let store = db.open().await;
        let new = new_user("u-42", "zhang.wei", Role::Staff);
        let created = store.create_user(&new).await.unwrap();
        assert_eq!(created.id, "u-42");
        assert_eq!(created.username, "zhang.wei");
        assert_eq!(created.role, Role::Staff);
        assert_eq!(created.password_hash, new.password_hash);
        assert_eq!(created.created_at_ms, 1_700_000_000_000);

        let by_name = store.user_by_username("zhang.wei").await.unwrap().unwrap();
        assert_eq!(by_name, created);
        let by_id = store.user_by_id("u-42").await.unwrap().unwrap();
        assert_eq!(by_id, created);
        // The password hash stays out of Debug output.
        assert!(!format!("{by_id:?}").contains("argon2"));
    }

    pub(crate) async fn duplicate_username_is_a_conflict(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("u1", "alice", Role::Agent)).await.unwrap();
        let err = store.create_user(&new_user("u2", "alice", Role::Admin)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "user", key: "username", ref value } if value == "alice"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "user with username \"alice\" already exists");
        // The first user is untouched and the second was not created.
        assert_eq!(store.user_by_username("alice").await.unwrap().unwrap().id, "u1");
        assert!(store.user_by_id("u2").await.unwrap().is_none());
    }

    pub(crate) async fn duplicate_user_id_is_a_conflict(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("u1", "alice", Role::Agent)).await.unwrap();
        let err = store.create_user(&new_user("u1", "bob", Role::Agent)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "user", key: "id", ref value } if value == "u1"),
            "{err:?}"
        );
        assert!(store.user_by_username("bob").await.unwrap().is_none());
    }

    pub(crate) async fn user_with_citizen_role_is_refused(db: TestDb) {
        let store = db.open().await;
        let err = store.create_user(&new_user("u1", "citizen", Role::Citizen)).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidUserRole(Role::Citizen)), "{err:?}");
        assert!(store.user_by_id("u1").await.unwrap().is_none());
    }

    pub(crate) async fn unknown_user_is_none(db: TestDb) {
        let store = db.open().await;
        assert!(store.user_by_username("nobody").await.unwrap().is_none());
        assert!(store.user_by_id("nobody").await.unwrap().is_none());
    }

    pub(crate) async fn session_is_returned_only_before_it_expires(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("u1", "alice", Role::Agent)).await.unwrap();
        store
            .create_session(&new_session("h-agent", Role::Agent, Some("u1"), 5_000))
            .await
            .unwrap();

        let live = store.session_by_token_hash("h-agent", 4_999).await.unwrap().unwrap();
        assert_eq!(live.token_hash, "h-agent");
        assert_eq!(live.role, Role::Agent);
        assert_eq!(live.user_id.as_deref(), Some("u1"));
        assert_eq!(live.created_at_ms, 1_000);
        assert_eq!(live.expires_at_ms, 5_000);

        // expires_at_ms is the first instant the session is no longer valid.
        assert!(store.session_by_token_hash("h-agent", 5_000).await.unwrap().is_none());
        assert!(store.session_by_token_hash("h-agent", 9_999).await.unwrap().is_none());
        assert!(store.session_by_token_hash("h-unknown", 0).await.unwrap().is_none());
    }

    pub(crate) async fn citizen_session_has_no_user(db: TestDb) {
        let store = db.open().await;
        store.create_session(&new_session("h-citizen", Role::Citizen, None, 10_000)).await.unwrap();
        let s = store.session_by_token_hash("h-citizen", 0).await.unwrap().unwrap();
        assert_eq!(s.role, Role::Citizen);
        assert_eq!(s.user_id, None);
    }

    pub(crate) async fn session_for_unknown_user_is_an_invalid_reference(db: TestDb) {
        let store = db.open().await;
        let err = store
            .create_session(&new_session("h1", Role::Agent, Some("ghost"), 10_000))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "session", target: "user", ref id } if id == "ghost"),
            "{err:?}"
        );
        assert!(store.session_by_token_hash("h1", 0).await.unwrap().is_none());
    }

    pub(crate) async fn duplicate_session_token_hash_is_a_conflict(db: TestDb) {
        let store = db.open().await;
        store.create_session(&new_session("h1", Role::Citizen, None, 10_000)).await.unwrap();
        let err = store
            .create_session(&new_session("h1", Role::Citizen, None, 20_000))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err:?}");
        // The message does not repeat the token hash.
        assert!(!err.to_string().contains("h1"), "{err}");
        let s = store.session_by_token_hash("h1", 0).await.unwrap().unwrap();
        assert_eq!(s.expires_at_ms, 10_000);
    }

    pub(crate) async fn deleted_session_is_gone(db: TestDb) {
        let store = db.open().await;
        store.create_session(&new_session("h1", Role::Citizen, None, 10_000)).await.unwrap();
        store.create_session(&new_session("h2", Role::Citizen, None, 10_000)).await.unwrap();
        store.delete_session("h1").await.unwrap();
        assert!(store.session_by_token_hash("h1", 0).await.unwrap().is_none());
        assert!(store.session_by_token_hash("h2", 0).await.unwrap().is_some());
        // Deleting again (or deleting an unknown session) is not an error.
        store.delete_session("h1").await.unwrap();
        store.delete_session("never-existed").await.unwrap();
    }

    pub(crate) async fn delete_expired_sessions_removes_only_expired_ones(db: TestDb) {
        let store = db.open().await;
        for (hash, expires) in [("a", 100), ("b", 200), ("c", 300), ("d", 400)] {
            store.create_session(&new_session(hash, Role::Citizen, None, expires)).await.unwrap();
        }
        assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 2);
        assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 0);
        assert!(store.session_by_token_hash("c", 0).await.unwrap().is_some());
        assert!(store.session_by_token_hash("d", 0).await.unwrap().is_some());
        assert!(store.session_by_token_hash("a", 0).await.unwrap().is_none());
    }

    pub(crate) async fn call_lifecycle_records_queued_offered_answered_ended(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.create_user(&new_user("a2", "agent2", Role::Agent)).await.unwrap();

        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        let queued = store.call("c1").await.unwrap().unwrap();
        assert_eq!(queued.id, "c1");
        assert_eq!(queued.citizen_session, "citizen-of-c1");
        assert_eq!(queued.service.as_deref(), Some("pension-inquiry"));
        assert_eq!(queued.queued_at_ms, 1_000);
        assert_eq!(queued.offered_at_ms, None);
        assert_eq!(queued.answered_at_ms, None);
        assert_eq!(queued.ended_at_ms, None);
        assert_eq!(queued.outcome, None);
        assert_eq!(queued.agent_id, None);
        assert_eq!(queued.offer_count, 0);
        assert!(queued.is_open());

        // First offer rings a1 and times out; the second offer goes to a2.
        store.mark_call_offered("c1", "a1", 2_000).await.unwrap();
        store.mark_call_offered("c1", "a2", 3_000).await.unwrap();
        let offered = store.call("c1").await.unwrap().unwrap();
        assert_eq!(offered.offered_at_ms, Some(2_000), "the first offer time is kept");
        assert_eq!(offered.agent_id.as_deref(), Some("a2"));
        assert_eq!(offered.offer_count, 2);

        store.mark_call_answered("c1", "a2", 4_000).await.unwrap();
        let answered = store.call("c1").await.unwrap().unwrap();
        assert_eq!(answered.answered_at_ms, Some(4_000));
        assert_eq!(answered.agent_id.as_deref(), Some("a2"));
        assert!(answered.is_open());

        let changed =
            store.mark_call_ended("c1", 9_000, EndReason::CitizenHangUp.as_str()).await.unwrap();
        assert!(changed);
        let ended = store.call("c1").await.unwrap().unwrap();
        assert_eq!(ended.ended_at_ms, Some(9_000));
        assert_eq!(ended.outcome.as_deref(), Some("citizen_hang_up"));
        assert!(!ended.is_open());
        // Everything else survived the end.
        assert_eq!(ended.queued_at_ms, 1_000);
        assert_eq!(ended.offered_at_ms, Some(2_000));
        assert_eq!(ended.answered_at_ms, Some(4_000));
        assert_eq!(ended.offer_count, 2);
        assert_eq!(store.count_calls().await.unwrap(), 1);
    }

    pub(crate) async fn call_ends_only_once(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        assert!(store.mark_call_ended("c1", 2_000, EndReason::Abandoned.as_str()).await.unwrap());
        assert!(
            !store.mark_call_ended("c1", 3_000, EndReason::ServerShutdown.as_str()).await.unwrap()
        );
        let call = store.call("c1").await.unwrap().unwrap();
        assert_eq!(call.ended_at_ms, Some(2_000));
        assert_eq!(call.outcome.as_deref(), Some("abandoned"));
    }

    pub(crate) async fn duplicate_call_id_is_a_conflict(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        let err = store.insert_call(&new_call("c1", 5_000)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "call", key: "id", ref value } if value == "c1"),
            "{err:?}"
        );
        assert_eq!(store.call("c1").await.unwrap().unwrap().queued_at_ms, 1_000);
        assert_eq!(store.count_calls().await.unwrap(), 1);
    }

    pub(crate) async fn unknown_call_is_not_found(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        assert!(store.call("nope").await.unwrap().is_none());

        let err = store.mark_call_offered("nope", "a1", 1).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { entity: "call", ref id } if id == "nope"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "call \"nope\" not found");
        let err = store.mark_call_answered("nope", "a1", 1).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let err = store.mark_call_ended("nope", 1, "abandoned").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert_eq!(store.count_calls().await.unwrap(), 0);
    }

    pub(crate) async fn offer_to_unknown_agent_is_an_invalid_reference(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        let err = store.mark_call_offered("c1", "ghost", 2_000).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "call", target: "agent", ref id } if id == "ghost"),
            "{err:?}"
        );
        let err = store.mark_call_answered("c1", "ghost", 2_000).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidReference { .. }), "{err:?}");
        let call = store.call("c1").await.unwrap().unwrap();
        assert_eq!(call.offer_count, 0);
        assert_eq!(call.agent_id, None);
    }

    pub(crate) async fn end_open_calls_ends_only_open_calls(db: TestDb) {
        let store = db.open().await;
        for (id, queued) in [("c1", 1), ("c2", 2), ("c3", 3), ("c4", 4)] {
            store.insert_call(&new_call(id, queued)).await.unwrap();
        }
        assert!(store.mark_call_ended("c2", 50, "agent_hang_up").await.unwrap());

        let ended = store.end_open_calls(100, EndReason::ServerShutdown.as_str()).await.unwrap();
        assert_eq!(ended, 3);

        let c2 = store.call("c2").await.unwrap().unwrap();
        assert_eq!(c2.ended_at_ms, Some(50), "an ended call keeps its end");
        assert_eq!(c2.outcome.as_deref(), Some("agent_hang_up"));
        for id in ["c1", "c3", "c4"] {
            let c = store.call(id).await.unwrap().unwrap();
            assert_eq!(c.ended_at_ms, Some(100), "{id}");
            assert_eq!(c.outcome.as_deref(), Some("server_shutdown"), "{id}");
        }
        // Nothing is open any more.
        assert_eq!(store.end_open_calls(200, "server_shutdown").await.unwrap(), 0);
        assert_eq!(store.count_calls().await.unwrap(), 4);
    }

    pub(crate) async fn concurrent_call_inserts_all_commit(db: TestDb) {
        let store = db.open().await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..40 {
            let store = store.clone();
            tasks.spawn(async move {
                let id = format!("c{i}");
                store.insert_call(&new_call(&id, i)).await?;
                store.mark_call_ended(&id, i + 1, "abandoned").await
            });
        }
        while let Some(done) = tasks.join_next().await {
            assert!(done.unwrap().unwrap());
        }
        assert_eq!(store.count_calls().await.unwrap(), 40);
    }
}

// ---- Behaviour of one backend only ----------------------------------------------------------

#[tokio::test]
async fn open_rejects_an_unknown_url_scheme_without_echoing_the_url() {
    let err = voicedesk_store::open("mysql://root:secret@localhost/db")
        .await
        .err()
        .expect("mysql is not supported");
    assert!(
        matches!(err, StoreError::UnsupportedUrl { ref scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(voicedesk_store::open("no scheme at all").await.is_err());
}

#[tokio::test]
async fn sqlite_store_accepts_a_plain_path_and_creates_the_file() {
    let dir = TempDir::new();
    let path = dir.0.join("nested-name.db");
    assert!(!path.exists());
    let store = voicedesk_store::SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    store.ping().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn sqlite_connections_use_wal_synchronous_full_and_foreign_keys() {
    let dir = TempDir::new();
    let store =
        voicedesk_store::SqliteStore::open(dir.0.join("db").to_str().unwrap()).await.unwrap();
    // Check several connections of the pool, not just the first.
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut conn = store.pool().acquire().await.unwrap();
        let journal: String =
            sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await.unwrap();
        let synchronous: i64 =
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.unwrap();
        let foreign_keys: i64 =
            sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut *conn).await.unwrap();
        let busy_timeout: i64 =
            sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "synchronous=FULL");
        assert_eq!(foreign_keys, 1);
        assert_eq!(busy_timeout, 5_000);
        conns.push(conn);
    }
}

#[tokio::test]
async fn sqlite_in_memory_database_keeps_its_data_for_the_life_of_the_store() {
    let store = voicedesk_store::open("sqlite::memory:").await.unwrap();
    store
        .insert_call(&voicedesk_store::NewCall {
            id: "c1".into(),
            citizen_session: "s".into(),
            service: None,
            queued_at_ms: 1,
        })
        .await
        .unwrap();
    // Concurrent reads may use other pool connections; all see the same database.
    let (a, b, c) = tokio::join!(store.count_calls(), store.count_calls(), store.call("c1"));
    assert_eq!(a.unwrap(), 1);
    assert_eq!(b.unwrap(), 1);
    assert_eq!(c.unwrap().unwrap().service, None);
}

#[tokio::test]
async fn sqlite_full_database_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    // max_page_count makes the database "full" after a few hundred KiB, like a full disk.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.0.join("small.db"))
        .pragma("max_page_count", "64");
    let store = voicedesk_store::SqliteStore::open_with(options).await.unwrap();
    let big = "x".repeat(8 * 1024);
    let mut inserted = 0u64;
    let err = loop {
        let call = voicedesk_store::NewCall {
            id: format!("c{inserted}"),
            citizen_session: "s".into(),
            service: Some(big.clone()),
            queued_at_ms: 1,
        };
        match store.insert_call(&call).await {
            Ok(()) => inserted += 1,
            Err(e) => break e,
        }
        assert!(inserted < 10_000, "the database never filled up");
    };
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    // What was acknowledged is still there and the store still answers.
    assert!(inserted > 0);
    assert_eq!(store.count_calls().await.unwrap(), inserted);
    store.ping().await.unwrap();
}
