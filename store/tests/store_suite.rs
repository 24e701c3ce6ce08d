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
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::Connection as _;
use voicedesk_store::{CallStore as _, Store, StoreError};

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

    fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    /// A one-connection SQLite pool of its own, creating the database file if it is missing.
    /// (Pools rather than bare connections: `Migrator::run_to` on `&mut Connection` trips the
    /// "`Acquire` is not general enough" lifetime error inside `tokio::spawn`.)
    async fn sqlite_pool(&self) -> sqlx::SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&self.url)
            .expect("sqlite URL")
            .create_if_missing(true);
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("connect")
    }

    /// A one-connection Postgres pool of its own, in the test's schema.
    async fn postgres_pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("connect")
    }

    /// Runs `sql` (one or more statements, on one connection) outside the store: to set up
    /// states the store never writes itself.
    async fn execute_raw(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let done = if self.is_sqlite() {
            let pool = self.sqlite_pool().await;
            let done = sqlx::raw_sql(sql).execute(&pool).await.map(drop);
            pool.close().await;
            done
        } else {
            let pool = self.postgres_pool().await;
            let done = sqlx::raw_sql(sql).execute(&pool).await.map(drop);
            pool.close().await;
            done
        };
        done.unwrap_or_else(|e| panic!("raw SQL failed: {e}"));
    }

    /// Applies the migrations up to and including `version` only, from the migration files (the
    /// same files, so the same checksums, as the ones the store embeds).
    async fn migrate_to(&self, version: i64) {
        let backend = if self.is_sqlite() { "sqlite" } else { "postgres" };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
        let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.expect("read migrations");
        assert!(migrator.version_exists(version), "no migration {version}");
        let done = if self.is_sqlite() {
            let pool = self.sqlite_pool().await;
            let done = migrator.run_to(version, &pool).await;
            pool.close().await;
            done
        } else {
            let pool = self.postgres_pool().await;
            let done = migrator.run_to(version, &pool).await;
            pool.close().await;
            done
        };
        done.unwrap_or_else(|e| panic!("migrating to {version} failed: {e}"));
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
    a_group_of_call_writes_commits_in_order_in_one_transaction,
    a_group_with_a_write_that_changes_nothing_writes_nothing,
    a_burst_of_calls_written_as_one_group_gives_each_call_its_own_record,
    call_ends_only_once,
    duplicate_call_id_is_a_conflict,
    unknown_call_is_not_found,
    offer_to_unknown_agent_is_an_invalid_reference,
    end_open_calls_ends_only_open_calls,
    concurrent_call_inserts_all_commit,
    migrations_upgrade_a_database_that_had_only_0001,
    audit_entries_come_back_newest_first_with_all_fields,
    audit_entries_filter_by_call_and_by_actor,
    audit_entries_respect_the_limit_and_its_cap,
    audit_entry_for_unknown_actor_or_call_is_an_invalid_reference,
    audit_entry_with_unknown_action_or_mode_reads_back_as_corrupt,
    take_over_is_recorded_on_the_call,
    take_over_needs_an_existing_open_call_and_a_known_staff_member,
    call_counts_by_queue_count_since_the_boundary_against_each_queues_target,
    seeded_catalogue_is_complete_and_ordered,
    skills_are_created_updated_and_deleted,
    skill_in_use_cannot_be_deleted,
    invalid_skill_values_are_refused,
    services_are_created_updated_and_deleted,
    service_refusals_write_nothing,
    agent_skills_are_replaced_as_a_whole,
    agent_skill_refusals_change_nothing,
    users_by_role_lists_users_without_password_hashes,
    holidays_are_upserted_and_deleted,
    away_reasons_are_replaced_keeping_system_reasons,
    dispositions_in_use_cannot_be_deleted,
    calls_record_their_skill_and_priority,
    transfer_moves_an_open_call_to_another_queue,
    transfer_refusals_change_nothing,
    wrapups_are_saved_once_per_agent_and_replaced,
    wrapup_refusals_write_nothing,
    migrations_upgrade_a_database_that_had_only_0002,
    text_message_is_stored_and_found_by_id_ticket_and_code,
    voice_message_is_stored_and_its_file_listed,
    retry_with_the_same_client_id_returns_the_same_message_with_a_new_code,
    retry_with_other_content_is_a_conflict_and_changes_nothing,
    retry_by_another_citizen_is_a_conflict_and_keeps_the_first_code,
    citizen_message_count_counts_one_citizen_since_a_time,
    concurrent_retries_store_one_message,
    invalid_messages_are_refused_before_writing,
    message_for_unknown_call_is_an_invalid_reference,
    message_goes_new_assigned_answered_closed,
    refused_message_transitions_change_nothing,
    inbox_filters_by_state_and_overdue_in_urgency_order,
    ratings_are_stored_once_per_subject,
    low_ratings_open_follow_ups_until_handled,
    refused_ratings_and_follow_up_changes_change_nothing,
    migrations_upgrade_a_database_that_had_only_0003,
    migrations_upgrade_a_database_that_had_only_0009,
    message_audit_is_appended_and_refuses_unknown_references,
    kb_articles_are_upserted_listed_and_deleted,
    kb_synonyms_are_upserted_listed_and_deleted,
    unanswered_questions_are_counted_newest_first,
    seeded_announcements_are_listed_when_current_pinned_first,
    announcements_are_created_updated_and_deleted,
    announcement_refusals_write_nothing,
    seeded_canned_replies_are_listed_per_service_in_order,
    canned_replies_are_created_updated_and_deleted_with_their_service,
    canned_reply_refusals_write_nothing,
    narrow_store_handles_share_one_database,
    call_quality_is_kept_per_side_and_replaced,
    call_quality_refusals_change_nothing,
);

mod cases {
    use std::collections::BTreeMap;

    use voicedesk_protocol::{EndReason, Role, SupportMode};
    use voicedesk_store::{
        AgentSkill, Announcement, AuditAction, AuditEntry, AuditFilter, CallCounts, CallQuality,
        CannedReply, FollowUp, Holiday, HolidayKind, LabelledCode, Message, MessageFilter,
        MessageKind, MessageReason, MessageState, NewAuditEntry, NewCall, NewMessage,
        NewMessageAudit, NewRating, NewSession, NewUser, NewWrapUp, RatingSubject, RecordingPolicy,
        Service, ServiceKind, Skill, StoreError, UnansweredQuestion, UserSkill, WrapUp, files,
    };

