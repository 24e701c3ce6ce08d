//! `voicedesk user …`: accounts from the shell, for the first administrator and for operators
//! without a browser. Works on the same store as the server (it may run meanwhile); every
//! change is in the admin audit log with the actor `shell`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use voicedesk_protocol::Role;
use voicedesk_signaling::accounts::{self, Actor, NewAccountRequest};
use voicedesk_store::Store;

/// `voicedesk user <command>`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create an account (prompts for the password twice).
    Add {
        /// Login name: 2-32 lower-case letters, digits, '.', '_' or '-'.
        username: String,
        /// agent, staff or admin.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The name in Chinese characters (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// The name in Latin letters.
        #[arg(long, default_value = "")]
        latin: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List every account.
    List,
    /// Disable an account: it cannot sign in and its sessions end; its history is kept.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Login name.
        username: String,
    },
    /// Set a new password; the user must change it at the next sign-in.
    ResetPassword {
        /// Login name.
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Forget an account's failed sign-ins and lift its lock.
    Unlock {
        /// Login name.
        username: String,
    },
}

/// Where the password comes from: a prompt (default), standard input, or generated.
#[derive(Debug, Args)]
pub(crate) struct PasswordSource {
    /// Read the password from the first line of standard input (scripts).
    #[arg(long, conflicts_with = "generate")]
    password_stdin: bool,
    /// Generate a password, print it once; the user must change it at first sign-in.
    #[arg(long)]
    generate: bool,
}

/// A member role.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Takes calls.
    Agent,
    /// Supports agents, works the inbox.
    Staff,
    /// Manages the hall.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Agent => Role::Agent,
            RoleArg::Staff => Role::Staff,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// The password to set: `Ok(None)` means generate one.
fn read_password(source: &PasswordSource) -> anyhow::Result<Option<String>> {
    if source.generate {
        return Ok(None);
    }
    if source.password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read standard input")?;
        return Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing changed");
    }
    Ok(Some(first))
}

/// Runs one `voicedesk user` command.
pub(crate) async fn run(store: &dyn Store, command: UserCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        UserCommand::Add { username, role, name, latin, password } => {
            let typed = read_password(&password)?;
            let request = NewAccountRequest {
                display_name: name.unwrap_or_else(|| username.clone()),
                username,
                name_latin: latin,
                role: role.into(),
                must_change_password: typed.is_none(),
                password: typed,
            };
            let (account, generated) = accounts::create(store, Actor::SHELL, request).await?;
            writeln!(
                out,
                "created {} ({}, {})",
                account.username,
                account.role.as_str(),
                account.display_name
            )?;
            if let Some(password) = generated {
                writeln!(out, "password: {password}  (to be changed at the first sign-in)")?;
            }
        }
        UserCommand::List => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let signed_in = store.active_sessions(now).await?;
            writeln!(
                out,
                "{:<20} {:<6} {:<9} {:<10} name",
                "username", "role", "state", "signed in"
            )?;
            for a in store.accounts().await? {
                let state = if a.disabled_at_ms.is_some() {
                    "disabled"
                } else if a.must_change_password {
                    "new-pass"
                } else {
                    "active"
                };
                let on = if signed_in.iter().any(|s| s.user_id == a.id) { "yes" } else { "" };
                let name = if a.name_latin.is_empty() {
                    a.display_name.clone()
                } else {
                    format!("{} {}", a.display_name, a.name_latin)
                };
                writeln!(
                    out,
                    "{:<20} {:<6} {:<9} {:<10} {name}",
                    a.username,
                    a.role.as_str(),
                    state,
                    on
                )?;
            }
        }
        UserCommand::Disable { username } => {
            let account = accounts::by_username(store, &username).await?;
            accounts::set_disabled(store, Actor::SHELL, &account.id, true).await?;
            writeln!(
                out,
                "disabled {username}: it cannot sign in and its sessions have ended; a console \
                 connected right now stays connected until it disconnects (Disable in the \
                 admin console closes it at once)"
            )?;
        }
        UserCommand::Enable { username } => {
            let account = accounts::by_username(store, &username).await?;
            accounts::set_disabled(store, Actor::SHELL, &account.id, false).await?;
            writeln!(out, "enabled {username}")?;
        }
        UserCommand::ResetPassword { username, password } => {
            let account = accounts::by_username(store, &username).await?;
            let typed = read_password(&password)?;
            let generated =
                accounts::reset_password(store, Actor::SHELL, &account.id, typed).await?;
            match generated {
                Some(p) => writeln!(
                    out,
                    "password of {username}: {p}  (to be changed at the next sign-in)"
                )?,
                None => {
                    writeln!(out, "password of {username} set; to be changed at the next sign-in")?
                }
            }
        }
        UserCommand::Unlock { username } => {
            let account = accounts::by_username(store, &username).await?;
            store
                .clear_sign_in_failures(&voicedesk_signaling::signin_guard::account_key(
                    &account.username,
                ))
                .await?;
            voicedesk_signaling::admin_audit::append(
                store,
                None,
                "shell",
                "user.unlock",
                &format!("user:{}", account.username),
                None,
                None,
                None,
            )
            .await;
            writeln!(out, "unlocked {username}")?;
        }
    }
    Ok(())
}
