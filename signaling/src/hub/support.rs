//! Staff on live calls: joining in a mode, switching, leaving, taking over; agents' help
//! requests. Every join, mode change and leave is written to the audit log before the relay
//! is re-routed: if the entry cannot be committed, nothing happens.

use std::time::Instant;

use voicedesk_protocol::{EndReason, ErrorCode, HelpState, ServerMessage, SupportMode, Supporter};
use voicedesk_queue_engine::{AgentId, CallId, Input};
use voicedesk_store::{AuditAction, NewAuditEntry};

use super::calls::{Refusal, refuse};
use super::{HelpRequest, Hub, Support};
use crate::clock::now_ms;
use crate::support::speaks;

/// Longest help-request reason kept.
const MAX_REASON_CHARS: usize = 500;

impl Hub {
    /// Writes one audit entry; the action may only go ahead when this succeeds.
    pub(super) async fn audit(
        &self,
        call: &CallId,
        actor: &str,
        action: AuditAction,
        mode: Option<SupportMode>,
        detail: Option<&str>,
    ) -> Result<(), Refusal> {
        let entry = NewAuditEntry {
            at_ms: now_ms(),
            actor_id: actor.to_owned(),
            call_id: call.0.clone(),
            action,
            mode,
            detail: detail.map(str::to_owned),
        };
        self.store.append_audit(&entry).await.map(|_| ()).map_err(|e| {
            tracing::error!(%call, error = %e, "audit entry not written; action refused");
            refuse(ErrorCode::Internal, "the action could not be audited, so it was not done")
        })
    }