    use crate::TestDb;
    use voicedesk_store::CallWrite;

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
            skill_id: None,
            priority: 0,
        }
    }

    fn audit(
        at_ms: i64,
        actor_id: &str,
        call_id: &str,
        action: AuditAction,
        mode: Option<SupportMode>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at_ms,
            actor_id: actor_id.to_owned(),
            call_id: call_id.to_owned(),
            action,
            mode,
            detail: None,
        }
    }

    fn filter(call_id: Option<&str>, actor_id: Option<&str>, limit: u32) -> AuditFilter {
        AuditFilter {
            call_id: call_id.map(str::to_owned),
            actor_id: actor_id.map(str::to_owned),
            limit,
        }
    }

    /// The ids of `entries`, in the order given.
    fn ids(entries: &[AuditEntry]) -> Vec<i64> {
        entries.iter().map(|e| e.id).collect()
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

    pub(crate) async fn a_group_of_call_writes_commits_in_order_in_one_transaction(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.create_user(&new_user("s1", "staff1", Role::Staff)).await.unwrap();
        let at = |call_id: &str, at_ms| (call_id.to_owned(), "a1".to_owned(), at_ms);
        let offered = |(call_id, agent_id, at_ms)| CallWrite::Offered { call_id, agent_id, at_ms };
        let answered =
            |(call_id, agent_id, at_ms)| CallWrite::Answered { call_id, agent_id, at_ms };
        let kept_quality = CallQuality {
            side: "citizen",
            mos: 3.9,
            loss_pct: 1.0,
            jitter_ms: 2.0,
            rtt_ms: Some(41.5),
        };
        let writes = vec![
            CallWrite::Insert(new_call("c1", 1_000)),
            CallWrite::Insert(new_call("c2", 1_100)),
            offered(at("c1", 2_000)),
            answered(at("c1", 3_000)),
            CallWrite::Audit(audit(
                3_500,
                "s1",
                "c1",
                AuditAction::Join,
                Some(SupportMode::Monitor),
            )),
            CallWrite::TakenOver { call_id: "c1".into(), staff_id: "s1".into(), at_ms: 4_000 },
            CallWrite::Ended {
                call_id: "c1".into(),
                at_ms: 5_000,
                outcome: "staff_hang_up".into(),
                quality: vec![kept_quality],
            },
            CallWrite::WrapUp(NewWrapUp {
                call_id: "c1".into(),
                agent_id: "a1".into(),
                disposition: "resolved".into(),
                notes: String::new(),
                at_ms: 5_500,
            }),
            CallWrite::Ended {
                call_id: "c2".into(),
                at_ms: 6_000,
                outcome: "abandoned".into(),
                quality: vec![],
            },
        ];
        store.commit_call_writes(&writes).await.unwrap();
        let c1 = store.call("c1").await.unwrap().unwrap();
        assert_eq!(
            (c1.offered_at_ms, c1.answered_at_ms, c1.taken_over_at_ms, c1.ended_at_ms),
            (Some(2_000), Some(3_000), Some(4_000), Some(5_000))
        );
        assert_eq!(c1.handled_by.as_deref(), Some("s1"));
        assert_eq!(c1.outcome.as_deref(), Some("staff_hang_up"));
        assert_eq!(store.wrapups("c1").await.unwrap().len(), 1);
        assert_eq!(store.audit_entries(&filter(Some("c1"), None, 10)).await.unwrap().len(), 1);
        let c2 = store.call("c2").await.unwrap().unwrap();
        assert_eq!(c2.outcome.as_deref(), Some("abandoned"));
        // The end kept its call's audio quality in the same commit.
        assert_eq!(store.call_quality("c1").await.unwrap(), vec![kept_quality]);
        assert!(store.call_quality("c2").await.unwrap().is_empty());
    }

    pub(crate) async fn a_burst_of_calls_written_as_one_group_gives_each_call_its_own_record(
        db: TestDb,
    ) {
        // More calls than one statement writes (256), interleaved as the driver queues them: each
        // call's insert, then offers, answers and ends of earlier calls between later inserts.
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        let n = 300;
        let id = |i: usize| format!("burst-{i:03}");
        let mut writes = Vec::new();
        for i in 0..n {
            writes.push(CallWrite::Insert(new_call(&id(i), 1_000 + i as i64)));
            if i >= 2 {
                let (call_id, agent_id) = (id(i - 2), "a1".to_owned());
                writes.push(CallWrite::Offered { call_id, agent_id, at_ms: 2_000 + i as i64 });
            }
            if i >= 4 && i % 2 == 0 {
                let call_id = id(i - 4);
                let at_ms = 3_000 + i as i64;
                let outcome = "abandoned".into();
                writes.push(CallWrite::Ended { call_id, at_ms, outcome, quality: vec![] });
            }
        }
        store.commit_call_writes(&writes).await.unwrap();
        assert_eq!(store.count_calls().await.unwrap(), n as u64);
        for i in [0, 1, 2, 150, 255, 256, 257, 295, 296, 297, 299] {
            let call = store.call(&id(i)).await.unwrap().unwrap();
            assert_eq!(call.queued_at_ms, 1_000 + i as i64, "{}", id(i));
            let offered = (i + 2 < n).then(|| 2_000 + i as i64 + 2);
            assert_eq!(call.offered_at_ms, offered, "{}", id(i));
            assert_eq!(call.offer_count, u32::from(offered.is_some()), "{}", id(i));
            let ended = (i % 2 == 0 && i + 4 < n).then(|| 3_000 + i as i64 + 4);
            assert_eq!(call.ended_at_ms, ended, "{}", id(i));
        }
        // The same group again is refused as a whole (every insert is a duplicate) and changes
        // nothing.
        assert!(store.commit_call_writes(&writes[..3]).await.is_err());
        assert_eq!(store.count_calls().await.unwrap(), n as u64);
    }

    pub(crate) async fn a_group_with_a_write_that_changes_nothing_writes_nothing(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        let writes = [
            CallWrite::Insert(new_call("c1", 1_000)),
            CallWrite::Offered { call_id: "c1".into(), agent_id: "a1".into(), at_ms: 2_000 },
            // No such call: the single write would be `NotFound`.
            CallWrite::Ended {
                call_id: "nope".into(),
                at_ms: 3_000,
                outcome: "abandoned".into(),
                quality: vec![],
            },
        ];
        let err = store.commit_call_writes(&writes).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(store.call("c1").await.unwrap().is_none(), "the whole group was rolled back");
        // A write the store refuses (an unknown agent) rolls the group back too.
        let writes = [
            CallWrite::Insert(new_call("c2", 1_000)),
            CallWrite::Answered { call_id: "c2".into(), agent_id: "ghost".into(), at_ms: 2_000 },
        ];
        assert!(store.commit_call_writes(&writes).await.is_err());
        assert!(store.call("c2").await.unwrap().is_none());
        // An end whose quality figure is out of range: refused before anything is written.
        let bad =
            CallQuality { side: "agent", mos: 7.0, loss_pct: 0.0, jitter_ms: 0.0, rtt_ms: None };
        let writes = [
            CallWrite::Insert(new_call("c3", 1_000)),
            CallWrite::Ended {
                call_id: "c3".into(),
                at_ms: 2_000,
                outcome: "abandoned".into(),
                quality: vec![bad],
            },
        ];
        let err = store.commit_call_writes(&writes).await.unwrap_err();
        assert!(err.is_invalid_value(), "{err:?}");
        assert!(store.call("c3").await.unwrap().is_none());
        assert_eq!(store.count_calls().await.unwrap(), 0);
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
        assert_eq!(queued.handled_by, None);
        assert_eq!(queued.taken_over_at_ms, None);
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

    pub(crate) async fn migrations_upgrade_a_database_that_had_only_0001(db: TestDb) {
        // A database as a release with change 0001 only left it, with rows in it.
        db.migrate_to(1).await;
        // (Only 0001: this fails if audit_log exists already.)
        db.execute_raw("CREATE TABLE audit_log (x INTEGER); DROP TABLE audit_log").await;
        db.execute_raw(
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at_ms) \
             VALUES ('s1', 'sam', 'Sam', 'staff', 'x', 1); \
             INSERT INTO calls (id, citizen_session, queued_at_ms, ended_at_ms, outcome) \
             VALUES ('old', 'citizen', 10, 20, 'abandoned')",
        )
        .await;

        // Opening applies 0002 and later changes (and accepts the 0001 already applied); the old
        // rows survive.
        let store = db.open().await;
        let old = store.call("old").await.unwrap().unwrap();
        assert_eq!(old.outcome.as_deref(), Some("abandoned"));
        assert_eq!(old.handled_by, None);
        assert_eq!(old.taken_over_at_ms, None);
        assert!(store.user_by_id("s1").await.unwrap().is_some());

        // The new schema works on the upgraded database.
        store.insert_call(&new_call("c1", 100)).await.unwrap();
        store.mark_call_taken_over("c1", "s1", 150).await.unwrap();
        let id = store
            .append_audit(&audit(
                150,
                "s1",
                "c1",
                AuditAction::TakeOver,
                Some(SupportMode::TakeOver),
            ))
            .await
            .unwrap();

        // Opening again applies nothing and loses nothing.
        drop(store);
        let again = db.open().await;
        assert_eq!(again.count_calls().await.unwrap(), 2);
        assert_eq!(again.call("c1").await.unwrap().unwrap().handled_by.as_deref(), Some("s1"));
        let entries = again.audit_entries(&filter(None, None, 10)).await.unwrap();
        assert_eq!(ids(&entries), [id]);
    }

    pub(crate) async fn audit_entries_come_back_newest_first_with_all_fields(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        assert!(store.audit_entries(&filter(None, None, 10)).await.unwrap().is_empty());

        let join = audit(2_000, "s1", "c1", AuditAction::Join, Some(SupportMode::Monitor));
        let mode = audit(3_000, "s1", "c1", AuditAction::Mode, Some(SupportMode::Barge));
        let recording = NewAuditEntry {
            detail: Some("recording c1.opus, 12 s".to_owned()),
            ..audit(4_000, "s1", "c1", AuditAction::RecordingAccess, None)
        };
        let leave = audit(5_000, "s1", "c1", AuditAction::Leave, None);
        let mut appended = Vec::new();
        for entry in [&join, &mode, &recording, &leave] {
            appended.push(store.append_audit(entry).await.unwrap());
        }
        assert!(appended.is_sorted_by(|a, b| a < b), "ids grow: {appended:?}");

        // Committed: a second store on the same database sees every entry.
        let other = db.open().await;
        let entries = other.audit_entries(&filter(None, None, 10)).await.unwrap();
        let expected: Vec<AuditEntry> = [&join, &mode, &recording, &leave]
            .into_iter()
            .zip(&appended)
            .rev()
            .map(|(e, &id)| AuditEntry {
                id,
                at_ms: e.at_ms,
                actor_id: e.actor_id.clone(),
                call_id: e.call_id.clone(),
                action: e.action,
                mode: e.mode,
                detail: e.detail.clone(),
            })
            .collect();
        assert_eq!(entries, expected);
        assert_eq!(entries[0].action, AuditAction::Leave);
        assert_eq!(entries[1].detail.as_deref(), Some("recording c1.opus, 12 s"));
        assert_eq!(entries[2].mode, Some(SupportMode::Barge));

        // Every action and mode the schema allows round-trips.
        for action in AuditAction::ALL {
            for mode in [
                None,
                Some(SupportMode::Monitor),
                Some(SupportMode::Whisper),
                Some(SupportMode::Barge),
                Some(SupportMode::TakeOver),
            ] {
                store.append_audit(&audit(6_000, "s1", "c1", action, mode)).await.unwrap();
                let newest = store.audit_entries(&filter(None, None, 1)).await.unwrap();
                assert_eq!((newest[0].action, newest[0].mode), (action, mode));
            }
        }
    }

    pub(crate) async fn audit_entries_filter_by_call_and_by_actor(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.create_user(&new_user("s2", "sue", Role::Admin)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.insert_call(&new_call("c2", 2)).await.unwrap();
        let mut ids_of = std::collections::HashMap::<(&str, &str), Vec<i64>>::new();
        for (i, (actor, call)) in
            [("s1", "c1"), ("s2", "c1"), ("s1", "c2"), ("s1", "c1"), ("s2", "c2"), ("s2", "c1")]
                .into_iter()
                .enumerate()
        {
            let at = i64::try_from(i).unwrap() * 100;
            let id = store.append_audit(&audit(at, actor, call, AuditAction::Join, None)).await;
            ids_of.entry((actor, call)).or_default().push(id.unwrap());
        }
        // Newest first, from the ids of the given (actor, call) pairs.
        let newest_first = |pairs: &[(&str, &str)]| {
            let mut ids: Vec<i64> = pairs.iter().flat_map(|p| ids_of[p].clone()).collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        };

        let by_call = store.audit_entries(&filter(Some("c1"), None, 100)).await.unwrap();
        assert!(by_call.iter().all(|e| e.call_id == "c1"));
        assert_eq!(ids(&by_call), newest_first(&[("s1", "c1"), ("s2", "c1")]));

        let by_actor = store.audit_entries(&filter(None, Some("s2"), 100)).await.unwrap();
        assert!(by_actor.iter().all(|e| e.actor_id == "s2"));
        assert_eq!(ids(&by_actor), newest_first(&[("s2", "c1"), ("s2", "c2")]));

        let both = store.audit_entries(&filter(Some("c1"), Some("s1"), 100)).await.unwrap();
        assert_eq!(ids(&both), newest_first(&[("s1", "c1")]));
        assert_eq!(both.len(), 2);

        let all = store.audit_entries(&filter(None, None, 100)).await.unwrap();
        assert_eq!(all.len(), 6);
        // Unknown ids filter everything out; they are not errors.
        assert!(store.audit_entries(&filter(Some("nope"), None, 100)).await.unwrap().is_empty());
        assert!(
            store.audit_entries(&filter(Some("c2"), Some("nobody"), 9)).await.unwrap().is_empty()
        );
    }

    pub(crate) async fn audit_entries_respect_the_limit_and_its_cap(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.insert_call(&new_call("c2", 2)).await.unwrap();
        let mut appended = Vec::new();
        for at in 0..5 {
            appended.push(
                store.append_audit(&audit(at, "s1", "c1", AuditAction::Join, None)).await.unwrap(),
            );
        }
        let newest_two = store.audit_entries(&filter(None, None, 2)).await.unwrap();
        assert_eq!(ids(&newest_two), [appended[4], appended[3]]);
        let by_call = store.audit_entries(&filter(Some("c1"), Some("s1"), 3)).await.unwrap();
        assert_eq!(ids(&by_call), [appended[4], appended[3], appended[2]]);
        assert!(store.audit_entries(&filter(None, None, 0)).await.unwrap().is_empty());

        // Many more rows than the cap (written in one statement, to keep the test fast).
        db.execute_raw(
            "INSERT INTO audit_log (at_ms, actor_id, call_id, action) \
             WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100) \
             SELECT 10000 + i, 's1', 'c2', 'leave' FROM n",
        )
        .await;
        assert_eq!(AuditFilter::MAX_LIMIT, 1000);
        let capped = store.audit_entries(&filter(None, None, u32::MAX)).await.unwrap();
        assert_eq!(capped.len(), 1000);
        assert_eq!(capped[0].at_ms, 11_100, "the newest entries are the ones kept");
        let capped = store.audit_entries(&filter(Some("c2"), None, 1001)).await.unwrap();
        assert_eq!(capped.len(), 1000);
        let under = store.audit_entries(&filter(Some("c1"), None, u32::MAX)).await.unwrap();
        assert_eq!(under.len(), 5);
    }

    pub(crate) async fn audit_entry_for_unknown_actor_or_call_is_an_invalid_reference(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();

        let err = store
            .append_audit(&audit(5, "ghost", "c1", AuditAction::Join, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "audit entry", target: "user", ref id } if id == "ghost"),
            "{err:?}"
        );
        let err = store
            .append_audit(&audit(5, "s1", "no-call", AuditAction::Join, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "audit entry", target: "call", ref id } if id == "no-call"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "audit entry refers to call \"no-call\", which does not exist");
        let err = store
            .append_audit(&audit(5, "ghost", "no-call", AuditAction::Leave, None))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidReference { .. }), "{err:?}");

        // Nothing was written, and a valid entry still goes in.
        assert!(store.audit_entries(&filter(None, None, 10)).await.unwrap().is_empty());
        store.append_audit(&audit(6, "s1", "c1", AuditAction::Join, None)).await.unwrap();
        assert_eq!(store.audit_entries(&filter(None, None, 10)).await.unwrap().len(), 1);
    }

    pub(crate) async fn audit_entry_with_unknown_action_or_mode_reads_back_as_corrupt(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.insert_call(&new_call("c2", 2)).await.unwrap();
        // Rows the store never writes (a hand edit, or a newer schema): lift the CHECKs first.
        if db.is_sqlite() {
            db.execute_raw(
                "PRAGMA ignore_check_constraints = ON; \
                 INSERT INTO audit_log (at_ms, actor_id, call_id, action) \
                 VALUES (1, 's1', 'c1', 'dance'); \
                 INSERT INTO audit_log (at_ms, actor_id, call_id, action, mode) \
                 VALUES (2, 's1', 'c2', 'join', 'shout')",
            )
            .await;
        } else {
            db.execute_raw(
                "ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check; \
                 ALTER TABLE audit_log DROP CONSTRAINT audit_log_mode_check; \
                 INSERT INTO audit_log (at_ms, actor_id, call_id, action) \
                 VALUES (1, 's1', 'c1', 'dance'); \
                 INSERT INTO audit_log (at_ms, actor_id, call_id, action, mode) \
                 VALUES (2, 's1', 'c2', 'join', 'shout')",
            )
            .await;
        }
        let err = store.audit_entries(&filter(Some("c1"), None, 10)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { table: "audit_log", column: "action", ref value } if value == "dance"),
            "{err:?}"
        );
        let err = store.audit_entries(&filter(Some("c2"), None, 10)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { table: "audit_log", column: "mode", ref value } if value == "shout"),
            "{err:?}"
        );
        assert!(store.audit_entries(&filter(None, None, 10)).await.is_err());
    }

    pub(crate) async fn take_over_is_recorded_on_the_call(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.create_user(&new_user("s2", "sue", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("c1", 1_000)).await.unwrap();
        store.insert_call(&new_call("c2", 1_000)).await.unwrap();
        store.mark_call_offered("c1", "a1", 2_000).await.unwrap();
        store.mark_call_answered("c1", "a1", 3_000).await.unwrap();

        store.mark_call_taken_over("c1", "s1", 4_000).await.unwrap();
        let call = store.call("c1").await.unwrap().unwrap();
        assert_eq!(call.handled_by.as_deref(), Some("s1"));
        assert_eq!(call.taken_over_at_ms, Some(4_000));
        assert_eq!(call.agent_id.as_deref(), Some("a1"), "the agent who answered is kept");
        assert_eq!(call.answered_at_ms, Some(3_000));
        assert!(call.is_open(), "a take over does not end the call");
        // Only that call.
        let other = store.call("c2").await.unwrap().unwrap();
        assert_eq!((other.handled_by, other.taken_over_at_ms), (None, None));

        // A later take over replaces the earlier one.
        store.mark_call_taken_over("c1", "s2", 5_000).await.unwrap();
        let call = store.call("c1").await.unwrap().unwrap();
        assert_eq!(call.handled_by.as_deref(), Some("s2"));
        assert_eq!(call.taken_over_at_ms, Some(5_000));

        // Ending the call keeps who handled it.
        assert!(store.mark_call_ended("c1", 9_000, EndReason::StaffHangUp.as_str()).await.unwrap());
        let ended = store.call("c1").await.unwrap().unwrap();
        assert_eq!(ended.handled_by.as_deref(), Some("s2"));
        assert_eq!(ended.taken_over_at_ms, Some(5_000));
        assert_eq!(ended.outcome.as_deref(), Some("staff_hang_up"));
    }

    pub(crate) async fn take_over_needs_an_existing_open_call_and_a_known_staff_member(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.insert_call(&new_call("open", 1_000)).await.unwrap();
        store.insert_call(&new_call("ended", 1_000)).await.unwrap();
        assert!(store.mark_call_ended("ended", 2_000, "citizen_hang_up").await.unwrap());

        let err = store.mark_call_taken_over("nope", "s1", 3_000).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { entity: "call", ref id } if id == "nope"),
            "{err:?}"
        );

        let err = store.mark_call_taken_over("ended", "s1", 3_000).await.unwrap_err();
        assert!(matches!(err, StoreError::CallEnded { ref id } if id == "ended"), "{err:?}");
        assert!(err.is_call_ended() && !err.is_not_found() && !err.is_conflict());
        assert_eq!(err.to_string(), "call \"ended\" has already ended");
        let ended = store.call("ended").await.unwrap().unwrap();
        assert_eq!((ended.handled_by, ended.taken_over_at_ms), (None, None));

        let err = store.mark_call_taken_over("open", "ghost", 3_000).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "call", target: "staff", ref id } if id == "ghost"),
            "{err:?}"
        );
        let open = store.call("open").await.unwrap().unwrap();
        assert_eq!((open.handled_by, open.taken_over_at_ms), (None, None));
        assert_eq!(store.count_calls().await.unwrap(), 2);
    }

    pub(crate) async fn call_counts_by_queue_count_since_the_boundary_against_each_queues_target(
        db: TestDb,
    ) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        let counts = |since, threshold| {
            let store = &store;
            async move { store.call_counts_by_queue_since(since, threshold).await.unwrap() }
        };
        assert!(counts(0, 20_000).await.is_empty());
        // A queue with a target of its own: 60 s.
        let slow = Skill { service_level_secs: Some(60), ..skill("slow") };
        store.upsert_skill(&slow).await.unwrap();

        // (id, queue, queued, answered after, ended as); no queue is the default threshold's.
        let calls: [(&str, Option<&str>, i64, Option<i64>, Option<EndReason>); 11] = [
            // Before the boundary: never counted.
            ("y1", None, 999, Some(5), Some(EndReason::AgentHangUp)),
            ("y2", None, 500, None, Some(EndReason::Abandoned)),
            // At and after the boundary (1_000).
            ("t1", None, 1_000, Some(20_000), Some(EndReason::CitizenHangUp)), // the threshold
            ("t2", None, 1_500, Some(20_001), Some(EndReason::AgentHangUp)),   // just over
            ("t3", None, 2_000, Some(3_000), None),                            // still talking
            ("t4", None, 2_500, Some(60_000), Some(EndReason::TakenOver)),
            ("t5", None, 3_000, None, Some(EndReason::Abandoned)),
            ("t6", None, 3_500, None, Some(EndReason::Abandoned)),
            ("t7", None, 4_000, None, None), // still queued
            // The slow queue: 59 s is within its own 60 s, not within the default.
            ("s1", Some("slow"), 2_000, Some(59_000), Some(EndReason::AgentHangUp)),
            ("s2", Some("slow"), 2_000, Some(61_000), Some(EndReason::AgentHangUp)),
        ];
        for (id, queue, queued, answered_after, ended) in calls {
            let call = NewCall { skill_id: queue.map(str::to_owned), ..new_call(id, queued) };
            store.insert_call(&call).await.unwrap();
            if let Some(after) = answered_after {
                store.mark_call_answered(id, "a1", queued + after).await.unwrap();
            }
            if let Some(reason) = ended {
                store.mark_call_ended(id, queued + 100_000, reason.as_str()).await.unwrap();
            }
        }
        let of = |by_queue: &BTreeMap<String, CallCounts>, queue: &str| {
            by_queue.get(queue).copied().unwrap_or_default()
        };

        let by_queue = counts(1_000, 20_000).await;
        assert_eq!(of(&by_queue, ""), CallCounts { answered: 4, abandoned: 2, answered_within: 2 });
        assert_eq!(
            of(&by_queue, "slow"),
            CallCounts { answered: 2, abandoned: 0, answered_within: 1 },
            "counted against the queue's own 60 s, not the default 20 s"
        );
        // A wider default takes in the slower answers of queues without a target; a boundary
        // later drops earlier calls.
        let by_queue = counts(1_000, 60_000).await;
        assert_eq!(of(&by_queue, ""), CallCounts { answered: 4, abandoned: 2, answered_within: 4 });
        assert_eq!(of(&by_queue, "slow").answered_within, 1, "the queue's own target still");
        let by_queue = counts(3_000, 60_000).await;
        assert_eq!(of(&by_queue, ""), CallCounts { answered: 0, abandoned: 2, answered_within: 0 });
        assert!(!by_queue.contains_key("slow"), "{by_queue:?}");
        let by_queue = counts(0, 0).await;
        assert_eq!(of(&by_queue, ""), CallCounts { answered: 5, abandoned: 3, answered_within: 0 });
        assert!(counts(1_000_000, 20_000).await.is_empty());
    }

    // ---- Catalogue, agent skills, holidays, codes, transfers, wrap-ups (change 0003) ----------

    fn skill(id: &str) -> Skill {
        Skill {
            id: id.to_owned(),
            name_zh: format!("技能 {id}"),
            name_en: format!("Skill {id}"),
            hours: "mon-fri 09:00-17:00".to_owned(),
            max_waiting: Some(10),
            max_wait_secs: None,
            service_level_secs: Some(30),
            service_level_pct: Some(75),
            sort: 500,
            updated_at_ms: 1_000,
            recording: RecordingPolicy::OnDemand,
        }
    }

    fn service(id: &str, area: &str, skill_id: &str) -> Service {
        Service {
            id: id.to_owned(),
            area: area.to_owned(),
            skill_id: skill_id.to_owned(),
            kind: ServiceKind::Inquiry,
            name_zh: format!("业务 {id}"),
            name_en: format!("Service {id}"),
            description_zh: "一句话说明。".to_owned(),
            description_en: "One sentence.".to_owned(),
            name_es: format!("Servicio {id}"),
            description_es: "Una frase.".to_owned(),
            priority: 0,
            sort: 5_000,
            enabled: true,
        }
    }

    fn code(code: &str, sort: i32) -> LabelledCode {
        LabelledCode {
            code: code.to_owned(),
            name_zh: format!("代码 {code}"),
            name_en: format!("Code {code}"),
            sort,
            system: false,
        }
    }

    fn level(skill_id: &str, level: i32) -> AgentSkill {
        AgentSkill { skill_id: skill_id.to_owned(), level }
    }

    fn wrapup(
        call_id: &str,
        agent_id: &str,
        disposition: &str,
        notes: &str,
        at_ms: i64,
    ) -> NewWrapUp {
        NewWrapUp {
            call_id: call_id.to_owned(),
            agent_id: agent_id.to_owned(),
            disposition: disposition.to_owned(),
            notes: notes.to_owned(),
            at_ms,
        }
    }

    fn codes_of(list: &[LabelledCode]) -> Vec<&str> {
        list.iter().map(|c| c.code.as_str()).collect()
    }

    /// Asserts `err` is an `InvalidValue` of `entity`.`field`.
    #[track_caller]
    fn assert_invalid(err: &StoreError, entity: &str, field: &str) {
        assert!(
            matches!(err, StoreError::InvalidValue { entity: e, field: f, .. } if *e == entity && *f == field),
            "expected invalid {entity}.{field}, got {err:?}"
        );
        assert!(err.is_invalid_value() && err.is_client_error(), "{err:?}");
    }

    pub(crate) async fn seeded_catalogue_is_complete_and_ordered(db: TestDb) {
        let store = db.open().await;
        let cat = store.catalogue().await.unwrap();

        let areas: Vec<&str> = cat.areas.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(areas, ["guidance", "counter", "self_service", "announcements", "rest"]);
        assert!(cat.areas.iter().all(|a| !a.name_zh.is_empty() && !a.name_en.is_empty()));

        let skills: Vec<&str> = cat.skills.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            skills,
            [
                "pension",
                "medical",
                "unemployment",
                "work_injury",
                "maternity",
                "employer",
                "transfer",
                "general"
            ]
        );
        for s in &cat.skills {
            assert!(!s.name_zh.is_empty() && !s.name_en.is_empty() && !s.hours.is_empty(), "{s:?}");
        }
        let pension = &cat.skills[0];
        assert_eq!(pension.name_zh, "养老保险");
        assert_eq!(pension.hours, "mon-fri 09:00-12:00,13:00-17:00");
        assert_eq!(cat.skills[7].hours, "mon-fri 08:30-17:30; sat 09:00-12:00");

        // At least 32 services, each with both names, an existing area and skill, a priority in
        // range, enabled; every area used except possibly the rest area.
        assert!(cat.services.len() >= 32, "only {} services", cat.services.len());
        for s in &cat.services {
            assert!(!s.name_zh.trim().is_empty() && !s.name_en.trim().is_empty(), "{s:?}");
            assert!(!s.description_zh.is_empty() && !s.description_en.is_empty(), "{s:?}");
            assert!(cat.areas.iter().any(|a| a.id == s.area), "{s:?}");
            assert!(cat.skills.iter().any(|k| k.id == s.skill_id), "{s:?}");
            assert!((0..=9).contains(&s.priority) && s.enabled, "{s:?}");
        }
        for area in ["guidance", "counter", "self_service", "announcements"] {
            assert!(cat.services.iter().any(|s| s.area == area), "no service in {area}");
        }
        for skill in &cat.skills {
            assert!(cat.services.iter().any(|s| s.skill_id == skill.id), "{} unused", skill.id);
        }
        for kind in ServiceKind::ALL {
            assert!(cat.services.iter().any(|s| s.kind == kind), "no {kind:?} service");
        }
        let ids: std::collections::HashSet<&str> =
            cat.services.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), cat.services.len());
        let transfer = cat.services.iter().find(|s| s.id == "pension_transfer").unwrap();
        assert_eq!(
            (transfer.skill_id.as_str(), transfer.kind, transfer.name_zh.as_str()),
            ("transfer", ServiceKind::Transfer, "养老保险关系跨地区转移")
        );
        let declaration =
            cat.services.iter().find(|s| s.id == "employer_contribution_base_declaration").unwrap();
        assert_eq!(
            (declaration.area.as_str(), declaration.kind),
            ("counter", ServiceKind::Declaration)
        );
        let sorted = cat.services.is_sorted_by(|a, b| (a.sort, &a.id) <= (b.sort, &b.id));
        assert!(sorted, "services are ordered by sort, then id");

        assert_eq!(
            codes_of(&cat.away_reasons),
            ["break", "meal", "meeting", "training", "other", "missed_calls"]
        );
        let system: Vec<&str> =
            cat.away_reasons.iter().filter(|r| r.system).map(|r| r.code.as_str()).collect();
        assert_eq!(system, ["missed_calls"]);
        let missed = cat.away_reasons.last().unwrap();
        assert_eq!(
            (missed.name_zh.as_str(), missed.name_en.as_str()),
            ("未接来电", "Missed calls")
        );
        assert_eq!(
            codes_of(&cat.dispositions),
            [
                "resolved",
                "needs_follow_up",
                "transferred",
                "documents_needed",
                "complaint",
                "wrong_service",
                "other"
            ]
        );
        assert!(cat.dispositions.iter().all(|d| !d.system));
        assert_eq!(cat.dispositions[0].name_zh, "已解答");

        // China's 2026 schedule: 33 days off and 6 make-up working days; and 2027-01-01 off.
        let count = |kind| cat.holidays.iter().filter(|h| h.kind == kind).count();
        assert_eq!((count(HolidayKind::Holiday), count(HolidayKind::Workday)), (34, 6));
        assert!(cat.holidays.is_sorted_by(|a, b| a.day < b.day));
        let day = |d: &str| cat.holidays.iter().find(|h| h.day == d).map(|h| h.kind);
        assert_eq!(day("2026-01-01"), Some(HolidayKind::Holiday));
        assert_eq!(day("2026-01-04"), Some(HolidayKind::Workday));
        assert_eq!(day("2026-02-14"), Some(HolidayKind::Workday));
        assert_eq!(day("2026-02-23"), Some(HolidayKind::Holiday));
        assert_eq!(day("2026-09-20"), Some(HolidayKind::Workday));
        assert_eq!(day("2026-10-07"), Some(HolidayKind::Holiday));
        assert_eq!(day("2026-10-08"), None);
        assert_eq!(day("2027-01-01"), Some(HolidayKind::Holiday));
        let national = cat.holidays.iter().find(|h| h.day == "2026-10-01").unwrap();
        assert_eq!(
            (national.name_zh.as_str(), national.name_en.as_str()),
            ("国庆节", "National Day")
        );
    }

    pub(crate) async fn skills_are_created_updated_and_deleted(db: TestDb) {
        let store = db.open().await;
        let before = store.catalogue().await.unwrap();

        let new = Skill { max_wait_secs: Some(600), ..skill("pension_elderly") };
        store.upsert_skill(&new).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.skills.len(), before.skills.len() + 1);
        assert_eq!(cat.skills.iter().find(|s| s.id == "pension_elderly"), Some(&new));

        // Upsert again: every field is replaced, nothing is added.
        let changed = Skill {
            name_zh: "老年人养老服务".to_owned(),
            name_en: "Pension services for the elderly".to_owned(),
            hours: "always".to_owned(),
            max_waiting: None,
            max_wait_secs: None,
            service_level_secs: None,
            service_level_pct: None,
            sort: 5,
            updated_at_ms: 2_000,
            recording: RecordingPolicy::All,
            ..new.clone()
        };
        store.upsert_skill(&changed).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.skills.len(), before.skills.len() + 1);
        assert_eq!(cat.skills[0], changed, "sort 5 comes first");

        // Seeded skills can be edited too (e.g. opening hours).
        let general = Skill { hours: "never".to_owned(), ..before.skills[7].clone() };
        assert_eq!(general.recording, RecordingPolicy::None, "seeded queues record nothing");
        store.upsert_skill(&general).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.skills.iter().find(|s| s.id == "general").unwrap().hours, "never");

        // Ties in `sort` are broken by id as bytes ('_' before 'a'), whatever the collation.
        for id in ["tie_b", "tiea", "tie_a"] {
            store.upsert_skill(&Skill { sort: 1, ..skill(id) }).await.unwrap();
        }
        let cat = store.catalogue().await.unwrap();
        let first: Vec<&str> = cat.skills[..3].iter().map(|s| s.id.as_str()).collect();
        assert_eq!(first, ["tie_a", "tie_b", "tiea"]);
        for id in ["tie_b", "tiea", "tie_a"] {
            assert!(store.delete_skill(id).await.unwrap());
        }

        assert!(store.delete_skill("pension_elderly").await.unwrap());
        assert!(!store.delete_skill("pension_elderly").await.unwrap());
        assert!(!store.delete_skill("never_existed").await.unwrap());
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.skills.len(), before.skills.len());
        assert!(cat.skills.iter().all(|s| s.id != "pension_elderly"));
    }

    pub(crate) async fn skill_in_use_cannot_be_deleted(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();

        // A seeded skill is routed to by services.
        let err = store.delete_skill("pension").await.unwrap_err();
        assert!(
            matches!(err, StoreError::InUse { entity: "skill", ref id, by: "services" } if id == "pension"),
            "{err:?}"
        );
        assert!(err.is_in_use() && err.is_client_error());
        assert_eq!(err.to_string(), "skill \"pension\" is still used by services");

        // A skill a call was queued for (no service left) is kept for the call's history.
        store.upsert_skill(&skill("hotline")).await.unwrap();
        store.upsert_service(&service("hotline_service", "guidance", "hotline")).await.unwrap();
        store.set_agent_skills("a1", &[level("hotline", 3), level("pension", 5)]).await.unwrap();
        let call = NewCall { skill_id: Some("hotline".to_owned()), ..new_call("c1", 1) };
        store.insert_call(&call).await.unwrap();
        let err = store.delete_skill("hotline").await.unwrap_err();
        assert!(matches!(err, StoreError::InUse { by: "services", .. }), "{err:?}");
        assert!(store.delete_service("hotline_service").await.unwrap());
        let err = store.delete_skill("hotline").await.unwrap_err();
        assert!(
            matches!(err, StoreError::InUse { entity: "skill", ref id, by: "calls" } if id == "hotline"),
            "{err:?}"
        );
        // Nothing changed: the skill and the agent's level in it are still there.
        let cat = store.catalogue().await.unwrap();
        assert!(cat.skills.iter().any(|s| s.id == "hotline"));
        assert_eq!(
            store.agent_skills("a1").await.unwrap(),
            [level("hotline", 3), level("pension", 5)]
        );

        // A skill only agents have goes, taking the agents' levels with it.
        store.upsert_skill(&skill("spare")).await.unwrap();
        store.set_agent_skills("a1", &[level("spare", 1), level("pension", 5)]).await.unwrap();
        assert!(store.delete_skill("spare").await.unwrap());
        assert_eq!(store.agent_skills("a1").await.unwrap(), [level("pension", 5)]);
    }

    pub(crate) async fn invalid_skill_values_are_refused(db: TestDb) {
        let store = db.open().await;
        let before = store.catalogue().await.unwrap();
        let cases: [(Skill, &str); 13] = [
            (skill(""), "id"),
            (skill("Pension"), "id"),
            (skill("has space"), "id"),
            (skill(&"x".repeat(65)), "id"),
            (Skill { name_zh: "  ".to_owned(), ..skill("ok") }, "name_zh"),
            (Skill { name_en: String::new(), ..skill("ok") }, "name_en"),
            (Skill { hours: String::new(), ..skill("ok") }, "hours"),
            (Skill { max_waiting: Some(0), ..skill("ok") }, "max_waiting"),
            (Skill { max_wait_secs: Some(u32::MAX), ..skill("ok") }, "max_wait_secs"),
            (Skill { service_level_pct: Some(0), ..skill("ok") }, "service_level_pct"),
            (Skill { service_level_pct: Some(101), ..skill("ok") }, "service_level_pct"),
            (Skill { service_level_pct: None, ..skill("ok") }, "service_level_pct"),
            (Skill { service_level_secs: None, ..skill("ok") }, "service_level_secs"),
        ];
        for (bad, field) in cases {
            let err = store.upsert_skill(&bad).await.unwrap_err();
            assert_invalid(&err, "skill", field);
        }
        let err = store.upsert_skill(&Skill { max_waiting: Some(0), ..skill("ok") }).await;
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid skill max_waiting \"0\": expected none, or an integer from 1 to 2147483647"
        );
        assert_eq!(store.catalogue().await.unwrap(), before, "nothing was written");
    }

    pub(crate) async fn services_are_created_updated_and_deleted(db: TestDb) {
        let store = db.open().await;
        let before = store.catalogue().await.unwrap();

        let new = service("pension_calculator", "self_service", "pension");
        store.upsert_service(&new).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.services.len(), before.services.len() + 1);
        assert_eq!(cat.services.last(), Some(&new), "sort 5000 comes last");

        // Every field is replaced: move it, reroute it, disable it.
        let changed = Service {
            area: "counter".to_owned(),
            skill_id: "general".to_owned(),
            kind: ServiceKind::Payment,
            name_zh: "养老金测算".to_owned(),
            name_en: "Pension estimate".to_owned(),
            description_zh: String::new(),
            description_en: String::new(),
            name_es: String::new(),
            description_es: String::new(),
            priority: 9,
            sort: 0,
            enabled: false,
            ..new.clone()
        };
        store.upsert_service(&changed).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.services.len(), before.services.len() + 1);
        assert_eq!(cat.services[0], changed, "sort 0 comes first; disabled services are listed");

        assert!(store.delete_service("pension_calculator").await.unwrap());
        assert!(!store.delete_service("pension_calculator").await.unwrap());
        // A seeded service can be deleted (nothing refers to services).
        assert!(store.delete_service("service_feedback").await.unwrap());
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.services.len(), before.services.len() - 1);
    }

    pub(crate) async fn service_refusals_write_nothing(db: TestDb) {
        let store = db.open().await;
        let before = store.catalogue().await.unwrap();

        let err = store.upsert_service(&service("x", "lobby", "pension")).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "service", target: "hall area", ref id } if id == "lobby"),
            "{err:?}"
        );
        assert!(err.is_invalid_reference() && err.is_client_error());
        let err = store.upsert_service(&service("x", "counter", "dentistry")).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "service", target: "skill", ref id } if id == "dentistry"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "service refers to skill \"dentistry\", which does not exist");
        // An existing service re-pointed at an unknown skill keeps its old row.
        let existing = before.services[0].clone();
        let bad = Service { skill_id: "dentistry".to_owned(), ..existing.clone() };
        assert!(store.upsert_service(&bad).await.unwrap_err().is_invalid_reference());

        for (bad, field) in [
            (Service { priority: 10, ..existing.clone() }, "priority"),
            (Service { priority: -1, ..existing.clone() }, "priority"),
            (Service { name_zh: String::new(), ..existing.clone() }, "name_zh"),
            (Service { name_en: " ".to_owned(), ..existing.clone() }, "name_en"),
            (Service { id: "Bad-Id".to_owned(), ..existing.clone() }, "id"),
            (Service { description_en: "x".repeat(1001), ..existing.clone() }, "description_en"),
            (Service { name_es: " ".to_owned(), ..existing.clone() }, "name_es"),
            (Service { description_es: "x".repeat(1001), ..existing.clone() }, "description_es"),
        ] {
            let err = store.upsert_service(&bad).await.unwrap_err();
            assert_invalid(&err, "service", field);
        }
        assert_eq!(store.catalogue().await.unwrap(), before, "nothing was written");
    }

    pub(crate) async fn agent_skills_are_replaced_as_a_whole(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.create_user(&new_user("a2", "agent2", Role::Agent)).await.unwrap();
        assert!(store.agent_skills("a1").await.unwrap().is_empty());
        assert!(store.all_agent_skills().await.unwrap().is_empty());

        store
            .set_agent_skills(
                "a1",
                &[level("pension", 8), level("general", 3), level("medical", 10)],
            )
            .await
            .unwrap();
        store.set_agent_skills("a2", &[level("general", 1)]).await.unwrap();
        // By skill id.
        assert_eq!(
            store.agent_skills("a1").await.unwrap(),
            [level("general", 3), level("medical", 10), level("pension", 8)]
        );
        let entry = |user: &str, skill: &str, level: i32| UserSkill {
            user_id: user.to_owned(),
            skill_id: skill.to_owned(),
            level,
        };
        assert_eq!(
            store.all_agent_skills().await.unwrap(),
            [
                entry("a1", "general", 3),
                entry("a1", "medical", 10),
                entry("a1", "pension", 8),
                entry("a2", "general", 1),
            ]
        );

        // Replacing drops what is not listed, changes levels, adds new skills; other agents keep
        // theirs.
        store.set_agent_skills("a1", &[level("pension", 9), level("transfer", 2)]).await.unwrap();
        assert_eq!(
            store.agent_skills("a1").await.unwrap(),
            [level("pension", 9), level("transfer", 2)]
        );
        assert_eq!(store.agent_skills("a2").await.unwrap(), [level("general", 1)]);
        // An empty set removes them all.
        store.set_agent_skills("a1", &[]).await.unwrap();
        assert!(store.agent_skills("a1").await.unwrap().is_empty());
        assert_eq!(store.all_agent_skills().await.unwrap(), [entry("a2", "general", 1)]);
        assert!(store.agent_skills("nobody").await.unwrap().is_empty());

        // Concurrent replacements of one agent's set all commit, one after the other.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 1..=10 {
            let store = store.clone();
            tasks.spawn(async move {
                store.set_agent_skills("a2", &[level("general", i), level("pension", i)]).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let set = store.agent_skills("a2").await.unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[0].level, set[1].level, "one whole set won: {set:?}");
    }

    pub(crate) async fn agent_skill_refusals_change_nothing(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        let original = [level("general", 3), level("pension", 8)];
        store.set_agent_skills("a1", &original).await.unwrap();

        let err = store.set_agent_skills("ghost", &[level("pension", 1)]).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "agent skill", target: "user", ref id } if id == "ghost"),
            "{err:?}"
        );
        let err = store
            .set_agent_skills("a1", &[level("medical", 2), level("dentistry", 5)])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "agent skill", target: "skill", ref id } if id == "dentistry"),
            "{err:?}"
        );
        for (bad, field) in [
            (vec![level("pension", 0)], "level"),
            (vec![level("pension", 11)], "level"),
            (vec![level("pension", 2), level("pension", 3)], "skill_id"),
            (vec![level("", 2)], "skill_id"),
        ] {
            let err = store.set_agent_skills("a1", &bad).await.unwrap_err();
            assert_invalid(&err, "agent skill", field);
        }
        assert_eq!(store.agent_skills("a1").await.unwrap(), original, "the old set is kept");
        assert!(store.agent_skills("ghost").await.unwrap().is_empty());
        assert_eq!(store.all_agent_skills().await.unwrap().len(), 2);
    }

    pub(crate) async fn users_by_role_lists_users_without_password_hashes(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a2", "zoe", Role::Agent)).await.unwrap();
        store.create_user(&new_user("a1", "amy", Role::Agent)).await.unwrap();
        store.create_user(&new_user("s1", "sam", Role::Staff)).await.unwrap();
        store.create_user(&new_user("ad", "root", Role::Admin)).await.unwrap();

        let agents = store.users_by_role(Role::Agent).await.unwrap();
        let names: Vec<&str> = agents.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["amy", "zoe"], "by username");
        assert_eq!(agents[0].id, "a1");
        assert_eq!(agents[0].display_name, "Agent amy");
        assert_eq!(agents[0].role, Role::Agent);
        assert_eq!(agents[0].created_at_ms, 1_700_000_000_000);
        let json = serde_json::to_string(&agents).unwrap();
        assert!(!json.contains("argon2") && !format!("{agents:?}").contains("argon2"), "{json}");

        let staff = store.users_by_role(Role::Staff).await.unwrap();
        assert_eq!(staff.len(), 1);
        assert_eq!(staff[0].id, "s1");
        assert_eq!(store.users_by_role(Role::Admin).await.unwrap().len(), 1);
        assert!(store.users_by_role(Role::Citizen).await.unwrap().is_empty());
    }

    pub(crate) async fn holidays_are_upserted_and_deleted(db: TestDb) {
        let store = db.open().await;
        let before = store.catalogue().await.unwrap().holidays;

        let spring_2027 = Holiday {
            day: "2027-02-06".to_owned(),
            kind: HolidayKind::Holiday,
            name_zh: "春节".to_owned(),
            name_en: "Spring Festival".to_owned(),
        };
        store.upsert_holiday(&spring_2027).await.unwrap();
        // Replace a seeded day: it becomes a make-up working day.
        let changed = Holiday {
            day: "2026-10-07".to_owned(),
            kind: HolidayKind::Workday,
            name_zh: "调休上班".to_owned(),
            name_en: "Make-up workday".to_owned(),
        };
        store.upsert_holiday(&changed).await.unwrap();
        let after = store.catalogue().await.unwrap().holidays;
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after.last(), Some(&spring_2027), "by day");
        assert_eq!(after.iter().find(|h| h.day == "2026-10-07"), Some(&changed));

        assert!(store.delete_holiday("2027-02-06").await.unwrap());
        assert!(!store.delete_holiday("2027-02-06").await.unwrap());
        assert!(store.delete_holiday("2026-01-01").await.unwrap());
        let after = store.catalogue().await.unwrap().holidays;
        assert_eq!(after.len(), before.len() - 1);

        // Refusals write nothing.
        for day in ["2026-02-30", "2026/05/01", "26-05-01", "", "2026-05-01 "] {
            let bad = Holiday { day: day.to_owned(), ..spring_2027.clone() };
            assert_invalid(&store.upsert_holiday(&bad).await.unwrap_err(), "holiday", "day");
        }
        let bad = Holiday { name_en: String::new(), ..spring_2027.clone() };
        assert_invalid(&store.upsert_holiday(&bad).await.unwrap_err(), "holiday", "name_en");
        assert_eq!(store.catalogue().await.unwrap().holidays, after);

        // A calendar written at once: all of it, or (one bad entry, a day twice) none of it.
        let workday = Holiday {
            day: "2027-02-14".to_owned(),
            kind: HolidayKind::Workday,
            ..spring_2027.clone()
        };
        let bad = Holiday {
            name_zh: " ".to_owned(),
            day: "2027-02-07".to_owned(),
            ..spring_2027.clone()
        };
        let twice = [spring_2027.clone(), workday.clone(), spring_2027.clone()];
        assert_invalid(&store.upsert_holidays(&twice).await.unwrap_err(), "holiday", "day");
        let one_bad = [spring_2027.clone(), bad];
        assert_invalid(&store.upsert_holidays(&one_bad).await.unwrap_err(), "holiday", "name_zh");
        assert_eq!(store.catalogue().await.unwrap().holidays, after);
        store.upsert_holidays(&[spring_2027.clone(), workday.clone()]).await.unwrap();
        let imported = store.catalogue().await.unwrap().holidays;
        assert_eq!(imported.len(), after.len() + 2);
        assert_eq!(&imported[imported.len() - 2..], &[spring_2027, workday]);
    }

    pub(crate) async fn away_reasons_are_replaced_keeping_system_reasons(db: TestDb) {
        let store = db.open().await;
        let new = [code("lunch", 10), code("coaching", 20), code("break", 30)];
        store.replace_away_reasons(&new).await.unwrap();
        let reasons = store.catalogue().await.unwrap().away_reasons;
        assert_eq!(codes_of(&reasons), ["lunch", "coaching", "break", "missed_calls"]);
        assert_eq!(reasons[2], code("break", 30), "an existing code is updated");
        let missed = &reasons[3];
        assert!(missed.system);
        assert_eq!(missed.name_zh, "未接来电", "the system reason is untouched");

        // Refusals change nothing.
        let err = store.replace_away_reasons(&[code("missed_calls", 1)]).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "away reason", key: "code", ref value } if value == "missed_calls"),
            "{err:?}"
        );
        let err = store
            .replace_away_reasons(&[code("nap", 1), code("missed_calls", 2)])
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err:?}");
        let system = LabelledCode { system: true, ..code("robot", 1) };
        let err = store.replace_away_reasons(&[system]).await.unwrap_err();
        assert_invalid(&err, "away reason", "system");
        let err = store.replace_away_reasons(&[]).await.unwrap_err();
        assert_invalid(&err, "away reason", "code");
        let err = store.replace_away_reasons(&[code("nap", 1), code("nap", 2)]).await.unwrap_err();
        assert_invalid(&err, "away reason", "code");
        let blank = LabelledCode { name_zh: String::new(), ..code("nap", 1) };
        assert_invalid(
            &store.replace_away_reasons(&[blank]).await.unwrap_err(),
            "away reason",
            "name_zh",
        );
        assert_eq!(store.catalogue().await.unwrap().away_reasons, reasons);
    }

    pub(crate) async fn dispositions_in_use_cannot_be_deleted(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.save_wrapup(&wrapup("c1", "a1", "complaint", "", 10)).await.unwrap();
        let before = store.catalogue().await.unwrap().dispositions;

        // Dropping `complaint` (used by the wrap-up) is refused and changes nothing, even the
        // renames and additions of the same list.
        let new = [code("resolved", 1), code("callback", 2)];
        let err = store.replace_dispositions(&new).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InUse { entity: "disposition", ref id, by: "call wrap-ups" } if id == "complaint"),
            "{err:?}"
        );
        assert_eq!(store.catalogue().await.unwrap().dispositions, before);

        // Keeping it, the rest goes.
        let new = [code("resolved", 1), code("callback", 2), code("complaint", 3)];
        store.replace_dispositions(&new).await.unwrap();
        assert_eq!(store.catalogue().await.unwrap().dispositions, new);
        assert_eq!(store.wrapups("c1").await.unwrap()[0].disposition, "complaint");
    }

    pub(crate) async fn calls_record_their_skill_and_priority(db: TestDb) {
        let store = db.open().await;
        let call = NewCall {
            skill_id: Some("work_injury".to_owned()),
            priority: 3,
            ..new_call("c1", 1_000)
        };
        store.insert_call(&call).await.unwrap();
        let stored = store.call("c1").await.unwrap().unwrap();
        assert_eq!(stored.skill_id.as_deref(), Some("work_injury"));
        assert_eq!(stored.priority, 3);
        assert_eq!(stored.transfer_count, 0);
        assert_eq!(stored.transferred_at_ms, None);
        // Without a skill.
        store.insert_call(&new_call("c2", 1_000)).await.unwrap();
        let stored = store.call("c2").await.unwrap().unwrap();
        assert_eq!((stored.skill_id, stored.priority), (None, 0));

        let err = store
            .insert_call(&NewCall { skill_id: Some("dentistry".to_owned()), ..new_call("c3", 1) })
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "call", target: "skill", ref id } if id == "dentistry"),
            "{err:?}"
        );
        for priority in [-1, 10] {
            let err = store.insert_call(&NewCall { priority, ..new_call("c3", 1) }).await;
            assert_invalid(&err.unwrap_err(), "call", "priority");
        }
        assert!(store.call("c3").await.unwrap().is_none());
        assert_eq!(store.count_calls().await.unwrap(), 2);
    }

    pub(crate) async fn transfer_moves_an_open_call_to_another_queue(db: TestDb) {
        let store = db.open().await;
        let call =
            NewCall { skill_id: Some("general".to_owned()), priority: 2, ..new_call("c1", 1) };
        store.insert_call(&call).await.unwrap();
        store.insert_call(&new_call("c2", 1)).await.unwrap();

        assert!(store.mark_call_transferred("c1", "pension", 100).await.unwrap());
        let moved = store.call("c1").await.unwrap().unwrap();
        assert_eq!(moved.skill_id.as_deref(), Some("pension"));
        assert_eq!((moved.transfer_count, moved.transferred_at_ms), (1, Some(100)));
        assert_eq!(moved.priority, 2, "the priority is kept");
        assert!(moved.is_open());

        assert!(store.mark_call_transferred("c1", "transfer", 200).await.unwrap());
        let moved = store.call("c1").await.unwrap().unwrap();
        assert_eq!(moved.skill_id.as_deref(), Some("transfer"));
        assert_eq!((moved.transfer_count, moved.transferred_at_ms), (2, Some(200)));
        // A call without a skill can be transferred to one; other calls are untouched.
        assert!(store.mark_call_transferred("c2", "medical", 300).await.unwrap());
        assert_eq!(store.call("c2").await.unwrap().unwrap().transfer_count, 1);
        assert_eq!(store.call("c1").await.unwrap().unwrap().transfer_count, 2);
    }

    pub(crate) async fn transfer_refusals_change_nothing(db: TestDb) {
        let store = db.open().await;
        let call = NewCall { skill_id: Some("general".to_owned()), ..new_call("c1", 1) };
        store.insert_call(&call).await.unwrap();
        store
            .insert_call(&NewCall { skill_id: Some("general".to_owned()), ..new_call("ended", 1) })
            .await
            .unwrap();
        assert!(store.mark_call_ended("ended", 50, "citizen_hang_up").await.unwrap());

        let err = store.mark_call_transferred("nope", "pension", 100).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { entity: "call", ref id } if id == "nope"),
            "{err:?}"
        );
        let err = store.mark_call_transferred("c1", "dentistry", 100).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "call", target: "skill", ref id } if id == "dentistry"),
            "{err:?}"
        );
        assert!(!store.mark_call_transferred("ended", "pension", 100).await.unwrap());

        for id in ["c1", "ended"] {
            let c = store.call(id).await.unwrap().unwrap();
            assert_eq!(c.skill_id.as_deref(), Some("general"), "{id}");
            assert_eq!((c.transfer_count, c.transferred_at_ms), (0, None), "{id}");
        }
        assert_eq!(store.count_calls().await.unwrap(), 2);
    }

    pub(crate) async fn wrapups_are_saved_once_per_agent_and_replaced(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.create_user(&new_user("a2", "agent2", Role::Agent)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.insert_call(&new_call("c2", 1)).await.unwrap();
        assert!(store.wrapups("c1").await.unwrap().is_empty());

        // A transferred call: both agents wrap it up.
        store.save_wrapup(&wrapup("c1", "a1", "transferred", "转养老组", 100)).await.unwrap();
        store.save_wrapup(&wrapup("c1", "a2", "resolved", "", 200)).await.unwrap();
        store.save_wrapup(&wrapup("c2", "a1", "resolved", "", 150)).await.unwrap();
        let expected = |agent: &str, disposition: &str, notes: &str, at_ms| WrapUp {
            call_id: "c1".to_owned(),
            agent_id: agent.to_owned(),
            disposition: disposition.to_owned(),
            notes: notes.to_owned(),
            at_ms,
        };
        assert_eq!(
            store.wrapups("c1").await.unwrap(),
            [expected("a1", "transferred", "转养老组", 100), expected("a2", "resolved", "", 200)]
        );

        // The agent corrects it: the second save replaces the first. Notes of exactly the
        // maximum length (in characters, not bytes) are accepted.
        let notes = "需".repeat(NewWrapUp::MAX_NOTES_CHARS);
        store.save_wrapup(&wrapup("c1", "a1", "documents_needed", &notes, 300)).await.unwrap();
        assert_eq!(
            store.wrapups("c1").await.unwrap(),
            [expected("a2", "resolved", "", 200), expected("a1", "documents_needed", &notes, 300)]
        );
        assert_eq!(store.wrapups("c2").await.unwrap().len(), 1);
        assert!(store.wrapups("nope").await.unwrap().is_empty());
    }

    pub(crate) async fn wrapup_refusals_write_nothing(db: TestDb) {
        let store = db.open().await;
        store.create_user(&new_user("a1", "agent1", Role::Agent)).await.unwrap();
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.save_wrapup(&wrapup("c1", "a1", "resolved", "ok", 100)).await.unwrap();
        let saved = store.wrapups("c1").await.unwrap();

        for (bad, target, id) in [
            (wrapup("c1", "a1", "lost", "", 200), "disposition", "lost"),
            (wrapup("nope", "a1", "resolved", "", 200), "call", "nope"),
            (wrapup("c1", "ghost", "resolved", "", 200), "agent", "ghost"),
        ] {
            let err = store.save_wrapup(&bad).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidReference { entity: "call wrap-up", target: t, id: ref i } if t == target && i == id),
                "{err:?}"
            );
        }
        let too_long = "x".repeat(NewWrapUp::MAX_NOTES_CHARS + 1);
        let err =
            store.save_wrapup(&wrapup("c1", "a1", "other", &too_long, 200)).await.unwrap_err();
        assert_invalid(&err, "call wrap-up", "notes");
        assert!(err.to_string().len() < 200, "the error does not repeat the notes: {err}");

        assert_eq!(store.wrapups("c1").await.unwrap(), saved, "the first save is kept");
        assert!(store.wrapups("nope").await.unwrap().is_empty());
    }

    pub(crate) async fn migrations_upgrade_a_database_that_had_only_0002(db: TestDb) {
        // A database as a release with changes 0001 and 0002 left it, with rows in it.
        db.migrate_to(2).await;
        // (Only up to 0002: this fails if skills exists already.)
        db.execute_raw("CREATE TABLE skills (x INTEGER); DROP TABLE skills").await;
        db.execute_raw(
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at_ms) \
             VALUES ('a1', 'amy', 'Amy', 'agent', 'x', 1); \
             INSERT INTO calls (id, citizen_session, service, queued_at_ms, answered_at_ms, \
             agent_id, ended_at_ms, outcome) \
             VALUES ('old', 'citizen', '养老保险查询 Pension inquiry', 10, 15, 'a1', 20, \
             'citizen_hang_up'); \
             INSERT INTO calls (id, citizen_session, queued_at_ms) VALUES ('open', 'c', 30); \
             INSERT INTO audit_log (at_ms, actor_id, call_id, action) \
             VALUES (16, 'a1', 'old', 'recording_access')",
        )
        .await;

        // Opening applies 0003 only; the old rows survive with the new columns' defaults.
        let store = db.open().await;
        let old = store.call("old").await.unwrap().unwrap();
        assert_eq!(old.service.as_deref(), Some("养老保险查询 Pension inquiry"));
        assert_eq!(old.outcome.as_deref(), Some("citizen_hang_up"));
        assert_eq!((old.skill_id, old.priority, old.transfer_count), (None, 0, 0));
        assert_eq!(old.transferred_at_ms, None);
        assert_eq!(store.audit_entries(&filter(Some("old"), None, 10)).await.unwrap().len(), 1);
        assert!(store.user_by_id("a1").await.unwrap().is_some());
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.areas.len(), 5);
        assert!(cat.services.len() >= 32);

        // The new schema works on the upgraded database, old rows included.
        assert!(store.mark_call_transferred("open", "pension", 40).await.unwrap());
        store.save_wrapup(&wrapup("old", "a1", "resolved", "", 50)).await.unwrap();
        store.set_agent_skills("a1", &[level("pension", 5)]).await.unwrap();
        let call =
            NewCall { skill_id: Some("medical".to_owned()), priority: 1, ..new_call("c1", 60) };
        store.insert_call(&call).await.unwrap();

        // Opening again applies nothing and loses nothing.
        drop(store);
        let again = db.open().await;
        assert_eq!(again.count_calls().await.unwrap(), 3);
        assert_eq!(again.call("open").await.unwrap().unwrap().transfer_count, 1);
        assert_eq!(again.wrapups("old").await.unwrap().len(), 1);
        assert_eq!(again.agent_skills("a1").await.unwrap(), [level("pension", 5)]);
        assert_eq!(again.catalogue().await.unwrap(), cat);
    }

    // ---- Online messages and ratings (change 0004) ---------------------------------------------

    fn text_message(client_id: &str, body: &str, created: i64) -> NewMessage {
        NewMessage {
            client_id: format!("client-{client_id:0>16}"),
            kind: MessageKind::Text,
            service: Some("pension_claim".to_owned()),
            name: Some("王小明".to_owned()),
            phone: Some("+86 138-0000-0000".to_owned()),
            body: Some(body.to_owned()),
            voice_file: None,
            voice_ms: None,
            voice_bytes: None,
            call_id: None,
            reason: MessageReason::Closed,
            created_at_ms: created,
            due_at_ms: created + 2 * 86_400_000,
            citizen_id: Some("c-0123456789abcdef".to_owned()),
        }
    }

    fn voice_message(client_id: &str, created: i64) -> NewMessage {
        NewMessage {
            kind: MessageKind::Voice,
            body: None,
            voice_file: Some(files::new_voice_file_name()),
            voice_ms: Some(12_340),
            voice_bytes: Some(20_480),
            reason: MessageReason::WaitLimit,
            ..text_message(client_id, "", created)
        }
    }

    fn filter_messages(state: Option<MessageState>, overdue: Option<i64>) -> MessageFilter {
        MessageFilter { state, overdue_at_ms: overdue, limit: 100 }
    }

    fn message_ids(messages: &[Message]) -> Vec<&str> {
        messages.iter().map(|m| m.id.as_str()).collect()
    }

    fn rating(kind: RatingSubject, id: &str, level: i32) -> NewRating {
        NewRating {
            subject_kind: kind,
            subject_id: id.to_owned(),
            level,
            comment: "办得很快".to_owned(),
            created_at_ms: 1_000,
        }
    }

    async fn staff(store: &dyn voicedesk_store::Store) {
        store.create_user(&new_user("s1", "staff1", Role::Staff)).await.unwrap();
        store.create_user(&new_user("s2", "staff2", Role::Staff)).await.unwrap();
    }

    pub(crate) async fn text_message_is_stored_and_found_by_id_ticket_and_code(db: TestDb) {
        let store = db.open().await;
        let new = text_message("a", "我的养老金什么时候到账？", 1_000);
        let inserted = store.insert_message(&new).await.unwrap();
        assert!(inserted.created);
        let m = &inserted.message;
        assert_eq!(m.state, MessageState::New);
        assert_eq!((m.kind, m.reason), (MessageKind::Text, MessageReason::Closed));
        assert_eq!(m.body.as_deref(), Some("我的养老金什么时候到账？"));
        assert_eq!(m.name.as_deref(), Some("王小明"));
        assert_eq!((m.created_at_ms, m.due_at_ms), (1_000, 1_000 + 2 * 86_400_000));
        assert_eq!(m.ticket.len(), 9);
        assert_eq!(voicedesk_store::normalize_ticket(&m.ticket).as_deref(), Some(&*m.ticket));
        assert_eq!(inserted.secret.len(), 8);
        assert!(!format!("{inserted:?}").contains(&inserted.secret), "the code is not logged");

        assert_eq!(store.message(&m.id).await.unwrap().as_ref(), Some(m));
        assert_eq!(store.message_by_ticket(&m.ticket).await.unwrap().as_ref(), Some(m));
        let typed = m.ticket.to_lowercase().replace('-', " ");
        assert_eq!(store.message_by_ticket(&typed).await.unwrap().as_ref(), Some(m));
        assert_eq!(
            store.verify_ticket(&typed, &inserted.secret.to_lowercase()).await.unwrap().as_ref(),
            Some(m)
        );
        let wrong = if inserted.secret.starts_with('A') { "B" } else { "A" };
        let wrong = format!("{wrong}{}", &inserted.secret[1..]);
        assert_eq!(store.verify_ticket(&m.ticket, &wrong).await.unwrap(), None);
        assert_eq!(store.verify_ticket(&m.ticket, "").await.unwrap(), None);
        assert_eq!(store.verify_ticket("ZZZZ-ZZZZ", &inserted.secret).await.unwrap(), None);
        assert_eq!(store.verify_ticket("../etc", &inserted.secret).await.unwrap(), None);
        assert_eq!(store.message("nope").await.unwrap(), None);
        assert_eq!(store.message_by_ticket("nope").await.unwrap(), None);
        assert!(store.voice_files().await.unwrap().is_empty());
    }

    pub(crate) async fn voice_message_is_stored_and_its_file_listed(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 500)).await.unwrap();
        let new = NewMessage { call_id: Some("c1".to_owned()), ..voice_message("v", 1_000) };
        let inserted = store.insert_message(&new).await.unwrap();
        let m = &inserted.message;
        assert_eq!(m.kind, MessageKind::Voice);
        assert_eq!(m.voice_file, new.voice_file);
        assert_eq!((m.voice_ms, m.voice_bytes), (Some(12_340), Some(20_480)));
        assert_eq!(m.call_id.as_deref(), Some("c1"));
        assert_eq!(store.message(&m.id).await.unwrap().as_ref(), Some(m));
        let other = voice_message("w", 2_000);
        store.insert_message(&other).await.unwrap();
        let mut expected = vec![new.voice_file.clone().unwrap(), other.voice_file.clone().unwrap()];
        expected.sort();
        assert_eq!(store.voice_files().await.unwrap(), expected);
        // Two messages cannot share one file.
        let shared = NewMessage { voice_file: new.voice_file.clone(), ..voice_message("x", 3_000) };
        let err = store.insert_message(&shared).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "message", key: "voice_file", .. }),
            "{err:?}"
        );
        assert_eq!(store.voice_files().await.unwrap().len(), 2);
    }

    pub(crate) async fn retry_with_the_same_client_id_returns_the_same_message_with_a_new_code(
        db: TestDb,
    ) {
        let store = db.open().await;
        let first = store.insert_message(&text_message("r", "hello", 1_000)).await.unwrap();
        // The retry arrives later; only the times differ.
        let retry = NewMessage {
            created_at_ms: 5_000,
            due_at_ms: 9_000,
            ..text_message("r", "hello", 1_000)
        };
        let again = store.insert_message(&retry).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.message, first.message, "the stored message, with its first times");
        assert_ne!(again.secret, first.secret, "a new code");
        let t = &first.message.ticket;
        assert!(store.verify_ticket(t, &again.secret).await.unwrap().is_some());
        assert!(
            store.verify_ticket(t, &first.secret).await.unwrap().is_none(),
            "the old code is void"
        );
        assert_eq!(store.messages(&filter_messages(None, None)).await.unwrap().len(), 1);

        // A voice retry that wrote its recording under a new name is the same message.
        let voice = voice_message("rv", 1_000);
        let stored = store.insert_message(&voice).await.unwrap();
        let retry = NewMessage { voice_file: Some(files::new_voice_file_name()), ..voice.clone() };
        let again = store.insert_message(&retry).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.message.voice_file, voice.voice_file, "the first file stays referenced");
        assert_eq!(again.message.id, stored.message.id);
        assert_eq!(store.voice_files().await.unwrap(), [voice.voice_file.unwrap()]);
    }

    pub(crate) async fn retry_by_another_citizen_is_a_conflict_and_keeps_the_first_code(
        db: TestDb,
    ) {
        let store = db.open().await;
        let first = store.insert_message(&text_message("x", "hello", 1_000)).await.unwrap();
        let other = NewMessage {
            citizen_id: Some("c-fedcba9876543210".to_owned()),
            ..text_message("x", "hello", 2_000)
        };
        let err = store.insert_message(&other).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "message", key: "client_id", .. }),
            "{err:?}"
        );
        let anonymous = NewMessage { citizen_id: None, ..text_message("x", "hello", 2_000) };
        assert!(store.insert_message(&anonymous).await.is_err(), "nor one without a citizen");
        let t = &first.message.ticket;
        assert!(
            store.verify_ticket(t, &first.secret).await.unwrap().is_some(),
            "the first citizen's code still works"
        );
        assert_eq!(store.messages(&filter_messages(None, None)).await.unwrap().len(), 1);
    }

    pub(crate) async fn citizen_message_count_counts_one_citizen_since_a_time(db: TestDb) {
        let store = db.open().await;
        let me = "c-0123456789abcdef";
        for (id, at) in [("m1", 1_000), ("m2", 2_000), ("m3", 3_000)] {
            store.insert_message(&text_message(id, "q", at)).await.unwrap();
        }
        let other = NewMessage {
            citizen_id: Some("c-fedcba9876543210".to_owned()),
            ..text_message("o1", "q", 2_500)
        };
        store.insert_message(&other).await.unwrap();
        let none = NewMessage { citizen_id: None, ..text_message("n1", "q", 2_500) };
        store.insert_message(&none).await.unwrap();
        assert_eq!(store.citizen_message_count(me, 0, "").await.unwrap(), 3);
        assert_eq!(store.citizen_message_count(me, 2_000, "").await.unwrap(), 2);
        let m3 = text_message("m3", "q", 0).client_id;
        assert_eq!(store.citizen_message_count(me, 0, &m3).await.unwrap(), 2, "a retry's own");
        assert_eq!(store.citizen_message_count("c-nobody", 0, "").await.unwrap(), 0);
        let bad = NewMessage { citizen_id: Some("c".repeat(65)), ..text_message("b", "q", 1) };
        let err = store.insert_message(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    }

    pub(crate) async fn retry_with_other_content_is_a_conflict_and_changes_nothing(db: TestDb) {
        let store = db.open().await;
        let first = store.insert_message(&text_message("c", "hello", 1_000)).await.unwrap();
        let base = text_message("c", "hello", 1_000);
        for other in [
            text_message("c", "goodbye", 1_000),
            NewMessage { name: None, ..base.clone() },
            NewMessage { phone: Some("110".to_owned()), ..base.clone() },
            NewMessage { reason: MessageReason::Choice, ..base.clone() },
            NewMessage { service: None, ..base.clone() },
            NewMessage { body: Some("hello".to_owned()), ..voice_message("c", 1_000) },
        ] {
            let err = store.insert_message(&other).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Conflict { entity: "message", key: "client_id", ref value } if *value == base.client_id),
                "{err:?}"
            );
        }
        assert_eq!(store.message(&first.message.id).await.unwrap().unwrap(), first.message);
        assert!(
            store.verify_ticket(&first.message.ticket, &first.secret).await.unwrap().is_some(),
            "the code still works"
        );
        assert_eq!(store.messages(&filter_messages(None, None)).await.unwrap().len(), 1);
        assert!(store.voice_files().await.unwrap().is_empty());
    }

    pub(crate) async fn concurrent_retries_store_one_message(db: TestDb) {
        let store = db.open().await;
        let new = text_message("cc", "same", 1_000);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, new) = (store.clone(), new.clone());
                tokio::spawn(async move { store.insert_message(&new).await })
            })
            .collect();
        let mut created = 0;
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let done = t.await.unwrap().unwrap();
            created += usize::from(done.created);
            ids.insert(done.message.id);
        }
        assert_eq!((created, ids.len()), (1, 1));
        assert_eq!(store.messages(&filter_messages(None, None)).await.unwrap().len(), 1);
    }

    pub(crate) async fn invalid_messages_are_refused_before_writing(db: TestDb) {
        let store = db.open().await;
        let base = text_message("i", "hello", 1_000);
        let cases: Vec<(NewMessage, &str)> = vec![
            (NewMessage { client_id: "short".into(), ..base.clone() }, "client_id"),
            (NewMessage { client_id: format!("{}!", "x".repeat(20)), ..base.clone() }, "client_id"),
            (NewMessage { client_id: "x".repeat(65), ..base.clone() }, "client_id"),
            (NewMessage { name: Some("名".repeat(51)), ..base.clone() }, "name"),
            (NewMessage { name: Some("  ".into()), ..base.clone() }, "name"),
            (NewMessage { phone: Some("138 0000 0000 ext 12".into()), ..base.clone() }, "phone"),
            (NewMessage { phone: Some("1".repeat(21)), ..base.clone() }, "phone"),
            (NewMessage { phone: Some("+-".into()), ..base.clone() }, "phone"),
            (NewMessage { body: None, ..base.clone() }, "body"),
            (NewMessage { body: Some(" ".into()), ..base.clone() }, "body"),
            (NewMessage { body: Some("字".repeat(2001)), ..base.clone() }, "body"),
            (NewMessage { service: Some(String::new()), ..base.clone() }, "service"),
            (NewMessage { voice_ms: Some(1), ..base.clone() }, "voice_ms"),
            (
                NewMessage { voice_file: Some(files::new_voice_file_name()), ..base.clone() },
                "voice_file",
            ),
            (NewMessage { due_at_ms: 999, ..base.clone() }, "due_at_ms"),
            (
                NewMessage { voice_file: Some("../../etc/passwd".into()), ..voice_message("i", 1) },
                "voice_file",
            ),
            (
                NewMessage { voice_file: Some("vm-x.opus".into()), ..voice_message("i", 1) },
                "voice_file",
            ),
            (NewMessage { voice_file: None, ..voice_message("i", 1) }, "voice_file"),
            (NewMessage { voice_ms: None, ..voice_message("i", 1) }, "voice_ms"),
            (NewMessage { voice_ms: Some(-1), ..voice_message("i", 1) }, "voice_ms"),
            (NewMessage { voice_bytes: Some(0), ..voice_message("i", 1) }, "voice_bytes"),
        ];
        for (bad, field) in cases {
            let err = store.insert_message(&bad).await.unwrap_err();
            assert_invalid(&err, "message", field);
            assert!(err.is_client_error());
        }
        // Fine: a 50-character name, a 20-character phone, a 2000-character text.
        let ok = NewMessage {
            name: Some("名".repeat(50)),
            phone: Some("+86 10 1234-5678 901".into()),
            body: Some("字".repeat(2000)),
            ..base
        };
        store.insert_message(&ok).await.unwrap();
        assert_eq!(store.messages(&filter_messages(None, None)).await.unwrap().len(), 1);
    }

    pub(crate) async fn message_for_unknown_call_is_an_invalid_reference(db: TestDb) {
        let store = db.open().await;
        let bad = NewMessage { call_id: Some("ghost".into()), ..text_message("u", "x", 1) };
        let err = store.insert_message(&bad).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "message", target: "call", ref id } if id == "ghost"),
            "{err:?}"
        );
        assert!(store.messages(&filter_messages(None, None)).await.unwrap().is_empty());
    }

    pub(crate) async fn kb_articles_are_upserted_listed_and_deleted(db: TestDb) {
        let store = db.open().await;
        assert!(store.kb_articles().await.unwrap().is_empty(), "the server seeds, not the store");
        store.upsert_kb_article("pension_transfer", r#"{"v":1}"#, 1_000).await.unwrap();
        store.upsert_kb_article("card_loss", r#"{"v":1}"#, 1_000).await.unwrap();
        store.upsert_kb_article("pension_transfer", r#"{"v":2}"#, 2_000).await.unwrap();
        let rows = store.kb_articles().await.unwrap();
        assert_eq!(
            rows,
            vec![
                ("card_loss".to_owned(), r#"{"v":1}"#.to_owned()),
                ("pension_transfer".to_owned(), r#"{"v":2}"#.to_owned()),
            ]
        );
        assert!(store.delete_kb_article("card_loss").await.unwrap());
        assert!(!store.delete_kb_article("card_loss").await.unwrap());
        assert_eq!(store.kb_articles().await.unwrap().len(), 1);
    }

    pub(crate) async fn kb_synonyms_are_upserted_listed_and_deleted(db: TestDb) {
        let store = db.open().await;
        assert!(store.kb_synonyms().await.unwrap().is_empty());
        store.upsert_kb_synonym("pension_words", r#"{"v":1}"#, 1_000).await.unwrap();
        store.upsert_kb_synonym("card", r#"{"v":1}"#, 1_000).await.unwrap();
        store.upsert_kb_synonym("pension_words", r#"{"v":2}"#, 2_000).await.unwrap();
        let rows = store.kb_synonyms().await.unwrap();
        assert_eq!(
            rows,
            vec![
                ("card".to_owned(), r#"{"v":1}"#.to_owned()),
                ("pension_words".to_owned(), r#"{"v":2}"#.to_owned()),
            ]
        );
        let err = store.upsert_kb_synonym("Bad Id", "{}", 1).await.unwrap_err();
        assert_invalid(&err, "synonym group", "id");
        assert!(store.delete_kb_synonym("card").await.unwrap());
        assert!(!store.delete_kb_synonym("card").await.unwrap());
        assert_eq!(store.kb_synonyms().await.unwrap().len(), 1);
    }

    pub(crate) async fn unanswered_questions_are_counted_newest_first(db: TestDb) {
        let store = db.open().await;
        store.record_kb_unanswered("zh", "退休了还能领失业金吗", 1_000).await.unwrap();
        store.record_kb_unanswered("en", "can I pay for my cat", 2_000).await.unwrap();
        store.record_kb_unanswered("zh", "退休了还能领失业金吗", 3_000).await.unwrap();
        let list = store.kb_unanswered(10).await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            UnansweredQuestion {
                lang: "zh".to_owned(),
                question: "退休了还能领失业金吗".to_owned(),
                asked: 2,
                first_asked_at_ms: 1_000,
                last_asked_at_ms: 3_000,
            }
        );
        assert_eq!((list[1].question.as_str(), list[1].asked), ("can I pay for my cat", 1));
        assert_eq!(store.kb_unanswered(1).await.unwrap().len(), 1);

        // Refusals write nothing.
        let err = store.record_kb_unanswered("fr", "question", 4_000).await.unwrap_err();
        assert_invalid(&err, "unanswered question", "lang");
        let err = store.record_kb_unanswered("en", " ", 4_000).await.unwrap_err();
        assert_invalid(&err, "unanswered question", "question");
        let err = store.record_kb_unanswered("en", &"x".repeat(501), 4_000).await.unwrap_err();
        assert_invalid(&err, "unanswered question", "question");
        assert_eq!(store.kb_unanswered(10).await.unwrap(), list);

        // Dismissed: gone; asked again, listed again from one.
        assert!(store.dismiss_kb_unanswered("zh", "退休了还能领失业金吗").await.unwrap());
        assert!(!store.dismiss_kb_unanswered("zh", "退休了还能领失业金吗").await.unwrap());
        assert_eq!(store.kb_unanswered(10).await.unwrap(), list[1..]);
        store.record_kb_unanswered("zh", "退休了还能领失业金吗", 5_000).await.unwrap();
        let again = store.kb_unanswered(10).await.unwrap();
        assert_eq!((again[0].asked, again[0].first_asked_at_ms), (1, 5_000));
    }

    /// 2026-12-01 00:00 in China.
    const DEC_1_2026: i64 = 1_796_054_400_000;
    /// 2027-01-02 00:00 in China.
    const JAN_2_2027: i64 = 1_798_819_200_000;

    fn announcement_ids(list: &[Announcement]) -> Vec<&str> {
        list.iter().map(|a| a.id.as_str()).collect()
    }

    fn announcement(id: &str, published_at_ms: i64) -> Announcement {
        Announcement {
            id: id.to_owned(),
            title_zh: "社保卡线上申领".to_owned(),
            title_en: "Apply for the social security card online".to_owned(),
            title_es: None,
            body_zh: "即日起可在网上服务大厅申领社保卡。".to_owned(),
            body_en: "From today the card can be applied for in the online hall.".to_owned(),
            body_es: None,
            published_at_ms,
            expires_at_ms: None,
            pinned: false,
            created_by: "admin-1".to_owned(),
            updated_at_ms: published_at_ms,
        }
    }

    pub(crate) async fn seeded_announcements_are_listed_when_current_pinned_first(db: TestDb) {
        let store = db.open().await;
        let all = store.announcements().await.unwrap();
        assert_eq!(all.len(), 4, "{:?}", announcement_ids(&all));
        for a in &all {
            assert!(a.title_es.is_some() && a.body_es.is_some(), "{} has Spanish", a.id);
            assert_eq!(a.created_by, "system");
        }
        let current = store.current_announcements(DEC_1_2026).await.unwrap();
        assert_eq!(
            announcement_ids(&current),
            [
                "new_year_2027_service_hours",
                "medical_payment_window_2027",
                "pension_transfer_online",
                "pension_adjustment_2026",
            ],
            "pinned first, then newest first"
        );
        // The payment window closes with the year; the holiday notice after the holiday.
        let in_january = store.current_announcements(JAN_2_2027).await.unwrap();
        assert_eq!(
            announcement_ids(&in_january),
            ["new_year_2027_service_hours", "pension_transfer_online", "pension_adjustment_2026"]
        );
        let after_holiday = store.current_announcements(JAN_2_2027 + 3 * 86_400_000).await.unwrap();
        assert_eq!(
            announcement_ids(&after_holiday),
            ["pension_transfer_online", "pension_adjustment_2026"]
        );
        // Nothing before the first was published.
        assert!(store.current_announcements(1_700_000_000_000).await.unwrap().is_empty());
        let medical = store.announcement("medical_payment_window_2027").await.unwrap().unwrap();
        assert!(medical.pinned && medical.expires_at_ms == Some(1_798_732_800_000));
        assert!(medical.is_current(DEC_1_2026) && !medical.is_current(JAN_2_2027));
    }

    pub(crate) async fn announcements_are_created_updated_and_deleted(db: TestDb) {
        let store = db.open().await;
        let card = announcement("card-online", DEC_1_2026 - 1_000);
        store.insert_announcement(&card).await.unwrap();
        assert_eq!(store.announcement("card-online").await.unwrap(), Some(card.clone()));
        let err = store.insert_announcement(&card).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "announcement", key: "id", .. }),
            "{err:?}"
        );
        // Newest unpinned first: before the seeded unpinned ones, after the pinned ones.
        let current = store.current_announcements(DEC_1_2026).await.unwrap();
        assert_eq!(announcement_ids(&current)[2], "card-online");

        // A scheduled one is not current yet, but listed for admins.
        let later = announcement("spring-festival-2027", DEC_1_2026 + 86_400_000);
        store.insert_announcement(&later).await.unwrap();
        assert!(
            !announcement_ids(&store.current_announcements(DEC_1_2026).await.unwrap())
                .contains(&"spring-festival-2027")
        );
        assert_eq!(store.announcements().await.unwrap().len(), 6);

        // An update replaces the content and keeps the author.
        let changed = Announcement {
            title_es: Some("Solicite la tarjeta en línea".to_owned()),
            body_es: Some("Desde hoy se puede solicitar en la sala en línea.".to_owned()),
            pinned: true,
            expires_at_ms: Some(JAN_2_2027),
            created_by: "someone-else".to_owned(),
            updated_at_ms: DEC_1_2026,
            ..card.clone()
        };
        let stored = store.update_announcement(&changed).await.unwrap();
        assert_eq!(stored, Announcement { created_by: "admin-1".to_owned(), ..changed.clone() });
        assert_eq!(store.announcement("card-online").await.unwrap(), Some(stored));
        assert_eq!(
            announcement_ids(&store.current_announcements(DEC_1_2026).await.unwrap())[0],
            "card-online"
        );
        let ghost = announcement("ghost", 1);
        let err = store.update_announcement(&ghost).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "announcement", .. }), "{err:?}");
        assert!(store.announcement("ghost").await.unwrap().is_none());

        assert!(store.delete_announcement("card-online").await.unwrap());
        assert!(!store.delete_announcement("card-online").await.unwrap());
        assert!(store.announcement("card-online").await.unwrap().is_none());
        assert_eq!(store.announcements().await.unwrap().len(), 5);
    }

    pub(crate) async fn announcement_refusals_write_nothing(db: TestDb) {
        let store = db.open().await;
        let before = store.announcements().await.unwrap();
        let ok = announcement("ok", DEC_1_2026);
        let cases: Vec<(Announcement, &str)> = vec![
            (Announcement { id: String::new(), ..ok.clone() }, "id"),
            (Announcement { id: "Bad Id".to_owned(), ..ok.clone() }, "id"),
            (Announcement { id: "x".repeat(65), ..ok.clone() }, "id"),
            (Announcement { title_zh: "  ".to_owned(), ..ok.clone() }, "title_zh"),
            (Announcement { title_en: "t".repeat(201), ..ok.clone() }, "title_en"),
            (Announcement { body_zh: String::new(), ..ok.clone() }, "body_zh"),
            (Announcement { body_en: "字".repeat(5001), ..ok.clone() }, "body_en"),
            (Announcement { title_es: Some("Sólo título".to_owned()), ..ok.clone() }, "body_es"),
            (Announcement { body_es: Some("Sólo texto".to_owned()), ..ok.clone() }, "title_es"),
            (
                Announcement {
                    title_es: Some(" ".to_owned()),
                    body_es: Some("texto".to_owned()),
                    ..ok.clone()
                },
                "title_es",
            ),
            (Announcement { published_at_ms: -1, ..ok.clone() }, "published_at_ms"),
            (Announcement { expires_at_ms: Some(DEC_1_2026), ..ok.clone() }, "expires_at_ms"),
            (Announcement { created_by: String::new(), ..ok.clone() }, "created_by"),
        ];
        for (bad, field) in &cases {
            assert_invalid(
                &store.insert_announcement(bad).await.unwrap_err(),
                "announcement",
                field,
            );
        }
        assert_eq!(store.announcements().await.unwrap(), before);
        // The longest allowed values are fine; an invalid update leaves the row as it was.
        let longest =
            Announcement { title_zh: "标".repeat(200), body_zh: "字".repeat(5000), ..ok.clone() };
        store.insert_announcement(&longest).await.unwrap();
        let bad = Announcement { title_en: String::new(), ..longest.clone() };
        assert_invalid(
            &store.update_announcement(&bad).await.unwrap_err(),
            "announcement",
            "title_en",
        );
        assert_eq!(store.announcement("ok").await.unwrap(), Some(longest));
    }

    pub(crate) async fn message_audit_is_appended_and_refuses_unknown_references(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        let id = store.insert_message(&voice_message("a", 1_000)).await.unwrap().message.id;
        let entry = |actor: &str, message: &str, at_ms| NewMessageAudit {
            at_ms,
            actor_id: actor.to_owned(),
            message_id: message.to_owned(),
        };
        let first = store.append_message_audit(&entry("s1", &id, 2_000)).await.unwrap();
        let second = store.append_message_audit(&entry("s2", &id, 3_000)).await.unwrap();
        assert!(second > first, "ids grow with every append");
        for (actor, message, target) in
            [("nobody", id.as_str(), "user"), ("s1", "nothing", "message")]
        {
            let err = store.append_message_audit(&entry(actor, message, 4_000)).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidReference { target: t, .. } if t == target),
                "{err:?}"
            );
        }
        let log = store.message_audit(&id).await.unwrap();
        let seen: Vec<(&str, i64)> = log.iter().map(|e| (e.actor_id.as_str(), e.at_ms)).collect();
        assert_eq!(seen, vec![("s1", 2_000), ("s2", 3_000)], "refusals wrote nothing");
    }

    pub(crate) async fn message_goes_new_assigned_answered_closed(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        let id = store.insert_message(&text_message("t", "q", 1_000)).await.unwrap().message.id;
        let m = store.assign_message(&id, "s1", 2_000).await.unwrap();
        assert_eq!(
            (m.state, m.assigned_to.as_deref(), m.assigned_at_ms),
            (MessageState::Assigned, Some("s1"), Some(2_000))
        );
        // A colleague takes it over.
        let m = store.assign_message(&id, "s2", 2_500).await.unwrap();
        assert_eq!((m.assigned_to.as_deref(), m.assigned_at_ms), (Some("s2"), Some(2_500)));
        let m = store.reply_message(&id, "s2", "下周一到账。", 3_000).await.unwrap();
        assert_eq!(m.state, MessageState::Answered);
        assert_eq!(
            (m.reply.as_deref(), m.replied_at_ms, m.replied_by.as_deref()),
            (Some("下周一到账。"), Some(3_000), Some("s2"))
        );
        let m = store.close_message(&id, "s1", 4_000).await.unwrap();
        assert_eq!(
            (m.state, m.closed_at_ms, m.closed_by.as_deref()),
            (MessageState::Closed, Some(4_000), Some("s1"))
        );
        assert_eq!(m.reply.as_deref(), Some("下周一到账。"), "the reply stays readable");
        assert_eq!(store.message(&id).await.unwrap().unwrap(), m);

        // Replying without assigning first assigns to the replier; closing a new one works.
        let id2 = store.insert_message(&text_message("t2", "q", 1_000)).await.unwrap().message.id;
        let m2 = store.reply_message(&id2, "s1", "ok", 5_000).await.unwrap();
        assert_eq!((m2.assigned_to.as_deref(), m2.assigned_at_ms), (Some("s1"), Some(5_000)));
        let id3 =
            store.insert_message(&text_message("t3", "spam", 1_000)).await.unwrap().message.id;
        let m3 = store.close_message(&id3, "s1", 6_000).await.unwrap();
        assert_eq!((m3.state, m3.reply), (MessageState::Closed, None));
    }

    pub(crate) async fn refused_message_transitions_change_nothing(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        let closed =
            store.insert_message(&text_message("x1", "q", 1_000)).await.unwrap().message.id;
        store.reply_message(&closed, "s1", "a", 2_000).await.unwrap();
        let closed_row = store.close_message(&closed, "s1", 3_000).await.unwrap();
        let answered =
            store.insert_message(&text_message("x2", "q", 1_000)).await.unwrap().message.id;
        let answered_row = store.reply_message(&answered, "s1", "a", 2_000).await.unwrap();
        let fresh = store.insert_message(&text_message("x3", "q", 1_000)).await.unwrap().message;

        let transition = |err: StoreError, state: &str, action: &str| {
            assert!(
                matches!(err, StoreError::InvalidTransition { entity: "message", state: s, action: a, .. } if s == state && a == action),
                "{err:?}"
            );
        };
        transition(
            store.reply_message(&closed, "s2", "again", 9_000).await.unwrap_err(),
            "closed",
            "reply",
        );
        transition(
            store.assign_message(&closed, "s2", 9_000).await.unwrap_err(),
            "closed",
            "assign",
        );
        transition(store.close_message(&closed, "s2", 9_000).await.unwrap_err(), "closed", "close");
        transition(
            store.reply_message(&answered, "s2", "again", 9_000).await.unwrap_err(),
            "answered",
            "reply",
        );
        transition(
            store.assign_message(&answered, "s2", 9_000).await.unwrap_err(),
            "answered",
            "assign",
        );
        let err = store.reply_message(&closed, "s2", "again", 9_000).await.unwrap_err();
        assert_eq!(err.to_string(), format!("message {closed:?} is closed: cannot reply"));
        assert!(err.is_client_error());

        for err in [
            store.assign_message("nope", "s1", 9_000).await.unwrap_err(),
            store.reply_message("nope", "s1", "x", 9_000).await.unwrap_err(),
            store.close_message("nope", "s1", 9_000).await.unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::NotFound { entity: "message", .. }), "{err:?}");
        }
        for err in [
            store.assign_message(&fresh.id, "ghost", 9_000).await.unwrap_err(),
            store.reply_message(&fresh.id, "ghost", "x", 9_000).await.unwrap_err(),
            store.close_message(&fresh.id, "ghost", 9_000).await.unwrap_err(),
        ] {
            assert!(
                matches!(
                    err,
                    StoreError::InvalidReference { entity: "message", target: "user", .. }
                ),
                "{err:?}"
            );
        }
        assert_invalid(
            &store.reply_message(&fresh.id, "s1", "  ", 9_000).await.unwrap_err(),
            "message",
            "reply",
        );
        assert_invalid(
            &store.reply_message(&fresh.id, "s1", &"x".repeat(2001), 9_000).await.unwrap_err(),
            "message",
            "reply",
        );

        assert_eq!(store.message(&closed).await.unwrap().unwrap(), closed_row);
        assert_eq!(store.message(&answered).await.unwrap().unwrap(), answered_row);
        assert_eq!(store.message(&fresh.id).await.unwrap().unwrap(), fresh);
    }

    pub(crate) async fn inbox_filters_by_state_and_overdue_in_urgency_order(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        let mut ids = Vec::new();
        // created, due
        for (i, (created, due)) in
            [(100, 900), (200, 500), (300, 700), (400, 1_500), (500, 600), (600, 2_000)]
                .into_iter()
                .enumerate()
        {
            let m =
                NewMessage { due_at_ms: due, ..text_message(&format!("inbox{i}"), "q", created) };
            ids.push(store.insert_message(&m).await.unwrap().message.id);
        }
        store.assign_message(&ids[2], "s1", 1_000).await.unwrap();
        store.reply_message(&ids[4], "s1", "a", 1_000).await.unwrap();
        store.close_message(&ids[5], "s1", 1_000).await.unwrap();
        let all = store.messages(&filter_messages(None, None)).await.unwrap();
        // Open by due (1: 500, 2: 700, 0: 900, 3: 1500), then done by newest (5, 4).
        let expect = |order: &[usize]| order.iter().map(|&i| ids[i].as_str()).collect::<Vec<_>>();
        assert_eq!(message_ids(&all), expect(&[1, 2, 0, 3, 5, 4]));
        let new = store.messages(&filter_messages(Some(MessageState::New), None)).await.unwrap();
        assert_eq!(message_ids(&new), expect(&[1, 0, 3]));
        let assigned =
            store.messages(&filter_messages(Some(MessageState::Assigned), None)).await.unwrap();
        assert_eq!(message_ids(&assigned), expect(&[2]));
        // Overdue at 800: open and due before 800 (the answered one due at 600 is not).
        let overdue = store.messages(&filter_messages(None, Some(800))).await.unwrap();
        assert_eq!(message_ids(&overdue), expect(&[1, 2]));
        assert!(overdue.iter().all(|m| m.is_overdue(800)));
        let overdue_new =
            store.messages(&filter_messages(Some(MessageState::New), Some(800))).await.unwrap();
        assert_eq!(message_ids(&overdue_new), expect(&[1]));
        assert!(
            store
                .messages(&filter_messages(Some(MessageState::Closed), Some(10_000)))
                .await
                .unwrap()
                .is_empty()
        );
        let limited = store
            .messages(&MessageFilter { limit: 2, ..filter_messages(None, None) })
            .await
            .unwrap();
        assert_eq!(message_ids(&limited), expect(&[1, 2]));
    }

    pub(crate) async fn ratings_are_stored_once_per_subject(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        let m = store.insert_message(&text_message("rt", "q", 1)).await.unwrap().message;
        let r = store.insert_rating(&rating(RatingSubject::Call, "c1", 5)).await.unwrap();
        assert_eq!((r.level, r.follow_up, r.comment.as_str()), (5, None, "办得很快"));
        assert_eq!(store.rating(RatingSubject::Call, "c1").await.unwrap(), Some(r.clone()));
        let rm = store.insert_rating(&rating(RatingSubject::Message, &m.id, 3)).await.unwrap();
        assert_eq!(store.rating(RatingSubject::Message, &m.id).await.unwrap(), Some(rm));
        assert_eq!(
            store.rating(RatingSubject::Message, "c1").await.unwrap(),
            None,
            "kinds are apart"
        );

        let err = store.insert_rating(&rating(RatingSubject::Call, "c1", 1)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "rating", key: "subject", ref value } if value == "call:c1"),
            "{err:?}"
        );
        assert_eq!(
            store.rating(RatingSubject::Call, "c1").await.unwrap(),
            Some(r),
            "the first is kept"
        );
        assert!(store.follow_ups(false).await.unwrap().is_empty());
    }

    pub(crate) async fn low_ratings_open_follow_ups_until_handled(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        for (id, at) in [("c1", 300), ("c2", 100), ("c3", 200), ("c4", 50)] {
            store.insert_call(&new_call(id, 1)).await.unwrap();
            let level = if id == "c4" {
                3
            } else if id == "c2" {
                1
            } else {
                2
            };
            let r = store
                .insert_rating(&NewRating {
                    created_at_ms: at,
                    ..rating(RatingSubject::Call, id, level)
                })
                .await
                .unwrap();
            assert_eq!(r.follow_up, (level <= 2).then_some(FollowUp::Open));
        }
        let subjects = |list: &[voicedesk_store::Rating]| {
            list.iter().map(|r| r.subject_id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            subjects(&store.follow_ups(true).await.unwrap()),
            ["c2", "c3", "c1"],
            "oldest first"
        );
        let handled = store
            .mark_follow_up_handled(
                RatingSubject::Call,
                "c3",
                "s1",
                "回电解释，市民表示理解。",
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(handled.follow_up, Some(FollowUp::Handled));
        assert_eq!(
            (handled.handled_at_ms, handled.handled_by.as_deref()),
            (Some(1_000), Some("s1"))
        );
        assert_eq!(handled.note.as_deref(), Some("回电解释，市民表示理解。"));
        assert_eq!(store.rating(RatingSubject::Call, "c3").await.unwrap(), Some(handled));
        store.mark_follow_up_handled(RatingSubject::Call, "c1", "s2", "", 2_000).await.unwrap();
        assert_eq!(subjects(&store.follow_ups(true).await.unwrap()), ["c2"]);
        assert_eq!(
            subjects(&store.follow_ups(false).await.unwrap()),
            ["c2", "c1", "c3"],
            "then most recently handled"
        );
    }

    pub(crate) async fn refused_ratings_and_follow_up_changes_change_nothing(db: TestDb) {
        let store = db.open().await;
        staff(&*store).await;
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        store.insert_call(&new_call("c2", 1)).await.unwrap();
        for (bad, field) in [
            (rating(RatingSubject::Call, "c1", 0), "level"),
            (rating(RatingSubject::Call, "c1", 6), "level"),
            (
                NewRating { comment: "字".repeat(501), ..rating(RatingSubject::Call, "c1", 4) },
                "comment",
            ),
            (rating(RatingSubject::Call, "", 4), "subject_id"),
        ] {
            assert_invalid(&store.insert_rating(&bad).await.unwrap_err(), "rating", field);
        }
        for (kind, target) in [(RatingSubject::Call, "call"), (RatingSubject::Message, "message")] {
            let err = store.insert_rating(&rating(kind, "ghost", 1)).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidReference { entity: "rating", target: t, ref id } if t == target && id == "ghost"),
                "{err:?}"
            );
        }
        assert_eq!(store.rating(RatingSubject::Call, "c1").await.unwrap(), None);
        assert!(store.follow_ups(false).await.unwrap().is_empty());

        let low = store.insert_rating(&rating(RatingSubject::Call, "c1", 2)).await.unwrap();
        let high = store.insert_rating(&rating(RatingSubject::Call, "c2", 4)).await.unwrap();
        let err = store
            .mark_follow_up_handled(RatingSubject::Call, "c1", "ghost", "x", 5)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidReference { entity: "rating", target: "user", .. }),
            "{err:?}"
        );
        let err = store
            .mark_follow_up_handled(RatingSubject::Call, "c1", "s1", &"x".repeat(2001), 5)
            .await
            .unwrap_err();
        assert_invalid(&err, "rating", "note");
        let err = store
            .mark_follow_up_handled(RatingSubject::Call, "c2", "s1", "x", 5)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidTransition { entity: "rating", state: "without follow-up", .. }
            ),
            "{err:?}"
        );
        let err = store
            .mark_follow_up_handled(RatingSubject::Message, "c1", "s1", "x", 5)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { entity: "rating", ref id } if id == "message:c1"),
            "{err:?}"
        );
        assert_eq!(store.rating(RatingSubject::Call, "c1").await.unwrap(), Some(low));
        assert_eq!(store.rating(RatingSubject::Call, "c2").await.unwrap(), Some(high));

        let done = store
            .mark_follow_up_handled(RatingSubject::Call, "c1", "s1", "called back", 6)
            .await
            .unwrap();
        let err = store
            .mark_follow_up_handled(RatingSubject::Call, "c1", "s2", "again", 7)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidTransition { entity: "rating", state: "handled", .. }),
            "{err:?}"
        );
        assert_eq!(store.rating(RatingSubject::Call, "c1").await.unwrap(), Some(done));
    }

    pub(crate) async fn migrations_upgrade_a_database_that_had_only_0003(db: TestDb) {
        // A database as a release with changes up to 0003 left it, with rows in it.
        db.migrate_to(3).await;
        // (Only up to 0003: this fails if messages exists already.)
        db.execute_raw("CREATE TABLE messages (x INTEGER); DROP TABLE messages").await;
        db.execute_raw(
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at_ms) \
             VALUES ('s1', 'sam', 'Sam', 'staff', 'x', 1); \
             INSERT INTO calls (id, citizen_session, queued_at_ms, skill_id, priority, ended_at_ms, \
             outcome) VALUES ('old', 'c', 10, 'pension', 1, 20, 'citizen_hang_up')",
        )
        .await;

        let store = db.open().await;
        let old = store.call("old").await.unwrap().unwrap();
        assert_eq!((old.skill_id.as_deref(), old.priority), (Some("pension"), 1));
        let cat = store.catalogue().await.unwrap();
        assert!(cat.services.len() >= 32);

        // The new tables work on the upgraded database, with the old rows.
        let m = NewMessage { call_id: Some("old".into()), ..text_message("up", "q", 30) };
        let m = store.insert_message(&m).await.unwrap().message;
        store.reply_message(&m.id, "s1", "a", 40).await.unwrap();
        store.insert_rating(&rating(RatingSubject::Call, "old", 1)).await.unwrap();
        store.insert_rating(&rating(RatingSubject::Message, &m.id, 5)).await.unwrap();

        drop(store);
        let again = db.open().await;
        assert_eq!(again.message(&m.id).await.unwrap().unwrap().state, MessageState::Answered);
        assert_eq!(again.follow_ups(true).await.unwrap().len(), 1);
        assert_eq!(again.count_calls().await.unwrap(), 1);
    }

    pub(crate) async fn migrations_upgrade_a_database_that_had_only_0009(db: TestDb) {
        // A database as a release with changes up to 0009 left it, with an admin's service.
        db.migrate_to(9).await;
        db.execute_raw(
            "INSERT INTO services (id, area, skill_id, kind, name_zh, name_en) \
             VALUES ('old_service', 'counter', 'pension', 'inquiry', '旧业务', 'Old service')",
        )
        .await;

        let store = db.open().await;
        let cat = store.catalogue().await.unwrap();
        let old = cat.services.iter().find(|s| s.id == "old_service").unwrap();
        assert_eq!((old.name_es.as_str(), old.description_es.as_str()), ("", ""));
        // Every queue starts with the target the wallboard measures by default: 80 % in 20 s.
        for skill in &cat.skills {
            assert_eq!((skill.service_level_secs, skill.service_level_pct), (Some(20), Some(80)));
        }
        let spanish = Service { name_es: "Servicio antiguo".to_owned(), ..old.clone() };
        store.upsert_service(&spanish).await.unwrap();
        let cat = store.catalogue().await.unwrap();
        assert_eq!(cat.services.iter().find(|s| s.id == "old_service"), Some(&spanish));
    }

    /// A component given one narrow trait (upcast from the `Arc<dyn Store>` the binary opens)
    /// writes to the same database the others read: what one aggregate's handle commits, the
    /// whole store and another aggregate's handle see.
    fn canned_reply(id: &str, service: &str, sort: i32) -> CannedReply {
        CannedReply {
            id: id.to_owned(),
            service: service.to_owned(),
            title: format!("标题 {id}"),
            body: "请携带身份证原件办理。 Please bring your ID card.".to_owned(),
            sort,
            updated_by: "admin-1".to_owned(),
            updated_at_ms: DEC_1_2026,
        }
    }

    fn canned_ids(list: &[CannedReply]) -> Vec<&str> {
        list.iter().map(|r| r.id.as_str()).collect()
    }

    pub(crate) async fn seeded_canned_replies_are_listed_per_service_in_order(db: TestDb) {
        let store = db.open().await;
        let pension = store.canned_replies(Some("pension_benefit_inquiry")).await.unwrap();
        assert_eq!(
            canned_ids(&pension),
            ["pension_greeting", "pension_card_number", "pension_payment_date"],
            "by sort"
        );
        assert!(pension.iter().all(|r| r.body.chars().count() <= 2000 && r.updated_by == "system"));
        assert!(store.canned_replies(Some("service_guide")).await.unwrap().is_empty());
        assert!(store.canned_replies(Some("no_such_service")).await.unwrap().is_empty());
        assert_eq!(store.canned_replies(None).await.unwrap(), pension);
    }

    pub(crate) async fn canned_replies_are_created_updated_and_deleted_with_their_service(
        db: TestDb,
    ) {
        let store = db.open().await;
        store
            .upsert_service(&service("pension_calculator", "self_service", "pension"))
            .await
            .unwrap();
        let b = canned_reply("calc-b", "pension_calculator", 1);
        let a = canned_reply("calc-a", "pension_calculator", 1);
        let first = canned_reply("calc-first", "pension_calculator", 0);
        for r in [&b, &a, &first] {
            store.insert_canned_reply(r).await.unwrap();
        }
        let listed = store.canned_replies(Some("pension_calculator")).await.unwrap();
        assert_eq!(canned_ids(&listed), ["calc-first", "calc-a", "calc-b"], "sort, then title");
        assert_eq!(store.canned_reply("calc-a").await.unwrap(), Some(a.clone()));
        let err = store.insert_canned_reply(&a).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { entity: "canned reply", key: "id", .. }),
            "{err:?}"
        );
        assert_eq!(store.canned_replies(None).await.unwrap().len(), 6, "three seeded");

        // An update replaces everything, the service included.
        let moved = CannedReply {
            service: "pension_benefit_inquiry".to_owned(),
            title: "改 Changed".to_owned(),
            body: "新的文字 <b>new</b>".to_owned(),
            sort: 9,
            updated_by: "admin-2".to_owned(),
            updated_at_ms: DEC_1_2026 + 1,
            ..a.clone()
        };
        assert_eq!(store.update_canned_reply(&moved).await.unwrap(), moved);
        assert_eq!(
            canned_ids(&store.canned_replies(Some("pension_benefit_inquiry")).await.unwrap())[3],
            "calc-a"
        );
        let err = store.update_canned_reply(&canned_reply("ghost", "service_guide", 0)).await;
        assert!(matches!(err, Err(StoreError::NotFound { entity: "canned reply", .. })), "{err:?}");
        assert!(store.canned_reply("ghost").await.unwrap().is_none());

        assert!(store.delete_canned_reply("calc-a").await.unwrap());
        assert!(!store.delete_canned_reply("calc-a").await.unwrap());
        // A service's replies go with it.
        assert!(store.delete_service("pension_calculator").await.unwrap());
        assert!(store.canned_reply("calc-b").await.unwrap().is_none());
        assert_eq!(store.canned_replies(None).await.unwrap().len(), 3);
    }

    pub(crate) async fn canned_reply_refusals_write_nothing(db: TestDb) {
        let store = db.open().await;
        let before = store.canned_replies(None).await.unwrap();
        let ok = canned_reply("ok", "service_guide", 0);
        let cases: Vec<(CannedReply, &str)> = vec![
            (CannedReply { id: String::new(), ..ok.clone() }, "id"),
            (CannedReply { id: "Bad Id".to_owned(), ..ok.clone() }, "id"),
            (CannedReply { id: "x".repeat(65), ..ok.clone() }, "id"),
            (CannedReply { title: " ".to_owned(), ..ok.clone() }, "title"),
            (CannedReply { title: "t".repeat(201), ..ok.clone() }, "title"),
            (CannedReply { body: "\n".to_owned(), ..ok.clone() }, "body"),
            (CannedReply { body: "字".repeat(2001), ..ok.clone() }, "body"),
            (CannedReply { service: "no_such_service".to_owned(), ..ok.clone() }, "service"),
        ];
        for (bad, field) in &cases {
            let err = store.insert_canned_reply(bad).await.unwrap_err();
            assert_invalid(&err, "canned reply", field);
        }
        // The same refusals on an existing reply change nothing either.
        let seeded = before[0].clone();
        for (bad, field) in cases.into_iter().filter(|(_, field)| *field != "id") {
            let bad = CannedReply { id: seeded.id.clone(), ..bad };
            let err = store.update_canned_reply(&bad).await.unwrap_err();
            assert_invalid(&err, "canned reply", field);
        }
        // 2,000 characters is the limit, not over it.
        store.insert_canned_reply(&CannedReply { body: "字".repeat(2000), ..ok }).await.unwrap();
        let mut after = store.canned_replies(None).await.unwrap();
        after.retain(|r| r.id != "ok");
        assert_eq!(after, before, "nothing else was written");
    }

    pub(crate) async fn narrow_store_handles_share_one_database(db: TestDb) {
        use std::sync::Arc;
        use voicedesk_store::{AuditStore, CallStore, Store, UserStore};

        let store: Arc<dyn Store> = db.open().await;
        let users: Arc<dyn UserStore> = store.clone();
        let calls: Arc<dyn CallStore> = store.clone();
        let audit_log: Arc<dyn AuditStore> = store.clone();

        users.create_user(&new_user("s1", "staff1", Role::Staff)).await.unwrap();
        calls.insert_call(&new_call("c1", 10)).await.unwrap();
        calls.mark_call_taken_over("c1", "s1", 20).await.unwrap();
        audit_log
            .append_audit(&audit(
                30,
                "s1",
                "c1",
                AuditAction::TakeOver,
                Some(SupportMode::TakeOver),
            ))
            .await
            .unwrap();

        assert_eq!(store.user_by_id("s1").await.unwrap().unwrap().username, "staff1");
        assert_eq!(store.call("c1").await.unwrap().unwrap().handled_by.as_deref(), Some("s1"));
        let entries = store.audit_entries(&filter(Some("c1"), None, 10)).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].mode, Some(SupportMode::TakeOver));
        // Refusals keep their meaning through a narrow handle.
        assert!(matches!(
            calls.insert_call(&new_call("c1", 11)).await.unwrap_err(),
            StoreError::Conflict { entity: "call", key: "id", .. }
        ));
        assert_eq!(store.count_calls().await.unwrap(), 1);
    }

    pub(crate) async fn call_quality_is_kept_per_side_and_replaced(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        assert!(store.call_quality("c1").await.unwrap().is_empty());
        let agent =
            CallQuality { side: "agent", mos: 4.38, loss_pct: 0.0, jitter_ms: 1.5, rtt_ms: None };
        let citizen = CallQuality {
            side: "citizen",
            mos: 3.1,
            loss_pct: 5.0,
            jitter_ms: 2.25,
            rtt_ms: Some(120.5),
        };
        store.record_call_quality("c1", &agent).await.unwrap();
        store.record_call_quality("c1", &citizen).await.unwrap();
        assert_eq!(store.call_quality("c1").await.unwrap(), vec![citizen, agent]);
        let better = CallQuality { mos: 4.0, loss_pct: 1.0, ..citizen };
        store.record_call_quality("c1", &better).await.unwrap();
        assert_eq!(store.call_quality("c1").await.unwrap(), vec![better, agent]);
        // By the calls' queueing time, for the call records' export.
        store.insert_call(&new_call("c2", 5)).await.unwrap();
        store.insert_call(&new_call("c3", 9)).await.unwrap();
        store.record_call_quality("c2", &agent).await.unwrap();
        store.record_call_quality("c3", &agent).await.unwrap();
        let between = store.call_quality_between(1, 5).await.unwrap();
        let rows = vec![("c1".to_owned(), better), ("c1".into(), agent), ("c2".into(), agent)];
        assert_eq!(between, rows);
        assert!(store.call_quality_between(6, 8).await.unwrap().is_empty());
    }

    pub(crate) async fn call_quality_refusals_change_nothing(db: TestDb) {
        let store = db.open().await;
        store.insert_call(&new_call("c1", 1)).await.unwrap();
        let ok =
            CallQuality { side: "citizen", mos: 4.0, loss_pct: 0.5, jitter_ms: 3.0, rtt_ms: None };
        assert!(matches!(
            store.record_call_quality("nope", &ok).await.unwrap_err(),
            StoreError::InvalidReference { entity: "call_quality", target: "call", .. }
        ));
        for bad in [
            CallQuality { side: "staff", ..ok },
            CallQuality { mos: 0.5, ..ok },
            CallQuality { mos: f64::NAN, ..ok },
            CallQuality { loss_pct: 101.0, ..ok },
            CallQuality { jitter_ms: -1.0, ..ok },
            CallQuality { rtt_ms: Some(-3.0), ..ok },
            CallQuality { rtt_ms: Some(f64::INFINITY), ..ok },
        ] {
            let e = store.record_call_quality("c1", &bad).await.unwrap_err();
            assert!(e.is_invalid_value(), "{bad:?}: {e:?}");
        }
        assert!(store.call_quality("c1").await.unwrap().is_empty());
        assert!(store.call_quality("nope").await.unwrap().is_empty());
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
            ..Default::default()
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
        .pragma("max_page_count", "128");
    let store = voicedesk_store::SqliteStore::open_with(options).await.unwrap();
    let big = "x".repeat(8 * 1024);
    let mut inserted = 0u64;
    let err = loop {
        let call = voicedesk_store::NewCall {
            id: format!("c{inserted}"),
            citizen_session: "s".into(),
            service: Some(big.clone()),
            queued_at_ms: 1,
            ..Default::default()
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

#[test]
fn service_and_holiday_kinds_round_trip_and_match_serde() {
    use voicedesk_store::{HolidayKind, ServiceKind};
    for kind in ServiceKind::ALL {
        assert_eq!(ServiceKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    assert_eq!(ServiceKind::parse("Inquiry"), None);
    for kind in [HolidayKind::Holiday, HolidayKind::Workday] {
        assert_eq!(HolidayKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    assert_eq!(HolidayKind::parse("weekend"), None);
}

#[test]
fn catalogue_rows_serialise_and_deserialise_for_the_http_api() {
    use voicedesk_store::{Service, ServiceKind, Skill};
    // What an admin sends: optional fields may be left out.
    let service: Service = serde_json::from_value(serde_json::json!({
        "id": "pension_calculator",
        "area": "self_service",
        "skill_id": "pension",
        "kind": "inquiry",
        "name_zh": "养老金测算",
        "name_en": "Pension estimate",
    }))
    .unwrap();
    assert_eq!(service.kind, ServiceKind::Inquiry);
    assert!(service.enabled, "enabled by default");
    assert_eq!((service.priority, service.sort, service.description_en.as_str()), (0, 0, ""));
    let json = serde_json::to_value(&service).unwrap();
    assert_eq!(json["kind"], "inquiry");
    assert_eq!(json["enabled"], true);

    let skill: Skill = serde_json::from_value(serde_json::json!({
        "id": "pension",
        "name_zh": "养老保险",
        "name_en": "Pension insurance",
        "hours": "always",
    }))
    .unwrap();
    assert_eq!((skill.max_waiting, skill.max_wait_secs, skill.updated_at_ms), (None, None, 0));
    assert_eq!(serde_json::to_value(&skill).unwrap()["max_waiting"], serde_json::Value::Null);
    assert_eq!(skill.recording, voicedesk_store::RecordingPolicy::None, "not recorded by default");
}

#[test]
fn recording_policy_names_round_trip_and_match_serde() {
    use voicedesk_store::RecordingPolicy;
    for policy in RecordingPolicy::ALL {
        assert_eq!(RecordingPolicy::parse(policy.as_str()), Some(policy));
        assert_eq!(serde_json::to_value(policy).unwrap(), policy.as_str());
    }
    assert_eq!(RecordingPolicy::OnDemand.as_str(), "on_demand");
    assert_eq!(RecordingPolicy::parse("always"), None);
}

#[test]
fn audit_action_names_round_trip_and_match_serde() {
    use voicedesk_store::AuditAction;
    for action in AuditAction::ALL {
        assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
    }
    assert_eq!(AuditAction::TakeOver.as_str(), "take_over");
    assert_eq!(AuditAction::RecordingAccess.as_str(), "recording_access");
    assert_eq!(AuditAction::parse("Join"), None);
    assert_eq!(AuditAction::parse(""), None);
}

#[test]
fn audit_entry_serialises_to_json_for_the_http_api() {
    let entry = voicedesk_store::AuditEntry {
        id: 7,
        at_ms: 1_700_000_000_123,
        actor_id: "s1".into(),
        call_id: "c1".into(),
        action: voicedesk_store::AuditAction::TakeOver,
        mode: Some(voicedesk_protocol::SupportMode::TakeOver),
        detail: None,
    };
    assert_eq!(
        serde_json::to_value(&entry).unwrap(),
        serde_json::json!({
            "id": 7,
            "at_ms": 1_700_000_000_123_i64,
            "actor_id": "s1",
            "call_id": "c1",
            "action": "take_over",
            "mode": "take_over",
            "detail": null,
        })
    );
    let counts = voicedesk_store::CallCounts { answered: 3, abandoned: 1, answered_within: 2 };
    assert_eq!(
        serde_json::to_value(counts).unwrap(),
        serde_json::json!({ "answered": 3, "abandoned": 1, "answered_within": 2 })
    );
}

#[test]
fn migration_0004_is_the_same_on_both_backends_but_for_its_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0004_messages.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0004 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0004 (Postgres)"));
}

#[test]
fn message_and_rating_names_round_trip_and_match_serde() {
    use voicedesk_store::{FollowUp, MessageKind, MessageReason, MessageState, RatingSubject};
    for k in MessageKind::ALL {
        assert_eq!(MessageKind::parse(k.as_str()), Some(*k));
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    for r in MessageReason::ALL {
        assert_eq!(MessageReason::parse(r.as_str()), Some(*r));
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    assert_eq!(MessageReason::ALL.len(), 5);
    for s in MessageState::ALL {
        assert_eq!(MessageState::parse(s.as_str()), Some(*s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!(MessageState::New.is_open() && MessageState::Assigned.is_open());
    assert!(!MessageState::Answered.is_open() && !MessageState::Closed.is_open());
    for s in RatingSubject::ALL {
        assert_eq!(RatingSubject::parse(s.as_str()), Some(*s));
    }
    for f in FollowUp::ALL {
        assert_eq!(FollowUp::parse(f.as_str()), Some(*f));
    }
    assert_eq!(MessageReason::QueueFull.as_str(), "queue_full");
    assert_eq!(MessageReason::parse("Closed"), None);
}

#[test]
fn migration_0003_is_the_same_on_both_backends_but_for_its_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0003_catalogue.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(3).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0003 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0003 (Postgres)"));
}

#[test]
fn migration_0007_is_the_same_on_both_backends_but_for_its_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0007_announcements.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0007 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0007 (Postgres)"));
}

#[test]
fn migration_0012_is_the_same_on_both_backends_but_for_its_header_and_float_type() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0012_call_quality.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(
        body(&sqlite),
        body(&postgres).replace("DOUBLE PRECISION NOT NULL", "REAL NOT NULL")
    );
    assert!(sqlite.starts_with("-- voicedesk store, change 0012 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0012 (Postgres)"));
}

#[test]
fn migration_0016_is_the_same_on_both_backends_but_for_its_header_and_float_type() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0016_call_quality_rtt.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres).replace("DOUBLE PRECISION", "REAL"));
    assert!(sqlite.starts_with("-- voicedesk store, change 0016 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0016 (Postgres)"));
}

#[test]
fn announcements_serialise_for_the_http_api() {
    let a = voicedesk_store::Announcement {
        id: "a".into(),
        title_zh: "标题".into(),
        title_en: "Title".into(),
        title_es: None,
        body_zh: "正文".into(),
        body_en: "Text".into(),
        body_es: None,
        published_at_ms: 1,
        expires_at_ms: None,
        pinned: true,
        created_by: "system".into(),
        updated_at_ms: 2,
    };
    let value = serde_json::to_value(&a).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "id": "a", "title_zh": "标题", "title_en": "Title", "body_zh": "正文", "body_en": "Text",
            "published_at_ms": 1, "expires_at_ms": null, "pinned": true, "created_by": "system",
            "updated_at_ms": 2,
        })
    );
    assert_eq!(serde_json::from_value::<voicedesk_store::Announcement>(value).unwrap(), a);
}

// ---- Accounts, failed sign-ins, the admin audit log (change 0008, `AccountStore`) ------------

macro_rules! account_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_accounts {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_sqlite(crate::account_cases::$name).await;
                }
            )*
        }
        mod postgres_accounts {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_postgres(stringify!($name), crate::account_cases::$name).await;
                }
            )*
        }
    };
}

