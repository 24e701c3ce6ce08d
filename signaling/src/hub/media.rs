//! Headsets — the one media connection an agent or staff member keeps for the whole
//! session — and what the relay reports about legs.

use std::time::Instant;

use voicedesk_media_relay::RelayEvent;
use voicedesk_protocol::{ErrorCode, MediaLegState, Role, ServerMessage};
use voicedesk_queue_engine::{AgentId, CallId, Input};

use super::calls::{Refusal, refuse, relay_refusal};
use super::reconnect::Side;
use super::{Hub, LegOwner};

impl Hub {
    /// Answers a headset offer. Sending it again replaces the headset; a call in progress is
    /// re-routed onto the new leg once it connects (until then an agent's call waits for the
    /// agent as after a lost headset).
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
        if role == Role::Agent
            && let Some(call) = self.member_call(user_id)
        {
            self.mark_lost(&call, Side::Agent);
        }
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
                    let (conn, role) = (m.conn, m.role);
                    self.send(conn, ServerMessage::MediaState { state: MediaLegState::Connected });
                    // A headset replaced during a call: route the call onto the new leg; an
                    // agent waited for is back.
                    if let Some(call) = self.member_call(&user_id) {
                        let _ = self.route(&call, &[]).await;
                        if role == Role::Agent {
                            self.mark_back(&call, Side::Agent);
                        }
                    }
                }
                Some(LegOwner::Citizen(call)) => {
                    if let Some(conn) = self.calls.get(&call).map(|c| c.citizen_conn) {
                        self.send(
                            conn,
                            ServerMessage::MediaState { state: MediaLegState::Connected },
                        );
                    }
                    // A new leg of a citizen waited for: voice flows again.
                    self.mark_back(&call, Side::Citizen);
                }
                None => {}
            },
            RelayEvent::LegEnded { leg, reason } => {
                let Some(owner) = self.legs.remove(&leg) else { return };
                tracing::info!(%leg, ?reason, ?owner, "media leg lost");
                match owner {
                    LegOwner::Citizen(call) => self.citizen_media_lost(&call, leg, reason).await,
                    LegOwner::Member(user_id) => self.headset_lost(&user_id).await,
                }
            }
        }
    }

    /// An agent's or staff member's headset failed. An agent's call waits for a new headset
    /// (`media_connect`) for the grace period; an agent without a call is set away. Staff
    /// leave the call they support.
    async fn headset_lost(&mut self, user_id: &str) {
        let Some(m) = self.members.get_mut(user_id) else { return };
        m.leg = None;
        m.leg_connected = false;
        let (conn, role) = (m.conn, m.role);
        self.send(conn, ServerMessage::MediaState { state: MediaLegState::Failed });
        if role == Role::Agent {
            if let Some(call) = self.member_call(user_id) {
                tracing::info!(%call, agent = user_id, "agent headset lost during a call; waiting for a new offer");
                self.mark_lost(&call, Side::Agent);
                let _ = self.route(&call, &[]).await;
                return;
            }
            let away = Input::AgentAway {
                agent: AgentId(user_id.to_owned()),
                reason: Some(super::HEADSET_AWAY_REASON.into()),
            };
            let _ = self.engine_input(Instant::now(), away).await;
        } else {
            self.staff_gone(user_id, "headset disconnected").await;
        }
    }
}
