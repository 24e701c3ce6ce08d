//! Reports over a period: figures per queue, service, agent or channel computed from `calls`,
//! `messages`, `ratings` and `audit_log` (read only). `docs/reports.md` defines every figure;
//! the definitions below are the same, in the words of the SQL.
//!
//! A period is `[from_ms, to_ms)` on `calls.queued_at_ms` (calls) and `messages.created_at_ms`
//! (messages): a call belongs to the period, day and hour in which it was queued, even if it
//! ended after midnight. Days and hours are local to the hall (`utc_offset_minutes`), computed
//! with integer arithmetic the same on SQLite and Postgres.

use std::collections::HashMap;

use sqlx::Row as _;

use crate::backend::{Backend, on_pool};
use crate::calls::call_columns;
use crate::model::{self, CallRow};
use crate::{CallRecord, StoreError};

const MS_PER_HOUR: i64 = 3_600_000;

/// How report rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportGroup {
    /// By queue (`calls.skill_id`: after a transfer, the last queue; messages: their service's
    /// queue).
    Queue,
    /// By the service the citizen chose.
    Service,
    /// By agent (calls: the agent who answered, or was last offered, the call; messages: who
    /// replied, else who it is assigned to, else who closed it).
    Agent,
    /// By channel: `voice` (calls) and `message`.
    Channel,
}

impl ReportGroup {
    /// Every grouping, in the order the page offers them.
    pub const ALL: [ReportGroup; 4] =
        [ReportGroup::Queue, ReportGroup::Service, ReportGroup::Agent, ReportGroup::Channel];

    /// The stable name (`queue`, `service`, `agent`, `channel`), as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportGroup::Queue => "queue",
            ReportGroup::Service => "service",
            ReportGroup::Agent => "agent",
            ReportGroup::Channel => "channel",
        }
    }

    /// The grouping named `name`, if any.
    pub fn parse(name: &str) -> Option<ReportGroup> {
        ReportGroup::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// Start of the period (inclusive), Unix ms: local midnight of the first day.
    pub from_ms: i64,
    /// End of the period (exclusive), Unix ms: local midnight after the last day.
    pub to_ms: i64,
    /// The hall's offset from UTC, for local days and hours.
    pub utc_offset_minutes: i32,
    /// A call answered within this many ms counts toward the service level, in the queues
    /// without a target of their own (`skills.service_level_secs`).
    pub service_level_ms: i64,
    /// How rows are grouped.
    pub group: ReportGroup,
    /// The time of the report: a message still open and past its due time is overdue.
    pub now_ms: i64,
}

/// Wait before abandoning, upper bounds (exclusive) of the first four buckets in ms; the fifth
/// is "3 minutes or more".
pub const ABANDON_BUCKETS_MS: [i64; 4] = [10_000, 30_000, 60_000, 180_000];

/// Call figures of one group (or of all, [`Report::calls_total`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFigures {
    /// The group: queue, service or agent id (empty: none), or `voice`.
    pub key: String,
    /// Every call record queued in the period.
    pub arrived: u64,
    /// Turned away at once because the queue was closed (`outcome = closed`).
    pub turned_away_closed: u64,
    /// Turned away because the queue was full (`queue_full`).
    pub turned_away_full: u64,
    /// Turned away because nobody with the skill was signed in (`no_agents`, never answered).
    pub turned_away_no_agents: u64,
    /// `arrived` less the calls turned away: calls that entered a queue.
    pub offered: u64,
    /// Calls an agent answered (`answered_at_ms` set).
    pub answered: u64,
    /// Answered calls whose wait (see [`CallFigures::answer_wait_ms_total`]) was at most the
    /// service-level target of the queue they ended in.
    pub answered_within_target: u64,
    /// Sum of the waits before answer: from entering the queue the call was answered from (the
    /// last transfer, or queueing) to that answer.
    pub answer_wait_ms_total: i64,
    /// Never answered, and the citizen went away (`abandoned`, `citizen_disconnected`).
    pub abandoned: u64,
    /// `abandoned` by the wait before giving up: <10 s, 10–30 s, 30–60 s, 1–3 min, ≥3 min.
    pub abandoned_by_wait: [u64; 5],
    /// Never answered, and the citizen chose to leave a message instead (`message_left`).
    pub message_left: u64,
    /// Answered calls that have ended: the calls with a handle time.
    pub handled: u64,
    /// Sum of the talk times of `handled` calls: from the (last) answer to the end, or to the
    /// transfer that ended the agent's part.
    pub handle_ms_total: i64,
    /// Transfers to another queue (a call transferred twice counts two).
    pub transfers: u64,
    /// Calls transferred at least once.
    pub transferred_calls: u64,
    /// Calls in which staff used monitor, whisper, barge, take over (each counted once a call).
    pub support: [u64; 4],
    /// Citizens' ratings of these calls, levels 1 to 5.
    pub ratings: [u64; 5],
    /// Follow-ups opened (ratings of level 1–2 open one).
    pub follow_ups_opened: u64,
    /// Follow-ups handled so far.
    pub follow_ups_handled: u64,
}

