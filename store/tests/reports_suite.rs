//! Report figures against hand-computed values on a seeded scenario, on both stores (SQLite in
//! a temporary file; Postgres in a fresh schema of `VOICEDESK_TEST_POSTGRES_URL`, skipped with
//! a SKIPPED line when it is unset, as in `store_suite.rs`).
//!
//! The period is Wednesday 2026-09-30 and Thursday 2026-10-01 (National Day, a holiday) in
//! China Standard Time (UTC+8); two calls are queued before midnight and end after it; two are
//! transferred; abandons fall in every wait bucket; messages are answered on time and late,
//! their due times computed with the hall's working-day calendar (holidays and make-up days).

use std::io::Write as _;
use std::sync::Arc;

use sqlx::Connection as _;
use voicedesk_protocol::{Role, SupportMode};
use voicedesk_queue_engine::{Calendar, CivilDate};
use voicedesk_store::{
    AuditAction, CallFigures, HolidayKind, MessageFigures, MessageKind, MessageReason,
    NewAuditEntry, NewCall, NewMessage, NewRating, NewUser, RatingSubject, ReportGroup,
    ReportQuery, Store,
};

const POSTGRES_URL_VAR: &str = "VOICEDESK_TEST_POSTGRES_URL";
const CST: i32 = 480;
const SECOND: i64 = 1000;

/// Unix ms of a local (UTC+8) time.
fn local(day: &str, h: u8, m: u8, s: i64) -> i64 {
    let date: CivilDate = day.parse().expect("date");
    date.unix_ms_at(h, m, CST) + s * SECOND
}

async fn with_sqlite(case: impl AsyncFnOnce(Arc<dyn Store>)) {
    let dir = std::env::temp_dir().join(format!("voicedesk-reports-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = voicedesk_store::open(&format!("sqlite://{}", dir.join("vd.db").display()))
        .await
        .expect("open sqlite");
    case(store).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn with_postgres(name: &str, case: impl AsyncFnOnce(Arc<dyn Store>)) {
    let Ok(base) = std::env::var(POSTGRES_URL_VAR) else {
        let _ =
            writeln!(std::io::stderr(), "SKIPPED postgres::{name}: {POSTGRES_URL_VAR} is not set");
        return;
    };
    let schema = format!("vd_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let store = voicedesk_store::open(&url).await.expect("open postgres");
    // Caught so that the schema is dropped whatever happens.
    let outcome = futures_catch(case(store)).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `f` to completion, returning its panic instead of unwinding.
async fn futures_catch(f: impl Future<Output = ()>) -> std::thread::Result<()> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(())),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    })
    .await
}

#[tokio::test]
async fn sqlite_figures_match_the_hand_computed_scenario() {
    with_sqlite(figures_match_the_hand_computed_scenario).await;
}

#[tokio::test]
async fn postgres_figures_match_the_hand_computed_scenario() {
    with_postgres(
        "figures_match_the_hand_computed_scenario",
        figures_match_the_hand_computed_scenario,
    )
    .await;
}

#[tokio::test]
async fn sqlite_export_pages_through_the_period_in_order() {
    with_sqlite(export_pages_through_the_period_in_order).await;
}

#[tokio::test]
async fn postgres_export_pages_through_the_period_in_order() {
    with_postgres(
        "export_pages_through_the_period_in_order",
        export_pages_through_the_period_in_order,
    )
    .await;
}

async fn user(store: &dyn Store, id: &str, role: Role) {
    store
        .create_user(&NewUser {
            id: id.to_owned(),
            username: id.to_owned(),
            display_name: format!("Name of {id}"),
            role,
            password_hash: "x".to_owned(),
            created_at_ms: 0,
        })
        .await
        .expect("user");
}

/// One call's life, as the hub records it.
#[derive(Default)]
struct Call<'a> {
    id: &'a str,
    skill: &'a str,
    service: &'a str,
    queued: i64,
    /// (agent, at): offered to, in order.
    offered: &'a [(&'a str, i64)],
    /// (agent, at): answered by, in order.
    answered: &'a [(&'a str, i64)],
    /// (to queue, at).
    transferred: &'a [(&'a str, i64)],
    /// (staff, at).
    taken_over: Option<(&'a str, i64)>,
    ended: Option<(i64, &'a str)>,
}

impl Call<'_> {
    async fn record(&self, store: &dyn Store) {
        store
            .insert_call(&NewCall {
                id: self.id.to_owned(),
                citizen_session: format!("citizen-{}", self.id),
                service: Some(self.service.to_owned()),
                queued_at_ms: self.queued,
                skill_id: Some(self.skill.to_owned()),
                priority: 0,
            })
            .await
            .expect("insert call");
        // Events in time order, as they happen.
        let mut events: Vec<(i64, u8, &str)> = Vec::new();
        events.extend(self.offered.iter().map(|(a, at)| (*at, 0, *a)));
        events.extend(self.answered.iter().map(|(a, at)| (*at, 1, *a)));
        events.extend(self.transferred.iter().map(|(q, at)| (*at, 2, *q)));
        events.extend(self.taken_over.iter().map(|(s, at)| (*at, 3, *s)));
        events.sort();
        for (at, kind, who) in events {
            match kind {
                0 => store.mark_call_offered(self.id, who, at).await.expect("offer"),
                1 => store.mark_call_answered(self.id, who, at).await.expect("answer"),
                2 => {
                    assert!(store.mark_call_transferred(self.id, who, at).await.expect("transfer"))
                }
                _ => store.mark_call_taken_over(self.id, who, at).await.expect("take over"),
            }
        }
        if let Some((at, outcome)) = self.ended {
            assert!(store.mark_call_ended(self.id, at, outcome).await.expect("end"));
        }
    }
}

