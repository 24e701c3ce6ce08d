//! The live figures pushed to staff consoles: queues, agents, calls, help requests, and a
//! few hours of history for the chart.
//!
//! Today's answered/abandoned counts start from the store at start-up and are kept by the hub
//! from then on; "today" begins at local midnight of `utc_offset_minutes` (China Standard
//! Time by default). The service level is the share of today's answered + abandoned calls
//! that were answered within `service_level_seconds`. History is sampled once a minute and
//! kept in memory for eight hours (a restart starts a new history).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use voicedesk_protocol::{
    AgentRow, CallPhaseName, CallRow, HelpRow, HistoryPoint, QueueRow, ServerMessage, Supporter,
    Wallboard,
};
use voicedesk_queue_engine::CallPhase;
use voicedesk_store::Store;

use super::Hub;
use crate::clock::now_ms;

const DAY_MS: i64 = 24 * 3600 * 1000;
const SAMPLE_EVERY: Duration = Duration::from_secs(60);
const HISTORY_POINTS: usize = 8 * 60;
/// Staff consoles get a fresh board at least this often even when nothing changed.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Wallboard settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallboardConfig {
    /// The service-level threshold.
    pub(crate) service_level_seconds: u32,
    /// Offset of the hall's local time from UTC, for "today".
    pub(crate) utc_offset_minutes: i32,
}

pub(super) struct WallboardState {
    config: WallboardConfig,
    /// Something changed since the last push.
    pub(super) dirty: bool,
    last_push: Option<Instant>,
    last_sample: Option<Instant>,
    history: VecDeque<HistoryPoint>,
    day_start_ms: i64,
    /// Today, all queues (loaded from the store at start).
    all: DayCounts,
    /// Today, per queue (skill), counted in memory since this process started.
    by_skill: std::collections::BTreeMap<String, DayCounts>,
}

/// Answered and abandoned calls of one day.
#[derive(Debug, Clone, Copy, Default)]
struct DayCounts {
    answered: u64,
    answered_within: u64,
    abandoned: u64,
}

impl DayCounts {
    fn service_level_pct(&self) -> Option<f32> {
        let total = self.answered + self.abandoned;
        (total > 0).then(|| (self.answered_within as f64 * 100.0 / total as f64) as f32)
    }
}

fn local_day_start(now_ms: i64, offset_minutes: i32) -> i64 {
    let offset = offset_minutes as i64 * 60_000;
    (now_ms + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

impl WallboardState {
    pub(super) async fn load(config: WallboardConfig, store: &dyn Store) -> Self {
        let day_start_ms = local_day_start(now_ms(), config.utc_offset_minutes);
        let threshold = config.service_level_seconds as i64 * 1000;
        let counts = store.call_counts_since(day_start_ms, threshold).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not load today's call counts");
            Default::default()
        });
        Self {
            config,
            dirty: true,
            last_push: None,
            last_sample: None,
            history: VecDeque::new(),
            day_start_ms,
            all: DayCounts {
                answered: counts.answered,
                answered_within: counts.answered_within,
                abandoned: counts.abandoned,
            },
            by_skill: Default::default(),
        }
    }

    fn roll_day(&mut self) {
        let today = local_day_start(now_ms(), self.config.utc_offset_minutes);
        if today != self.day_start_ms {
            self.day_start_ms = today;
            self.all = DayCounts::default();
            self.by_skill.clear();
        }
    }

    /// A call of queue `skill` was answered after waiting `waited_ms`.
    pub(super) fn answered(&mut self, skill: &str, waited_ms: i64) {
        self.roll_day();
        let within = waited_ms <= self.config.service_level_seconds as i64 * 1000;
        for counts in [&mut self.all, self.by_skill.entry(skill.to_owned()).or_default()] {
            counts.answered += 1;
            counts.answered_within += u64::from(within);
        }
    }

    /// A call of queue `skill` was abandoned.
    pub(super) fn abandoned(&mut self, skill: &str) {
        self.roll_day();
        self.all.abandoned += 1;
        self.by_skill.entry(skill.to_owned()).or_default().abandoned += 1;
    }
}

