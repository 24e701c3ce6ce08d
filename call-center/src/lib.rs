//! The voicedesk call center as a deterministic core: every decision of the service —
//! connections' roles and sessions, calls and their media legs, staff support, reconnect grace,
//! help requests, the citizen-side flows (messages, the assistant, ratings) and the queueing
//! engine inside — with **no I/O and no clock**, in the shape of str0m and quinn-proto.
//!
//! # Contract with the driver
//!
//! A thin async task (in `signaling`) owns one [`CallCenter`] and loops:
//!
//! 1. hand in what happened with [`CallCenter::handle`]`(now, input)` — a connection, a client
//!    message, a relay event, **the result of an earlier effect** (a store write, a leg, an
//!    assistant answer); when [`CallCenter::poll_timeout`] has passed, call
//!    [`CallCenter::handle_timeout`]`(now)`;
//! 2. drain [`CallCenter::poll_effect`] and carry each [`Effect`] out — concurrently, with one
//!    rule: store operations of the same call in the order emitted;
//! 3. wait for the next input or deadline.
//!
//! # Rules the core keeps
//!
//! - **Acknowledged ⇒ committed.** A message that reports a record (`call_queued`,
//!   `call_offered`, `call_connected`, `message_saved`, `rating_saved`, `wrap_up_saved`, a staff
//!   member's join or mode) is emitted only after the [`Input::Store`] of its write came back
//!   `Ok`. A failed write comes back the same way and the core decides what the client is told
//!   (see [`Report::StoreFailed`]'s `then`).
//! - **No round trip where the answer is not needed.** Creating a leg waits for the relay (the
//!   SDP answer goes to the client); routing changes, hold and closing legs are fire-and-forget
//!   ([`RelayCommand`]), and only their failure comes back.
//! - **Invariant violations are errors, not panics**: the input is refused, reported as
//!   [`Report::Violation`] and counted in [`CoreStats::invariant_violations`].
//! - **Every call ends exactly once**, with the reason the deciding party gave (no relabelling
//!   afterwards): the engine's `EndCall` carries reasons of the core's own.
//! - **Deterministic**: all state is in ordered maps; call ids come from a seed and a counter;
//!   the same inputs at the same times give byte-identical effects.

#![warn(missing_docs)]

mod calls;
mod chat_support;
mod chats;
mod citizen;
mod connections;
mod core;
mod effect;
mod error;
mod feeds;
mod ids;
mod input;
mod media;
mod pending;
mod queueing;
mod reconnect;
mod replica;
mod results;
mod routing;
mod state;
pub mod store;
mod support;
mod time;
mod timer;
mod upgrade;
mod voice;
mod wallboard;

pub use crate::core::{CallCenter, CoreConfig, CoreStats, HEADSET_AWAY_REASON};
pub use effect::{Effect, RelayCommand, Report};
pub use feeds::{CallLegs, SlotFeed, SlotRef, call_feeds, silence, speaks};
pub use ids::{AgentId, CallId, ConnId, LegId, OpId, SkillId};
pub use input::{AssistantAnswer, Identity, Input, LegEnd, LegFailure};
pub use routing::{GENERAL_SKILL, Route, Routing, ServiceLevelTarget};
pub use time::UnixMs;
pub use timer::Side;
pub use wallboard::{DayCounts, WallboardConfig};
