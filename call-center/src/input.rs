//! What the core is told: [`Input`], handed to [`crate::CallCenter::handle`] with the time.

use std::collections::BTreeMap;

use voicedesk_protocol::{ClientMessage, KnowledgeHit, UserInfo};

use crate::store::{StoreFailure, StoreReply};
use crate::{ConnId, LegId, OpId, RelayCommand, Routing, SkillId};

/// Who is behind a connection, as authenticated by the WebSocket handler.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub enum Identity {
    /// An anonymous citizen; `citizen_id` is derived from the session token and stored with
    /// the call records.
    Citizen {
        /// Stable opaque id of the citizen's session.
        citizen_id: String,
    },
    /// A signed-in agent, staff member or admin; `user.role` says which.
    Member {
        /// The user.
        user: UserInfo,
        /// An agent's skills and levels, read by the driver before the connection is handed
        /// in (empty for staff).
        skills: BTreeMap<SkillId, u8>,
    },
}

/// Why the relay could not create a leg.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum LegFailure {
    /// The offer cannot be answered; the text says why.
    BadSdp(String),
    /// The relay cannot take a leg now.
    Unavailable(String),
}

/// Why the relay ended a leg.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegEnd {
    /// It never connected.
    ConnectTimeout,
    /// It connected, then went silent or closed.
    Lost,
}

/// The assistant's answer to a question ([`crate::Effect::Search`]).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct AssistantAnswer {
    /// The best article, if the search is sure enough of it.
    pub best: Option<KnowledgeHit>,
    /// Other articles that may help.
    pub suggestions: Vec<KnowledgeHit>,
    /// The search is confident of `best`.
    pub confident: bool,
}

/// Something that happened. Every input is a fact: the core validates what the clients asked
/// and answers bad requests with an error message, never with a panic.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub enum Input {
    /// A connection opened.
    Connected {
        /// The connection.
        conn: ConnId,
        /// Who it is.
        identity: Identity,
    },
    /// A citizen connection proved an earlier identity (the token was checked by the driver).
    /// Another connection still carrying a call of that identity is closed: the newest wins.
    Resumed {
        /// The connection.
        conn: ConnId,
        /// The earlier identity.
        citizen_id: String,
        /// The token to echo in the reply.
        citizen_token: String,
    },
    /// A decoded client message (the driver checked only that it parses).
    Client {
        /// From whom.
        conn: ConnId,
        /// What.
        message: ClientMessage,
    },
    /// The connection closed (or the driver dropped it as too slow). If a message of the
    /// connection is in flight, the core still sends its answer and then emits
    /// [`crate::Effect::Close`]; the driver keeps the outbox until then
    /// ([`crate::CallCenter::has_connection`]).
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// A user signed out (or was signed out): their open connection ends now.
    SignedOut {
        /// The user.
        user_id: String,
    },
    /// A user to sign out once free: an agent on an answered call finishes it (and hears of
    /// its end) first; anyone else is signed out at once.
    SignOutWhenFree {
        /// The user.
        user_id: String,
    },
    /// The catalogue as it is now (at start and after every admin change), with the skills
    /// of the agents signed in ([`crate::CallCenter::signed_in_agents`]).
    Catalogue {
        /// Services, queues, calendar.
        routing: Routing,
        /// Agents' skills by user id.
        agent_skills: BTreeMap<String, BTreeMap<SkillId, u8>>,
    },
    /// Agents' chat capacities as an admin set them (`None`: the engine's default), read by
    /// the driver at sign-in and after every admin change; agents not signed in are ignored.
    ChatCapacities {
        /// Capacity by user id.
        capacities: BTreeMap<String, Option<u8>>,
    },
    /// The relay's answer to [`crate::Effect::CreateLeg`].
    LegCreated {
        /// The request.
        op: OpId,
        /// The new leg and the SDP answer, or why not.
        result: Result<(LegId, String), LegFailure>,
    },
    /// ICE and DTLS of a leg are up.
    LegConnected {
        /// The leg.
        leg: LegId,
    },
    /// The relay ended a leg.
    LegEnded {
        /// The leg.
        leg: LegId,
        /// Why.
        reason: LegEnd,
    },
    /// A relay command the core did not wait for failed.
    RelayFailed {
        /// The command.
        command: RelayCommand,
        /// What the relay said.
        error: String,
    },
    /// The result of a [`crate::Effect::Store`].
    Store {
        /// The request.
        op: OpId,
        /// What the store answered.
        result: Result<StoreReply, StoreFailure>,
    },
    /// The relay's verdict on [`crate::Effect::CheckOffer`].
    OfferChecked {
        /// The request.
        op: OpId,
        /// `Err` with why the offer cannot be answered.
        result: Result<(), LegFailure>,
    },
    /// The relay's answer to [`crate::Effect::StartRecording`].
    RecordingStarted {
        /// The request.
        op: OpId,
        /// `Err` with the relay's reason if it could not start.
        result: Result<(), String>,
    },
    /// The assistant's answer to a [`crate::Effect::Search`].
    Searched {
        /// The request.
        op: OpId,
        /// The answer.
        answer: AssistantAnswer,
    },
    /// End every call (recorded as `server_shutdown`) and stop serving.
    Shutdown,
}
