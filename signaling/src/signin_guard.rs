//! Sign-in protection: failed sign-ins are counted per account name (as typed, known or not)
//! and per client address; past a few failures the next attempt must wait (doubling, up to
//! [`Limits::max_delay`]), past more the key is locked for [`Limits::lock`].
//!
//! - **No account-existence leak**: an unknown name is counted, slowed and locked exactly like
//!   a real one, and the refusal is the same.
//! - **Durable and shared**: the counts live in the store (`sign_in_failures`), so a restart
//!   does not reset them and every gateway of a cluster sees the same ones.
//! - **Refused attempts are not evaluated**: while slowed or locked the password is not even
//!   checked (a correct one is refused too), so guessing gains nothing.
//! - One sign-in at a time runs the check–verify–record sequence ([`SignInGuard::turn`]): argon2
//!   already runs on one thread, and serialising keeps concurrent guesses from all passing the
//!   check before any is counted.
//!
//! [`Limits`] is pure (time is an argument) and tested with fake time.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use voicedesk_store::{SignInFailures, Store, StoreError};

/// When failures under one key slow and lock further attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From this many failures on, the next attempt waits (1 s, 2 s, 4 s … per extra failure).
    pub slow_after: u32,
    /// This many failures lock the key for [`Limits::lock`].
    pub lock_after: u32,
    /// How long a lock lasts.
    pub lock: Duration,
    /// Failures older than this (since the last one) are forgotten.
    pub window: Duration,
    /// The longest wait between attempts before the lock.
    pub max_delay: Duration,
}

/// The limits per account name and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// Per account name: 3 failures slow, 8 lock for 15 minutes.
    pub account: Limits,
    /// Per client address (an office behind one NAT shares it): 10 slow, 30 lock for 15 minutes.
    pub address: Limits,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            account: Limits {
                slow_after: 3,
                lock_after: 8,
                lock: minutes(15),
                window: minutes(15),
                max_delay: Duration::from_secs(30),
            },
            address: Limits {
                slow_after: 10,
                lock_after: 30,
                lock: minutes(15),
                window: minutes(15),
                max_delay: Duration::from_secs(30),
            },
        }
    }
}

/// Whether an attempt may be evaluated now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Too soon after the last failure: try again at `until_ms`.
    Slowed {
        /// When the next attempt is evaluated.
        until_ms: i64,
    },
    /// Locked until `until_ms`.
    Locked {
        /// When the lock ends.
        until_ms: i64,
    },
}

impl Verdict {
    /// When the refused attempt may be retried (`None`: allowed).
    pub fn until_ms(self) -> Option<i64> {
        match self {
            Verdict::Allowed => None,
            Verdict::Slowed { until_ms } | Verdict::Locked { until_ms } => Some(until_ms),
        }
    }

    /// The later of two refusals (a lock wins over a slow-down ending at the same time).
    fn worse(self, other: Verdict) -> Verdict {
        match (self.until_ms(), other.until_ms()) {
            (None, _) => other,
            (_, None) => self,
            (Some(a), Some(b)) if b > a => other,
            (Some(a), Some(b)) if a == b && matches!(other, Verdict::Locked { .. }) => other,
            _ => self,
        }
    }
}

impl Limits {
    fn stale(&self, now_ms: i64, f: &SignInFailures) -> bool {
        now_ms - f.last_failure_at_ms > self.window.as_millis() as i64
            || (f.locked_until_ms != 0 && f.locked_until_ms <= now_ms)
    }

    /// Whether an attempt under a key with these failures may be evaluated at `now_ms`.
    pub fn verdict(&self, now_ms: i64, f: &SignInFailures) -> Verdict {
        if f.locked_until_ms > now_ms {
            return Verdict::Locked { until_ms: f.locked_until_ms };
        }
        if self.stale(now_ms, f) || f.failures < self.slow_after {
            return Verdict::Allowed;
        }
        let doublings = (f.failures - self.slow_after).min(16);
        let delay = Duration::from_secs(1u64 << doublings).min(self.max_delay);
        let until_ms = f.last_failure_at_ms + delay.as_millis() as i64;
        if until_ms > now_ms { Verdict::Slowed { until_ms } } else { Verdict::Allowed }
    }

    /// The failures after one more at `now_ms`, and whether that one locked the key.
    pub fn after_failure(&self, now_ms: i64, f: SignInFailures) -> (SignInFailures, bool) {
        let failures = if self.stale(now_ms, &f) { 1 } else { f.failures + 1 };
        if failures >= self.lock_after {
            let locked_until_ms = now_ms + self.lock.as_millis() as i64;
            (SignInFailures { failures: 0, last_failure_at_ms: now_ms, locked_until_ms }, true)
        } else {
            (SignInFailures { failures, last_failure_at_ms: now_ms, locked_until_ms: 0 }, false)
        }
    }
}

/// A key that a failure has just locked (for the admin audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLock {
    /// `account:<name>` or `address:<ip>`.
    pub key: String,
    /// Until when.
    pub until_ms: i64,
}

/// The store key of an account name as typed (case-insensitive, like the usernames).
pub fn account_key(username: &str) -> String {
    format!("account:{}", username.trim().to_lowercase())
}

/// The store key of a client address.
pub fn address_key(ip: IpAddr) -> String {
    format!("address:{}", ip.to_canonical())
}

