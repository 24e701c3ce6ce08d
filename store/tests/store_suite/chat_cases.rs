//! Chats and chat messages (change 0013, `ChatStore`), on both backends.

use voicedesk_protocol::Role;
use voicedesk_store::{
    ChatMarks, ChatSender, ChatSide, FollowUp, NewChat, NewChatMessage, NewRating, NewUser,
    RatingSubject, StoreError,
};

use crate::TestDb;

fn agent(id: &str) -> NewUser {
    NewUser {
        id: id.to_owned(),
        username: format!("user-{id}"),
        display_name: format!("Agent {id}"),
        role: Role::Agent,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at_ms: 1_700_000_000_000,
    }
}

fn new_chat(id: &str, at_ms: i64) -> NewChat {
    NewChat {
        id: id.to_owned(),
        citizen_id: format!("citizen-of-{id}"),
        service: Some("pension_inquiry".to_owned()),
        skill: Some("pension".to_owned()),
        created_at_ms: at_ms,
    }
}

/// A client id of the required shape, distinct per `n`.
fn client_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn message(chat: &str, n: u32, sender: ChatSender, body: &str) -> NewChatMessage {
    NewChatMessage {
        chat_id: chat.to_owned(),
        client_id: client_id(n),
        sender,
        body: body.to_owned(),
        sent_at_ms: 10_000 + i64::from(n),
    }
}

fn citizen(chat: &str, n: u32, body: &str) -> NewChatMessage {
    message(chat, n, ChatSender::Citizen, body)
}

fn by_agent(chat: &str, n: u32, agent: &str, body: &str) -> NewChatMessage {
    message(chat, n, ChatSender::Agent(agent.to_owned()), body)
}

pub(crate) async fn a_chat_is_recorded_answered_and_ended_once(db: TestDb) {
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    let chat = store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    assert_eq!(chat.citizen_id, "citizen-of-h1");
    assert_eq!(
        (chat.answered_at_ms, chat.agent_id.as_deref(), chat.ended_at_ms),
        (None, None, None)
    );
    assert_eq!(
        (chat.last_seq, chat.citizen, chat.agent),
        (0, ChatMarks::default(), ChatMarks::default())
    );

    let err = store.insert_chat(&new_chat("h1", 2_000)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { entity: "chat", key: "id", .. }), "{err:?}");

    let err = store.answer_chat("h1", "nobody", 2_000).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidReference { entity: "chat", target: "user", .. }),
        "{err:?}"
    );
    let answered = store.answer_chat("h1", "a1", 2_000).await.unwrap();
    assert_eq!((answered.answered_at_ms, answered.agent_id.as_deref()), (Some(2_000), Some("a1")));
    assert_eq!(store.open_chats().await.unwrap().len(), 1);

    let ended = store.end_chat("h1", "citizen_hang_up", 9_000).await.unwrap();
    assert_eq!(
        (ended.ended_at_ms, ended.end_reason.as_deref()),
        (Some(9_000), Some("citizen_hang_up"))
    );
    let err = store.end_chat("h1", "agent_hang_up", 9_500).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { entity: "chat", state: "ended", .. }));
    let err = store.answer_chat("h1", "a1", 9_600).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { entity: "chat", state: "ended", .. }));
    assert_eq!(store.chat("h1").await.unwrap().unwrap(), ended, "refusals changed nothing");
    assert!(store.open_chats().await.unwrap().is_empty());
    assert!(matches!(
        store.end_chat("h9", "abandoned", 1).await.unwrap_err(),
        StoreError::NotFound { entity: "chat", .. }
    ));
    assert_eq!(store.chat("h9").await.unwrap(), None);
}

pub(crate) async fn chat_messages_are_numbered_in_order_and_survive_a_reopen(db: TestDb) {
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    store.insert_chat(&new_chat("h2", 1_000)).await.unwrap();
    // A citizen may write while waiting, before any agent.
    let first = store.append_chat_message(&citizen("h1", 1, "hello")).await.unwrap();
    assert!(first.created);
    assert_eq!(first.message.seq, 1);
    store.answer_chat("h1", "a1", 2_000).await.unwrap();
    let second = store.append_chat_message(&by_agent("h1", 2, "a1", "good day")).await.unwrap();
    assert_eq!((second.message.seq, second.created), (2, true));
    let third = store
        .append_chat_message(&citizen("h1", 3, "<script>alert(1)</script> & 养老金"))
        .await
        .unwrap();
    assert_eq!(third.message.seq, 3);
    // Numbering is per chat, and a client id is per chat too.
    let other = store.append_chat_message(&citizen("h2", 1, "another chat")).await.unwrap();
    assert_eq!((other.message.seq, other.created), (1, true));
    drop(store);

    // Everything was committed: a store opened afresh reads it back.
    let store = db.open().await;
    let all = store.chat_messages("h1", 0, 100).await.unwrap();
    let seen: Vec<_> = all.iter().map(|m| (m.seq, m.sender.clone(), m.body.as_str())).collect();
    assert_eq!(
        seen,
        [
            (1, ChatSender::Citizen, "hello"),
            (2, ChatSender::Agent("a1".to_owned()), "good day"),
            (3, ChatSender::Citizen, "<script>alert(1)</script> & 养老金"),
        ]
    );
    assert_eq!(all[0].client_id, client_id(1));
    assert_eq!(all[0].sent_at_ms, 10_001);
    // What a reconnecting client asks for: everything after the last seq it has.
    let after: Vec<_> =
        store.chat_messages("h1", 1, 100).await.unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(after, [2, 3]);
    let page: Vec<_> =
        store.chat_messages("h1", 0, 2).await.unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(page, [1, 2]);
    assert_eq!(store.chat("h1").await.unwrap().unwrap().last_seq, 3);
    assert!(store.chat_messages("h9", 0, 100).await.unwrap().is_empty());
}

