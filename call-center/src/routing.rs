//! The routing view of the catalogue: which queue (skill) and priority a service routes to,
//! the queues' settings and holiday calendar the engine enforces, the away reasons agents pick
//! from, and each queue's service-level target for the wallboard. The driver builds it from the
//! store and hands it in with [`crate::Input::Catalogue`].

use std::collections::BTreeMap;

use voicedesk_queue_engine::{Calendar, QueueSettings, SkillId};

/// The queue that takes calls placed without a service (and the default of new services).
pub const GENERAL_SKILL: &str = "general";

/// Where a service's calls go.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The queue.
    pub skill: SkillId,
    /// Its priority in that queue (higher is served first).
    pub priority: u8,
}

/// The routing view of the catalogue.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Enabled services by id.
    pub services: BTreeMap<String, Route>,
    /// Every skill's settings, for the engine.
    pub queues: BTreeMap<SkillId, QueueSettings>,
    /// The holiday calendar, for the engine and message due dates.
    pub calendar: Calendar,
    /// The away reasons agents may pick (the admins' list; the core adds its own headset
    /// reason).
    #[serde(default)]
    pub away_reasons: Vec<String>,
    /// The queues with a service-level target of their own; the others use the wallboard's
    /// defaults ([`crate::WallboardConfig`]).
    #[serde(default)]
    pub service_levels: BTreeMap<SkillId, ServiceLevelTarget>,
}

/// A queue's own service-level target: `pct` % of its calls answered within `seconds`. A part
/// left out is the wallboard's default.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceLevelTarget {
    /// The answer time that counts as within the service level.
    pub seconds: Option<u32>,
    /// The share of calls to answer within it, in percent.
    pub pct: Option<u32>,
}

impl Routing {
    /// The route of a service id; `None` (no service given) is general consultation.
    pub fn route(&self, service: Option<&str>) -> Option<Route> {
        match service {
            Some(id) => self.services.get(id).cloned(),
            None => Some(Route { skill: SkillId(GENERAL_SKILL.to_owned()), priority: 0 }),
        }
    }
}
