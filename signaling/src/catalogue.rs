//! The hall's catalogue as the signaling server uses it: which queue (skill) and priority a
//! service routes to, and the queue settings and holiday calendar the engine enforces.
//!
//! The store holds the catalogue (admins edit it through `/api/admin/…`); the driver builds this
//! routing view and hands it to the call-center core at start and after every change, so a
//! change takes effect at once without a restart.

use std::collections::BTreeSet;
use std::time::Duration;

use voicedesk_queue_engine::{Calendar, CivilDate, QueueSettings, SkillId, WeeklyHours};
use voicedesk_store::{Catalogue, Holiday, HolidayKind, Skill};

pub use voicedesk_call_center::{GENERAL_SKILL, Route, Routing, ServiceLevelTarget};

/// Builds the routing view the core keeps. A skill whose hours cannot be read is closed
/// ("never") and logged: the admin API refuses such hours, so only a hand-edited database gets
/// here.
pub fn routing(catalogue: &Catalogue, utc_offset_minutes: i32, always_open: bool) -> Routing {
    let services = catalogue
        .services
        .iter()
        .filter(|s| s.enabled)
        .map(|s| {
            let route = Route {
                skill: SkillId(s.skill_id.clone()),
                priority: u8::try_from(s.priority.clamp(0, 9)).unwrap_or(0),
            };
            (s.id.clone(), route)
        })
        .collect();
    let queues = catalogue
        .skills
        .iter()
        .map(|skill| {
            let settings = queue_settings(skill, always_open).unwrap_or_else(|e| {
                tracing::error!(skill = %skill.id, error = %e, "unreadable hours; queue closed");
                QueueSettings::default().with_hours(WeeklyHours::never())
            });
            (SkillId(skill.id.clone()), settings)
        })
        .collect();
    let calendar = calendar(&catalogue.holidays, utc_offset_minutes);
    let away_reasons =
        catalogue.away_reasons.iter().filter(|r| !r.system).map(|r| r.code.clone()).collect();
    let service_levels = catalogue
        .skills
        .iter()
        .filter(|s| s.service_level_secs.is_some() || s.service_level_pct.is_some())
        .map(|s| {
            let target =
                ServiceLevelTarget { seconds: s.service_level_secs, pct: s.service_level_pct };
            (SkillId(s.id.clone()), target)
        })
        .collect();
    Routing { services, queues, calendar, away_reasons, service_levels }
}

/// The engine's settings of one queue. `always_open` (demo mode) ignores the hours.
pub fn queue_settings(skill: &Skill, always_open: bool) -> Result<QueueSettings, String> {
    let hours = if always_open {
        WeeklyHours::Always
    } else {
        skill.hours.parse::<WeeklyHours>().map_err(|e| e.to_string())?
    };
    Ok(QueueSettings::default()
        .with_hours(hours)
        .with_max_waiting(skill.max_waiting.filter(|v| *v > 0))
        .with_max_wait(
            skill.max_wait_secs.filter(|s| *s > 0).map(|s| Duration::from_secs(s.into())),
        ))
}

/// The engine's calendar from the holiday table.
pub fn calendar(holidays: &[Holiday], utc_offset_minutes: i32) -> Calendar {
    let mut off = BTreeSet::new();
    let mut workdays = BTreeSet::new();
    for h in holidays {
        let Ok(day) = h.day.parse::<CivilDate>() else {
            tracing::error!(day = %h.day, "unreadable holiday date; ignored");
            continue;
        };
        if h.kind == HolidayKind::Workday {
            workdays.insert(day);
        } else {
            off.insert(day);
        }
    }
    Calendar { utc_offset_minutes, holidays: off, workdays }
}
