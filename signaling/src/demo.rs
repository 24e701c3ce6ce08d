//! Demo accounts, so a newcomer can sign in at once (`voicedesk --demo`).

use voicedesk_protocol::Role;
use voicedesk_store::{AgentSkill, NewUser, Store, StoreError};

use crate::auth::{hash_password, on_password_thread};
use crate::clock::now_ms;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo";

/// (username, display name, role) of the demo accounts.
pub const DEMO_ACCOUNTS: &[(&str, &str, Role)] = &[
    ("agent1", "王芳 Wang Fang", Role::Agent),
    ("agent2", "李明 Li Ming", Role::Agent),
    ("agent3", "张伟 Zhang Wei", Role::Agent),
    ("staff1", "陈静 Chen Jing", Role::Staff),
    ("admin1", "管理员 Admin", Role::Admin),
];

/// The skill level demo and bench agents get in every queue.
pub const DEMO_SKILL_LEVEL: i32 = 5;

/// Gives an agent every skill of the catalogue at [`DEMO_SKILL_LEVEL`], unless an admin has
/// already given them skills.
async fn ensure_all_skills(store: &dyn Store, user_id: &str) -> Result<(), StoreError> {
    if !store.agent_skills(user_id).await?.is_empty() {
        return Ok(());
    }
    let skills: Vec<AgentSkill> = store
        .catalogue()
        .await?
        .skills
        .into_iter()
        .map(|s| AgentSkill { skill_id: s.id, level: DEMO_SKILL_LEVEL })
        .collect();
    store.set_agent_skills(user_id, &skills).await
}

/// Creates the demo accounts that do not exist yet; returns how many were created. Demo agents
/// without skills get every skill, so any service's call reaches them.
pub async fn ensure_demo_accounts(store: &dyn Store) -> Result<usize, StoreError> {
    let mut created = 0;
    for (username, display_name, role) in DEMO_ACCOUNTS {
        if let Some(user) = store.user_by_username(username).await? {
            if *role == Role::Agent {
                ensure_all_skills(store, &user.id).await?;
            }
            continue;
        }
        let password_hash = on_password_thread(|| hash_password(DEMO_PASSWORD)).await;
        let user = store
            .create_user(&NewUser {
                id: uuid::Uuid::new_v4().to_string(),
                username: (*username).to_owned(),
                display_name: (*display_name).to_owned(),
                role: *role,
                password_hash,
                created_at_ms: now_ms(),
            })
            .await?;
        if *role == Role::Agent {
            ensure_all_skills(store, &user.id).await?;
        }
        created += 1;
    }
    Ok(created)
}

/// Creates `n` extra agents `bench-agent-<i>` (password [`DEMO_PASSWORD`]) for load tests.
pub async fn ensure_bench_agents(store: &dyn Store, n: usize) -> Result<(), StoreError> {
    let password_hash = on_password_thread(|| hash_password(DEMO_PASSWORD)).await;
    for i in 1..=n {
        let username = format!("bench-agent-{i}");
        if let Some(user) = store.user_by_username(&username).await? {
            ensure_all_skills(store, &user.id).await?;
            continue;
        }
        let user = store
            .create_user(&NewUser {
                id: uuid::Uuid::new_v4().to_string(),
                username: username.clone(),
                display_name: format!("Bench Agent {i}"),
                role: Role::Agent,
                password_hash: password_hash.clone(),
                created_at_ms: now_ms(),
            })
            .await?;
        ensure_all_skills(store, &user.id).await?;
    }
    Ok(())
}