account_suite!(
    an_account_is_created_with_its_state_and_a_taken_name_changes_nothing,
    invalid_account_values_are_refused_and_write_nothing,
    disabling_deletes_the_sessions_and_enabling_keeps_the_history,
    a_new_password_ends_the_other_sessions_and_sets_the_change_flag,
    active_sessions_list_members_only_until_they_expire,
    sign_in_failures_are_stored_replaced_and_cleared,
    the_admin_audit_log_is_newest_first_and_pages_by_id,
);

mod account_cases {
    use voicedesk_protocol::Role;
    use voicedesk_store::{
        AccountProfile, NewAccount, NewAdminAudit, NewSession, SignInFailures, StoreError,
    };

    use crate::TestDb;

    fn account(id: &str, username: &str, role: Role) -> NewAccount {
        NewAccount {
            id: id.into(),
            username: username.into(),
            display_name: "周敏".into(),
            name_latin: "Zhou Min".into(),
            role,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at_ms: 1_700_000_000_000,
            must_change_password: true,
        }
    }

    fn session(hash: &str, user: &str, expires_at_ms: i64) -> NewSession {
        NewSession {
            token_hash: hash.into(),
            role: Role::Agent,
            user_id: Some(user.into()),
            created_at_ms: 1_700_000_000_000,
            expires_at_ms,
        }
    }