pub(crate) async fn a_retried_send_is_stored_once(db: TestDb) {
    let store = db.open().await;
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    let sent = store.append_chat_message(&citizen("h1", 1, "hello")).await.unwrap();
    let mut retry = citizen("h1", 1, "hello");
    retry.sent_at_ms += 5_000;
    let again = store.append_chat_message(&retry).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.message, sent.message, "the first send comes back, time and all");

    // The same client id with another text is not the same message.
    let err = store.append_chat_message(&citizen("h1", 1, "bye")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { entity: "chat message", key: "client_id", .. }),
        "{err:?}"
    );
    // A retry after the chat ended still gets its answer (the first send was committed).
    store.end_chat("h1", "citizen_hang_up", 2_000).await.unwrap();
    let late = store.append_chat_message(&citizen("h1", 1, "hello")).await.unwrap();
    assert!(!late.created);
    assert_eq!(store.chat_messages("h1", 0, 100).await.unwrap().len(), 1);
}

pub(crate) async fn refused_chat_messages_write_nothing(db: TestDb) {
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    store.create_user(&agent("a2")).await.unwrap();
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    store.answer_chat("h1", "a1", 2_000).await.unwrap();
    let invalid = |field: &'static str| {
        move |e: StoreError| {
            assert!(
                matches!(e, StoreError::InvalidValue { entity: "chat message", field: f, .. } if f == field),
                "{e:?}"
            );
        }
    };

    let longest = "字".repeat(NewChatMessage::MAX_BODY_CHARS);
    let too_long = format!("{longest}x");
    invalid("body")(store.append_chat_message(&citizen("h1", 1, &too_long)).await.unwrap_err());
    invalid("body")(store.append_chat_message(&citizen("h1", 1, " \n\t")).await.unwrap_err());
    let mut bad_id = citizen("h1", 1, "hi");
    bad_id.client_id = "short".to_owned();
    invalid("client_id")(store.append_chat_message(&bad_id).await.unwrap_err());
    bad_id.client_id = "x".repeat(20) + "<>";
    invalid("client_id")(store.append_chat_message(&bad_id).await.unwrap_err());

    let err = store.append_chat_message(&citizen("h9", 1, "hi")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { entity: "chat", .. }), "{err:?}");
    for who in ["a2", "nobody"] {
        let err = store.append_chat_message(&by_agent("h1", 1, who, "hi")).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidTransition { entity: "chat", action: "send", .. }),
            "{who}: {err:?}"
        );
    }
    assert!(store.chat_messages("h1", 0, 100).await.unwrap().is_empty(), "nothing was written");

    // The longest text is fine; then the chat ends and takes nothing more.
    let ok = store.append_chat_message(&by_agent("h1", 1, "a1", &longest)).await.unwrap();
    assert_eq!(ok.message.body.chars().count(), NewChatMessage::MAX_BODY_CHARS);
    store.end_chat("h1", "agent_hang_up", 3_000).await.unwrap();
    let err = store.append_chat_message(&citizen("h1", 2, "still there?")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidTransition { entity: "chat", state: "ended", .. }),
        "{err:?}"
    );
    assert_eq!(store.chat("h1").await.unwrap().unwrap().last_seq, 1);
}

pub(crate) async fn concurrent_sends_to_one_chat_all_commit_in_one_sequence(db: TestDb) {
    let store = db.open().await;
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..30 {
        let store = store.clone();
        // Every message sent twice at once (a retry racing its original).
        for _ in 0..2 {
            let store = store.clone();
            tasks.spawn(async move {
                store.append_chat_message(&citizen("h1", n, &format!("m{n}"))).await
            });
        }
    }
    let mut created = 0;
    while let Some(done) = tasks.join_next().await {
        created += u32::from(done.unwrap().unwrap().created);
    }
    assert_eq!(created, 30, "each client id stored once");
    let stored = store.chat_messages("h1", 0, 100).await.unwrap();
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "no gap, no duplicate");
}

