//! The queueing side: the catalogue in the engine, blind transfer, wrap-up, and the queue
//! status pushed to agents.

use std::collections::BTreeMap;

use voicedesk_protocol::Role;
use voicedesk_protocol::{EndReason, ErrorCode, QueueSummary, ServerMessage};
use voicedesk_queue_engine::{EngineError, Input as EngineInput, RoutingProfile};

use crate::core::{CallCenter, HEADSET_AWAY_REASON};
use crate::error::{Refusal, refuse};
use crate::feeds::silence;
use crate::pending::Pending;
use crate::store::{AuditAction, StoreFailure, StoreReply, StoreRequest};
use crate::{AgentId, CallId, ConnId, RelayCommand, Routing, Side, SkillId};

/// Longest wrap-up note, in characters.
const MAX_NOTES_CHARS: usize = 2000;

impl CallCenter {
    /// The catalogue as it is now: every queue's settings, the calendar, the signed-in agents'
    /// skills.
    pub(crate) fn catalogue(
        &mut self,
        routing: Routing,
        agent_skills: BTreeMap<String, BTreeMap<SkillId, u8>>,
    ) {
        let now = self.instant();
        for (skill, settings) in &routing.queues {
            let input =
                EngineInput::ConfigureQueue { skill: skill.clone(), settings: settings.clone() };
            if let Err(e) = self.engine.handle_input(now, input) {
                self.violation(format!("engine refused queue {skill}: {e}"));
            }
        }
        let calendar = EngineInput::SetCalendar { calendar: routing.calendar.clone() };
        if let Err(e) = self.engine.handle_input(now, calendar) {
            self.violation(format!("engine refused the calendar: {e}"));
        }
        let reasons = routing.away_reasons.iter().cloned();
        let reasons = reasons.chain([HEADSET_AWAY_REASON.to_owned()]).collect();
        if let Err(e) = self.engine.handle_input(now, EngineInput::SetAwayReasons { reasons }) {
            self.violation(format!("engine refused the away reasons: {e}"));
        }
        self.wallboard.targets = routing.service_levels.clone();
        for (user_id, skills) in agent_skills {
            if !self.members.contains_key(&user_id) {
                continue;
            }
            let input = EngineInput::SetAgentSkills { agent: AgentId(user_id.clone()), skills };
            if let Err(e) = self.engine.handle_input(now, input) {
                self.violation(format!("engine refused the skills of {user_id}: {e}"));
            }
        }
        self.routing = routing;
        self.carry_out();
    }

    /// Agents' chat capacities (an admin's setting): each signed-in agent's routing profile
    /// takes it now, or at the next tick if something rings at the agent.
    pub(crate) fn chat_capacities(&mut self, capacities: BTreeMap<String, Option<u8>>) {
        let default = self.config.engine.routing_profile.chat_capacity;
        for (user_id, capacity) in capacities {
            let Some(m) = self.members.get_mut(&user_id).filter(|m| m.role == Role::Agent) else {
                continue;
            };
            m.chat_capacity_due = Some(capacity.unwrap_or(default));
            self.apply_chat_capacity(&user_id);
        }
    }

    /// Gives the engine an agent's due chat capacity, unless something rings at the agent.
    fn apply_chat_capacity(&mut self, user_id: &str) {
        let Some(capacity) = self.members.get(user_id).and_then(|m| m.chat_capacity_due) else {
            return;
        };
        let profile =
            RoutingProfile { chat_capacity: capacity, ..self.config.engine.routing_profile };
        let input = EngineInput::SetRoutingProfile { agent: AgentId(user_id.to_owned()), profile };
        let now = self.instant();
        match self.engine.handle_input(now, input) {
            Err(EngineError::AgentBusy { .. }) => return,
            Err(e) => self.violation(format!("engine refused the chat capacity of {user_id}: {e}")),
            Ok(()) => self.carry_out(),
        }
        if let Some(m) = self.members.get_mut(user_id) {
            m.chat_capacity_due = None;
        }
    }

