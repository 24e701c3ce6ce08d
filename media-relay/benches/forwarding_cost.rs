//! What the relay core spends per forwarded packet, and how much of it is the per-packet
//! quality accounting of issue 22 (receiver statistics per leg, packet and octet counts per
//! slot for the sender reports).
//!
//! Two participants on the simulated network of the tests; A's slot-0 audio goes to B. A's
//! SRTP datagrams are made first (not timed); then the relay takes them one by one
//! (`handle_datagram`: demultiplex, decrypt, measure, rewrite, encrypt, queue) and its
//! output is drained. The accounting alone is the same per-packet work done on its own: the
//! source leg's lookup, `QualityMeter::on_packet` and the slot's two counters. Prints
//! nanoseconds per forwarded packet, the median of 7 rounds. Run:
//! `cargo bench -p voicedesk-media-relay --bench forwarding_cost` (and say the machine's load).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use common::Sim;
use rtc::sansio::Protocol;
use voicedesk_media_relay::quality::QualityMeter;
use voicedesk_media_relay::{LegId, RelayTimeouts, SlotFeed, SlotRef};

const PACKETS: usize = 20_000;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ns per forwarded packet of the whole relay core, one round.
fn relay_round() -> f64 {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (a, b) = (sim.join(2), sim.join(2));
    sim.connect_all();
    let (la, lb) = (sim.leg(a), sim.leg(b));
    sim.relay
        .set_feeds(&[SlotFeed { slot: SlotRef { leg: lb, slot: 0 }, source: Some(la) }])
        .unwrap();
    // A first packet proves the fast path's keys.
    let now = sim.now;
    sim.participants[a].send_tagged(now, *b"WARM");
    sim.advance(Duration::from_millis(20));

    let from = sim.participants[a].addr;
    let mut datagrams = Vec::with_capacity(PACKETS);
    let mut now = sim.now;
    for _ in 0..PACKETS {
        now += Duration::from_millis(20);
        sim.participants[a].send_tagged(now, *b"BENC");
        while let Some(out) = sim.participants[a].pc.poll_write() {
            datagrams.push((now, out.message));
        }
    }
    let before = sim.stats.rtp_forwarded.get();
    let started = Instant::now();
    for (at, datagram) in &datagrams {
        sim.relay.handle_datagram(*at, from, datagram);
        while let Some(t) = sim.relay.poll_transmit() {
            black_box(t);
        }
    }
    let elapsed = started.elapsed();
    let forwarded = sim.stats.rtp_forwarded.get() - before;
    assert!(forwarded as usize >= PACKETS * 99 / 100, "forwarded {forwarded}");
    elapsed.as_nanos() as f64 / forwarded as f64
}

/// ns per packet of the accounting alone, one round.
fn accounting_round() -> f64 {
    // As many legs as 500 calls, so the lookup is not a one-entry map.
    let mut legs: HashMap<LegId, (QualityMeter, u32, u32)> =
        (1..=1000).map(|i| (LegId(i), (QualityMeter::default(), 0, 0))).collect();
    let t0 = Instant::now();
    let started = Instant::now();
    for i in 0..PACKETS {
        let leg = LegId(black_box(1 + (i as u64 % 1000)));
        let now = t0 + Duration::from_millis(20 * (i as u64 / 1000));
        let (meter, packets, octets) = legs.get_mut(&leg).unwrap();
        meter.on_packet(now, 7, (i / 1000) as u16, 960 * (i / 1000) as u32);
        *packets = packets.wrapping_add(1);
        *octets = octets.wrapping_add(black_box(80));
    }
    let elapsed = started.elapsed();
    black_box(&legs);
    elapsed.as_nanos() as f64 / PACKETS as f64
}

fn main() {
    let relay = median((0..ROUNDS).map(|_| relay_round()).collect());
    let accounting = median((0..ROUNDS).map(|_| accounting_round()).collect());
    println!("relay core, whole path: {relay:.0} ns per forwarded packet");
    println!(
        "quality accounting alone: {accounting:.1} ns per packet ({:.2} % of the path)",
        accounting / relay * 100.0
    );
}
