//! `loadgen reports`: writes a month of a busy city's records into Postgres with a seeded
//! generator (by default one million calls, their ratings, staff support and messages), then
//! times the month's report (`ReportStore::report`) in every grouping. Prints one JSON object.
//!
//! The rows go in with `INSERT … SELECT FROM UNNEST($1, …)`, 10 000 a statement, straight
//! into the tables the server writes (the store's own methods take one row a round trip:
//! hours for a million). The same seed writes the same rows. `--reuse` times the rows already
//! there (after adding an index, say) without writing again.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use voicedesk_protocol::Role;
use voicedesk_store::{NewUser, ReportGroup, ReportQuery};

const MS_PER_DAY: i64 = 86_400_000;
const BATCH: usize = 10_000;

/// `loadgen reports`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportsArgs {
    /// `postgres://…` (migrations are applied). Its `calls` table must be empty unless
    /// `--reuse`.
    #[arg(long)]
    url: String,
    /// Call records to write, spread over the month.
    #[arg(long, default_value_t = 1_000_000)]
    calls: usize,
    /// The month's first day (local to the hall, UTC+8); it has 30 days.
    #[arg(long, default_value = "2026-11-01")]
    month: String,
    /// Agents the calls are spread over.
    #[arg(long, default_value_t = 300)]
    agents: usize,
    /// The generator's seed.
    #[arg(long, default_value_t = 18)]
    seed: u64,
    /// Time the rows already in the database; write nothing.
    #[arg(long)]
    reuse: bool,
    /// Timed runs of each grouping (the first is reported apart, as the cold one).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Local midnight (UTC+8) of `YYYY-MM-DD`, Unix ms.
fn local_midnight(day: &str) -> Result<i64> {
    let parts: Vec<i64> = day.split('-').map(str::parse).collect::<Result<_, _>>()?;
    let [y, m, d] = parts[..] else { bail!("--month must be YYYY-MM-DD") };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * MS_PER_DAY - 8 * 3_600_000)
}

