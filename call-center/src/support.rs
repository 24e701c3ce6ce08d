//! Staff on live calls: joining in a mode, switching, leaving, taking over; agents' help
//! requests. Every join, mode change and leave is written to the audit log **before** it takes
//! effect: the action goes ahead only when the entry's write comes back committed.

use voicedesk_protocol::{
    ClientMessage, EndReason, ErrorCode, HelpState, ServerMessage, SupportMode, Supporter,
};
use voicedesk_queue_engine::Input as EngineInput;

use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::feeds::{silence, speaks};
use crate::pending::{Audited, Pending};
use crate::state::{Call, HelpRequest, Support};
use crate::store::{AuditAction, AuditRecord, StoreRequest};
use crate::{AgentId, CallId, ConnId, RelayCommand, Side};

/// Longest help-request reason kept.
const MAX_REASON_CHARS: usize = 500;

impl CallCenter {
    pub(crate) fn staff_message(
        &mut self,
        user_id: &str,
        conn: ConnId,
        message: ClientMessage,
    ) -> Result<(), Refusal> {
        if crate::chat_support::is_staff_chat_message(&message) {
            return self.staff_chat_message(user_id, conn, message);
        }
        match message {
            ClientMessage::JoinCall { call_id, mode } => {
                self.join_call(user_id, conn, CallId(call_id), mode)
            }
            ClientMessage::SetMode { call_id, mode } => {
                self.set_mode(user_id, conn, CallId(call_id), mode)
            }
            ClientMessage::LeaveCall { call_id } => self.leave_call(user_id, conn, CallId(call_id)),
            ClientMessage::AcceptHelp { call_id } => {
                let call = CallId(call_id);
                if self.calls.get(&call).is_none_or(|c| c.help.is_none()) {
                    return Err(refuse(
                        ErrorCode::InvalidState,
                        "no open help request for this call",
                    ));
                }
                self.join_call(user_id, conn, call, SupportMode::Whisper)
            }
            other => Err(refuse(
                ErrorCode::Forbidden,
                format!("\"{}\" is not allowed for a staff connection", other.type_name()),
            )),
        }
    }

    /// The supporters of a call with their names.
    pub(crate) fn supporter_list(&self, c: &Call) -> Vec<Supporter> {
        c.supporters
            .iter()
            .map(|s| Supporter {
                user_id: s.user_id.clone(),
                name: self.members.get(&s.user_id).map(|m| m.name.clone()).unwrap_or_default(),
                mode: s.mode,
            })
            .collect()
    }

    fn audit(
        &mut self,
        call: &CallId,
        actor: &str,
        action: AuditAction,
        mode: Option<SupportMode>,
        then: Pending,
    ) {
        let record = AuditRecord {
            at: self.now,
            actor: actor.to_owned(),
            call: call.clone(),
            action,
            mode,
            detail: None,
        };
        self.store(Some(call.clone()), StoreRequest::Audit(record), then);
    }

    /// An audit entry of something that happens anyway (the person is gone, the call ended).
    pub(crate) fn audit_note(
        &mut self,
        call: &CallId,
        actor: &str,
        action: AuditAction,
        detail: Option<&str>,
    ) {
        let record = AuditRecord {
            at: self.now,
            actor: actor.to_owned(),
            call: call.clone(),
            action,
            mode: None,
            detail: detail.map(str::to_owned),
        };
        let then = Pending::Note { what: "audit entry", call: Some(call.clone()) };
        self.store(Some(call.clone()), StoreRequest::Audit(record), then);
    }

    /// Whether `user_id` may bring `mode` into `call` now. Checked when asked and again when
    /// the audit entry is committed (the call may have changed meanwhile) — the same rule,
    /// from one place.
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