    pub(crate) async fn an_account_is_created_with_its_state_and_a_taken_name_changes_nothing(
        db: TestDb,
    ) {
        let store = db.open().await;
        let created = store.create_account(&account("a1", "zhou.min", Role::Agent)).await.unwrap();
        assert_eq!(created.name_latin, "Zhou Min");
        assert!(created.must_change_password);
        assert_eq!(created.disabled_at_ms, None);
        let (found, hash) = store.credentials("zhou.min").await.unwrap().unwrap();
        assert_eq!(found, created);
        assert!(hash.starts_with("$argon2id$"));
        // The change-0001 view of the same row.
        assert_eq!(store.user_by_id("a1").await.unwrap().unwrap().display_name, "周敏");

        let err = store.create_account(&account("a2", "zhou.min", Role::Staff)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { key: "username", .. }), "{err:?}");
        assert!(store.account("a2").await.unwrap().is_none());
        assert_eq!(store.accounts().await.unwrap().len(), 1);
    }

    pub(crate) async fn invalid_account_values_are_refused_and_write_nothing(db: TestDb) {
        let store = db.open().await;
        let mut bad = account("a1", "Zhou Min", Role::Agent);
        let err = store.create_account(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { field: "username", .. }), "{err:?}");
        bad.username = "zhou".into();
        bad.display_name = "  ".into();
        let err = store.create_account(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { field: "display_name", .. }), "{err:?}");
        bad.display_name = "周".into();
        bad.role = Role::Citizen;
        assert!(matches!(
            store.create_account(&bad).await.unwrap_err(),
            StoreError::InvalidUserRole(_)
        ));
        assert!(store.accounts().await.unwrap().is_empty());

        store.create_account(&account("a1", "zhou", Role::Agent)).await.unwrap();
        let profile =
            AccountProfile { display_name: "".into(), name_latin: "".into(), role: Role::Staff };
        assert!(store.update_account("a1", &profile).await.is_err());
        assert_eq!(store.account("a1").await.unwrap().unwrap().role, Role::Agent);
        let missing = AccountProfile { display_name: "王".into(), ..profile };
        assert!(store.update_account("nobody", &missing).await.unwrap_err().is_not_found());
        let changed = store.update_account("a1", &missing).await.unwrap();
        assert_eq!((changed.display_name.as_str(), changed.role), ("王", Role::Staff));
    }

    pub(crate) async fn disabling_deletes_the_sessions_and_enabling_keeps_the_history(db: TestDb) {
        let store = db.open().await;
        store.create_account(&account("a1", "zhou", Role::Agent)).await.unwrap();
        store.create_account(&account("a2", "wang", Role::Agent)).await.unwrap();
        store.create_session(&session("h1", "a1", i64::MAX)).await.unwrap();
        store.create_session(&session("h2", "a2", i64::MAX)).await.unwrap();
        let disabled = store.set_account_disabled("a1", Some(5)).await.unwrap();
        assert_eq!(disabled.disabled_at_ms, Some(5));
        assert!(store.session_by_token_hash("h1", 0).await.unwrap().is_none());
        assert!(
            store.session_by_token_hash("h2", 0).await.unwrap().is_some(),
            "others keep theirs"
        );
        let enabled = store.set_account_disabled("a1", None).await.unwrap();
        assert_eq!(enabled.disabled_at_ms, None);
        assert_eq!(enabled.created_at_ms, disabled.created_at_ms);
        assert!(store.set_account_disabled("nobody", Some(1)).await.unwrap_err().is_not_found());
    }

    pub(crate) async fn a_new_password_ends_the_other_sessions_and_sets_the_change_flag(
        db: TestDb,
    ) {
        let store = db.open().await;
        store.create_account(&account("a1", "zhou", Role::Agent)).await.unwrap();
        store.create_session(&session("keep", "a1", i64::MAX)).await.unwrap();
        store.create_session(&session("other", "a1", i64::MAX)).await.unwrap();
        store.set_password("a1", "$argon2id$new", false, Some("keep")).await.unwrap();
        let (account, hash) = store.credentials("zhou").await.unwrap().unwrap();
        assert_eq!(hash, "$argon2id$new");
        assert!(!account.must_change_password);
        assert!(store.session_by_token_hash("keep", 0).await.unwrap().is_some());
        assert!(store.session_by_token_hash("other", 0).await.unwrap().is_none());
        store.set_password("a1", "$argon2id$reset", true, None).await.unwrap();
        assert!(store.account("a1").await.unwrap().unwrap().must_change_password);
        assert!(store.session_by_token_hash("keep", 0).await.unwrap().is_none());
        assert!(store.set_password("nobody", "x", true, None).await.unwrap_err().is_not_found());
    }

    pub(crate) async fn active_sessions_list_members_only_until_they_expire(db: TestDb) {
        let store = db.open().await;
        store.create_account(&account("a1", "zhou", Role::Agent)).await.unwrap();
        store.create_session(&session("live", "a1", 2_000)).await.unwrap();
        store.create_session(&session("old", "a1", 500)).await.unwrap();
        store
            .create_session(&NewSession {
                token_hash: "citizen".into(),
                role: Role::Citizen,
                user_id: None,
                created_at_ms: 1,
                expires_at_ms: 2_000,
            })
            .await
            .unwrap();
        let active = store.active_sessions(1_000).await.unwrap();
        assert_eq!(active.len(), 1, "{active:?}");
        assert_eq!((active[0].id.as_str(), active[0].username.as_str()), ("live", "zhou"));
        assert_eq!(store.delete_user_sessions("a1").await.unwrap(), 2);
        assert!(store.active_sessions(1_000).await.unwrap().is_empty());
    }

    pub(crate) async fn sign_in_failures_are_stored_replaced_and_cleared(db: TestDb) {
        let store = db.open().await;
        assert_eq!(store.sign_in_failures("account:zhou").await.unwrap(), None);
        let first = SignInFailures { failures: 1, last_failure_at_ms: 10, locked_until_ms: 0 };
        store.put_sign_in_failures("account:zhou", &first).await.unwrap();
        let locked = SignInFailures { failures: 0, last_failure_at_ms: 20, locked_until_ms: 900 };
        store.put_sign_in_failures("account:zhou", &locked).await.unwrap();
        store.put_sign_in_failures("address:127.0.0.1", &first).await.unwrap();
        assert_eq!(store.sign_in_failures("account:zhou").await.unwrap(), Some(locked));
        store.clear_sign_in_failures("account:zhou").await.unwrap();
        assert_eq!(store.sign_in_failures("account:zhou").await.unwrap(), None);
        assert_eq!(store.sign_in_failures("address:127.0.0.1").await.unwrap(), Some(first));
    }

    pub(crate) async fn the_admin_audit_log_is_newest_first_and_pages_by_id(db: TestDb) {
        let store = db.open().await;
        store.create_account(&account("a1", "lead", Role::Admin)).await.unwrap();
        let entry = |n: i64, actor: Option<&str>| NewAdminAudit {
            at_ms: n,
            actor_id: actor.map(str::to_owned),
            actor_name: actor.unwrap_or("shell").into(),
            action: "user.create".into(),
            target: format!("user:u{n}"),
            before_json: None,
            after_json: Some(format!("{{\"n\":{n}}}")),
            address: Some("127.0.0.1".into()),
        };
        let mut ids = Vec::new();
        for n in 1..=3 {
            ids.push(store.append_admin_audit(&entry(n, Some("a1"))).await.unwrap());
        }
        ids.push(store.append_admin_audit(&entry(4, None)).await.unwrap());
        let err = store.append_admin_audit(&entry(5, Some("ghost"))).await.unwrap_err();
        assert!(err.is_invalid_reference(), "{err:?}");
        let all = store.admin_audit(10, None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.at_ms).collect::<Vec<_>>(), vec![4, 3, 2, 1]);
        assert_eq!(all[0].actor_id, None);
        assert_eq!(all[0].actor_name, "shell");
        let page = store.admin_audit(2, Some(ids[2])).await.unwrap();
        assert_eq!(page.iter().map(|e| e.at_ms).collect::<Vec<_>>(), vec![2, 1]);
    }
}