/// The sign-in protection over the store.
pub struct SignInGuard {
    store: Arc<dyn Store>,
    policy: SignInPolicy,
    clock: crate::clock::Clock,
    turn: tokio::sync::Mutex<()>,
}

impl SignInGuard {
    /// A guard with `policy`, reading time from `clock`.
    pub fn new(store: Arc<dyn Store>, policy: SignInPolicy, clock: crate::clock::Clock) -> Self {
        Self { store, policy, clock, turn: tokio::sync::Mutex::new(()) }
    }

    /// Waits for this sign-in's turn; hold the guard over check, verification and recording.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Whether an attempt for `username` from `ip` may be evaluated now.
    pub async fn check(&self, username: &str, ip: IpAddr) -> Result<Verdict, StoreError> {
        let now = self.clock.now_ms();
        let account = self.store.sign_in_failures(&account_key(username)).await?;
        let address = self.store.sign_in_failures(&address_key(ip)).await?;
        let a = account.map_or(Verdict::Allowed, |f| self.policy.account.verdict(now, &f));
        let b = address.map_or(Verdict::Allowed, |f| self.policy.address.verdict(now, &f));
        Ok(a.worse(b))
    }

    /// Counts a failure for both keys; returns the locks it started and the verdict for the
    /// next attempt.
    pub async fn failed(
        &self,
        username: &str,
        ip: IpAddr,
    ) -> Result<(Vec<NewLock>, Verdict), StoreError> {
        let now = self.clock.now_ms();
        let mut locks = Vec::new();
        let mut next = Verdict::Allowed;
        for (key, limits) in
            [(account_key(username), self.policy.account), (address_key(ip), self.policy.address)]
        {
            let before = self.store.sign_in_failures(&key).await?.unwrap_or_default();
            let (after, locked) = limits.after_failure(now, before);
            self.store.put_sign_in_failures(&key, &after).await?;
            next = next.worse(limits.verdict(now, &after));
            if locked {
                locks.push(NewLock { key, until_ms: after.locked_until_ms });
            }
        }
        Ok((locks, next))
    }

    /// A successful sign-in forgets the account name's failures (the address keeps its count
    /// until its window passes: one success does not clear a guessing address).
    pub async fn succeeded(&self, username: &str) -> Result<(), StoreError> {
        self.store.clear_sign_in_failures(&account_key(username)).await
    }

    /// Forgets the failures and lock of an account name (an administrator unlocking it).
    pub async fn unlock(&self, username: &str) -> Result<(), StoreError> {
        self.store.clear_sign_in_failures(&account_key(username)).await
    }

    /// The clock the guard reads.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn fail_n(limits: &Limits, n: u32, start: i64, step: i64) -> (SignInFailures, i64, bool) {
        let mut f = SignInFailures::default();
        let mut now = start;
        let mut locked = false;
        for _ in 0..n {
            (f, locked) = limits.after_failure(now, f);
            now += step;
        }
        (f, now - step, locked)
    }

    #[test]
    fn a_few_failures_are_allowed_then_slowed_with_doubling_waits() {
        let limits = SignInPolicy::default().account;
        let (f, last, _) = fail_n(&limits, 2, 0, S);
        assert_eq!(limits.verdict(last, &f), Verdict::Allowed);
        let (f, last, _) = fail_n(&limits, 3, 0, 10 * S);
        assert_eq!(limits.verdict(last, &f), Verdict::Slowed { until_ms: last + S });
        assert_eq!(limits.verdict(last + S, &f), Verdict::Allowed);
        let (f, last, _) = fail_n(&limits, 5, 0, 10 * S);
        assert_eq!(limits.verdict(last, &f), Verdict::Slowed { until_ms: last + 4 * S });
    }

    #[test]
    fn enough_failures_lock_until_the_period_ends() {
        let limits = SignInPolicy::default().account;
        let (f, last, locked) = fail_n(&limits, limits.lock_after, 0, 60 * S);
        assert!(locked, "the last failure locks");
        let until = last + limits.lock.as_millis() as i64;
        assert_eq!(limits.verdict(last + 1, &f), Verdict::Locked { until_ms: until });
        assert_eq!(limits.verdict(until - 1, &f), Verdict::Locked { until_ms: until });
        assert_eq!(limits.verdict(until, &f), Verdict::Allowed);
        // After the lock the count starts again: one failure does not lock at once.
        let (f, locked) = limits.after_failure(until + S, f);
        assert!(!locked);
        assert_eq!(f.failures, 1);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let limits = SignInPolicy::default().account;
        let (f, last, _) = fail_n(&limits, 5, 0, S);
        let later = last + limits.window.as_millis() as i64 + 1;
        assert_eq!(limits.verdict(later, &f), Verdict::Allowed);
        assert_eq!(limits.after_failure(later, f).0.failures, 1);
    }

    #[test]
    fn the_worse_refusal_wins() {
        let slowed = Verdict::Slowed { until_ms: 10 };
        let locked = Verdict::Locked { until_ms: 100 };
        assert_eq!(Verdict::Allowed.worse(slowed), slowed);
        assert_eq!(slowed.worse(locked), locked);
        assert_eq!(locked.worse(slowed), locked);
        assert_eq!(locked.worse(Verdict::Allowed), locked);
    }

    #[test]
    fn keys_ignore_case_and_map_ipv4_in_ipv6() {
        assert_eq!(account_key(" Agent1 "), "account:agent1");
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().expect("ip");
        assert_eq!(address_key(mapped), "address:10.0.0.7");
    }
}
