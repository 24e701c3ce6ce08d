//! Demo accounts, so a newcomer can sign in at once (`voicedesk --demo`).

use voicedesk_protocol::Role;
use voicedesk_store::{NewUser, Store, StoreError};

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

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn ensure_demo_accounts(store: &dyn Store) -> Result<usize, StoreError> {
    let mut created = 0;
    for (username, display_name, role) in DEMO_ACCOUNTS {
        if store.user_by_username(username).await?.is_some() {
            continue;
        }
        let password_hash = on_password_thread(|| hash_password(DEMO_PASSWORD)).await;
        store
            .create_user(&NewUser {
                id: uuid::Uuid::new_v4().to_string(),
                username: (*username).to_owned(),
                display_name: (*display_name).to_owned(),
                role: *role,
                password_hash,
                created_at_ms: now_ms(),
            })
            .await?;
        created += 1;
    }
    Ok(created)
}

/// Creates `n` extra agents `bench-agent-<i>` (password [`DEMO_PASSWORD`]) for load tests.
pub async fn ensure_bench_agents(store: &dyn Store, n: usize) -> Result<(), StoreError> {
    let password_hash = on_password_thread(|| hash_password(DEMO_PASSWORD)).await;
    for i in 1..=n {
        let username = format!("bench-agent-{i}");
        if store.user_by_username(&username).await?.is_some() {
            continue;
        }
        store
            .create_user(&NewUser {
                id: uuid::Uuid::new_v4().to_string(),
                username: username.clone(),
                display_name: format!("Bench Agent {i}"),
                role: Role::Agent,
                password_hash: password_hash.clone(),
                created_at_ms: now_ms(),
            })
            .await?;
    }
    Ok(())
}