/// One generated call and what hangs off it.
struct Gen {
    ids: Vec<String>,
    citizens: Vec<String>,
    services: Vec<String>,
    skills: Vec<String>,
    queued: Vec<i64>,
    offered: Vec<Option<i64>>,
    answered: Vec<Option<i64>>,
    ended: Vec<i64>,
    outcomes: Vec<String>,
    agents: Vec<Option<String>>,
    transfers: Vec<i32>,
    transferred: Vec<Option<i64>>,
    /// (call id, level, created)
    ratings: Vec<(String, i32, i64)>,
    /// (call id, at, mode)
    support: Vec<(String, i64, &'static str)>,
}

pub(crate) async fn reports(args: ReportsArgs) -> Result<Value> {
    if !args.url.starts_with("postgres") {
        bail!("--url must be postgres://… (the figure asked for is Postgres's)");
    }
    let store = voicedesk_store::open(&args.url).await.context("opening the store")?;
    let pool = sqlx::PgPool::connect(&args.url).await.context("connecting")?;
    let from_ms = local_midnight(&args.month)?;
    let to_ms = from_ms + 30 * MS_PER_DAY;
    let mut written = Value::Null;
    if !args.reuse {
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM calls").fetch_one(&pool).await?;
        if existing > 0 {
            bail!("the calls table holds {existing} rows: use an empty database, or --reuse");
        }
        let started = Instant::now();
        written = seed(&args, store.as_ref(), &pool, from_ms).await?;
        written["seconds"] = json!(started.elapsed().as_secs_f64());
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM calls WHERE queued_at_ms >= $1 AND queued_at_ms < $2",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_one(&pool)
    .await?;
    let mut timings = serde_json::Map::new();
    for group in ReportGroup::ALL {
        let query = ReportQuery {
            from_ms,
            to_ms,
            utc_offset_minutes: 480,
            service_level_ms: 20_000,
            group,
            now_ms: to_ms + 10 * MS_PER_DAY,
        };
        let mut ms = Vec::new();
        let mut rows = 0;
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            let report = store.report(&query).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = report.calls.len();
            if report.calls_total.arrived != count as u64 {
                bail!("the report counts {} calls, the table {count}", report.calls_total.arrived);
            }
        }
        let cold = ms[0];
        let mut warm = ms[1..].to_vec();
        warm.sort_by(f64::total_cmp);
        timings.insert(
            group.as_str().to_owned(),
            json!({
                "rows": rows,
                "cold_ms": cold.round(),
                "warm_ms_median": warm.get(warm.len() / 2).map(|v| v.round()),
                "warm_ms_max": warm.last().map(|v| v.round()),
            }),
        );
    }
    Ok(json!({
        "calls_in_month": count,
        "month_from": args.month,
        "written": written,
        "report_ms": timings,
    }))
}

async fn seed(
    args: &ReportsArgs,
    store: &dyn voicedesk_store::Store,
    pool: &sqlx::PgPool,
    from_ms: i64,
) -> Result<Value> {
    let catalogue = store.catalogue().await?;
    let services: Vec<(String, String)> =
        catalogue.services.iter().map(|s| (s.id.clone(), s.skill_id.clone())).collect();
    let skills: Vec<String> = catalogue.skills.iter().map(|s| s.id.clone()).collect();
    let mut agents = Vec::new();
    for n in 0..args.agents {
        let id = format!("report-agent-{n}");
        store
            .create_user(&NewUser {
                id: id.clone(),
                username: id.clone(),
                display_name: format!("坐席 {n}"),
                role: Role::Agent,
                password_hash: "!".to_owned(),
                created_at_ms: from_ms,
            })
            .await?;
        agents.push(id);
    }
    store
        .create_user(&NewUser {
            id: "report-staff".to_owned(),
            username: "report-staff".to_owned(),
            display_name: "班长".to_owned(),
            role: Role::Staff,
            password_hash: "!".to_owned(),
            created_at_ms: from_ms,
        })
        .await?;

    let mut rng = StdRng::seed_from_u64(args.seed);
    let (mut calls, mut ratings, mut support, mut messages) = (0usize, 0usize, 0usize, 0usize);
    while calls < args.calls {
        let n = BATCH.min(args.calls - calls);
        let g = generate(&mut rng, calls, n, from_ms, &services, &skills, &agents);
        insert(pool, &g).await?;
        ratings += g.ratings.len();
        support += g.support.len();
        calls += n;
    }
    // Messages: 2 % as many as calls, due two working days later (weekends only: the
    // November holidays are none).
    let total_messages = args.calls / 50;
    while messages < total_messages {
        let n = BATCH.min(total_messages - messages);
        let mut ids = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut replied = Vec::with_capacity(n);
        let mut services_of = Vec::with_capacity(n);
        for i in messages..messages + n {
            let at = from_ms + rng.random_range(0..30 * MS_PER_DAY);
            ids.push(format!("rm-{i}"));
            created.push(at);
            replied.push(rng.random_bool(0.9).then(|| at + rng.random_range(0..4 * MS_PER_DAY)));
            services_of.push(services[rng.random_range(0..services.len())].0.clone());
        }
        sqlx::query(
            "INSERT INTO messages (id, client_id, ticket, secret_hash, kind, service, body, reason, \
             created_at_ms, due_at_ms, state, reply, replied_at_ms, replied_by) \
             SELECT id, 'client-' || id || '-0000000000', upper(substr(md5(id), 1, 9)), md5(id) || md5(id), \
             'text', s, 'report bench', 'closed', c, c + 2 * 86400000, \
             CASE WHEN r IS NULL THEN 'new' ELSE 'answered' END, \
             CASE WHEN r IS NULL THEN NULL ELSE 'ok' END, r, \
             CASE WHEN r IS NULL THEN NULL ELSE 'report-staff' END \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS t(id, c, r, s)",
        )
        .bind(&ids)
        .bind(&created)
        .bind(&replied)
        .bind(&services_of)
        .execute(pool)
        .await?;
        messages += n;
    }
    Ok(json!({ "calls": calls, "ratings": ratings, "support": support, "messages": messages }))
}

/// `n` calls numbered from `first`: queued over 30 days, most in office hours; 3 % turned away,
/// 80 % answered (5 % of those transferred, 40 % rated, 1 % supported), 12 % abandoned, 5 % left
/// a message.
fn generate(
    rng: &mut StdRng,
    first: usize,
    n: usize,
    from_ms: i64,
    services: &[(String, String)],
    skills: &[String],
    agents: &[String],
) -> Gen {
    let mut g = Gen {
        ids: Vec::with_capacity(n),
        citizens: Vec::with_capacity(n),
        services: Vec::with_capacity(n),
        skills: Vec::with_capacity(n),
        queued: Vec::with_capacity(n),
        offered: Vec::with_capacity(n),
        answered: Vec::with_capacity(n),
        ended: Vec::with_capacity(n),
        outcomes: Vec::with_capacity(n),
        agents: Vec::with_capacity(n),
        transfers: Vec::with_capacity(n),
        transferred: Vec::with_capacity(n),
        ratings: Vec::new(),
        support: Vec::new(),
    };
    for i in first..first + n {
        let id = format!("rc-{i:07}");
        let (service, skill) = &services[rng.random_range(0..services.len())];
        let day = rng.random_range(0..30);
        // 90 % between 08:30 and 17:30 local, the rest at any hour.
        let in_day = if rng.random_bool(0.9) {
            rng.random_range(510 * 60_000..1050 * 60_000)
        } else {
            rng.random_range(0..MS_PER_DAY)
        };
        let queued = from_ms + day * MS_PER_DAY + in_day;
        let roll: f64 = rng.random();
        let agent = agents[rng.random_range(0..agents.len())].clone();
        let (mut offered, mut answered, mut who) = (None, None, None);
        let (mut transfers, mut transferred, mut skill) = (0, None, skill.clone());
        let ended = if roll < 0.03 {
            let outcome = ["closed", "queue_full", "no_agents"][rng.random_range(0..3)];
            g.outcomes.push(outcome.to_owned());
            queued
        } else if roll < 0.83 {
            let wait = rng.random_range(1_000..60_000);
            let talk = rng.random_range(60_000..600_000);
            offered = Some(queued + wait - 500);
            answered = Some(queued + wait);
            who = Some(agent);
            if rng.random_bool(0.05) {
                transfers = 1;
                transferred = Some(queued + wait + talk / 2);
                skill = skills[rng.random_range(0..skills.len())].clone();
            }
            if rng.random_bool(0.4) {
                g.ratings.push((id.clone(), rng.random_range(1..=5), queued + wait + talk + 5_000));
            }
            if rng.random_bool(0.01) {
                let mode = ["monitor", "whisper", "barge"][rng.random_range(0..3)];
                g.support.push((id.clone(), queued + wait + 1_000, mode));
            }
            g.outcomes
                .push(["citizen_hang_up", "agent_hang_up"][rng.random_range(0..2)].to_owned());
            queued + wait + talk
        } else if roll < 0.95 {
            g.outcomes.push("abandoned".to_owned());
            queued + rng.random_range(1_000..300_000)
        } else {
            g.outcomes.push("message_left".to_owned());
            queued + rng.random_range(10_000..120_000)
        };
        g.ids.push(id);
        g.citizens.push(format!("citizen-{}", rng.random_range(0..200_000)));
        g.services.push(service.clone());
        g.skills.push(skill);
        g.queued.push(queued);
        g.offered.push(offered);
        g.answered.push(answered);
        g.ended.push(ended);
        g.agents.push(who);
        g.transfers.push(transfers);
        g.transferred.push(transferred);
    }
    g
}

async fn insert(pool: &sqlx::PgPool, g: &Gen) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO calls (id, citizen_session, service, skill_id, queued_at_ms, offered_at_ms, \
         answered_at_ms, ended_at_ms, outcome, agent_id, offer_count, transfer_count, \
         transferred_at_ms) \
         SELECT id, c, s, k, q, o, a, e, oc, ag, CASE WHEN o IS NULL THEN 0 ELSE 1 END, t, tr \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], \
         $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::int[], $12::bigint[]) \
         AS u(id, c, s, k, q, o, a, e, oc, ag, t, tr)",
    )
    .bind(&g.ids)
    .bind(&g.citizens)
    .bind(&g.services)
    .bind(&g.skills)
    .bind(&g.queued)
    .bind(&g.offered)
    .bind(&g.answered)
    .bind(&g.ended)
    .bind(&g.outcomes)
    .bind(&g.agents)
    .bind(&g.transfers)
    .bind(&g.transferred)
    .execute(&mut *tx)
    .await?;
    let (ids, levels, at): (Vec<_>, Vec<_>, Vec<_>) = unzip3(&g.ratings);
    sqlx::query(
        "INSERT INTO ratings (subject_kind, subject_id, level, created_at_ms, follow_up) \
         SELECT 'call', id, l, a, CASE WHEN l <= 2 THEN 'open' END \
         FROM UNNEST($1::text[], $2::int[], $3::bigint[]) AS u(id, l, a)",
    )
    .bind(&ids)
    .bind(&levels)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    let (ids, at, modes): (Vec<_>, Vec<_>, Vec<_>) = unzip3(&g.support);
    sqlx::query(
        "INSERT INTO audit_log (at_ms, actor_id, call_id, action, mode) \
         SELECT a, 'report-staff', id, 'join', m FROM UNNEST($1::text[], $2::bigint[], $3::text[]) \
         AS u(id, a, m)",
    )
    .bind(&ids)
    .bind(&at)
    .bind(&modes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

fn unzip3<A: Clone, B: Clone, C: Clone>(v: &[(A, B, C)]) -> (Vec<A>, Vec<B>, Vec<C>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (a, b, c) in v {
        out.0.push(a.clone());
        out.1.push(b.clone());
        out.2.push(c.clone());
    }
    out
}
