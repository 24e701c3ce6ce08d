//! Hold audio under simulated time: a real DTLS-SRTP participant hears the hold tune on its
//! slot 0 while held, one continuous stream across the tune's wrap-around and across the
//! agent being bridged in and out.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::Sim;
use voicedesk_media_relay::{
    HoldTune, LegId, RelayConfig, RelayError, RelayTimeouts, SlotFeed, SlotRef,
};

fn slot0(leg: LegId, source: Option<LegId>) -> SlotFeed {
    SlotFeed { slot: SlotRef { leg, slot: 0 }, source }
}

/// `who` sends one tagged packet per 20 ms for `ms` milliseconds.
fn talk(sim: &mut Sim, who: usize, tag: [u8; 4], ms: u64) {
    for _ in 0..ms / 20 {
        let now = sim.now;
        sim.participants[who].send_tagged(now, tag);
        sim.advance(Duration::from_millis(20));
    }
}

/// Every consecutive pair on slot 0 from `from` on: same SSRC, sequence +1, timestamp
/// advancing by `exact` ticks (or, when `None`, by one to three 20 ms frames).
fn assert_continuous(headers: &[(u32, u16, u32)], exact: Option<u32>) {
    for (i, pair) in headers.windows(2).enumerate() {
        assert_eq!(pair[1].0, pair[0].0, "SSRC changed at packet {}", i + 1);
        assert_eq!(pair[1].1, pair[0].1.wrapping_add(1), "sequence gap at packet {}", i + 1);
        let advance = pair[1].2.wrapping_sub(pair[0].2);
        match exact {
            Some(ticks) => assert_eq!(advance, ticks, "timestamp step at packet {}", i + 1),
            None => assert!((960..=3 * 960).contains(&advance), "timestamp step {advance} at {i}"),
        }
    }
}

fn tune_set(tune: &HoldTune) -> HashSet<Bytes> {
    tune.packets().iter().cloned().collect()
}

#[test]
fn hold_tune_plays_while_held() {
    let tune = HoldTune::builtin();
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(2);
    sim.connect_all();
    let leg = sim.leg(citizen);
    sim.relay.set_hold(leg, true).unwrap();
    assert_eq!(sim.relay.is_held(leg), Some(true));

    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.participants[citizen].payloads[0].len(), 50, "50 packets per second");
    sim.advance(Duration::from_secs(2));
    let p = &sim.participants[citizen];
    assert_eq!(p.payloads[0].len(), 150);
    assert_eq!(p.payloads[0][..], tune.packets()[..150], "the tune's packets, in order");
    assert_continuous(&p.headers[0], Some(960));
    assert!(p.payloads[1].is_empty(), "slot 1 stays silent");
    assert_eq!(sim.stats.hold_packets_sent.get(), 150);
    assert_eq!(sim.stats.rtp_forwarded.get(), 0, "hold packets are not counted as forwarded");
}

#[test]
fn hold_loops_without_gaps() {
    let tune = HoldTune::builtin();
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    sim.connect_all();
    sim.relay.set_hold(sim.leg(citizen), true).unwrap();
    let total = tune.len() + 50;
    sim.advance(Duration::from_millis(20 * total as u64));

    let p = &sim.participants[citizen];
    assert_eq!(p.payloads[0].len(), total);
    for (i, payload) in p.payloads[0].iter().enumerate() {
        assert_eq!(*payload, tune.packets()[i % tune.len()], "packet {i}");
    }
    assert_eq!(p.payloads[0][tune.len()], tune.packets()[0], "back to the first packet");
    assert_continuous(&p.headers[0], Some(960));
}

#[test]
fn hold_stops_the_instant_the_slot_is_fed() {
    let tune = tune_set(&HoldTune::builtin());
    let mut sim = Sim::new(RelayTimeouts::default());
    let (citizen, agent) = (sim.join(2), sim.join(2));
    sim.connect_all();
    let (lc, la) = (sim.leg(citizen), sim.leg(agent));
    sim.relay.set_hold(lc, true).unwrap();
    talk(&mut sim, agent, *b"AGNT", 510);
    let held = sim.participants[citizen].payloads[0].len();
    assert!(held >= 25, "{held} hold packets");
    let sent = sim.stats.hold_packets_sent.get();

    // The agent is bridged between two ticks; the next tick finds slot 0 fed.
    sim.relay.set_feeds(&[slot0(lc, Some(la)), slot0(la, Some(lc))]).unwrap();
    talk(&mut sim, agent, *b"AGNT", 1000);

    let p = &sim.participants[citizen];
    assert!(p.payloads[0][..held].iter().all(|b| tune.contains(b)));
    let after = &p.payloads[0][held..];
    assert!(after.len() >= 45, "the agent is heard: {}", after.len());
    assert!(after.iter().all(|b| !tune.contains(b)), "no hold packet after the feed");
    assert!(p.received[0][held..].iter().all(|t| t == b"AGNT"));
    assert_eq!(sim.stats.hold_packets_sent.get(), sent);
    // The agent's packets continue the hold stream: same SSRC, next sequence number,
    // timestamp advanced by the gap.
    assert_continuous(&p.headers[0], None);
}