async fn support(store: &dyn Store, call: &str, at: i64, action: AuditAction, mode: SupportMode) {
    store
        .append_audit(&NewAuditEntry {
            at_ms: at,
            actor_id: "s1".to_owned(),
            call_id: call.to_owned(),
            action,
            mode: Some(mode),
            detail: None,
        })
        .await
        .expect("audit");
}

async fn rate(store: &dyn Store, kind: RatingSubject, id: &str, level: i32, at: i64) {
    store
        .insert_rating(&NewRating {
            subject_kind: kind,
            subject_id: id.to_owned(),
            level,
            comment: String::new(),
            created_at_ms: at,
        })
        .await
        .expect("rating");
}

/// The hall's calendar from the store's holidays, as the server builds it.
async fn calendar(store: &dyn Store) -> Calendar {
    let mut calendar = Calendar { utc_offset_minutes: CST, ..Default::default() };
    for h in store.catalogue().await.expect("catalogue").holidays {
        let day: CivilDate = h.day.parse().expect("holiday date");
        match h.kind {
            HolidayKind::Holiday => calendar.holidays.insert(day),
            HolidayKind::Workday => calendar.workdays.insert(day),
        };
    }
    calendar
}

async fn message(
    store: &dyn Store,
    n: u8,
    service: Option<&str>,
    created: i64,
    due: i64,
) -> String {
    let cal = calendar(store).await;
    assert_eq!(cal.add_working_days(created, 2), due, "message {n}: due two working days later");
    let m = NewMessage {
        client_id: format!("client-{n:0>16}"),
        kind: MessageKind::Text,
        service: service.map(str::to_owned),
        name: None,
        phone: None,
        body: Some(format!("message {n}")),
        voice_file: None,
        voice_ms: None,
        voice_bytes: None,
        call_id: None,
        reason: MessageReason::Closed,
        created_at_ms: created,
        due_at_ms: due,
        citizen_id: None,
    };
    store.insert_message(&m).await.expect("message").message.id
}