    fn join_call(
        &mut self,
        user_id: &str,
        conn: ConnId,
        call: CallId,
        mode: SupportMode,
    ) -> Result<(), Refusal> {
        let member = self
            .members
            .get(user_id)
            .ok_or_else(|| refuse(ErrorCode::InvalidState, "not signed in"))?;
        if member.audit_pending {
            return Err(refuse(
                ErrorCode::InvalidState,
                "your previous request is still being recorded",
            ));
        }
        match member.supporting.clone() {
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
        if let Some(m) = self.members.get_mut(user_id) {
            m.audit_pending = true;
        }
        let then = Pending::Audit {
            user_id: user_id.to_owned(),
            call: call.clone(),
            action: Audited::Join(mode),
            conn,
        };
        self.audit(&call, user_id, action, Some(mode), then);
        Ok(())
    }

    fn set_mode(
        &mut self,
        user_id: &str,
        conn: ConnId,
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
        if self.members.get(user_id).is_some_and(|m| m.audit_pending) {
            return Err(refuse(
                ErrorCode::InvalidState,
                "your previous request is still being recorded",
            ));
        }
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
        if let Some(m) = self.members.get_mut(user_id) {
            m.audit_pending = true;
        }
        let then = Pending::Audit {
            user_id: user_id.to_owned(),
            call: call.clone(),
            action: Audited::Mode(mode),
            conn,
        };
        self.audit(&call, user_id, action, Some(mode), then);
        Ok(())
    }

    fn leave_call(&mut self, user_id: &str, conn: ConnId, call: CallId) -> Result<(), Refusal> {
        let on_call = self
            .calls
            .get(&call)
            .is_some_and(|c| c.supporters.iter().any(|s| s.user_id == user_id));
        if !on_call {
            return Err(refuse(ErrorCode::InvalidState, "you are not on this call"));
        }
        let then = Pending::Audit {
            user_id: user_id.to_owned(),
            call: call.clone(),
            action: Audited::Leave,
            conn,
        };
        self.audit(&call, user_id, AuditAction::Leave, None, then);
        Ok(())
    }

    /// A staff member's audit entry came back: committed, the action takes effect (if it
    /// still may); not committed, it is refused and nothing happened.
    pub(crate) fn audited(
        &mut self,
        user_id: String,
        call: CallId,
        action: Audited,
        conn: ConnId,
        ok: bool,
    ) {
        if let Some(m) = self.members.get_mut(&user_id) {
            m.audit_pending = false;
        }
        let request = match &action {
            Audited::Join(_) => "join_call",
            Audited::Mode(_) => "set_mode",
            Audited::Leave => "leave_call",
        };
        let refused = |this: &mut Self, r: Refusal| {
            this.stats.client_errors += 1;
            this.send(conn, ServerMessage::error(r.code, r.text, Some(request)));
        };
        if !ok {
            let r =
                refuse(ErrorCode::Internal, "the action could not be audited, so it was not done");
            refused(self, r);
            return;
        }
        match action {
            Audited::Join(mode) => {
                if let Err(r) = self.check_support(&user_id, &call, mode) {
                    return refused(self, r);
                }
                if self.members.get(&user_id).is_some_and(|m| m.supporting.is_some()) {
                    return refused(self, refuse(ErrorCode::InvalidState, "already on a call"));
                }
                let Some(active) = self.calls.get_mut(&call) else { return };
                active
                    .supporters
                    .push(Support { user_id: user_id.clone(), mode: SupportMode::Monitor });
                let help_answered = active.help.take().is_some();
                let agent = active.agent.clone();
                if let Some(m) = self.members.get_mut(&user_id) {
                    m.supporting = Some(call.clone());
                }
                if help_answered && let Some(agent) = agent {
                    let staff_name = self.members.get(&user_id).map(|m| m.name.clone());
                    let status = ServerMessage::HelpStatus {
                        call_id: call.0.clone(),
                        state: HelpState::Accepted,
                        staff_name,
                    };
                    self.send_to_member(&agent.0, status);
                }
                self.apply_mode(&user_id, &call, mode);
            }
            Audited::Mode(mode) => {
                let on_call = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.supporters.iter().any(|s| s.user_id == user_id));
                if !on_call {
                    return refused(
                        self,
                        refuse(ErrorCode::InvalidState, "you are not on this call; use join_call"),
                    );
                }
                if let Err(r) = self.check_support(&user_id, &call, mode) {
                    return refused(self, r);
                }
                self.apply_mode(&user_id, &call, mode);
            }
            Audited::Leave => self.remove_supporter(&user_id, &call, EndReason::StaffHangUp),
        }
    }