#[test]
fn hold_resumes_when_the_feed_is_cleared() {
    let tune = HoldTune::builtin();
    let tunes = tune_set(&tune);
    let mut sim = Sim::new(RelayTimeouts::default());
    let (citizen, agent) = (sim.join(2), sim.join(2));
    sim.connect_all();
    let (lc, la) = (sim.leg(citizen), sim.leg(agent));
    sim.relay.set_hold(lc, true).unwrap();
    sim.advance(Duration::from_millis(300));
    sim.relay.set_feeds(&[slot0(lc, Some(la))]).unwrap();
    talk(&mut sim, agent, *b"AGNT", 400);
    let before_clear = sim.participants[citizen].payloads[0].len();

    // A transfer back to the queue: the agent no longer feeds the citizen, who is still held.
    sim.relay.set_feeds(&[slot0(lc, None)]).unwrap();
    talk(&mut sim, agent, *b"AGNT", 600);

    let p = &sim.participants[citizen];
    let resumed = &p.payloads[0][before_clear..];
    assert!((29..=31).contains(&resumed.len()), "{} packets in 600 ms", resumed.len());
    assert_eq!(resumed[..], tune.packets()[..resumed.len()], "the tune starts over");
    assert!(p.payloads[0][..before_clear].iter().any(|b| !tunes.contains(b)), "agent heard");
    assert_continuous(&p.headers[0], None);
}

#[test]
fn hold_off_stops_the_tune_and_a_new_hold_starts_over() {
    let tune = HoldTune::builtin();
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(2);
    sim.connect_all();
    let leg = sim.leg(citizen);
    sim.relay.set_hold(leg, true).unwrap();
    sim.advance(Duration::from_millis(400));
    sim.relay.set_hold(leg, true).unwrap(); // already held: no restart
    sim.advance(Duration::from_millis(400));
    let first = sim.participants[citizen].payloads[0].len();
    assert_eq!(sim.participants[citizen].payloads[0][..], tune.packets()[..first]);

    sim.relay.set_hold(leg, false).unwrap();
    assert_eq!(sim.relay.is_held(leg), Some(false));
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.participants[citizen].payloads[0].len(), first, "silence when not held");

    sim.relay.set_hold(leg, true).unwrap();
    sim.advance(Duration::from_millis(200));
    let p = &sim.participants[citizen];
    assert_eq!(p.payloads[0][first..], tune.packets()[..p.payloads[0].len() - first]);
    // One stream still; the timestamp covers the second of silence.
    let (last, next) = (p.headers[0][first - 1], p.headers[0][first]);
    assert_eq!(next.1, last.1.wrapping_add(1));
    assert!(next.2.wrapping_sub(last.2) >= 48_000, "timestamp advanced by the pause");
}

#[test]
fn a_held_leg_hears_nothing_until_it_connects_then_the_tune_from_its_start() {
    let tune = HoldTune::builtin();
    let mut sim = Sim::new(RelayTimeouts::default());
    let citizen = sim.join(1);
    let leg = sim.leg(citizen);
    sim.relay.set_hold(leg, true).unwrap();
    sim.connect_all();
    sim.advance(Duration::from_millis(200));
    let p = &sim.participants[citizen];
    assert!(!p.payloads[0].is_empty());
    assert_eq!(p.payloads[0][..], tune.packets()[..p.payloads[0].len()]);
}

#[test]
fn closing_a_held_leg_ends_its_hold() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let (a, b) = (sim.join(1), sim.join(1));
    sim.connect_all();
    let (la, lb) = (sim.leg(a), sim.leg(b));
    sim.relay.set_hold(la, true).unwrap();
    sim.relay.set_hold(lb, true).unwrap();
    sim.advance(Duration::from_millis(200));
    sim.relay.close_leg(la).unwrap();
    let sent = sim.stats.hold_packets_sent.get();
    sim.advance(Duration::from_millis(200));
    assert_eq!(sim.stats.hold_packets_sent.get(), sent + 10, "only the open leg gets packets");
    assert_eq!(sim.relay.set_hold(la, false), Err(RelayError::UnknownLeg(la)));
}