impl CallFigures {
    /// Calls turned away for any reason.
    pub fn turned_away(&self) -> u64 {
        self.turned_away_closed + self.turned_away_full + self.turned_away_no_agents
    }

    /// `answered_within_target / offered`, or `None` with nothing offered.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_target, self.offered)
    }

    /// `answered / offered`.
    pub fn answer_rate(&self) -> Option<f64> {
        ratio(self.answered, self.offered)
    }

    /// `abandoned / offered`.
    pub fn abandon_rate(&self) -> Option<f64> {
        ratio(self.abandoned, self.offered)
    }

    /// Average speed of answer in ms.
    pub fn average_speed_of_answer_ms(&self) -> Option<i64> {
        average(self.answer_wait_ms_total, self.answered)
    }

    /// Average handle (talk) time in ms.
    pub fn average_handle_ms(&self) -> Option<i64> {
        average(self.handle_ms_total, self.handled)
    }

    /// Share of ratings at level 4 or 5.
    pub fn satisfied_share(&self) -> Option<f64> {
        satisfied(&self.ratings)
    }

    fn add(&mut self, o: &CallFigures) {
        self.arrived += o.arrived;
        self.turned_away_closed += o.turned_away_closed;
        self.turned_away_full += o.turned_away_full;
        self.turned_away_no_agents += o.turned_away_no_agents;
        self.offered += o.offered;
        self.answered += o.answered;
        self.answered_within_target += o.answered_within_target;
        self.answer_wait_ms_total += o.answer_wait_ms_total;
        self.abandoned += o.abandoned;
        self.message_left += o.message_left;
        self.handled += o.handled;
        self.handle_ms_total += o.handle_ms_total;
        self.transfers += o.transfers;
        self.transferred_calls += o.transferred_calls;
        self.follow_ups_opened += o.follow_ups_opened;
        self.follow_ups_handled += o.follow_ups_handled;
        add_all(&mut self.abandoned_by_wait, &o.abandoned_by_wait);
        add_all(&mut self.support, &o.support);
        add_all(&mut self.ratings, &o.ratings);
    }
}

/// Message figures of one group (or of all, [`Report::messages_total`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFigures {
    /// The group: queue, service or agent id (empty: none), or `message`.
    pub key: String,
    /// Messages left in the period.
    pub received: u64,
    /// Replied to by its due time (two working days, holidays and make-up days counted: the
    /// `due_at_ms` set when it arrived).
    pub answered_on_time: u64,
    /// Replied to after its due time.
    pub answered_late: u64,
    /// Not replied to, still open, and past its due time at the time of the report.
    pub open_overdue: u64,
    /// Not replied to, still open, not yet due.
    pub open_in_time: u64,
    /// Closed without a reply.
    pub closed_unanswered: u64,
    /// Citizens' ratings of the replies, levels 1 to 5.
    pub ratings: [u64; 5],
    /// Follow-ups opened.
    pub follow_ups_opened: u64,
    /// Follow-ups handled so far.
    pub follow_ups_handled: u64,
}