/// The scenario; every figure below is computed by hand from it (see the comments).
async fn seed(store: &dyn Store) {
    for (id, role) in [("a1", Role::Agent), ("a2", Role::Agent), ("s1", Role::Staff)] {
        user(store, id, role).await;
    }
    let (w, h) = ("2026-09-30", "2026-10-01");
    let calls = [
        // C1: answered in 5 s, talk 300 s; monitored then whispered; rated 5.
        Call {
            id: "c01",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 9, 0, 0),
            offered: &[("a1", local(w, 9, 0, 2))],
            answered: &[("a1", local(w, 9, 0, 5))],
            ended: Some((local(w, 9, 5, 5), "agent_hang_up")),
            ..Default::default()
        },
        // C2: answered in 30 s (outside 20 s), talk 120 s; barged then taken over; rated 4.
        Call {
            id: "c02",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 9, 10, 0),
            answered: &[("a1", local(w, 9, 10, 30))],
            taken_over: Some(("s1", local(w, 9, 11, 30))),
            ended: Some((local(w, 9, 12, 30), "staff_hang_up")),
            ..Default::default()
        },
        // C3: abandoned after 5 s (bucket < 10 s).
        Call {
            id: "c03",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 10, 0, 0),
            ended: Some((local(w, 10, 0, 5), "abandoned")),
            ..Default::default()
        },
        // C4: rang at a2, abandoned after 20 s (10-30 s).
        Call {
            id: "c04",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 10, 5, 0),
            offered: &[("a2", local(w, 10, 5, 1))],
            ended: Some((local(w, 10, 5, 20), "abandoned")),
            ..Default::default()
        },
        // C5: the citizen's connection went away after 45 s (30-60 s).
        Call {
            id: "c05",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(w, 11, 0, 0),
            ended: Some((local(w, 11, 0, 45), "citizen_disconnected")),
            ..Default::default()
        },
        // C6: abandoned after 120 s (1-3 min).
        Call {
            id: "c06",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(w, 11, 30, 0),
            ended: Some((local(w, 11, 32, 0), "abandoned")),
            ..Default::default()
        },
        // C7: queued 23:50, abandoned after midnight, 610 s (≥ 3 min): Wednesday, hour 23.
        Call {
            id: "c07",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(w, 23, 50, 0),
            ended: Some((local(h, 0, 0, 10), "abandoned")),
            ..Default::default()
        },
        // C8: answered by a1 in 10 s, transferred to medical after 120 s, answered there by a2
        // 30 s later, talk 300 s: wait 30 s (outside), handle 300 s; rated 2, follow-up handled.
        Call {
            id: "c08",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 14, 0, 0),
            answered: &[("a1", local(w, 14, 0, 10)), ("a2", local(w, 14, 2, 40))],
            transferred: &[("medical", local(w, 14, 2, 10))],
            ended: Some((local(w, 14, 7, 40), "citizen_hang_up")),
            ..Default::default()
        },
        // C9: answered by a1 in 15 s, transferred after 60 s, the citizen gave up in the new
        // queue: answered (wait 15 s), handle 60 s, not abandoned; rated 1, follow-up open.
        Call {
            id: "c09",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 15, 0, 0),
            answered: &[("a1", local(w, 15, 0, 15))],
            transferred: &[("medical", local(w, 15, 1, 15))],
            ended: Some((local(w, 15, 1, 40), "abandoned")),
            ..Default::default()
        },
        // C10: the holiday: closed.
        Call {
            id: "c10",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(h, 8, 0, 0),
            ended: Some((local(h, 8, 0, 0), "closed")),
            ..Default::default()
        },
        // C11: queue full. C12: nobody staffed.
        Call {
            id: "c11",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 16, 0, 0),
            ended: Some((local(w, 16, 0, 0), "queue_full")),
            ..Default::default()
        },
        Call {
            id: "c12",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 16, 30, 0),
            ended: Some((local(w, 16, 30, 0), "no_agents")),
            ..Default::default()
        },
        // C13: left a message after 60 s of waiting.
        Call {
            id: "c13",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(h, 9, 0, 0),
            ended: Some((local(h, 9, 1, 0), "message_left")),
            ..Default::default()
        },
        // C14: queued 23:59:50, answered after midnight in 15 s, talk 600 s: Wednesday.
        Call {
            id: "c14",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 23, 59, 50),
            answered: &[("a1", local(h, 0, 0, 5))],
            ended: Some((local(h, 0, 10, 5), "agent_hang_up")),
            ..Default::default()
        },
        // C15 (before the period) and C17 (after it): not counted.
        Call {
            id: "c15",
            skill: "pension",
            service: "pension_claim",
            queued: local(w, 0, 0, 0) - 1,
            ended: Some((local(w, 0, 0, 30), "abandoned")),
            ..Default::default()
        },
        // C16: answered in exactly 20 s (within the target), talk 60 s; rated 3.
        Call {
            id: "c16",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local(h, 10, 0, 0),
            answered: &[("a2", local(h, 10, 0, 20))],
            ended: Some((local(h, 10, 1, 20), "citizen_hang_up")),
            ..Default::default()
        },
        Call {
            id: "c17",
            skill: "medical",
            service: "medical_reimbursement",
            queued: local("2026-10-02", 0, 0, 0),
            ended: Some((local("2026-10-02", 0, 0, 3), "abandoned")),
            ..Default::default()
        },
    ];
    for call in &calls {
        call.record(store).await;
    }
    support(store, "c01", local(w, 9, 1, 0), AuditAction::Join, SupportMode::Monitor).await;
    support(store, "c01", local(w, 9, 2, 0), AuditAction::Mode, SupportMode::Whisper).await;
    support(store, "c01", local(w, 9, 3, 0), AuditAction::Mode, SupportMode::Monitor).await;
    support(store, "c02", local(w, 9, 11, 0), AuditAction::Join, SupportMode::Barge).await;
    support(store, "c02", local(w, 9, 11, 30), AuditAction::TakeOver, SupportMode::TakeOver).await;
    let call = RatingSubject::Call;
    rate(store, call, "c01", 5, local(w, 9, 6, 0)).await;
    rate(store, call, "c02", 4, local(w, 9, 13, 0)).await;
    rate(store, call, "c08", 2, local(w, 14, 8, 0)).await;
    rate(store, call, "c09", 1, local(w, 15, 2, 0)).await;
    rate(store, call, "c16", 3, local(h, 10, 2, 0)).await;
    rate(store, call, "c15", 1, local(w, 0, 1, 0)).await;
    store
        .mark_follow_up_handled(call, "c08", "s1", "called back", local(w, 17, 0, 0))
        .await
        .expect("handled");

    // Messages. Wednesday's are due Friday 10-09 at the same time (10-01..10-07 are holidays);
    // the holiday's are due at the end of Friday 10-09 (00:00 on 10-10).
    let (fri, sat) = ("2026-10-09", "2026-10-10");
    let m1 =
        message(store, 1, Some("pension_claim"), local(w, 10, 0, 0), local(fri, 10, 0, 0)).await;
    store.reply_message(&m1, "s1", "reply", local(fri, 9, 0, 0)).await.expect("reply on time");
    let m2 =
        message(store, 2, Some("medical_reimbursement"), local(w, 8, 0, 0), local(fri, 8, 0, 0))
            .await;
    store.reply_message(&m2, "s1", "reply", local(fri, 9, 0, 0)).await.expect("reply late");
    message(store, 3, Some("pension_claim"), local(w, 20, 0, 0), local(fri, 20, 0, 0)).await;
    let m4 = message(store, 4, None, local(h, 13, 0, 0), local(sat, 0, 0, 0)).await;
    store.close_message(&m4, "s1", local(h, 14, 0, 0)).await.expect("close");
    let m5 =
        message(store, 5, Some("medical_reimbursement"), local(w, 22, 0, 0), local(fri, 22, 0, 0))
            .await;
    store.assign_message(&m5, "s1", local(fri, 9, 0, 0)).await.expect("assign");
    let m6 =
        message(store, 6, Some("pension_claim"), local(h, 12, 0, 0), local(sat, 0, 0, 0)).await;
    store.reply_message(&m6, "a1", "reply", local(fri, 23, 30, 0)).await.expect("reply");
    // Outside the period.
    message(store, 7, Some("pension_claim"), local("2026-10-02", 0, 0, 0), local(sat, 0, 0, 0))
        .await;
    let message = RatingSubject::Message;
    rate(store, message, &m1, 4, local(fri, 10, 0, 0)).await;
    rate(store, message, &m2, 1, local(fri, 10, 0, 0)).await;
    rate(store, message, &m6, 5, local(sat, 1, 0, 0)).await;
}

