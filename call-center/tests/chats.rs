//! Live chat (issue 16): the protocol's chat messages exist, the core does not serve them yet.
//! Until it does, each is refused with a clear `invalid_state` and changes nothing.

mod common;

use common::{Sim, is_error};
use voicedesk_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};

fn chat_messages() -> Vec<ClientMessage> {
    let chat_id = || "h-1".to_owned();
    vec![
        ClientMessage::StartChat { service: Some("pension".into()) },
        ClientMessage::SendChat {
            chat_id: chat_id(),
            client_id: "5b1f0c9e-8a2d-4f3b-9c7e-1d0a6e4b2f88".into(),
            text: "hello".into(),
        },
        ClientMessage::ChatTyping { chat_id: chat_id(), typing: true },
        ClientMessage::ChatRead { chat_id: chat_id(), delivered_seq: 1, read_seq: 1 },
        ClientMessage::EndChat { chat_id: chat_id() },
        ClientMessage::RejoinChat { chat_id: chat_id(), after_seq: 0 },
    ]
}

#[test]
fn chat_messages_are_refused_clearly_until_chats_are_served() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    let agent = sim.ready_agent("a1");
    sim.take(citizen);
    sim.take(agent);
    for (conn, role) in [(citizen, Role::Citizen), (agent, Role::Agent)] {
        for message in chat_messages().into_iter().filter(|m| m.allowed_for(role)) {
            let request = message.type_name();
            sim.say(conn, message);
            let heard = sim.take(conn);
            assert_eq!(heard.len(), 1, "{request}: {heard:?}");
            assert!(is_error(&heard[0], request), "{request}: {heard:?}");
            let ServerMessage::Error { code, message, .. } = &heard[0] else { unreachable!() };
            assert_eq!(*code, ErrorCode::InvalidState, "{request}");
            assert!(message.contains("chat"), "{request}: {message}");
        }
    }
    assert!(sim.take(citizen).is_empty() && sim.take(agent).is_empty());
    assert!(sim.violations().is_empty());
}