    /// Checks that `user_id` may bring `mode` into `call`; returns nothing on success.
    fn check_support(
        &self,
        user_id: &str,
        call: &CallId,
        mode: SupportMode,
    ) -> Result<(), Refusal> {
        let member = self
            .members
            .get(user_id)
            .ok_or_else(|| refuse(ErrorCode::InvalidState, "not signed in"))?;
        if !member.leg_connected {
            return Err(refuse(
                ErrorCode::InvalidState,
                "connect the headset (media_connect) first",
            ));
        }
        let active = self
            .calls
            .get(call)
            .ok_or_else(|| refuse(ErrorCode::UnknownCall, format!("no live call {call}")))?;
        if !active.connected {
            return Err(refuse(ErrorCode::InvalidState, "the call has not been answered yet"));
        }
        if let Some(by) = &active.taken_over_by
            && by != user_id
        {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the call has been taken over by another staff member",
            ));
        }
        if speaks(mode)
            && let Some(other) =
                active.supporters.iter().find(|s| s.user_id != user_id && speaks(s.mode))
        {
            let name = self
                .members
                .get(&other.user_id)
                .map(|m| m.name.as_str())
                .unwrap_or("another staff member");
            return Err(refuse(
                ErrorCode::InvalidState,
                format!(
                    "{name} is already speaking on this call ({}); you can monitor",
                    other.mode.as_str()
                ),
            ));
        }
        if mode == SupportMode::TakeOver && active.agent.is_none() {
            return Err(refuse(
                ErrorCode::InvalidState,
                "the call has no agent to take it over from",
            ));
        }
        Ok(())
    }

    pub(super) async fn join_call(
        &mut self,
        user_id: &str,
        call: CallId,
        mode: SupportMode,
    ) -> Result<(), Refusal> {
        match self.members.get(user_id).and_then(|m| m.supporting.clone()) {
            Some(current) if current == call => {
                return Err(refuse(ErrorCode::InvalidState, "already on this call; use set_mode"));
            }
            Some(current) => {
                return Err(refuse(ErrorCode::InvalidState, format!("leave call {current} first")));
            }
            None => {}
        }
        self.check_support(user_id, &call, mode)?;
        let action =
            if mode == SupportMode::TakeOver { AuditAction::TakeOver } else { AuditAction::Join };
        self.audit(&call, user_id, action, Some(mode), None).await?;
        let Some(active) = self.calls.get_mut(&call) else { return Ok(()) };
        active.supporters.push(Support { user_id: user_id.to_owned(), mode: SupportMode::Monitor });
        let help_answered = active.help.take().is_some();
        if let Some(m) = self.members.get_mut(user_id) {
            m.supporting = Some(call.clone());
        }
        if help_answered {
            let staff_name = self.members.get(user_id).map(|m| m.name.clone());
            if let Some(agent) = self.calls.get(&call).and_then(|c| c.agent.clone()) {
                let status = ServerMessage::HelpStatus {
                    call_id: call.0.clone(),
                    state: HelpState::Accepted,
                    staff_name,
                };
                self.send_to_member(&agent.0, status);
            }
        }
        tracing::info!(%call, staff = user_id, mode = mode.as_str(), "staff joined");
        self.apply_mode(user_id, &call, mode).await;
        Ok(())
    }

    pub(super) async fn set_mode(
        &mut self,
        user_id: &str,
        call: CallId,
        mode: SupportMode,
    ) -> Result<(), Refusal> {
        let current = self
            .calls
            .get(&call)
            .and_then(|c| c.supporters.iter().find(|s| s.user_id == user_id))
            .map(|s| s.mode)
            .ok_or_else(|| {
                refuse(ErrorCode::InvalidState, "you are not on this call; use join_call")
            })?;
        if current == mode {
            self.notify_support(&call);
            return Ok(());
        }
        if current == SupportMode::TakeOver {
            return Err(refuse(
                ErrorCode::InvalidState,
                "after a take over the call is yours; leave_call ends it",
            ));
        }
        self.check_support(user_id, &call, mode)?;
        let action =
            if mode == SupportMode::TakeOver { AuditAction::TakeOver } else { AuditAction::Mode };
        self.audit(&call, user_id, action, Some(mode), None).await?;
        tracing::info!(%call, staff = user_id, mode = mode.as_str(), "staff changed mode");
        self.apply_mode(user_id, &call, mode).await;
        Ok(())
    }

    /// Sets an (already audited) mode and re-routes; a take over also hands the call over.
    async fn apply_mode(&mut self, user_id: &str, call: &CallId, mode: SupportMode) {
        let Some(active) = self.calls.get_mut(call) else { return };
        if let Some(s) = active.supporters.iter_mut().find(|s| s.user_id == user_id) {
            s.mode = mode;
        }
        if mode == SupportMode::TakeOver {
            active.taken_over_by = Some(user_id.to_owned());
            if let Err(e) = self.store.mark_call_taken_over(&call.0, user_id, now_ms()).await {
                tracing::error!(%call, error = %e, "could not record the take over");
            }
            // The agent learns who takes the call over while still on it: `hand_over` ends the
            // agent's part next, and the console says at the top of the wrap-up who took it.
            self.notify_support(call);
            // The engine frees the agent and lets the call go: `hand_over` follows.
            if let Err(e) =
                self.engine.handle_input(Instant::now(), Input::TakenOver { call: call.clone() })
            {
                tracing::error!(%call, error = %e, "engine refused the take over");
            }
            self.carry_out().await;
        } else if let Err(e) = self.route(call, &[]).await {
            tracing::warn!(%call, error = %e, "re-routing for a mode change failed");
        }
        self.notify_support(call);
    }

    /// The engine let go of a taken-over call: the agent leaves, the staff member stays.
    pub(super) async fn hand_over(&mut self, call: &CallId, agent: Option<AgentId>) {
        let Some(active) = self.calls.get_mut(call) else { return };
        let agent = agent.or(active.agent.take());
        active.agent = None;
        // An agent waited for is no longer part of the call.
        self.lost.remove(&(call.clone(), super::reconnect::Side::Agent));
        let agent_leg = agent.as_ref().and_then(|a| self.members.get(&a.0)).and_then(|m| m.leg);
        let silenced: Vec<_> = agent_leg.into_iter().collect();
        if let Err(e) = self.route(call, &silenced).await {
            tracing::warn!(%call, error = %e, "re-routing for a take over failed");
        }
        if let Some(agent) = agent {
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: EndReason::TakenOver,
                opens_at_ms: None,
            };
            self.send_to_member(&agent.0, ended);
            self.freed_agents.push(agent.0);
        }
        tracing::info!(%call, "call taken over by staff");
    }

    pub(super) async fn leave_call(&mut self, user_id: &str, call: CallId) -> Result<(), Refusal> {
        let on_call = self
            .calls
            .get(&call)
            .is_some_and(|c| c.supporters.iter().any(|s| s.user_id == user_id));
        if !on_call {
            return Err(refuse(ErrorCode::InvalidState, "you are not on this call"));
        }
        self.audit(&call, user_id, AuditAction::Leave, None, None).await?;
        self.remove_supporter(user_id, &call, EndReason::StaffHangUp).await;
        Ok(())
    }

    /// A staff member's connection or headset went away: they leave whatever call they were on.
    pub(super) async fn staff_gone(&mut self, user_id: &str, detail: &str) {
        let Some(call) = self.members.get(user_id).and_then(|m| m.supporting.clone()) else {
            return;
        };
        // Not refusable: the person is gone. The entry is still written before re-routing.
        let _ = self.audit(&call, user_id, AuditAction::Leave, None, Some(detail)).await;
        self.remove_supporter(user_id, &call, EndReason::StaffHangUp).await;
    }

    pub(super) async fn remove_supporter(
        &mut self,
        user_id: &str,
        call: &CallId,
        end_if_owner: EndReason,
    ) {
        let leg = self.members.get_mut(user_id).and_then(|m| {
            m.supporting = None;
            m.leg
        });
        let Some(active) = self.calls.get_mut(call) else { return };
        active.supporters.retain(|s| s.user_id != user_id);
        let owned = active.taken_over_by.as_deref() == Some(user_id);
        let silenced: Vec<_> = leg.into_iter().collect();
        tracing::info!(%call, staff = user_id, "staff left");
        if owned {
            // The staff member had the citizen: leaving ends the call.
            if let Some(leg) = leg {
                let _ = self.relay.set_feeds(crate::support::silence(leg).to_vec()).await;
            }
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: end_if_owner,
                opens_at_ms: None,
            };
            self.send_to_member(user_id, ended);
            self.finish_call(call, end_if_owner, None).await;
            return;
        }
        if let Err(e) = self.route(call, &silenced).await {
            tracing::warn!(%call, error = %e, "re-routing after a leave failed");
        }
        self.notify_support(call);
        let empty =
            ServerMessage::SupportChanged { call_id: call.0.clone(), supporters: Vec::new() };
        self.send_to_member(user_id, empty);
    }

    /// Tells the agent and the staff who supports the call; tells the citizen only about the
    /// supporters the citizen hears, and only when that changed.
    pub(super) fn notify_support(&mut self, call: &CallId) {
        let Some(active) = self.calls.get(call) else { return };
        let supporters: Vec<Supporter> = active
            .supporters
            .iter()
            .map(|s| Supporter {
                user_id: s.user_id.clone(),
                name: self.members.get(&s.user_id).map(|m| m.name.clone()).unwrap_or_default(),
                mode: s.mode,
            })
            .collect();
        let heard: Vec<Supporter> =
            supporters.iter().filter(|s| s.mode.citizen_hears_staff()).cloned().collect();
        let citizen_changed = heard != active.citizen_heard;
        let citizen_conn = active.citizen_conn;
        let agent = active.agent.clone();
        let staff: Vec<String> = active.supporters.iter().map(|s| s.user_id.clone()).collect();
        let message = ServerMessage::SupportChanged { call_id: call.0.clone(), supporters };
        if let Some(agent) = agent {
            self.send_to_member(&agent.0, message.clone());
        }
        for user in staff {
            self.send_to_member(&user, message.clone());
        }
        if citizen_changed {
            if let Some(active) = self.calls.get_mut(call) {
                active.citizen_heard = heard.clone();
            }
            let to_citizen =
                ServerMessage::SupportChanged { call_id: call.0.clone(), supporters: heard };
            self.send(citizen_conn, to_citizen);
        }
    }

    pub(super) fn request_help(
        &mut self,
        agent: &AgentId,
        call: CallId,
        reason: String,
    ) -> Result<(), Refusal> {
        let active = self
            .calls
            .get_mut(&call)
            .filter(|c| c.connected && c.agent.as_ref() == Some(agent))
            .ok_or_else(|| {
                refuse(ErrorCode::UnknownCall, format!("you are not talking on call {call}"))
            })?;
        let reason: String = reason.trim().chars().take(MAX_REASON_CHARS).collect();
        if active.help.is_none() {
            active.help = Some(HelpRequest { reason, at_ms: now_ms() });
        }
        let status = ServerMessage::HelpStatus {
            call_id: call.0,
            state: HelpState::Pending,
            staff_name: None,
        };
        self.send_to_member(&agent.0, status);
        self.push_wallboard();
        Ok(())
    }

    pub(super) fn cancel_help(&mut self, agent: &AgentId, call: CallId) -> Result<(), Refusal> {
        let active =
            self.calls.get_mut(&call).filter(|c| c.agent.as_ref() == Some(agent)).ok_or_else(
                || refuse(ErrorCode::UnknownCall, format!("you are not on call {call}")),
            )?;
        if active.help.take().is_none() {
            return Err(refuse(ErrorCode::InvalidState, "no open help request for this call"));
        }
        let status = ServerMessage::HelpStatus {
            call_id: call.0,
            state: HelpState::Cancelled,
            staff_name: None,
        };
        self.send_to_member(&agent.0, status);
        self.push_wallboard();
        Ok(())
    }
}
