//! The live figures pushed to staff consoles: queues, agents, calls, help requests, and a few
//! hours of history. "Today" begins at local midnight of `utc_offset_minutes`; a queue's service
//! level is the share of today's answered + abandoned calls answered within its threshold (the
//! queue's own target where an admin set one, [`WallboardConfig`]'s default otherwise); the whole
//! centre's counts each call against its own queue's threshold.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use voicedesk_protocol::{
    AgentActivity, AgentRow, CallPhaseName, CallRow, ChatRow, HelpRow, HistoryPoint, QueueRow,
    ServerMessage, Wallboard,
};
use voicedesk_queue_engine::CallPhase;

use crate::core::CallCenter;
use crate::{ServiceLevelTarget, SkillId, UnixMs};

const DAY_MS: i64 = 24 * 3600 * 1000;
const SAMPLE_EVERY: Duration = Duration::from_secs(60);
const HISTORY_POINTS: usize = 8 * 60;
/// Staff consoles get a fresh board at least this often even when nothing changed.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Wallboard settings and today's figures so far (read by the driver at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallboardConfig {
    /// The service-level threshold of queues without their own.
    pub service_level_seconds: u32,
    /// The service-level target (percent) of queues without their own.
    pub service_level_target_pct: u32,
    /// Offset of the hall's local time from UTC, for "today".
    pub utc_offset_minutes: i32,
    /// Today's calls by queue (skill id) before this process started, each counted against
    /// its queue's threshold.
    pub today: BTreeMap<String, DayCounts>,
}

impl Default for WallboardConfig {
    /// The server's default target, 80 % of calls answered within 20 s; days in UTC.
    fn default() -> Self {
        Self {
            service_level_seconds: 20,
            service_level_target_pct: 80,
            utc_offset_minutes: 0,
            today: BTreeMap::new(),
        }
    }
}

/// Answered and abandoned calls of one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayCounts {
    /// Answered.
    pub answered: u64,
    /// Answered within the service level.
    pub answered_within: u64,
    /// Abandoned before an answer.
    pub abandoned: u64,
}

impl DayCounts {
    fn service_level_pct(&self) -> Option<f32> {
        let total = self.answered + self.abandoned;
        (total > 0).then(|| (self.answered_within as f64 * 100.0 / total as f64) as f32)
    }

    fn add(&mut self, other: &DayCounts) {
        self.answered += other.answered;
        self.answered_within += other.answered_within;
        self.abandoned += other.abandoned;
    }
}

/// The board's memory.
#[derive(Debug, Default)]
pub(crate) struct WallboardState {
    pub(crate) config: WallboardConfig,
    /// Something changed since the last push.
    pub(crate) dirty: bool,
    last_push: Option<UnixMs>,
    last_sample: Option<UnixMs>,
    /// The queues' own service-level targets (from the catalogue).
    pub(crate) targets: BTreeMap<SkillId, ServiceLevelTarget>,
    history: VecDeque<HistoryPoint>,
    day_start: i64,
    all: DayCounts,
    by_skill: BTreeMap<String, DayCounts>,
}

