//! Abuse limits: how fast one WebSocket connection, one client address and one message ticket
//! may go. GCRA token buckets from `governor` (the project's one rate limiter): a steady rate
//! with a burst, no timer task, and keyed buckets that are pruned once they have refilled.
//!
//! Addresses are keyed by IPv4 address or IPv6 /64 (one subscriber's prefix), so an IPv6
//! client cannot step around the limit by changing its interface identifier. Behind a reverse
//! proxy every client has the proxy's address: raise the per-address limits there.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limits, as configured (flags and environment in the binary).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// WebSocket messages one connection may send per second, sustained; a burst of twice
    /// this is allowed.
    pub messages_per_connection: u32,
    /// WebSocket messages all connections of one address may send per second, sustained
    /// (burst twice this). A public office's NAT puts many citizens behind one address.
    pub messages_per_address: u32,
    /// Messages refused for speed after which the connection is closed (close code 1008);
    /// one more is forgiven every second.
    pub strikes_before_close: u32,
    /// WebSocket connections one address may open per minute (all at once, then steadily).
    pub connections_per_address_per_minute: u32,
    /// Ticket code checks one address may make per minute (`GET /api/tickets/…`, a ticket
    /// rating over HTTP or over the WebSocket).
    pub ticket_checks_per_address_per_minute: u32,
    /// Checks of one ticket per hour, from any address (guessing one message's code from many
    /// addresses).
    pub ticket_checks_per_ticket_per_hour: u32,
    /// Messages (text and voice) one citizen may leave in 24 hours.
    pub messages_per_citizen_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            messages_per_connection: 20,
            messages_per_address: 200,
            strikes_before_close: 50,
            connections_per_address_per_minute: 60,
            ticket_checks_per_address_per_minute: 10,
            ticket_checks_per_ticket_per_hour: 30,
            messages_per_citizen_per_day: 5,
        }
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

/// `n` per `period`, all of them at once if they have not been used.
fn per(period: Duration, n: u32) -> Quota {
    let n = nonzero(n);
    Quota::with_period(period / n.get()).expect("a period above zero").allow_burst(n)
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// What a message that arrived on a WebSocket may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on.
    Allowed,
    /// Refuse it with `rate_limited`; the connection stays.
    Refused,
    /// Too many refused: close the connection (1008).
    Close,
}

/// The buckets of one WebSocket connection.
pub(crate) struct ConnectionLimiter {
    messages: DefaultDirectRateLimiter,
    strikes: DefaultDirectRateLimiter,
}

/// Every shared bucket of the server.
pub(crate) struct Limiters {
    settings: RateLimits,
    messages_by_address: DefaultKeyedRateLimiter<IpAddr>,
    connections_by_address: DefaultKeyedRateLimiter<IpAddr>,
    tickets_by_address: DefaultKeyedRateLimiter<IpAddr>,
    tickets_by_ticket: DefaultKeyedRateLimiter<String>,
}

