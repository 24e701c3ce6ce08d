//! The audit log as staff read it (`GET /api/audit`): each entry with the call's service, the
//! agent the call had *when the entry was written*, and the names of the people. A call's agent
//! changes during its life (a take over hands it to the staff member), so a page that labelled
//! every row with the call's agent of now would name the wrong person for the earlier rows.

use std::collections::HashMap;

use serde::Serialize;
use voicedesk_store::{AuditEntry, CallRecord, Chat, ChatAuditEntry, Store};

/// One audit entry with what a reader needs to know about its call at that moment.
#[derive(Debug, Serialize)]
pub(crate) struct AuditView {
    /// The entry as stored.
    #[serde(flatten)]
    entry: AuditEntry,
    /// The actor's display name (absent when the account is gone).
    actor_name: Option<String>,
    /// The citizen's chosen service.
    service: Option<String>,
    /// Who was the call's agent when the entry was written.
    agent_id: Option<String>,
    /// That agent's display name.
    agent_name: Option<String>,
}

/// The agent a call had at `at_ms`: after a take over, the staff member who took it over;
/// before it (the take over's own entry included, which is written first), the agent who
/// answered.
pub(crate) fn agent_at(call: &CallRecord, at_ms: i64) -> Option<&str> {
    match (call.taken_over_at_ms, call.handled_by.as_deref()) {
        (Some(taken_at), Some(staff)) if at_ms > taken_at => Some(staff),
        _ => call.agent_id.as_deref(),
    }
}

/// Adds each entry's call context; a call or user that cannot be read leaves its fields empty
/// (the entries themselves are what the log must show).
pub(crate) async fn with_call_context(
    store: &dyn Store,
    entries: Vec<AuditEntry>,
) -> Vec<AuditView> {
    let mut calls: HashMap<String, Option<CallRecord>> = HashMap::new();
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut views = Vec::with_capacity(entries.len());
    for entry in entries {
        if !calls.contains_key(&entry.call_id) {
            let call = store.call(&entry.call_id).await.unwrap_or_else(|e| {
                tracing::warn!(call = %entry.call_id, error = %e, "audit: call not read");
                None
            });
            calls.insert(entry.call_id.clone(), call);
        }
        let call = calls.get(&entry.call_id).and_then(Option::as_ref);
        let service = call.and_then(|c| c.service.clone());
        let agent_id = call.and_then(|c| agent_at(c, entry.at_ms)).map(str::to_owned);
        let actor_name = name_of(store, &mut names, &entry.actor_id).await;
        let agent_name = match &agent_id {
            Some(id) => name_of(store, &mut names, id).await,
            None => None,
        };
        views.push(AuditView { entry, actor_name, service, agent_id, agent_name });
    }
    views
}

/// One chat audit entry (staff watching, whispering to, taking over a live chat) with the
/// chat's service and the agent it had then (before a take over's own entry: the agent who
/// answered; the staff member who took it over after).
#[derive(Debug, Serialize)]
pub(crate) struct ChatAuditView {
    #[serde(flatten)]
    entry: ChatAuditEntry,
    actor_name: Option<String>,
    service: Option<String>,
    agent_id: Option<String>,
    agent_name: Option<String>,
}

/// Adds each chat entry's chat context, as [`with_call_context`] does for calls.
pub(crate) async fn with_chat_context(
    store: &dyn Store,
    entries: Vec<ChatAuditEntry>,
) -> Vec<ChatAuditView> {
    let mut chats: HashMap<String, Option<Chat>> = HashMap::new();
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut views = Vec::with_capacity(entries.len());
    for entry in entries {
        if !chats.contains_key(&entry.chat_id) {
            let chat = store.chat(&entry.chat_id).await.unwrap_or_else(|e| {
                tracing::warn!(chat = %entry.chat_id, error = %e, "audit: chat not read");
                None
            });
            chats.insert(entry.chat_id.clone(), chat);
        }
        let chat = chats.get(&entry.chat_id).and_then(Option::as_ref);
        let service = chat.and_then(|c| c.service.clone());
        let agent_id = chat.and_then(|c| match (c.taken_over_at_ms, c.handled_by.as_deref()) {
            (Some(at), Some(staff)) if entry.at_ms > at => Some(staff.to_owned()),
            _ => c.agent_id.clone(),
        });
        let actor_name = name_of(store, &mut names, &entry.actor_id).await;
        let agent_name = match &agent_id {
            Some(id) => name_of(store, &mut names, id).await,
            None => None,
        };
        views.push(ChatAuditView { entry, actor_name, service, agent_id, agent_name });
    }
    views
}

/// A user's display name, read once per request.
async fn name_of(
    store: &dyn Store,
    names: &mut HashMap<String, Option<String>>,
    user_id: &str,
) -> Option<String> {
    if let Some(name) = names.get(user_id) {
        return name.clone();
    }
    let name = match store.user_by_id(user_id).await {
        Ok(user) => user.map(|u| u.display_name),
        Err(e) => {
            tracing::warn!(user = user_id, error = %e, "audit: user not read");
            None
        }
    };
    names.insert(user_id.to_owned(), name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(agent: &str, taken_over: Option<(&str, i64)>) -> CallRecord {
        CallRecord {
            id: "c1".into(),
            citizen_session: "s".into(),
            service: Some("pension_inquiry".into()),
            queued_at_ms: 1_000,
            offered_at_ms: Some(2_000),
            answered_at_ms: Some(3_000),
            ended_at_ms: None,
            outcome: None,
            agent_id: Some(agent.into()),
            offer_count: 1,
            handled_by: taken_over.map(|(staff, _)| staff.to_owned()),
            taken_over_at_ms: taken_over.map(|(_, at)| at),
            skill_id: None,
            priority: 0,
            transfer_count: 0,
            transferred_at_ms: None,
        }
    }

    #[test]
    fn entries_before_a_take_over_name_the_agent_who_answered() {
        let c = call("agent1", Some(("staff1", 10_000)));
        assert_eq!(agent_at(&c, 5_000), Some("agent1"), "a monitor before the take over");
        assert_eq!(agent_at(&c, 10_000), Some("agent1"), "the take over's own entry");
        assert_eq!(agent_at(&c, 12_000), Some("staff1"), "a leave after the take over");
    }

    #[test]
    fn a_call_never_taken_over_has_its_agent_throughout() {
        let c = call("agent2", None);
        assert_eq!(agent_at(&c, 5_000), Some("agent2"));
        assert_eq!(agent_at(&c, 50_000), Some("agent2"));
    }
}