    /// `transfer`: the agent sends the connected call (or chat) to another service's queue,
    /// keeping its original queue time.
    pub(crate) fn transfer(
        &mut self,
        agent: AgentId,
        call: CallId,
        service: &str,
    ) -> Result<(), Refusal> {
        let chat_lost = self.chats.get(&call).is_some_and(|c| c.citizen_lost);
        if self.is_lost(&call, Side::Citizen) || chat_lost {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the citizen's connection is lost; wait for them to come back or hang up",
            ));
        }
        let route = self.routing.route(Some(service)).ok_or_else(|| {
            refuse(ErrorCode::UnknownService, format!("unknown service {service:?}"))
        })?;
        let input = EngineInput::Transfer {
            agent,
            call: call.clone(),
            to_skill: route.skill,
            priority: Some(route.priority),
        };
        let now = self.instant();
        self.engine.handle_input(now, input).map_err(|e| refuse(e.code(), e.to_string()))?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.service = Some(service.to_owned());
        }
        if let Some(c) = self.chats.get_mut(&call) {
            c.service = Some(service.to_owned());
        }
        self.carry_out();
        Ok(())
    }

    /// The engine moved a call back into a queue: the agent's part ends, staff leave, the
    /// citizen hears the hold tune again.
    pub(crate) fn transferred(&mut self, call: CallId, agent: AgentId, skill: SkillId) {
        let supporters: Vec<String> = self
            .calls
            .get(&call)
            .map(|c| c.supporters.iter().map(|s| s.user_id.clone()).collect())
            .unwrap_or_default();
        for user_id in supporters {
            self.audit_note(&call, &user_id, AuditAction::Leave, Some("call transferred"));
            self.remove_supporter(&user_id, &call, EndReason::Transferred);
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: EndReason::Transferred,
                opens_at_ms: None,
            };
            self.send_to_member(&user_id, ended);
        }
        let agent_leg = self.members.get(&agent.0).and_then(|m| m.leg);
        self.lost.remove(&(call.clone(), Side::Agent));
        self.timers.stop(&crate::timer::Timer::Grace(call.clone(), Side::Agent));
        self.call_texts_transferred(&call, &agent);
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.agent = None;
        c.offer_told = false;
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
        self.relay(RelayCommand::SetFeeds { call: None, feeds });
        let request =
            StoreRequest::CallTransferred { call: call.clone(), skill: skill.0, at: self.now };
        let then = Pending::Note { what: "transfer", call: Some(call.clone()) };
        let op = self.store(Some(call.clone()), request, then);
        self.freed_agents.push(agent.0.clone());
        // Both sides hear of the transfer once it is recorded.
        let ended = ServerMessage::CallEnded {
            call_id: call.0.clone(),
            reason: EndReason::Transferred,
            opens_at_ms: None,
        };
        if let Some(conn) = self.members.get(&agent.0).map(|m| m.conn) {
            self.send_after(op, conn, ended);
        }
        self.send_after(
            op,
            citizen_conn,
            ServerMessage::CallTransferred { call_id: call.0, service },
        );
    }

    /// `wrap_up`: disposition and notes of a recent call, committed, then acknowledged.
    pub(crate) fn wrap_up(
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
        let Some(member) = self.members.get(&agent.0) else {
            return Err(refuse(ErrorCode::InvalidState, "not signed in"));
        };
        let Some(&(_, chat)) = member.handled.iter().find(|(c, _)| *c == call) else {
            return Err(refuse(
                ErrorCode::UnknownCall,
                format!("call {call} is not one of your recent calls or chats"),
            ));
        };
        let conn = member.conn;
        let request = StoreRequest::WrapUp {
            call: call.clone(),
            agent: agent.0.clone(),
            disposition: disposition.clone(),
            notes,
            at: self.now,
            chat,
        };
        self.store(Some(call.clone()), request, Pending::WrapUp { conn, call, disposition });
        Ok(())
    }

    pub(crate) fn wrap_up_stored(
        &mut self,
        conn: ConnId,
        call: CallId,
        disposition: String,
        result: Result<StoreReply, StoreFailure>,
    ) {
        let refusal = match result {
            Ok(_) => {
                self.send(conn, ServerMessage::WrapUpSaved { call_id: call.0 });
                return;
            }
            Err(StoreFailure::InvalidReference { target }) if target == "disposition" => refuse(
                ErrorCode::InvalidState,
                format!("unknown disposition {disposition:?}; see GET /api/catalogue"),
            ),
            Err(_) => refuse(ErrorCode::Internal, "the wrap-up could not be saved; try again"),
        };
        self.stats.client_errors += 1;
        self.send(conn, ServerMessage::error(refusal.code, refusal.text, Some("wrap_up")));
    }

    /// Once a second: each agent gets the queues of their skills when they changed, staff the
    /// wallboard when it changed or is getting old.
    pub(crate) fn tick(&mut self) {
        self.push_due_positions();
        self.push_due_chat_positions();
        let due: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.chat_capacity_due.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for user_id in due {
            self.apply_chat_capacity(&user_id);
        }
        self.push_queue_status();
        self.wallboard_tick();
    }

    /// The positions held back since the last tick: each such call still waiting is told
    /// its current position once.
    fn push_due_positions(&mut self) {
        let now = self.now;
        let due: Vec<CallId> =
            self.calls.iter().filter(|(_, c)| c.position_due).map(|(id, _)| id.clone()).collect();
        for call in due {
            let current = self.engine.call(&call).and_then(|v| {
                v.position.map(|p| (p, v.estimated_wait.map(|d| d.as_millis() as u64)))
            });
            let Some(c) = self.calls.get_mut(&call) else { continue };
            c.position_due = false;
            let Some((position, estimated_wait_ms)) = current else { continue };
            c.position_told_at = Some(now);
            let conn = c.citizen_conn;
            let message =
                ServerMessage::QueuePosition { call_id: call.0, position, estimated_wait_ms };
            self.send(conn, message);
        }
    }

    fn push_queue_status(&mut self) {
        let now = self.instant();
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