    /// Sets an audited mode and re-routes; a take over also hands the call over.
    fn apply_mode(&mut self, user_id: &str, call: &CallId, mode: SupportMode) {
        let Some(active) = self.calls.get_mut(call) else { return };
        if let Some(s) = active.supporters.iter_mut().find(|s| s.user_id == user_id) {
            s.mode = mode;
        }
        if mode == SupportMode::TakeOver {
            active.taken_over_by = Some(user_id.to_owned());
            let request = StoreRequest::CallTakenOver {
                call: call.clone(),
                staff: user_id.to_owned(),
                at: self.now,
            };
            let then = Pending::Note { what: "take over", call: Some(call.clone()) };
            let op = self.store(Some(call.clone()), request, then);
            // The agent learns who takes the call over while still on it: `hand_over` ends the
            // agent's part next, and the console says at the top of the wrap-up who took it.
            self.notify_support(call);
            // The engine frees the agent and lets the call go: `hand_over` follows, and the
            // agent hears of it once the take over is recorded.
            self.take_over_write = Some(op);
            self.engine_must(EngineInput::TakenOver { call: call.clone() });
            self.take_over_write = None;
        } else {
            self.route(call, &[]);
        }
        self.notify_support(call);
    }

    /// The engine let go of a taken-over call: the agent leaves, the staff member stays.
    pub(crate) fn hand_over(&mut self, call: &CallId, agent: Option<AgentId>) {
        let Some(active) = self.calls.get_mut(call) else { return };
        let agent = agent.or(active.agent.take());
        active.agent = None;
        self.lost.remove(&(call.clone(), Side::Agent));
        self.timers.stop(&crate::timer::Timer::Grace(call.clone(), Side::Agent));
        let agent_leg = agent.as_ref().and_then(|a| self.members.get(&a.0)).and_then(|m| m.leg);
        let silenced: Vec<_> = agent_leg.into_iter().collect();
        self.route(call, &silenced);
        if let Some(agent) = agent {
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: EndReason::TakenOver,
                opens_at_ms: None,
            };
            match (self.take_over_write, self.members.get(&agent.0).map(|m| m.conn)) {
                (Some(op), Some(conn)) => self.send_after(op, conn, ended),
                _ => self.send_to_member(&agent.0, ended),
            }
            self.freed_agents.push(agent.0);
        }
    }

    /// A staff member's connection or headset went away: they leave their call. The entry is
    /// written, but the person is gone either way.
    pub(crate) fn staff_gone(&mut self, user_id: &str, detail: &str) {
        let Some(call) = self.members.get(user_id).and_then(|m| m.supporting.clone()) else {
            return;
        };
        self.audit_note(&call, user_id, AuditAction::Leave, Some(detail));
        self.remove_supporter(user_id, &call, EndReason::StaffHangUp);
    }

    pub(crate) fn remove_supporter(
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
        if owned {
            // The staff member had the citizen: leaving ends the call.
            if let Some(leg) = leg {
                self.relay(RelayCommand::SetFeeds { call: None, feeds: silence(leg).to_vec() });
            }
            let ended = ServerMessage::CallEnded {
                call_id: call.0.clone(),
                reason: end_if_owner,
                opens_at_ms: None,
            };
            self.send_to_member(user_id, ended);
            self.finish_call(call, end_if_owner, None);
            return;
        }
        let silenced: Vec<_> = leg.into_iter().collect();
        self.route(call, &silenced);
        self.notify_support(call);
        let empty =
            ServerMessage::SupportChanged { call_id: call.0.clone(), supporters: Vec::new() };
        self.send_to_member(user_id, empty);
    }

    /// Tells the agent and the staff who supports the call; tells the citizen only about the
    /// supporters the citizen hears, and only when that changed.
    pub(crate) fn notify_support(&mut self, call: &CallId) {
        let Some(active) = self.calls.get(call) else { return };
        let supporters = self.supporter_list(active);
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
            self.send(
                citizen_conn,
                ServerMessage::SupportChanged { call_id: call.0.clone(), supporters: heard },
            );
        }
    }

    pub(crate) fn request_help(
        &mut self,
        agent: &AgentId,
        call: CallId,
        reason: String,
    ) -> Result<(), Refusal> {
        let now = self.now;
        let active = self
            .calls
            .get_mut(&call)
            .filter(|c| c.connected && c.agent.as_ref() == Some(agent))
            .ok_or_else(|| {
                refuse(ErrorCode::UnknownCall, format!("you are not talking on call {call}"))
            })?;
        let reason: String = reason.trim().chars().take(MAX_REASON_CHARS).collect();
        if active.help.is_none() {
            active.help = Some(HelpRequest { reason, at: now });
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

    pub(crate) fn cancel_help(&mut self, agent: &AgentId, call: CallId) -> Result<(), Refusal> {
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