impl MessageFigures {
    /// Replied to at all.
    pub fn answered(&self) -> u64 {
        self.answered_on_time + self.answered_late
    }

    /// Not answered within two working days: answered late, or still open past the due time.
    pub fn overdue(&self) -> u64 {
        self.answered_late + self.open_overdue
    }

    /// `answered_on_time / received`.
    pub fn on_time_share(&self) -> Option<f64> {
        ratio(self.answered_on_time, self.received)
    }

    /// Share of ratings at level 4 or 5.
    pub fn satisfied_share(&self) -> Option<f64> {
        satisfied(&self.ratings)
    }

    fn add(&mut self, o: &MessageFigures) {
        self.received += o.received;
        self.answered_on_time += o.answered_on_time;
        self.answered_late += o.answered_late;
        self.open_overdue += o.open_overdue;
        self.open_in_time += o.open_in_time;
        self.closed_unanswered += o.closed_unanswered;
        self.follow_ups_opened += o.follow_ups_opened;
        self.follow_ups_handled += o.follow_ups_handled;
        add_all(&mut self.ratings, &o.ratings);
    }
}

/// Calls of one local hour of day, summed over the period's days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourFigures {
    /// 0..=23, local.
    pub hour: u8,
    /// Call records queued in that hour.
    pub arrived: u64,
    /// Of them, entered a queue.
    pub offered: u64,
    /// Of them, answered.
    pub answered: u64,
    /// Of them, abandoned.
    pub abandoned: u64,
}

/// Calls of one local day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayFigures {
    /// The local day, as days since 1970-01-01.
    pub day: i64,
    /// Calls that entered a queue.
    pub offered: u64,
    /// Answered.
    pub answered: u64,
    /// Answered within the service-level target.
    pub answered_within_target: u64,
    /// Abandoned.
    pub abandoned: u64,
}

impl DayFigures {
    /// `answered_within_target / offered`.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_target, self.offered)
    }
}

/// A group's display names (queue and service names; an agent's display name in both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupName {
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
}

/// A whole report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Call figures per group, by key.
    pub calls: Vec<CallFigures>,
    /// All calls.
    pub calls_total: CallFigures,
    /// Message figures per group, by key.
    pub messages: Vec<MessageFigures>,
    /// All messages.
    pub messages_total: MessageFigures,
    /// 24 rows, hour 0 to 23.
    pub hours: Vec<HourFigures>,
    /// One row per local day of the period, in order (days without calls included).
    pub days: Vec<DayFigures>,
    /// Names of the keys that name a queue, service or agent that exists.
    pub names: HashMap<String, GroupName>,
}

/// Reports, computed from the database. Read only.
#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// Every figure of the period (see the module documentation and `docs/reports.md`).
    async fn report(&self, query: &ReportQuery) -> Result<Report, StoreError>;

    /// The call records queued in `[from_ms, to_ms)`, by `(queued_at_ms, id)`, at most `limit`,
    /// starting after `after` (the last row of the previous page): for exports in pages.
    async fn calls_in_period(
        &self,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<CallRecord>, StoreError>;
}

/// Abandoned: never answered, and the citizen went away.
macro_rules! abandoned {
    () => {
        "c.answered_at_ms IS NULL AND c.outcome IN ('abandoned', 'citizen_disconnected')"
    };
}

/// Turned away at once (never in a queue).
macro_rules! turned_away {
    () => {
        "c.answered_at_ms IS NULL AND c.outcome IN ('closed', 'queue_full', 'no_agents')"
    };
}

/// The wait before answer, NULL for an unanswered call: from the last transfer if the call was
/// answered after it, else from queueing.
macro_rules! answer_wait {
    () => {
        "(CASE WHEN c.transferred_at_ms <= c.answered_at_ms \
         THEN c.answered_at_ms - c.transferred_at_ms \
         ELSE c.answered_at_ms - c.queued_at_ms END)"
    };
}

