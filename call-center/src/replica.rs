//! What a replica of the core needs besides `handle`: a digest of the whole state (a standby's
//! core must equal the leader's after the same log), and the connections and media legs the
//! core knows (a new leader tells the core that those of the lost node are gone).

use std::fmt::Write as _;

use crate::core::CallCenter;
use crate::{ConnId, LegId};

impl CallCenter {
    /// The whole state as text, deterministic: two cores that handled the same inputs at the
    /// same times give the same digest, whatever `Instant` their engines were started from
    /// (the engine's instants are written as Unix milliseconds). Meant for comparing replicas
    /// (tests, `/healthz`), not for parsing. Effects not yet drained are counted, not listed.
    pub fn state_digest(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "now={:?} stopped={} next_op={} next_call={} undrained={} stats={:?}\n\
             routing={:?}\nconns={:?}\nmembers={:?}\ncalls={:?}\nplacing={:?}\nchats={:?}\n\
             legs={:?}\n\
             lost={:?}\ntimers={:?}\npending={:?}\nheld={:?}\nmessage_gate={:?}\n\
             closing={:?}\ntake_over_write={:?}\nfreed={:?}\nwallboard={:?}\n",
            self.now,
            self.stopped,
            self.next_op,
            self.next_call,
            self.effects.len(),
            self.stats,
            self.routing,
            self.conns,
            self.members,
            self.calls,
            self.placing,
            self.chats,
            self.legs,
            self.lost,
            self.timers,
            self.pending,
            self.held,
            self.message_gate,
            self.closing,
            self.take_over_write,
            self.freed_agents,
            self.wallboard,
        );
        let unix = |at: std::time::Instant| self.wall(at).0;
        for c in self.engine.calls() {
            let _ = writeln!(
                out,
                "engine call {} {:?} {} p{} {:?} parked={} agent={:?} queued={} since={} \
                 position={:?} estimate={:?} limit={}",
                c.id,
                c.service,
                c.skill,
                c.priority,
                c.phase,
                c.parked,
                c.agent,
                unix(c.queued_at),
                unix(c.phase_since),
                c.position,
                c.estimated_wait,
                c.wait_limit_reached,
            );
        }
        for a in self.engine.agents() {
            let _ = writeln!(
                out,
                "engine agent {} {:?} {:?} since={} idle={} call={:?} skills={:?} misses={} \
                 acw={:?}",
                a.id,
                a.activity,
                a.reason,
                unix(a.since),
                unix(a.idle_since),
                a.call,
                a.skills,
                a.consecutive_misses,
                a.after_call_work_until.map(unix),
            );
        }
        let _ = writeln!(out, "engine deadline={:?}", self.engine.poll_timeout().map(unix));
        out
    }

    /// Every connection the core serves, in order.
    pub fn connection_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// The citizens' connections the core serves, in order.
    pub fn citizen_connection_ids(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| matches!(c.who, crate::state::Who::Citizen(_)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every media leg the core knows (citizens' legs and headsets), in order.
    pub fn leg_ids(&self) -> Vec<LegId> {
        self.legs.keys().copied().collect()
    }
}