#[test]
fn migration_0008_is_the_same_on_both_backends_but_for_its_header_and_identity_column() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0008_accounts.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| {
        sql.lines()
            .skip(2)
            .map(|l| {
                l.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "<identity>")
                    .replace("BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "<identity>")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0008 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0008 (Postgres)"));
}

// ---- Chats and chat messages (change 0013, `ChatStore`) ---------------------------------------

#[path = "store_suite/chat_cases.rs"]
mod chat_cases;

macro_rules! chat_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_chats {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_sqlite(crate::chat_cases::$name).await;
                }
            )*
        }
        mod postgres_chats {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_postgres(stringify!($name), crate::chat_cases::$name).await;
                }
            )*
        }
    };
}

chat_suite!(
    a_chat_is_recorded_answered_and_ended_once,
    chat_messages_are_numbered_in_order_and_survive_a_reopen,
    a_retried_send_is_stored_once,
    refused_chat_messages_write_nothing,
    concurrent_sends_to_one_chat_all_commit_in_one_sequence,
    chat_marks_only_move_forward_within_the_chat,
    invalid_chats_are_refused_before_writing,
    a_chat_is_rated_once_and_a_low_rating_is_followed_up,
    an_agents_chat_capacity_is_set_cleared_and_checked,
    a_chat_is_wrapped_up_once_per_agent_and_saving_again_replaces_it,
    a_chat_audit_needs_real_references_and_a_take_over_moves_the_agent_texts,
);

#[test]
fn migration_0014_is_the_same_on_both_backends_but_for_its_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0014_chat_capacity.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0014 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0014 (Postgres)"));
}

#[test]
fn migration_0013_is_the_same_on_both_backends_but_for_its_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let read = |backend: &str| {
        std::fs::read_to_string(dir.join(backend).join("0013_chats.sql")).expect("read")
    };
    let (sqlite, postgres) = (read("sqlite"), read("postgres"));
    let body = |sql: &str| sql.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&sqlite), body(&postgres));
    assert!(sqlite.starts_with("-- voicedesk store, change 0013 (SQLite)"));
    assert!(postgres.starts_with("-- voicedesk store, change 0013 (Postgres)"));
}