/// The service-level target of the call's queue in ms (`skills.service_level_secs`), else the
/// server's (`$3`).
macro_rules! target {
    () => {
        "COALESCE(CAST(sk.service_level_secs AS BIGINT) * 1000, $3)"
    };
}

/// The calls query with the group key expression `$key`. Binds: $1 from, $2 to, $3 target ms.
macro_rules! calls_sql {
    ($key:literal) => {
        concat!(
            "SELECT ",
            $key,
            " AS k, COUNT(*), \
             COUNT(CASE WHEN c.answered_at_ms IS NULL AND c.outcome = 'closed' THEN 1 END), \
             COUNT(CASE WHEN c.answered_at_ms IS NULL AND c.outcome = 'queue_full' THEN 1 END), \
             COUNT(CASE WHEN c.answered_at_ms IS NULL AND c.outcome = 'no_agents' THEN 1 END), \
             COUNT(c.answered_at_ms), \
             COUNT(CASE WHEN ",
            answer_wait!(),
            " <= ",
            target!(),
            " THEN 1 END), \
             CAST(COALESCE(SUM(",
            answer_wait!(),
            "), 0) AS BIGINT), \
             COUNT(CASE WHEN ",
            abandoned!(),
            " AND c.ended_at_ms - c.queued_at_ms < 10000 THEN 1 END), \
             COUNT(CASE WHEN ",
            abandoned!(),
            " AND c.ended_at_ms - c.queued_at_ms >= 10000 \
               AND c.ended_at_ms - c.queued_at_ms < 30000 THEN 1 END), \
             COUNT(CASE WHEN ",
            abandoned!(),
            " AND c.ended_at_ms - c.queued_at_ms >= 30000 \
               AND c.ended_at_ms - c.queued_at_ms < 60000 THEN 1 END), \
             COUNT(CASE WHEN ",
            abandoned!(),
            " AND c.ended_at_ms - c.queued_at_ms >= 60000 \
               AND c.ended_at_ms - c.queued_at_ms < 180000 THEN 1 END), \
             COUNT(CASE WHEN ",
            abandoned!(),
            " AND c.ended_at_ms - c.queued_at_ms >= 180000 THEN 1 END), \
             COUNT(CASE WHEN c.answered_at_ms IS NULL AND c.outcome = 'message_left' THEN 1 END), \
             COUNT(CASE WHEN c.answered_at_ms IS NOT NULL AND c.ended_at_ms IS NOT NULL \
               THEN 1 END), \
             CAST(COALESCE(SUM(CASE WHEN c.answered_at_ms IS NOT NULL \
               AND c.ended_at_ms IS NOT NULL THEN \
                 CASE WHEN c.transferred_at_ms > c.answered_at_ms \
                 THEN c.transferred_at_ms - c.answered_at_ms \
                 ELSE c.ended_at_ms - c.answered_at_ms END END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(c.transfer_count), 0) AS BIGINT), \
             COUNT(CASE WHEN c.transfer_count > 0 THEN 1 END), \
             COUNT(s.monitor), COUNT(s.whisper), COUNT(s.barge), COUNT(s.take_over), \
             COUNT(CASE WHEN r.level = 1 THEN 1 END), COUNT(CASE WHEN r.level = 2 THEN 1 END), \
             COUNT(CASE WHEN r.level = 3 THEN 1 END), COUNT(CASE WHEN r.level = 4 THEN 1 END), \
             COUNT(CASE WHEN r.level = 5 THEN 1 END), \
             COUNT(r.follow_up), COUNT(CASE WHEN r.follow_up = 'handled' THEN 1 END) \
             FROM calls c \
             LEFT JOIN skills sk ON sk.id = c.skill_id \
             LEFT JOIN ratings r ON r.subject_kind = 'call' AND r.subject_id = c.id \
             LEFT JOIN (SELECT call_id, \
               MAX(CASE WHEN mode = 'monitor' THEN 1 END) AS monitor, \
               MAX(CASE WHEN mode = 'whisper' THEN 1 END) AS whisper, \
               MAX(CASE WHEN mode = 'barge' THEN 1 END) AS barge, \
               MAX(CASE WHEN action = 'take_over' OR mode = 'take_over' THEN 1 END) AS take_over \
               FROM audit_log WHERE at_ms >= $1 AND action IN ('join', 'mode', 'take_over') \
               GROUP BY call_id) s ON s.call_id = c.id \
             WHERE c.queued_at_ms >= $1 AND c.queued_at_ms < $2 \
             GROUP BY k ORDER BY k"
        )
    };
}