pub(crate) async fn chat_marks_only_move_forward_within_the_chat(db: TestDb) {
    let store = db.open().await;
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    for n in 1..=3 {
        store.append_chat_message(&citizen("h1", n, "text")).await.unwrap();
    }
    let marks = |delivered_seq, read_seq| ChatMarks { delivered_seq, read_seq };
    let chat = store.mark_chat("h1", ChatSide::Agent, marks(3, 2)).await.unwrap();
    assert_eq!((chat.agent, chat.citizen), (marks(3, 2), marks(0, 0)));
    // Backwards is ignored; read implies delivered.
    let chat = store.mark_chat("h1", ChatSide::Agent, marks(1, 1)).await.unwrap();
    assert_eq!(chat.agent, marks(3, 2));
    let chat = store.mark_chat("h1", ChatSide::Citizen, marks(0, 2)).await.unwrap();
    assert_eq!(chat.citizen, marks(2, 2));

    for bad in [marks(4, 0), marks(0, 4), marks(-1, 0)] {
        let err = store.mark_chat("h1", ChatSide::Citizen, bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidValue { entity: "chat", .. }), "{err:?}");
    }
    assert_eq!(store.chat("h1").await.unwrap().unwrap().citizen, marks(2, 2));
    let err = store.mark_chat("h9", ChatSide::Citizen, marks(0, 0)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { entity: "chat", .. }), "{err:?}");
    // The last read may come after the end.
    store.end_chat("h1", "citizen_hang_up", 5_000).await.unwrap();
    let chat = store.mark_chat("h1", ChatSide::Citizen, marks(3, 3)).await.unwrap();
    assert_eq!(chat.citizen, marks(3, 3));
}

pub(crate) async fn invalid_chats_are_refused_before_writing(db: TestDb) {
    let store = db.open().await;
    let mut chat = new_chat("", 1_000);
    let err = store.insert_chat(&chat).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { entity: "chat", field: "id", .. }), "{err:?}");
    chat.id = "h1".to_owned();
    chat.citizen_id = "c".repeat(65);
    let err = store.insert_chat(&chat).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidValue { entity: "chat", field: "citizen_id", .. }),
        "{err:?}"
    );
    assert_eq!(store.chat("h1").await.unwrap(), None);
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    let err = store.end_chat("h1", "", 2_000).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { entity: "chat", .. }), "{err:?}");
    assert_eq!(store.chat("h1").await.unwrap().unwrap().ended_at_ms, None);
}

pub(crate) async fn a_chat_is_rated_once_and_a_low_rating_is_followed_up(db: TestDb) {
    let store = db.open().await;
    let rating = |id: &str, level| NewRating {
        subject_kind: RatingSubject::Chat,
        subject_id: id.to_owned(),
        level,
        comment: "没解决".to_owned(),
        created_at_ms: 9_000,
    };
    let err = store.insert_rating(&rating("h9", 1)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidReference { entity: "rating", target: "chat", .. }),
        "{err:?}"
    );
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    store.insert_chat(&new_chat("h2", 1_000)).await.unwrap();
    let low = store.insert_rating(&rating("h1", 2)).await.unwrap();
    assert_eq!(low.follow_up, Some(FollowUp::Open));
    store.insert_rating(&rating("h2", 5)).await.unwrap();
    let err = store.insert_rating(&rating("h1", 4)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { entity: "rating", .. }), "{err:?}");
    let open = store.follow_ups(true).await.unwrap();
    let subjects: Vec<_> = open.iter().map(|r| (r.subject_kind, r.subject_id.as_str())).collect();
    assert_eq!(subjects, [(RatingSubject::Chat, "h1")], "a low chat rating is followed up");
    assert_eq!(store.rating(RatingSubject::Chat, "h2").await.unwrap().unwrap().level, 5);
}

pub(crate) async fn an_agents_chat_capacity_is_set_cleared_and_checked(db: TestDb) {
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    assert_eq!(store.chat_capacity("a1").await.unwrap(), None, "the default until set");
    store.set_chat_capacity("a1", Some(5)).await.unwrap();
    assert_eq!(store.chat_capacity("a1").await.unwrap(), Some(5));
    let err = store.set_chat_capacity("a1", Some(11)).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidValue { .. }), "{err:?}");
    let err = store.set_chat_capacity("ghost", Some(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidReference { .. }), "{err:?}");
    assert_eq!(store.chat_capacity("a1").await.unwrap(), Some(5), "refusals change nothing");
    store.set_chat_capacity("a1", Some(0)).await.unwrap();
    assert_eq!(store.chat_capacity("a1").await.unwrap(), Some(0));
    store.set_chat_capacity("a1", None).await.unwrap();
    assert_eq!(store.chat_capacity("a1").await.unwrap(), None);
    assert_eq!(store.chat_capacity("ghost").await.unwrap(), None);
}

