//! Headsets — the one media connection an agent or staff member keeps for the whole
//! session — and what the relay reports.

use voicedesk_protocol::{AgentActivity, ErrorCode, MediaLegState, Role, ServerMessage};
use voicedesk_queue_engine::Input as EngineInput;

use crate::calls::leg_refusal;
use crate::core::CallCenter;
use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::state::LegOwner;
use crate::{AgentId, LegEnd, LegFailure, LegId, OpId, RelayCommand, Report, Side};

impl CallCenter {
    /// `media_connect`: a headset offer. Sending it again replaces the headset.
    pub(crate) fn connect_headset(
        &mut self,
        user_id: &str,
        _role: Role,
        sdp: String,
    ) -> Result<(), Refusal> {
        if !self.members.contains_key(user_id) {
            return Err(refuse(ErrorCode::InvalidState, "not signed in"));
        }
        self.create_leg(sdp, Role::Agent, Pending::Headset { user_id: user_id.to_owned() });
        Ok(())
    }

    fn headset_created(&mut self, user_id: String, result: Result<(LegId, String), LegFailure>) {
        let (leg, answer) = match result {
            Ok(made) => made,
            Err(e) => {
                let r = leg_refusal(e);
                self.stats.client_errors += 1;
                if let Some(conn) = self.members.get(&user_id).map(|m| m.conn) {
                    self.send(conn, ServerMessage::error(r.code, r.text, Some("media_connect")));
                }
                return;
            }
        };
        let Some(m) = self.members.get_mut(&user_id) else {
            // Signed out meanwhile.
            self.relay(RelayCommand::CloseLeg { leg });
            return;
        };
        let (conn, role, old) = (m.conn, m.role, m.leg.replace(leg));
        m.leg_connected = false;
        if let Some(old) = old {
            self.legs.remove(&old);
            self.relay(RelayCommand::CloseLeg { leg: old });
        }
        self.legs.insert(leg, LegOwner::Member(user_id.clone()));
        self.send(conn, ServerMessage::MediaAnswer { sdp: answer });
        if role == Role::Agent
            && let Some(call) = self.member_call(&user_id)
        {
            self.mark_lost(&call, Side::Agent);
        }
    }

    /// The relay answered a [`crate::Effect::CreateLeg`].
    pub(crate) fn leg_created(&mut self, op: OpId, result: Result<(LegId, String), LegFailure>) {
        match self.pending.remove(&op) {
            Some(Pending::PlaceLeg { call }) => self.place_leg_created(call, result),
            Some(Pending::Headset { user_id }) => self.headset_created(user_id, result),
            Some(Pending::Rejoin { conn, call }) => self.rejoin_leg_created(conn, call, result),
            Some(Pending::VoiceLeg { conn }) => self.voice_leg_created(conn, result),
            Some(Pending::UpgradeLeg { chat, conn }) => {
                self.upgrade_leg_created(chat, conn, result)
            }
            other => {
                self.violation(format!("leg answer for {op}, which awaits {other:?}"));
                if let Ok((leg, _)) = result {
                    self.relay(RelayCommand::CloseLeg { leg });
                }
            }
        }
    }

    pub(crate) fn leg_connected(&mut self, leg: LegId) {
        match self.legs.get(&leg).cloned() {
            Some(LegOwner::Member(user_id)) => {
                let Some(m) = self.members.get_mut(&user_id) else { return };
                m.leg_connected = true;
                let (conn, role) = (m.conn, m.role);
                self.send(conn, ServerMessage::MediaState { state: MediaLegState::Connected });
                // A headset replaced during a call: route the call onto it; an agent waited
                // for is back.
                if let Some(call) = self.member_call(&user_id) {
                    self.route(&call, &[]);
                    if role == Role::Agent {
                        self.mark_back(&call, Side::Agent);
                    }
                }
            }
            Some(LegOwner::Citizen(call)) => {
                if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                    self.send(conn, ServerMessage::MediaState { state: MediaLegState::Connected });
                }
                self.mark_back(&call, Side::Citizen);
            }
            None => {}
        }
    }

    pub(crate) fn leg_ended(&mut self, leg: LegId, reason: LegEnd) {
        let Some(owner) = self.legs.remove(&leg) else { return };
        match owner {
            LegOwner::Citizen(call) => self.citizen_media_lost(&call, leg, reason),
            LegOwner::Member(user_id) => self.headset_lost(&user_id, leg),
        }
    }

    /// A headset failed. An agent's call waits for a new one; an agent without a call is set
    /// away; staff leave the call they support.
    fn headset_lost(&mut self, user_id: &str, leg: LegId) {
        let Some(m) = self.members.get_mut(user_id) else { return };
        if m.leg != Some(leg) {
            return;
        }
        m.leg = None;
        m.leg_connected = false;
        let (conn, role) = (m.conn, m.role);
        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
        if role == Role::Agent {
            if let Some(call) = self.member_call(user_id) {
                self.mark_lost(&call, Side::Agent);
                self.route(&call, &[]);
                return;
            }
            let agent = AgentId(user_id.to_owned());
            match self.engine.agent(&agent).map(|a| a.activity) {
                // A ringing offer cannot be accepted without a headset (`accept` is refused);
                // it rings out and moves on, or the console offers a new headset first.
                Some(AgentActivity::Ringing) | None => {}
                // Answered, its record being written: the call will wait for a new headset.
                Some(AgentActivity::OnCall) => {}
                Some(_) => {
                    let reason = Some(crate::core::HEADSET_AWAY_REASON.into());
                    self.engine_must(EngineInput::AgentAway { agent, reason });
                }
            }
        } else {
            self.staff_gone(user_id, "headset disconnected");
        }
    }

    /// A relay command failed. A routing change of a call that cannot be applied ends the
    /// call (`media_failed`): its routing table — the security boundary — would otherwise
    /// not be what the core believes. Other failures are reported.
    pub(crate) fn relay_failed(&mut self, command: RelayCommand, error: String) {
        match command {
            RelayCommand::SetFeeds { call: Some(call), .. } if self.calls.contains_key(&call) => {
                self.emit(crate::Effect::Report(Report::RelayFailed {
                    error,
                    then: "call ended as media_failed",
                }));
                if let Err(r) = self.citizen_ends(&call, voicedesk_protocol::EndReason::MediaFailed)
                {
                    self.violation(format!("engine refused to end {call}: {}", r.text));
                    self.finish_call(&call, voicedesk_protocol::EndReason::MediaFailed, None);
                }
            }
            _ => self.emit(crate::Effect::Report(Report::RelayFailed {
                error,
                then: "nothing else to do",
            })),
        }
    }
}