/// The messages query with the group key expression `$key`. Binds: $1 from, $2 to, $3 now.
macro_rules! messages_sql {
    ($key:literal) => {
        concat!(
            "SELECT ",
            $key,
            " AS k, COUNT(*), \
             COUNT(CASE WHEN m.replied_at_ms <= m.due_at_ms THEN 1 END), \
             COUNT(CASE WHEN m.replied_at_ms > m.due_at_ms THEN 1 END), \
             COUNT(CASE WHEN m.replied_at_ms IS NULL AND m.state IN ('new', 'assigned') \
               AND m.due_at_ms < $3 THEN 1 END), \
             COUNT(CASE WHEN m.replied_at_ms IS NULL AND m.state IN ('new', 'assigned') \
               AND m.due_at_ms >= $3 THEN 1 END), \
             COUNT(CASE WHEN m.replied_at_ms IS NULL AND m.state = 'closed' THEN 1 END), \
             COUNT(CASE WHEN r.level = 1 THEN 1 END), COUNT(CASE WHEN r.level = 2 THEN 1 END), \
             COUNT(CASE WHEN r.level = 3 THEN 1 END), COUNT(CASE WHEN r.level = 4 THEN 1 END), \
             COUNT(CASE WHEN r.level = 5 THEN 1 END), \
             COUNT(r.follow_up), COUNT(CASE WHEN r.follow_up = 'handled' THEN 1 END) \
             FROM messages m \
             LEFT JOIN ratings r ON r.subject_kind = 'message' AND r.subject_id = m.id \
             LEFT JOIN services sv ON sv.id = m.service \
             WHERE m.created_at_ms >= $1 AND m.created_at_ms < $2 \
             GROUP BY k ORDER BY k"
        )
    };
}

/// Calls per local hour (hours since the epoch, local). Binds: $1 from, $2 to, $3 target ms,
/// $4 offset ms.
const HOURS_SQL: &str = concat!(
    "SELECT (c.queued_at_ms + $4) / 3600000 AS h, COUNT(*), \
     COUNT(CASE WHEN ",
    turned_away!(),
    " THEN 1 END), COUNT(c.answered_at_ms), \
     COUNT(CASE WHEN ",
    answer_wait!(),
    " <= ",
    target!(),
    " THEN 1 END), \
     COUNT(CASE WHEN ",
    abandoned!(),
    " THEN 1 END) \
     FROM calls c LEFT JOIN skills sk ON sk.id = c.skill_id WHERE c.queued_at_ms >= $1 AND c.queued_at_ms < $2 GROUP BY h"
);

fn calls_sql(group: ReportGroup) -> &'static str {
    match group {
        ReportGroup::Queue => calls_sql!("COALESCE(c.skill_id, '')"),
        ReportGroup::Service => calls_sql!("COALESCE(c.service, '')"),
        ReportGroup::Agent => calls_sql!("COALESCE(c.agent_id, '')"),
        ReportGroup::Channel => calls_sql!("'voice'"),
    }
}

fn messages_sql(group: ReportGroup) -> &'static str {
    match group {
        ReportGroup::Queue => messages_sql!("COALESCE(sv.skill_id, '')"),
        ReportGroup::Service => messages_sql!("COALESCE(m.service, '')"),
        ReportGroup::Agent => {
            messages_sql!("COALESCE(m.replied_by, m.assigned_to, m.closed_by, '')")
        }
        ReportGroup::Channel => messages_sql!("'message'"),
    }
}