fn local_day_start(now_ms: i64, offset_minutes: i32) -> i64 {
    let offset = offset_minutes as i64 * 60_000;
    (now_ms + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

impl WallboardState {
    pub(crate) fn new(config: WallboardConfig, now: UnixMs) -> Self {
        let mut all = DayCounts::default();
        config.today.values().for_each(|counts| all.add(counts));
        Self {
            dirty: true,
            day_start: local_day_start(now.0, config.utc_offset_minutes),
            all,
            by_skill: config.today.clone(),
            config,
            ..Self::default()
        }
    }

    /// A queue's service-level threshold (seconds) and target (percent).
    fn target_of(&self, skill: &str) -> (u32, u32) {
        let own = self.targets.get(&SkillId(skill.to_owned())).copied().unwrap_or_default();
        (
            own.seconds.unwrap_or(self.config.service_level_seconds),
            own.pct.unwrap_or(self.config.service_level_target_pct),
        )
    }

    fn roll_day(&mut self, now: UnixMs) {
        let today = local_day_start(now.0, self.config.utc_offset_minutes);
        if today != self.day_start {
            self.day_start = today;
            self.all = DayCounts::default();
            self.by_skill.clear();
        }
    }

    /// A call of queue `skill` was answered after waiting `waited`.
    pub(crate) fn answered(&mut self, now: UnixMs, skill: &str, waited: Duration) {
        self.roll_day(now);
        let (seconds, _) = self.target_of(skill);
        let within = waited <= Duration::from_secs(seconds.into());
        for counts in [&mut self.all, self.by_skill.entry(skill.to_owned()).or_default()] {
            counts.answered += 1;
            counts.answered_within += u64::from(within);
        }
    }

    /// A call of queue `skill` was abandoned.
    pub(crate) fn abandoned(&mut self, now: UnixMs, skill: &str) {
        self.roll_day(now);
        self.all.abandoned += 1;
        self.by_skill.entry(skill.to_owned()).or_default().abandoned += 1;
    }
}

impl CallCenter {
    /// The board as it is now.
    pub(crate) fn wallboard_snapshot(&mut self) -> Wallboard {
        self.wallboard.roll_day(self.now);
        let now = self.instant();
        let row = |name: String, counts: DayCounts, (seconds, pct): (u32, u32)| QueueRow {
            name,
            available_agents: 0,
            staffed_agents: 0,
            waiting: 0,
            longest_wait_ms: 0,
            answered_today: counts.answered as u32,
            abandoned_today: counts.abandoned as u32,
            service_level_pct: counts.service_level_pct(),
            service_level_seconds: seconds,
            service_level_target_pct: pct,
            chats_waiting: 0,
            longest_chat_wait_ms: 0,
            active_chats: 0,
        };
        let defaults = (
            self.wallboard.config.service_level_seconds,
            self.wallboard.config.service_level_target_pct,
        );
        let mut queues = vec![QueueRow {
            waiting: (self.engine.queue_len()
                + self.engine.ringing_count()
                + self.engine.parked_count()) as u32,
            longest_wait_ms: self.engine.longest_wait(now).map_or(0, |d| d.as_millis() as u64),
            available_agents: self
                .engine
                .agents()
                .filter(|a| a.activity == AgentActivity::Available)
                .count() as u32,
            staffed_agents: self
                .engine
                .agents()
                .filter(|a| a.activity != AgentActivity::Away)
                .count() as u32,
            ..row("all".into(), self.wallboard.all, defaults)
        }];
        let chats = self.chat_figures();
        let of = |skill: Option<&str>| {
            chats
                .iter()
                .filter(|(s, ..)| skill.is_none_or(|skill| s == skill))
                .fold((0, 0, 0), |(w, l, a), (_, waiting, wait, active)| {
                    (w + waiting, l.max(*wait), a + active)
                })
        };
        (queues[0].chats_waiting, queues[0].longest_chat_wait_ms, queues[0].active_chats) =
            of(None);
        for q in self.engine.queues(now) {
            let counts = self.wallboard.by_skill.get(&q.skill.0).copied().unwrap_or_default();
            let (chats_waiting, longest_chat_wait_ms, active_chats) = of(Some(&q.skill.0));
            queues.push(QueueRow {
                chats_waiting,
                longest_chat_wait_ms,
                active_chats,
                waiting: q.waiting as u32,
                longest_wait_ms: q.longest_wait.map_or(0, |d| d.as_millis() as u64),
                available_agents: q.available as u32,
                staffed_agents: q.staffed,
                ..row(q.skill.0.clone(), counts, self.wallboard.target_of(&q.skill.0))
            });
        }
        let name_of = |id: &str| self.members.get(id).map(|m| m.name.clone());
        let agents: Vec<AgentRow> = self
            .engine
            .agents()
            .map(|a| AgentRow {
                user_id: a.id.0.clone(),
                name: name_of(&a.id.0).unwrap_or_default(),
                state: a.activity,
                reason: a.reason.map(str::to_owned),
                since_ms: self.clock.unix(a.since).as_u64(),
                skills: a.skills.keys().map(|s| s.0.clone()).collect(),
                chats: a.chats.len() as u32,
                chat_capacity: u32::from(a.profile.chat_capacity),
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
                    agent_name: talking_to.and_then(name_of),
                    queued_at_ms: c.queued_at.as_u64(),
                    answered_at_ms: c.answered_at.map(UnixMs::as_u64),
                    supporters: self.supporter_list(c),
                    reconnecting: self.reconnecting(id),
                    // Measured, not decided: the driver fills these in from the relay.
                    citizen_quality: None,
                    agent_quality: None,
                }
            })
            .collect();
        calls.sort_by_key(|c| c.queued_at_ms);
        let mut chats: Vec<ChatRow> = self
            .chats
            .iter()
            .filter(|(_, c)| c.recorded && !c.abandoned && c.end_after.is_none())
            .map(|(id, c)| ChatRow {
                chat_id: id.0.clone(),
                service: c.service.clone(),
                skill: c.skill.clone(),
                answered: c.connected,
                agent_name: c.agent.as_ref().and_then(|a| name_of(&a.0)),
                queued_at_ms: c.queued_at.as_u64(),
                watchers: c.watchers.iter().filter_map(|w| name_of(w)).collect(),
                taken_over: c.taken_over_by.is_some(),
            })
            .collect();
        chats.sort_by_key(|c| c.queued_at_ms);
        let mut help_requests: Vec<HelpRow> = self
            .calls
            .iter()
            .filter_map(|(id, c)| {
                let help = c.help.as_ref()?;
                let agent = c.agent.as_ref()?;
                Some(HelpRow {
                    call_id: id.0.clone(),
                    agent_name: name_of(&agent.0).unwrap_or_default(),
                    reason: help.reason.clone(),
                    requested_at_ms: help.at.as_u64(),
                })
            })
            .collect();
        help_requests.sort_by_key(|h| h.requested_at_ms);
        Wallboard {
            at_ms: self.now.as_u64(),
            queues,
            agents,
            calls,
            chats,
            help_requests,
            history: self.wallboard.history.iter().cloned().collect(),
        }
    }

    /// Sends the board to every staff console now.
    pub(crate) fn push_wallboard(&mut self) {
        let staff: Vec<_> =
            self.members.values().filter(|m| m.role.is_staff()).map(|m| m.conn).collect();
        self.wallboard.dirty = false;
        self.wallboard.last_push = Some(self.now);
        if staff.is_empty() {
            return;
        }
        let board = self.wallboard_snapshot();
        for conn in staff {
            self.send(conn, ServerMessage::Wallboard(board.clone()));
        }
    }

    /// Once a second: sample the history, push the board if it changed or is getting old.
    pub(crate) fn wallboard_tick(&mut self) {
        let now = self.now;
        if self.wallboard.last_sample.is_none_or(|t| now.since(t) >= SAMPLE_EVERY) {
            self.wallboard.last_sample = Some(now);
            let point = HistoryPoint {
                at_ms: now.as_u64(),
                waiting: (self.engine.queue_len() + self.engine.ringing_count()) as u32,
                service_level_pct: self.wallboard.all.service_level_pct(),
            };
            self.wallboard.history.push_back(point);
            while self.wallboard.history.len() > HISTORY_POINTS {
                self.wallboard.history.pop_front();
            }
            self.wallboard.dirty = true;
        }
        let stale = self.wallboard.last_push.is_none_or(|t| now.since(t) >= REFRESH_EVERY);
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
        let beijing_half_past_midnight = 1_795_305_600_000 - 8 * 3_600_000 + 30 * 60_000;
        let start = local_day_start(beijing_half_past_midnight, 480);
        assert_eq!(beijing_half_past_midnight - start, 30 * 60_000);
        assert_eq!(local_day_start(start, 480), start);
    }
}