impl Limiters {
    /// Buckets for `settings`.
    pub(crate) fn new(settings: &RateLimits) -> Self {
        let per_address = nonzero(settings.messages_per_address);
        Self {
            settings: settings.clone(),
            messages_by_address: RateLimiter::keyed(
                Quota::per_second(per_address).allow_burst(nonzero(per_address.get() * 2)),
            ),
            connections_by_address: RateLimiter::keyed(per(
                Duration::from_secs(60),
                settings.connections_per_address_per_minute,
            )),
            tickets_by_address: RateLimiter::keyed(per(
                Duration::from_secs(60),
                settings.ticket_checks_per_address_per_minute,
            )),
            tickets_by_ticket: RateLimiter::keyed(per(
                Duration::from_secs(3600),
                settings.ticket_checks_per_ticket_per_hour,
            )),
        }
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &RateLimits {
        &self.settings
    }

    /// Fresh buckets for a new WebSocket connection.
    pub(crate) fn connection(&self) -> ConnectionLimiter {
        let rate = nonzero(self.settings.messages_per_connection);
        let strikes = nonzero(self.settings.strikes_before_close);
        ConnectionLimiter {
            messages: RateLimiter::direct(
                Quota::per_second(rate).allow_burst(nonzero(rate.get() * 2)),
            ),
            strikes: RateLimiter::direct(Quota::per_second(nonzero(1)).allow_burst(strikes)),
        }
    }

    /// May `ip` open another WebSocket now? `Err` says how long to wait.
    pub(crate) fn open_connection(&self, ip: IpAddr) -> Result<(), Duration> {
        check(self.connections_by_address.check_key(&address_key(ip)))
    }

    /// One WebSocket message from `ip` on the connection `conn`.
    pub(crate) fn message(&self, ip: IpAddr, conn: &ConnectionLimiter) -> Verdict {
        let allowed = conn.messages.check().is_ok()
            && self.messages_by_address.check_key(&address_key(ip)).is_ok();
        if allowed {
            Verdict::Allowed
        } else if conn.strikes.check().is_ok() {
            Verdict::Refused
        } else {
            Verdict::Close
        }
    }

    /// One check of a ticket's code from `ip`. `Err` says how long to wait. A ticket that is
    /// not well-formed is never looked up, so it counts only against the address.
    pub(crate) fn ticket_check(&self, ip: IpAddr, ticket: &str) -> Result<(), Duration> {
        check(self.tickets_by_address.check_key(&address_key(ip)))?;
        match voicedesk_store::normalize_ticket(ticket) {
            Some(ticket) => check(self.tickets_by_ticket.check_key(&ticket)),
            None => Ok(()),
        }
    }

    /// Drops the buckets that have refilled (they hold nothing a new one would not): keeps
    /// the keyed maps from growing with every address ever seen.
    pub(crate) fn forget_refilled(&self) {
        self.messages_by_address.retain_recent();
        self.connections_by_address.retain_recent();
        self.tickets_by_address.retain_recent();
        self.tickets_by_ticket.retain_recent();
        self.messages_by_address.shrink_to_fit();
        self.connections_by_address.shrink_to_fit();
        self.tickets_by_address.shrink_to_fit();
        self.tickets_by_ticket.shrink_to_fit();
    }
}

fn check<E: Into<Wait>>(result: Result<(), E>) -> Result<(), Duration> {
    result.map_err(|e| e.into().0)
}

/// How long until a refused request would be allowed.
struct Wait(Duration);

impl<P: governor::clock::Reference> From<governor::NotUntil<P>> for Wait
where
    DefaultClock: Clock<Instant = P>,
{
    fn from(not_until: governor::NotUntil<P>) -> Self {
        Wait(not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Whole seconds to tell a client to wait (`Retry-After`), at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight() -> RateLimits {
        RateLimits {
            messages_per_connection: 2,
            messages_per_address: 100,
            strikes_before_close: 3,
            connections_per_address_per_minute: 2,
            ticket_checks_per_address_per_minute: 3,
            ticket_checks_per_ticket_per_hour: 2,
            messages_per_citizen_per_day: 1,
        }
    }

    #[test]
    fn a_flooding_connection_is_refused_then_closed() {
        let limiters = Limiters::new(&tight());
        let conn = limiters.connection();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..20).map(|_| limiters.message(ip, &conn)).collect();
        assert_eq!(&verdicts[..4], &[Verdict::Allowed; 4], "a burst of twice the rate");
        assert_eq!(&verdicts[4..7], &[Verdict::Refused; 3], "then refusals, one per strike");
        assert_eq!(verdicts[7], Verdict::Close);
        // Another connection from the same address has its own bucket.
        assert_eq!(limiters.message(ip, &limiters.connection()), Verdict::Allowed);
    }

    #[test]
    fn addresses_and_tickets_have_their_own_buckets() {
        let limiters = Limiters::new(&tight());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiters.open_connection(a).is_ok());
        assert!(limiters.open_connection(a).is_ok());
        let wait = limiters.open_connection(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(limiters.open_connection(b).is_ok(), "another address is not held up");

        assert!(limiters.ticket_check(a, "ABCD-EFGH").is_ok());
        assert!(limiters.ticket_check(b, "abcd efgh").is_ok(), "the same ticket, normalised");
        assert!(limiters.ticket_check(b, "ABCD-EFGH").is_err(), "the ticket's own limit");
        assert!(limiters.ticket_check(b, "WXYZ-2345").is_ok());
        assert!(limiters.ticket_check(b, "not a ticket").is_err(), "the address's limit");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_prefix() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(two));
        assert_ne!(address_key(one), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