fn names_sql(group: ReportGroup) -> Option<&'static str> {
    match group {
        ReportGroup::Queue => Some("SELECT id, name_zh, name_en FROM skills"),
        ReportGroup::Service => Some("SELECT id, name_zh, name_en FROM services"),
        ReportGroup::Agent => Some("SELECT id, display_name, display_name FROM users"),
        ReportGroup::Channel => None,
    }
}

/// A grouped row: the key and its counts, in query order.
type Counts = (String, Vec<i64>);

#[async_trait::async_trait]
impl<S: Backend> ReportStore for S {
    async fn report(&self, q: &ReportQuery) -> Result<Report, StoreError> {
        let offset_ms = i64::from(q.utc_offset_minutes) * 60_000;
        let calls: Vec<Counts> = on_pool!(self.db(), |pool| {
            let rows = sqlx::query(calls_sql(q.group))
                .bind(q.from_ms)
                .bind(q.to_ms)
                .bind(q.service_level_ms)
                .fetch_all(pool)
                .await?;
            rows.iter().map(counts).collect::<Result<_, sqlx::Error>>()
        })?;
        let messages: Vec<Counts> = on_pool!(self.db(), |pool| {
            let rows = sqlx::query(messages_sql(q.group))
                .bind(q.from_ms)
                .bind(q.to_ms)
                .bind(q.now_ms)
                .fetch_all(pool)
                .await?;
            rows.iter().map(counts).collect::<Result<_, sqlx::Error>>()
        })?;
        let hours: Vec<Counts> = on_pool!(self.db(), |pool| {
            let rows = sqlx::query(HOURS_SQL)
                .bind(q.from_ms)
                .bind(q.to_ms)
                .bind(q.service_level_ms)
                .bind(offset_ms)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let mut values = Vec::with_capacity(6);
                    for i in 0..6 {
                        values.push(row.try_get::<i64, _>(i)?);
                    }
                    Ok((String::new(), values))
                })
                .collect::<Result<_, sqlx::Error>>()
        })?;
        let names: Vec<(String, String, String)> = match names_sql(q.group) {
            Some(sql) => on_pool!(self.db(), |pool| {
                sqlx::query_as::<_, (String, String, String)>(sql).fetch_all(pool).await
            })?,
            None => Vec::new(),
        };

        let mut report = Report::default();
        for (key, v) in calls {
            let f = call_figures(key, &v)?;
            report.calls_total.add(&f);
            report.calls.push(f);
        }
        report.calls_total.key = "total".to_owned();
        for (key, v) in messages {
            let f = message_figures(key, &v)?;
            report.messages_total.add(&f);
            report.messages.push(f);
        }
        report.messages_total.key = "total".to_owned();

        let first_day = (q.from_ms + offset_ms).div_euclid(MS_PER_HOUR * 24);
        let last_day = (q.to_ms - 1 + offset_ms).div_euclid(MS_PER_HOUR * 24);
        report.hours = (0..24u8).map(|hour| HourFigures { hour, ..Default::default() }).collect();
        report.days = (first_day..=last_day.max(first_day - 1))
            .map(|day| DayFigures { day, ..Default::default() })
            .collect();
        for (_, v) in hours {
            let [local_hour, arrived, turned_away, answered, within, abandoned] =
                <[i64; 6]>::try_from(v).map_err(|_| corrupt("hours"))?;
            let (arrived, turned_away, answered, within, abandoned) = (
                count(arrived)?,
                count(turned_away)?,
                count(answered)?,
                count(within)?,
                count(abandoned)?,
            );
            let h = &mut report.hours[local_hour.rem_euclid(24) as usize];
            h.arrived += arrived;
            h.offered += arrived - turned_away;
            h.answered += answered;
            h.abandoned += abandoned;
            let index = local_hour.div_euclid(24) - first_day;
            if let Some(d) = usize::try_from(index).ok().and_then(|i| report.days.get_mut(i)) {
                d.offered += arrived - turned_away;
                d.answered += answered;
                d.answered_within_target += within;
                d.abandoned += abandoned;
            }
        }
        report.names = names
            .into_iter()
            .filter(|(id, _, _)| {
                report.calls.iter().any(|f| &f.key == id)
                    || report.messages.iter().any(|f| &f.key == id)
            })
            .map(|(id, zh, en)| (id, GroupName { zh, en }))
            .collect();
        Ok(report)
    }

    async fn calls_in_period(
        &self,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let (after_ms, after_id) = after.unwrap_or((i64::MIN, String::new()));
        on_pool!(self.db(), |pool| {
            sqlx::query_as::<_, CallRow>(concat!(
                "SELECT ",
                call_columns!(),
                " FROM calls WHERE queued_at_ms >= $1 AND queued_at_ms < $2 \
                 AND (queued_at_ms > $3 OR (queued_at_ms = $3 AND id > $4)) \
                 ORDER BY queued_at_ms, id LIMIT $5"
            ))
            .bind(from_ms)
            .bind(to_ms)
            .bind(after_ms)
            .bind(&after_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?
        .into_iter()
        .map(model::call_from_row)
        .collect()
    }
}

/// The key (column 0) and every count after it.
fn counts<R: sqlx::Row>(row: &R) -> Result<Counts, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let key: String = row.try_get(0)?;
    let values = (1..row.len()).map(|i| row.try_get::<i64, _>(i)).collect::<Result<_, _>>()?;
    Ok((key, values))
}

fn call_figures(key: String, v: &[i64]) -> Result<CallFigures, StoreError> {
    let n = |i: usize| v.get(i).copied().ok_or_else(|| corrupt("calls")).and_then(count);
    let sum = |i: usize| v.get(i).copied().ok_or_else(|| corrupt("calls"));
    let mut f = CallFigures {
        key,
        arrived: n(0)?,
        turned_away_closed: n(1)?,
        turned_away_full: n(2)?,
        turned_away_no_agents: n(3)?,
        answered: n(4)?,
        answered_within_target: n(5)?,
        answer_wait_ms_total: sum(6)?,
        abandoned_by_wait: [n(7)?, n(8)?, n(9)?, n(10)?, n(11)?],
        message_left: n(12)?,
        handled: n(13)?,
        handle_ms_total: sum(14)?,
        transfers: n(15)?,
        transferred_calls: n(16)?,
        support: [n(17)?, n(18)?, n(19)?, n(20)?],
        ratings: [n(21)?, n(22)?, n(23)?, n(24)?, n(25)?],
        follow_ups_opened: n(26)?,
        follow_ups_handled: n(27)?,
        ..Default::default()
    };
    f.offered = f.arrived - f.turned_away();
    f.abandoned = f.abandoned_by_wait.iter().sum();
    Ok(f)
}

fn message_figures(key: String, v: &[i64]) -> Result<MessageFigures, StoreError> {
    let n = |i: usize| v.get(i).copied().ok_or_else(|| corrupt("messages")).and_then(count);
    Ok(MessageFigures {
        key,
        received: n(0)?,
        answered_on_time: n(1)?,
        answered_late: n(2)?,
        open_overdue: n(3)?,
        open_in_time: n(4)?,
        closed_unanswered: n(5)?,
        ratings: [n(6)?, n(7)?, n(8)?, n(9)?, n(10)?],
        follow_ups_opened: n(11)?,
        follow_ups_handled: n(12)?,
    })
}

fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt {
        table: "calls",
        column: "COUNT(*)",
        value: n.to_string(),
    })
}

fn corrupt(table: &'static str) -> StoreError {
    StoreError::Corrupt { table, column: "report", value: "missing column".to_owned() }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn average(total: i64, n: u64) -> Option<i64> {
    (n > 0).then(|| total / n as i64)
}

fn satisfied(ratings: &[u64; 5]) -> Option<f64> {
    ratio(ratings[3] + ratings[4], ratings.iter().sum())
}

fn add_all<const N: usize>(into: &mut [u64; N], from: &[u64; N]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}
