//! The queueing side of the hub: the catalogue in the engine (queues, calendar, agents'
//! skills), hold audio, blind transfer, wrap-up, and the queue status pushed to agents.
//! (Parking a waiting citizen whose connection dropped is in `reconnect.rs`.)

use std::collections::BTreeMap;
use std::time::Instant;

use voicedesk_media_relay::LegId;
use voicedesk_protocol::{EndReason, ErrorCode, QueueSummary, Role, ServerMessage};
use voicedesk_queue_engine::{AgentId, CallId, Input, SkillId};
use voicedesk_store::{AuditAction, NewWrapUp, StoreError};

use super::Hub;
use super::calls::{Refusal, refuse};
use super::reconnect::Side;
use crate::catalogue::Routing;
use crate::clock::now_ms;
use crate::support::silence;

/// Longest wrap-up note, in characters.
const MAX_NOTES_CHARS: usize = 2000;

impl Hub {
    /// Reads the catalogue and puts it into the engine: every queue's settings, the holiday
    /// calendar, and the skills of every signed-in agent. Called at start and after every
    /// admin change; a store failure keeps the previous routing.
    pub(super) async fn reload_catalogue(&mut self) {
        let catalogue = match self.store.catalogue().await {
            Ok(catalogue) => catalogue,
            Err(e) => {
                tracing::error!(error = %e, "could not read the catalogue; routing unchanged");
                return;
            }
        };
        let routing = Routing::new(&catalogue, self.utc_offset_minutes, self.always_open);
        let now = Instant::now();
        for (skill, settings) in &routing.queues {
            let input = Input::ConfigureQueue { skill: skill.clone(), settings: settings.clone() };
            if let Err(e) = self.engine.handle_input(now, input) {
                tracing::error!(%skill, error = %e, "engine refused a queue");
            }
        }
        let calendar = Input::SetCalendar { calendar: routing.calendar.clone() };
        if let Err(e) = self.engine.handle_input(now, calendar) {
            tracing::error!(error = %e, "engine refused the calendar");
        }
        let agents: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.role == Role::Agent)
            .map(|(id, _)| id.clone())
            .collect();
        for user_id in agents {
            let skills = self.agent_skills(&user_id).await;
            let input = Input::SetAgentSkills { agent: AgentId(user_id.clone()), skills };
            if let Err(e) = self.engine.handle_input(now, input) {
                tracing::warn!(agent = %user_id, error = %e, "engine refused the agent's skills");
            }
        }
        self.routing = routing;
        self.carry_out().await;
        tracing::info!(queues = self.routing.queues.len(), "catalogue loaded into the engine");
    }

    /// An agent's skills from the store (none if it cannot be read: the agent gets no calls
    /// rather than the wrong ones).
    pub(super) async fn agent_skills(&self, user_id: &str) -> BTreeMap<SkillId, u8> {
        match self.store.agent_skills(user_id).await {
            Ok(skills) => skills
                .into_iter()
                .map(|s| (SkillId(s.skill_id), u8::try_from(s.level.clamp(1, 10)).unwrap_or(1)))
                .collect(),
            Err(e) => {
                tracing::error!(agent = user_id, error = %e, "could not read the agent's skills");
                BTreeMap::new()
            }
        }
    }

    /// Plays the hold tune to a citizen's leg until an agent feeds its slot 0.
    pub(super) async fn hold(&self, leg: LegId) {
        if let Err(e) = self.relay.set_hold(leg, true).await {
            tracing::warn!(%leg, error = %e, "could not start hold audio");
        }
    }

    /// `transfer`: the agent sends the connected call to another service's queue.
    pub(super) async fn transfer(
        &mut self,
        now: Instant,
        agent: AgentId,
        call: CallId,
        service: &str,
    ) -> Result<(), Refusal> {
        if self.is_lost(&call, Side::Citizen) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the citizen's connection is lost; wait for them to come back or hang up",
            ));
        }
        let route = self.routing.route(Some(service)).ok_or_else(|| {
            refuse(ErrorCode::UnknownService, format!("unknown service {service:?}"))
        })?;
        let input = Input::Transfer {
            agent,
            call: call.clone(),
            to_skill: route.skill,
            priority: Some(route.priority),
        };
        self.engine.handle_input(now, input).map_err(|e| refuse(e.code(), e.to_string()))?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.service = Some(service.to_owned());
        }
        self.carry_out().await;
        Ok(())
    }

    /// The engine moved a call from its agent back into a queue: the agent's part ends, staff
    /// on the call leave, the citizen hears the hold tune again.
    pub(super) async fn transferred(&mut self, call: CallId, agent: AgentId, skill: SkillId) {
        let supporters: Vec<String> = self
            .calls
            .get(&call)
            .map(|c| c.supporters.iter().map(|s| s.user_id.clone()).collect())
            .unwrap_or_default();
        for user_id in supporters {
            let _ = self
                .audit(&call, &user_id, AuditAction::Leave, None, Some("call transferred"))
                .await;
            self.remove_supporter(&user_id, &call, EndReason::Transferred).await;
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: EndReason::Transferred,
                opens_at_ms: None,
            };
            self.send_to_member(&user_id, ended);
        }
        let agent_leg = self.members.get(&agent.0).and_then(|m| m.leg);
        self.lost.remove(&(call.clone(), Side::Agent));
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.agent = None;
        c.connected = false;
        c.help = None;
        c.skill = skill.0.clone();
        c.transfers += 1;
        let (citizen_conn, citizen_leg, service) =
            (c.citizen_conn, c.citizen_leg, c.service.clone().unwrap_or_default());
        // The agent's slots fall silent and the citizen's slot 0 loses its source: the relay
        // resumes the hold tune there.
        let mut feeds: Vec<_> = citizen_leg.into_iter().flat_map(silence).collect();
        if let Some(leg) = agent_leg {
            feeds.extend(silence(leg));
        }
        if let Err(e) = self.relay.set_feeds(feeds).await {
            tracing::warn!(%call, error = %e, "re-routing a transferred call failed");
        }
        if let Err(e) = self.store.mark_call_transferred(&call.0, &skill.0, now_ms()).await {
            tracing::error!(%call, error = %e, "could not record a transfer");
        }
        tracing::info!(%call, %agent, %skill, "call transferred");
        let ended = ServerMessage::CallEnded {
            call_id: call.0.clone(),
            reason: EndReason::Transferred,
            opens_at_ms: None,
        };
        self.send_to_member(&agent.0, ended);
        self.send(citizen_conn, ServerMessage::CallTransferred { call_id: call.0, service });
    }

    /// `wrap_up`: disposition and notes of a call this agent handled, committed, then
    /// acknowledged.
    pub(super) async fn wrap_up(
        &mut self,
        agent: &AgentId,
        call: CallId,
        disposition: String,
        notes: String,
    ) -> Result<(), Refusal> {
        if notes.chars().count() > MAX_NOTES_CHARS {
            return Err(refuse(
                ErrorCode::InvalidState,
                format!("notes are limited to {MAX_NOTES_CHARS} characters"),
            ));
        }
        let handled = self.members.get(&agent.0).is_some_and(|m| m.handled.contains(&call));
        if !handled {
            return Err(refuse(
                ErrorCode::UnknownCall,
                format!("call {call} is not one of your recent calls"),
            ));
        }
        let wrap_up = NewWrapUp {
            call_id: call.0.clone(),
            agent_id: agent.0.clone(),
            disposition: disposition.clone(),
            notes,
            at_ms: now_ms(),
        };
        match self.store.save_wrapup(&wrap_up).await {
            Ok(()) => {
                self.send_to_member(&agent.0, ServerMessage::WrapUpSaved { call_id: call.0 });
                Ok(())
            }
            Err(StoreError::InvalidReference { target: "disposition", .. }) => Err(refuse(
                ErrorCode::InvalidState,
                format!("unknown disposition {disposition:?}; see GET /api/catalogue"),
            )),
            Err(e) => {
                tracing::error!(%call, error = %e, "could not save a wrap-up");
                Err(refuse(ErrorCode::Internal, "the wrap-up could not be saved; try again"))
            }
        }
    }

    /// Pushes each agent the queues of their skills when they changed (called every second).
    pub(super) fn push_queue_status(&mut self) {
        let now = Instant::now();
        let agents: Vec<(String, Vec<SkillId>)> = self
            .engine
            .agents()
            .map(|a| (a.id.0.clone(), a.skills.keys().cloned().collect()))
            .collect();
        for (user_id, skills) in agents {
            let queues: Vec<QueueSummary> = skills
                .iter()
                .filter_map(|skill| self.engine.queue(skill, now))
                .map(|q| QueueSummary {
                    skill: q.skill.0.clone(),
                    waiting: q.waiting as u32,
                    longest_wait_ms: q.longest_wait.map_or(0, |d| d.as_millis() as u64),
                    available_agents: q.available as u32,
                    staffed_agents: q.staffed,
                })
                .collect();
            let Some(member) = self.members.get_mut(&user_id) else { continue };
            if member.queue_status == queues {
                continue;
            }
            member.queue_status = queues.clone();
            self.send_to_member(&user_id, ServerMessage::QueueStatus { queues });
        }
    }
}