fn query(group: ReportGroup) -> ReportQuery {
    ReportQuery {
        from_ms: local("2026-09-30", 0, 0, 0),
        to_ms: local("2026-10-02", 0, 0, 0),
        utc_offset_minutes: CST,
        service_level_ms: 20 * SECOND,
        group,
        // Friday 10-09 21:00: message 3 (due 20:00) is overdue, message 5 (due 22:00) is not.
        now_ms: local("2026-10-09", 21, 0, 0),
    }
}

fn calls_row<'a>(rows: &'a [CallFigures], key: &str) -> &'a CallFigures {
    rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no call row {key:?}"))
}

fn messages_row<'a>(rows: &'a [MessageFigures], key: &str) -> &'a MessageFigures {
    rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no message row {key:?}"))
}

async fn figures_match_the_hand_computed_scenario(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    // The pension queue's own target is 30 s (C2, answered in 30 s, is within it); medical
    // has none, so the report's 20 s applies (C8, answered 30 s after its transfer, is not).
    let catalogue = store.catalogue().await.expect("catalogue");
    for mut skill in catalogue.skills {
        skill.service_level_secs = (skill.id == "pension").then_some(30);
        skill.service_level_pct = (skill.id == "pension").then_some(80);
        store.upsert_skill(&skill).await.expect("skill target");
    }

    let by_queue = store.report(&query(ReportGroup::Queue)).await.expect("report");
    assert_eq!(
        by_queue.calls.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["medical", "pension"]
    );
    // Pension: C1 C2 C3 C4 C11 C12 C14 (C8 and C9 moved to medical).
    let pension = CallFigures {
        key: "pension".to_owned(),
        arrived: 7,
        turned_away_closed: 0,
        turned_away_full: 1,
        turned_away_no_agents: 1,
        offered: 5,
        answered: 3,
        answered_within_target: 3,
        answer_wait_ms_total: (5 + 30 + 15) * SECOND,
        abandoned: 2,
        abandoned_by_wait: [1, 1, 0, 0, 0],
        message_left: 0,
        handled: 3,
        handle_ms_total: (300 + 120 + 600) * SECOND,
        transfers: 0,
        transferred_calls: 0,
        support: [1, 1, 1, 1],
        ratings: [0, 0, 0, 1, 1],
        follow_ups_opened: 0,
        follow_ups_handled: 0,
    };
    assert_eq!(calls_row(&by_queue.calls, "pension"), &pension);
    // Medical: C5 C6 C7 C8 C9 C10 C13 C16.
    let medical = CallFigures {
        key: "medical".to_owned(),
        arrived: 8,
        turned_away_closed: 1,
        turned_away_full: 0,
        turned_away_no_agents: 0,
        offered: 7,
        answered: 3,
        answered_within_target: 2,
        answer_wait_ms_total: (30 + 15 + 20) * SECOND,
        abandoned: 3,
        abandoned_by_wait: [0, 0, 1, 1, 1],
        message_left: 1,
        handled: 3,
        handle_ms_total: (300 + 60 + 60) * SECOND,
        transfers: 2,
        transferred_calls: 2,
        support: [0, 0, 0, 0],
        ratings: [1, 1, 1, 0, 0],
        follow_ups_opened: 2,
        follow_ups_handled: 1,
    };
    assert_eq!(calls_row(&by_queue.calls, "medical"), &medical);
    let total = &by_queue.calls_total;
    assert_eq!((total.arrived, total.offered, total.answered, total.abandoned), (15, 12, 6, 5));
    assert_eq!(total.service_level(), Some(5.0 / 12.0));
    assert_eq!(total.average_speed_of_answer_ms(), Some(115_000 / 6));
    assert_eq!(total.average_handle_ms(), Some(1_440_000 / 6));
    assert_eq!(total.ratings, [1, 1, 1, 1, 1]);
    assert_eq!(total.satisfied_share(), Some(0.4));
    assert_eq!(by_queue.names["pension"].en, "Pension insurance");

    // Per hour of day, both days together.
    let hour = |h: usize| {
        let f = by_queue.hours[h];
        (f.arrived, f.offered, f.answered, f.abandoned)
    };
    assert_eq!(by_queue.hours.len(), 24);
    assert_eq!(hour(8), (1, 0, 0, 0), "C10 closed");
    assert_eq!(hour(9), (3, 3, 2, 0), "C1 C2 C13");
    assert_eq!(hour(10), (3, 3, 1, 2), "C3 C4 C16");
    assert_eq!(hour(16), (2, 0, 0, 0), "C11 C12 turned away");
    assert_eq!(hour(23), (2, 2, 1, 1), "C7 C14, both ending after midnight");
    assert_eq!(hour(0), (0, 0, 0, 0), "nothing queued after midnight");
    assert_eq!(by_queue.hours.iter().map(|h| h.arrived).sum::<u64>(), 15);

    // Per day: the calls ending after midnight count on Wednesday.
    let wednesday = CivilDate::new(2026, 9, 30).unwrap().days_since_epoch();
    let days: Vec<_> = by_queue
        .days
        .iter()
        .map(|d| (d.day - wednesday, d.offered, d.answered, d.answered_within_target, d.abandoned))
        .collect();
    assert_eq!(days, [(0, 10, 5, 4, 5), (1, 2, 1, 1, 0)]);
    assert_eq!(by_queue.days[0].service_level(), Some(0.4));

    // Messages by queue (their service's queue).
    let pension_messages = messages_row(&by_queue.messages, "pension");
    assert_eq!(
        (
            pension_messages.received,
            pension_messages.answered_on_time,
            pension_messages.open_overdue
        ),
        (3, 2, 1),
        "M1 on time, M3 overdue, M6 (left on the holiday) on time"
    );
    let medical_messages = messages_row(&by_queue.messages, "medical");
    assert_eq!(
        (medical_messages.received, medical_messages.answered_late, medical_messages.open_in_time),
        (2, 1, 1),
        "M2 late, M5 not yet due"
    );
    assert_eq!(messages_row(&by_queue.messages, "").closed_unanswered, 1, "M4");
    let m = &by_queue.messages_total;
    assert_eq!(
        (m.received, m.answered(), m.answered_on_time, m.answered_late, m.overdue()),
        (6, 3, 2, 1, 2)
    );
    assert_eq!((m.open_overdue, m.open_in_time, m.closed_unanswered), (1, 1, 1));
    assert_eq!(m.ratings, [1, 0, 0, 1, 1]);
    assert_eq!((m.follow_ups_opened, m.follow_ups_handled), (1, 0));

    // By agent: the agent who answered, or was last offered, the call.
    let by_agent = store.report(&query(ReportGroup::Agent)).await.expect("report");
    let a1 = calls_row(&by_agent.calls, "a1");
    assert_eq!((a1.arrived, a1.answered, a1.abandoned, a1.handled), (4, 4, 0, 4), "C1 C2 C9 C14");
    let a2 = calls_row(&by_agent.calls, "a2");
    assert_eq!((a2.arrived, a2.answered, a2.abandoned), (3, 2, 1), "C4 C8 C16");
    assert_eq!(calls_row(&by_agent.calls, "").arrived, 8);
    assert_eq!(by_agent.calls_total, CallFigures { key: "total".to_owned(), ..total.clone() });
    assert_eq!(messages_row(&by_agent.messages, "s1").received, 4, "M1 M2 M4 M5");
    assert_eq!(messages_row(&by_agent.messages, "a1").received, 1, "M6");
    assert_eq!(by_agent.names["a1"].en, "Name of a1");

    // By service and by channel: one row per service; one row per channel, equal to the total.
    let by_service = store.report(&query(ReportGroup::Service)).await.expect("report");
    assert_eq!(calls_row(&by_service.calls, "pension_claim").arrived, 9, "C1-C4 C8 C9 C11 C12 C14");
    assert_eq!(calls_row(&by_service.calls, "medical_reimbursement").arrived, 6);
    let by_channel = store.report(&query(ReportGroup::Channel)).await.expect("report");
    assert_eq!(by_channel.calls.len(), 1);
    assert_eq!(by_channel.calls[0], CallFigures { key: "voice".to_owned(), ..total.clone() });
    assert_eq!(by_channel.messages.len(), 1);
    assert_eq!(by_channel.messages[0], MessageFigures { key: "message".to_owned(), ..m.clone() });

    // An empty period: zeros, every day listed, no rows.
    let mut empty = query(ReportGroup::Queue);
    empty.from_ms = local("2026-11-01", 0, 0, 0);
    empty.to_ms = local("2026-11-08", 0, 0, 0);
    let empty = store.report(&empty).await.expect("report");
    assert!(empty.calls.is_empty() && empty.messages.is_empty());
    assert_eq!(empty.days.len(), 7);
    assert_eq!(empty.calls_total.service_level(), None);
}

async fn export_pages_through_the_period_in_order(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let q = query(ReportGroup::Queue);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.calls_in_period(q.from_ms, q.to_ms, after.clone(), 4).await.expect("page");
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some((last.queued_at_ms, last.id.clone()));
        seen.extend(page.into_iter().map(|c| c.id));
    }
    assert_eq!(
        seen,
        [
            "c01", "c02", "c03", "c04", "c05", "c06", "c08", "c09", "c11", "c12", "c07", "c14",
            "c10", "c13", "c16"
        ]
    );
}