impl Hub {
    /// The board as it is now.
    pub(super) fn wallboard_snapshot(&mut self) -> Wallboard {
        self.wallboard.roll_day();
        let now = Instant::now();
        let at_ms = now_ms();
        let threshold = self.wallboard.config.service_level_seconds;
        let row = |name: String, counts: DayCounts| QueueRow {
            name,
            available_agents: 0,
            staffed_agents: 0,
            waiting: 0,
            longest_wait_ms: 0,
            answered_today: counts.answered as u32,
            abandoned_today: counts.abandoned as u32,
            service_level_pct: counts.service_level_pct(),
            service_level_seconds: threshold,
        };
        // First the whole hall ("all"), then one row per queue.
        let mut queues = vec![QueueRow {
            waiting: (self.engine.queue_len()
                + self.engine.ringing_count()
                + self.engine.parked_count()) as u32,
            longest_wait_ms: self.engine.longest_wait(now).map_or(0, |d| d.as_millis() as u64),
            available_agents: self
                .engine
                .agents()
                .filter(|a| a.activity == voicedesk_protocol::AgentActivity::Available)
                .count() as u32,
            staffed_agents: self
                .engine
                .agents()
                .filter(|a| a.activity != voicedesk_protocol::AgentActivity::Away)
                .count() as u32,
            ..row("all".into(), self.wallboard.all)
        }];
        for q in self.engine.queues(now) {
            let counts = self.wallboard.by_skill.get(&q.skill.0).copied().unwrap_or_default();
            queues.push(QueueRow {
                waiting: q.waiting as u32,
                longest_wait_ms: q.longest_wait.map_or(0, |d| d.as_millis() as u64),
                available_agents: q.available as u32,
                staffed_agents: q.staffed,
                ..row(q.skill.0.clone(), counts)
            });
        }
        let agents: Vec<AgentRow> = self
            .engine
            .agents()
            .map(|a| AgentRow {
                user_id: a.id.0.clone(),
                name: self.members.get(&a.id.0).map(|m| m.name.clone()).unwrap_or_default(),
                state: a.activity,
                reason: a.reason.map(str::to_owned),
                since_ms: self.wall_ms(a.since),
                skills: a.skills.keys().map(|s| s.0.clone()).collect(),
            })
            .collect();
        let mut calls: Vec<CallRow> = self
            .calls
            .iter()
            .map(|(id, c)| {
                let phase = match self.engine.call(id).map(|v| v.phase) {
                    Some(CallPhase::Queued) => CallPhaseName::Queued,
                    Some(CallPhase::Ringing) => CallPhaseName::Ringing,
                    _ => CallPhaseName::Talking,
                };
                let talking_to =
                    c.agent.as_ref().map(|a| a.0.as_str()).or(c.taken_over_by.as_deref());
                CallRow {
                    call_id: id.0.clone(),
                    service: c.service.clone(),
                    skill: c.skill.clone(),
                    phase,
                    agent_name: talking_to
                        .and_then(|u| self.members.get(u))
                        .map(|m| m.name.clone()),
                    queued_at_ms: c.queued_at_ms.max(0) as u64,
                    answered_at_ms: c.answered_at_ms.map(|t| t.max(0) as u64),
                    supporters: c
                        .supporters
                        .iter()
                        .map(|s| Supporter {
                            user_id: s.user_id.clone(),
                            name: self
                                .members
                                .get(&s.user_id)
                                .map(|m| m.name.clone())
                                .unwrap_or_default(),
                            mode: s.mode,
                        })
                        .collect(),
                    reconnecting: self.reconnecting(id),
                }
            })
            .collect();
        calls.sort_by_key(|c| c.queued_at_ms);
        let mut help_requests: Vec<HelpRow> = self
            .calls
            .iter()
            .filter_map(|(id, c)| {
                let help = c.help.as_ref()?;
                let agent = c.agent.as_ref()?;
                Some(HelpRow {
                    call_id: id.0.clone(),
                    agent_name: self
                        .members
                        .get(&agent.0)
                        .map(|m| m.name.clone())
                        .unwrap_or_default(),
                    reason: help.reason.clone(),
                    requested_at_ms: help.at_ms.max(0) as u64,
                })
            })
            .collect();
        help_requests.sort_by_key(|h| h.requested_at_ms);
        Wallboard {
            at_ms: at_ms.max(0) as u64,
            queues,
            agents,
            calls,
            help_requests,
            history: self.wallboard.history.iter().cloned().collect(),
        }
    }

    /// Sends the board to every staff console now.
    pub(super) fn push_wallboard(&mut self) {
        let staff: Vec<_> =
            self.members.values().filter(|m| m.role.is_staff()).map(|m| m.conn).collect();
        self.wallboard.dirty = false;
        self.wallboard.last_push = Some(Instant::now());
        if staff.is_empty() {
            return;
        }
        let board = self.wallboard_snapshot();
        for conn in staff {
            self.send(conn, ServerMessage::Wallboard(board.clone()));
        }
    }

    /// Once a second: sample the history, push the board if it changed or is getting old.
    pub(super) fn wallboard_tick(&mut self) {
        let now = Instant::now();
        if self.wallboard.last_sample.is_none_or(|t| now.duration_since(t) >= SAMPLE_EVERY) {
            self.wallboard.last_sample = Some(now);
            let point = HistoryPoint {
                at_ms: now_ms().max(0) as u64,
                waiting: (self.engine.queue_len() + self.engine.ringing_count()) as u32,
                service_level_pct: self.wallboard.all.service_level_pct(),
            };
            self.wallboard.history.push_back(point);
            while self.wallboard.history.len() > HISTORY_POINTS {
                self.wallboard.history.pop_front();
            }
            self.wallboard.dirty = true;
        }
        let stale = self.wallboard.last_push.is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY);
        if self.wallboard.dirty || stale {
            self.push_wallboard();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_local_midnight() {
        // 2026-11-22 00:00 UTC is 1_795_305_600_000; 00:30 in Beijing is 16:30 UTC the day before.
        let beijing_half_past_midnight = 1_795_305_600_000 - 8 * 3_600_000 + 30 * 60_000;
        let start = local_day_start(beijing_half_past_midnight, 480);
        assert_eq!(beijing_half_past_midnight - start, 30 * 60_000);
        assert_eq!(local_day_start(start, 480), start, "midnight itself belongs to the new day");
    }
}