pub(crate) async fn a_chat_is_wrapped_up_once_per_agent_and_saving_again_replaces_it(db: TestDb) {
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    store.insert_chat(&new_chat("h1", 1_000)).await.unwrap();
    let wrap = |disposition: &str, notes: &str, at_ms| voicedesk_store::NewWrapUp {
        call_id: "h1".to_owned(),
        agent_id: "a1".to_owned(),
        disposition: disposition.to_owned(),
        notes: notes.to_owned(),
        at_ms,
    };
    store.save_chat_wrapup(&wrap("other", "first", 2_000)).await.unwrap();
    store.save_chat_wrapup(&wrap("other", "corrected", 3_000)).await.unwrap();
    let saved = store.chat_wrapups("h1").await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].notes.as_str(), saved[0].at_ms), ("corrected", 3_000));
    let err = store.save_chat_wrapup(&wrap("no_such_code", "", 4_000)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidReference { target, .. } if *target == "disposition"),
        "{err:?}"
    );
    let mut unknown = wrap("other", "", 4_000);
    unknown.call_id = "h404".to_owned();
    let err = store.save_chat_wrapup(&unknown).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidReference { target, .. } if *target == "chat"),
        "{err:?}"
    );
    assert_eq!(store.chat_wrapups("h1").await.unwrap(), saved, "refusals change nothing");
}

/// Staff on a live chat (change 0017): the chat audit is append-only with exact references, and
/// a take over makes the staff member's texts the chat's agent texts (the agent's no longer).
pub(crate) async fn a_chat_audit_needs_real_references_and_a_take_over_moves_the_agent_texts(
    db: TestDb,
) {
    use voicedesk_store::{ChatAuditAction, NewChatAudit};
    let store = db.open().await;
    store.create_user(&agent("a1")).await.unwrap();
    store.create_user(&NewUser { role: Role::Staff, ..agent("s1") }).await.unwrap();
    store.insert_chat(&new_chat("w1", 1_000)).await.unwrap();
    store.answer_chat("w1", "a1", 2_000).await.unwrap();
    let entry = |actor: &str, chat: &str, action, detail: Option<&str>| NewChatAudit {
        at_ms: 3_000,
        actor_id: actor.to_owned(),
        chat_id: chat.to_owned(),
        action,
        detail: detail.map(str::to_owned),
    };
    let err = store.append_chat_audit(&entry("nobody", "w1", ChatAuditAction::Watch, None)).await;
    assert!(
        matches!(
            err,
            Err(StoreError::InvalidReference { entity: "chat audit entry", target: "user", .. })
        ),
        "{err:?}"
    );
    let err = store.append_chat_audit(&entry("s1", "no-chat", ChatAuditAction::Watch, None)).await;
    assert!(
        matches!(
            err,
            Err(StoreError::InvalidReference { entity: "chat audit entry", target: "chat", .. })
        ),
        "{err:?}"
    );
    let watch =
        store.append_chat_audit(&entry("s1", "w1", ChatAuditAction::Watch, None)).await.unwrap();
    let whisper = store
        .append_chat_audit(&entry("s1", "w1", ChatAuditAction::Whisper, Some("核对身份证号")))
        .await
        .unwrap();
    assert!(whisper > watch);
    let entries = store.chat_audit_entries(Some("w1"), 10).await.unwrap();
    let got: Vec<_> = entries.iter().map(|e| (e.action, e.detail.as_deref())).collect();
    assert_eq!(
        got,
        [(ChatAuditAction::Whisper, Some("核对身份证号")), (ChatAuditAction::Watch, None)],
        "newest first"
    );
    assert_eq!(store.chat_audit_entries(None, 1).await.unwrap().len(), 1);

    store.take_over_chat("w1", "s1", 4_000).await.unwrap();
    let chat = store.chat("w1").await.unwrap().unwrap();
    assert_eq!(
        (chat.agent_id.as_deref(), chat.handled_by.as_deref(), chat.taken_over_at_ms),
        (Some("a1"), Some("s1"), Some(4_000))
    );
    store.append_chat_message(&by_agent("w1", 1, "s1", "我来处理")).await.unwrap();
    let err = store.append_chat_message(&by_agent("w1", 2, "a1", "还是我")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err:?}");
    store.end_chat("w1", "citizen_hang_up", 5_000).await.unwrap();
    let err = store.take_over_chat("w1", "s1", 6_000).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err:?}");
}
