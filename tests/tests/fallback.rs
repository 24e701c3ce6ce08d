//! When no agent can answer, end to end with Rust clients against the real server: the
//! self-service assistant and its hand-off to an agent.

use voicedesk_protocol::{ClientMessage, ErrorCode, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient};
use voicedesk_tests::{STEP, TestServer};

async fn ask(ws: &mut SignalingClient, text: &str) -> ServerMessage {
    ws.send(&ClientMessage::Ask { text: text.into() }).await.unwrap();
    ws.recv(STEP).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_answers_then_hands_over_to_an_agent_with_the_transcript() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut ws = server.citizen().await.unwrap();

    // A question in the citizen's words finds the cross-region pension transfer article.
    let service = match ask(&mut ws, "我换城市工作了,养老保险怎么转过去?要多久?").await
    {
        ServerMessage::Answer { best, suggestions, confident, .. } => {
            let ids: Vec<String> =
                best.iter().chain(suggestions.iter()).map(|h| h.article_id.clone()).collect();
            assert!(ids.iter().any(|id| id == "pension_transfer"), "{ids:?}");
            if confident {
                assert_eq!(best.as_ref().unwrap().article_id, "pension_transfer");
            }
            Some("pension_transfer".to_owned())
        }
        other => panic!("expected an answer, got {other:?}"),
    };
    // Bad questions are refused and change nothing.
    assert!(matches!(
        ask(&mut ws, "   ").await,
        ServerMessage::Error { code: ErrorCode::InvalidState, .. }
    ));

    // "Talk to an agent": a call for the article's service; the agent sees the transcript.
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::CallQueued { .. }));
    match agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. }))
        .await
        .unwrap()
    {
        ServerMessage::CallOffered { service, transcript, .. } => {
            assert_eq!(service.as_deref(), Some("pension_transfer"));
            assert_eq!(transcript.len(), 2, "{transcript:?}");
            assert_eq!(transcript[0].from, "citizen");
            assert!(transcript[0].text.contains("养老保险怎么转"), "{transcript:?}");
            assert_eq!(transcript[1].from, "assistant");
        }
        _ => unreachable!(),
    }
    // After the hand-off the assistant says nothing more.
    match ask(&mut ws, "还有别的问题").await {
        ServerMessage::Error { code: ErrorCode::InvalidState, message, .. } => {
            assert!(message.contains("agent"), "{message}");
        }
        ServerMessage::QueuePosition { .. } => {
            // A position may arrive first; the next message is the refusal.
            match ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await.unwrap() {
                ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidState),
                _ => unreachable!(),
            }
        }
        other => panic!("the assistant must say nothing more after the hand-off, got {other:?}"),
    }
}