#[test]
fn set_hold_on_unknown_leg_is_an_error() {
    let mut sim = Sim::new(RelayTimeouts::default());
    let a = sim.join(1);
    assert_eq!(sim.relay.set_hold(LegId(999), true), Err(RelayError::UnknownLeg(LegId(999))));
    assert_eq!(sim.relay.set_hold(LegId(999), false), Err(RelayError::UnknownLeg(LegId(999))));
    assert_eq!(sim.relay.is_held(LegId(999)), None);
    assert_eq!(sim.relay.is_held(sim.leg(a)), Some(false));
}

/// The whole path with the real driver: a UDP socket, tokio timers, `RelayHandle::set_hold`.
/// About 1.5 s of real time.
#[test]
fn the_running_relay_plays_hold_audio_over_udp() {
    use rtc::sansio::Protocol;
    use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

    let tune = HoldTune::builtin();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let relay = voicedesk_media_relay::start(RelayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_ip: None,
            timeouts: RelayTimeouts::default(),
        })
        .await
        .unwrap();
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let (mut p, offer) = common::Participant::new(std::time::Instant::now(), addr, 1);
        let (leg, answer) = relay.handle.create_leg(offer, 2).await.unwrap();
        p.apply_answer(std::time::Instant::now(), answer);

        let start = std::time::Instant::now();
        let mut held_at = None;
        let mut buf = vec![0u8; 2048];
        while start.elapsed() < Duration::from_secs(5) {
            while let Some(out) = p.pc.poll_write() {
                socket.send_to(&out.message, out.transport.peer_addr).await.unwrap();
            }
            p.drain();
            if p.connected && held_at.is_none() {
                relay.handle.set_hold(leg, true).await.unwrap();
                held_at = Some(std::time::Instant::now());
            }
            if held_at.is_some_and(|t| t.elapsed() >= Duration::from_secs(1)) {
                break;
            }
            let wake = p.pc.poll_timeout().unwrap_or_else(std::time::Instant::now);
            let wait = wake
                .saturating_duration_since(std::time::Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(20));
            if let Ok(Ok((n, from))) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await
            {
                let message = TaggedBytesMut {
                    now: std::time::Instant::now(),
                    transport: TransportContext {
                        local_addr: addr,
                        peer_addr: from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: bytes::BytesMut::from(&buf[..n]),
                };
                p.pc.handle_read(message).unwrap();
            }
            let _ = p.pc.handle_timeout(std::time::Instant::now());
        }
        assert!(held_at.is_some(), "the participant connected");
        let got = p.payloads[0].len();
        assert!((45..=52).contains(&got), "{got} hold packets in one second");
        assert_eq!(p.payloads[0][..], tune.packets()[..got]);
        assert_continuous(&p.headers[0], Some(960));
        let sent = relay.handle.stats().hold_packets_sent.get() as usize;
        assert!((got..=got + 2).contains(&sent), "sent {sent}, received {got}");
        relay.handle.set_hold(leg, false).await.unwrap();
    });
}

#[test]
fn the_handle_forwards_set_hold() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let relay = voicedesk_media_relay::start(RelayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_ip: None,
            timeouts: RelayTimeouts::default(),
        })
        .await
        .unwrap();
        let result = relay.handle.set_hold(LegId(5), true).await;
        assert_eq!(result, Err(RelayError::UnknownLeg(LegId(5))));
    });
}

/// Cost of the hold tick with many held legs (relay side only: SRTP encryption of every
/// packet included, the participants' decryption excluded). Run with
/// `cargo test -p voicedesk-media-relay --release --test hold -- --ignored --nocapture`.
#[test]
#[ignore = "measurement"]
fn measure_hold_tick_cost() {
    const LEGS: usize = 100;
    let mut sim = Sim::new(RelayTimeouts::default());
    for _ in 0..LEGS {
        sim.join(1);
    }
    sim.connect_all();
    for i in 0..LEGS {
        let leg = sim.leg(i);
        sim.relay.set_hold(leg, true).unwrap();
    }
    let ticks = 500;
    let mut spent = Duration::ZERO;
    let sent = sim.stats.hold_packets_sent.get();
    for _ in 0..ticks {
        sim.now += Duration::from_millis(20);
        let start = std::time::Instant::now();
        sim.relay.handle_timeout(sim.now);
        spent += start.elapsed();
        sim.pump();
    }
    let packets = sim.stats.hold_packets_sent.get() - sent;
    assert!(packets >= (ticks * LEGS) as u64 - LEGS as u64);
    eprintln!(
        "{LEGS} held legs: {:.1} µs per tick, {:.2} µs per hold packet, {:.2}% of one core",
        spent.as_secs_f64() * 1e6 / ticks as f64,
        spent.as_secs_f64() * 1e6 / packets as f64,
        spent.as_secs_f64() / (ticks as f64 * 0.020) * 100.0
    );
}
