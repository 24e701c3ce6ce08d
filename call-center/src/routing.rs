//! The routing view of the catalogue: which queue (skill) and priority a service routes to,
//! and the queues' settings and holiday calendar the engine enforces. The driver builds it from
//! the store and hands it in with [`crate::Input::Catalogue`].

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
