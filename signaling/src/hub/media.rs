//! Headsets — the one media connection an agent or staff member keeps for the whole
//! session — and what the relay reports about legs.

use std::time::Instant;

use voicedesk_media_relay::RelayEvent;
use voicedesk_protocol::{EndReason, ErrorCode, MediaLegState, Role, ServerMessage};
use voicedesk_queue_engine::{AgentId, CallId, Input};

use super::calls::{Refusal, refuse, relay_refusal};
use super::{Hub, LegOwner};

impl Hub {
    /// Answers a headset offer. Sending it again replaces the headset; a call in progress is
    /// re-routed onto the new leg once it connects.
    pub(super) async fn connect_headset(
        &mut self,
        user_id: &str,
        role: Role,
        sdp: String,
    ) -> Result<(), Refusal> {
        let Some(member) = self.members.get(user_id) else {
            return Err(refuse(ErrorCode::InvalidState, "not signed in"));
        };
        let (conn, old_leg) = (member.conn, member.leg);
        let (leg, answer) =
            self.relay.create_leg(sdp, role.receive_slots()).await.map_err(relay_refusal)?;
        if let Some(old) = old_leg {
            self.legs.remove(&old);
            let _ = self.relay.close_leg(old).await;
        }
        if let Some(m) = self.members.get_mut(user_id) {
            m.leg = Some(leg);
            m.leg_connected = false;
        }
        self.legs.insert(leg, LegOwner::Member(user_id.to_owned()));
        self.send(conn, ServerMessage::MediaAnswer { sdp: answer });
        Ok(())
    }

    /// The call a member is on: the agent's connected call, or the call staff support.
    pub(super) fn member_call(&self, user_id: &str) -> Option<CallId> {
        if let Some(call) = self.members.get(user_id).and_then(|m| m.supporting.clone()) {
            return Some(call);
        }
        self.calls
            .iter()
            .find(|(_, c)| c.connected && c.agent.as_ref().is_some_and(|a| a.0 == user_id))
            .map(|(id, _)| id.clone())
    }

    pub(super) async fn handle_relay_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::LegConnected { leg } => match self.legs.get(&leg).cloned() {
                Some(LegOwner::Member(user_id)) => {
                    let Some(m) = self.members.get_mut(&user_id) else { return };
                    m.leg_connected = true;
                    let conn = m.conn;
                    self.send(conn, ServerMessage::MediaState { state: MediaLegState::Connected });
                    // A headset replaced during a call: route the call onto the new leg.
                    if let Some(call) = self.member_call(&user_id) {
                        let _ = self.route(&call, &[]).await;
                    }
                }
                Some(LegOwner::Citizen(call)) => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        self.send(
                            conn,
                            ServerMessage::MediaState { state: MediaLegState::Connected },
                        );
                    }
                }
                None => {}
            },
            RelayEvent::LegEnded { leg, reason } => {
                let Some(owner) = self.legs.remove(&leg) else { return };
                tracing::info!(%leg, ?reason, ?owner, "media leg lost");
                match owner {
                    LegOwner::Citizen(call) => {
                        if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                            self.send(
                                conn,
                                ServerMessage::MediaState { state: MediaLegState::Failed },
                            );
                        }
                        let _ =
                            self.citizen_ends(Instant::now(), &call, EndReason::MediaFailed).await;
                    }
                    LegOwner::Member(user_id) => self.headset_lost(&user_id).await,
                }
            }
        }
    }

    /// An agent's or staff member's headset failed: their part in a call ends.
    async fn headset_lost(&mut self, user_id: &str) {
        let Some(m) = self.members.get_mut(user_id) else { return };
        m.leg = None;
        m.leg_connected = false;
        let (conn, role) = (m.conn, m.role);
        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
        if role == Role::Agent {
            if let Some(call) = self.member_call(user_id) {
                let _ = self.engine_input(Instant::now(), Input::MediaFailed { call }).await;
            }
            let away = Input::AgentAway {
                agent: AgentId(user_id.to_owned()),
                reason: Some("headset disconnected".into()),
            };
            let _ = self.engine_input(Instant::now(), away).await;
        } else {
            self.staff_gone(user_id, "headset disconnected").await;
        }
    }
}
