//! The async shell around [`RelayCore`]: one UDP socket, one task, a command channel.
//!
//! The socket has large kernel buffers ([`SOCKET_BUFFER_BYTES`]: a stall of the task must not
//! overflow it) and is read in batches: `recvmmsg` through `quinn-udp` (up to [`BATCH`]
//! datagrams per system call, GRO segments split), each batch handed to the core datagram by
//! datagram, then everything the core queued sent in batches (`sendmmsg`) before the next batch. The task returns to `select!` (commands, timers) after at most [`MAX_BATCHES`]
//! batches, so a flood cannot starve control.

use std::cell::RefCell;
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

use crate::call_recording::{CallRecording, Speaker};
use crate::core::{RelayCore, RelayTimeouts, Transmit};
use crate::metrics::{CapacityWindow, RelayStats};
use crate::recording::Recording;
use crate::routing::{LegId, SlotFeed};
use crate::{RelayError, RelayEvent};

/// Requested size of the media socket's kernel receive and send buffers. Linux caps it at
/// `net.core.rmem_max` / `wmem_max` (4 MiB on the benchmark machine: ~200 ms of traffic at
/// 20 000 datagrams/s instead of the 208 KB default's ~10 ms).
pub const SOCKET_BUFFER_BYTES: usize = 8 << 20;
/// Datagrams per `recvmmsg`.
const BATCH: usize = 32;
/// Batches read before timers get a turn (commands get one after every datagram).
const MAX_BATCHES: usize = 16;

/// Binds the media socket: large buffers, non-blocking, ready for tokio.
fn bind_socket(listen: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(listen), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&listen.into())?;
    tracing::info!(
        recv_buffer = socket.recv_buffer_size().unwrap_or(0),
        send_buffer = socket.send_buffer_size().unwrap_or(0),
        "media socket buffers"
    );
    Ok(socket.into())
}

/// How the relay is started.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The one UDP port all media uses.
    pub listen: SocketAddr,
    /// The address written into ICE candidates. Defaults to the listen address, or
    /// 127.0.0.1 when listening on all interfaces.
    pub public_ip: Option<IpAddr>,
    /// Connect and silence limits.
    pub timeouts: RelayTimeouts,
}

enum Command {
    CreateLeg {
        offer: String,
        max_slots: usize,
        /// When it was asked for (the debug log says how long it waited for the loop).
        asked: Instant,
        reply: oneshot::Sender<Result<(LegId, String), RelayError>>,
    },
    SetFeeds {
        feeds: Vec<SlotFeed>,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    CloseLeg {
        leg: LegId,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    SetHold {
        leg: LegId,
        on: bool,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    StartRecording {
        leg: LegId,
        max: Duration,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    StopRecording {
        leg: LegId,
        reply: oneshot::Sender<Result<Recording, RelayError>>,
    },
    StartCallRecording {
        id: u64,
        legs: Vec<(LegId, Speaker)>,
        max: Duration,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    AddToCallRecording {
        id: u64,
        leg: LegId,
        speaker: Speaker,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    RemoveFromCallRecording {
        leg: LegId,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
    StopCallRecording {
        id: u64,
        reply: oneshot::Sender<Result<CallRecording, RelayError>>,
    },
}

/// The control side of a running relay. Cheap to clone.
#[derive(Clone)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    stats: Arc<RelayStats>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
}

/// A started relay: its handle and the stream of leg events for the owner.
pub struct StartedRelay {
    /// Control.
    pub handle: RelayHandle,
    /// Leg events (connected, ended). The relay stops when this receiver and every handle
    /// are dropped.
    pub events: mpsc::UnboundedReceiver<RelayEvent>,
}

/// Binds the media port and spawns the relay task.
pub async fn start(config: RelayConfig) -> Result<StartedRelay, RelayError> {
    let socket = bind_socket(config.listen)
        .map_err(|e| RelayError::Io(format!("cannot bind media port {}: {e}", config.listen)))?;
    let local_addr = socket.local_addr().map_err(|e| RelayError::Io(e.to_string()))?;
    let ip = match config.public_ip {
        Some(ip) => ip,
        None if local_addr.ip().is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        None => local_addr.ip(),
    };
    let advertised = SocketAddr::new(ip, local_addr.port());
    let stats = Arc::new(RelayStats::default());
    let core = RelayCore::new(Instant::now(), advertised, config.timeouts, stats.clone())?;
    let (commands, command_rx) = mpsc::channel(1024);
    let (event_tx, events) = mpsc::unbounded_channel();
    // The packet loop gets a thread of its own (with a runtime of its own for the socket and
    // the timers), as media servers' workers do: it is busy for long stretches under load (a
    // burst of DTLS handshakes), and on the service's shared runtime it would hold up the
    // signaling tasks on its worker while they hold it up in the run queue. The kernel shares
    // the cores between it and the runtime's workers.
    let loop_stats = stats.clone();
    std::thread::Builder::new()
        .name("media-relay".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return tracing::error!(error = %e, "media relay runtime failed"),
            };
            runtime.block_on(async move {
                match UdpSocket::from_std(socket) {
                    Ok(socket) => run(core, socket, command_rx, event_tx, loop_stats).await,
                    Err(e) => tracing::error!(error = %e, "media socket setup failed"),
                }
            });
        })
        .map_err(|e| RelayError::Io(format!("cannot start the media relay thread: {e}")))?;
    tracing::info!(%local_addr, %advertised, "media relay listening");
    Ok(StartedRelay { handle: RelayHandle { commands, stats, local_addr, advertised }, events })
}

impl RelayHandle {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, RelayError>>) -> Command,
    ) -> Result<T, RelayError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(make(reply)).await.map_err(|_| RelayError::Stopped)?;
        rx.await.map_err(|_| RelayError::Stopped)?
    }

    /// Answers an offer; the new leg has as many receive slots as the offer has audio
    /// sections (at most `max_slots`).
    pub async fn create_leg(
        &self,
        offer: String,
        max_slots: usize,
    ) -> Result<(LegId, String), RelayError> {
        self.call(|reply| Command::CreateLeg { offer, max_slots, asked: Instant::now(), reply })
            .await
    }

    /// Changes routing all at once (see [`crate::RoutingTable`]).
    pub async fn set_feeds(&self, feeds: Vec<SlotFeed>) -> Result<(), RelayError> {
        self.call(|reply| Command::SetFeeds { feeds, reply }).await
    }

    /// Starts (`on`) or stops hold audio on a leg's slot 0; see [`RelayCore::set_hold`].
    pub async fn set_hold(&self, leg: LegId, on: bool) -> Result<(), RelayError> {
        self.call(|reply| Command::SetHold { leg, on, reply }).await
    }

    /// Starts (or restarts) recording a leg's inbound audio for a voice message, up to `max`;
    /// see [`RelayCore::start_recording`].
    pub async fn start_recording(&self, leg: LegId, max: Duration) -> Result<(), RelayError> {
        self.call(|reply| Command::StartRecording { leg, max, reply }).await
    }

    /// Stops recording a leg and returns the recording; see [`RelayCore::stop_recording`].
    pub async fn stop_recording(&self, leg: LegId) -> Result<Recording, RelayError> {
        self.call(|reply| Command::StopRecording { leg, reply }).await
    }

    /// Starts recording a call with its participants; see [`RelayCore::start_call_recording`].
    pub async fn start_call_recording(
        &self,
        id: u64,
        legs: Vec<(LegId, Speaker)>,
        max: Duration,
    ) -> Result<(), RelayError> {
        self.call(|reply| Command::StartCallRecording { id, legs, max, reply }).await
    }

    /// Adds a participant to a call recording; see [`RelayCore::add_to_call_recording`].
    pub async fn add_to_call_recording(
        &self,
        id: u64,
        leg: LegId,
        speaker: Speaker,
    ) -> Result<(), RelayError> {
        self.call(|reply| Command::AddToCallRecording { id, leg, speaker, reply }).await
    }

    /// A participant left its call; see [`RelayCore::remove_from_call_recording`].
    pub async fn remove_from_call_recording(&self, leg: LegId) -> Result<(), RelayError> {
        self.call(|reply| Command::RemoveFromCallRecording { leg, reply }).await
    }

    /// Stops a call recording and returns it; see [`RelayCore::stop_call_recording`].
    pub async fn stop_call_recording(&self, id: u64) -> Result<CallRecording, RelayError> {
        self.call(|reply| Command::StopCallRecording { id, reply }).await
    }

    /// Closes a leg; it stops feeding and hearing at once.
    pub async fn close_leg(&self, leg: LegId) -> Result<(), RelayError> {
        self.call(|reply| Command::CloseLeg { leg, reply }).await
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// Whether the relay task is still running.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// The bound media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address written into ICE candidates.
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }
}

/// Datagrams per `sendmmsg`.
const SEND_BATCH: usize = 64;

const NO_CONTROL: [ControlMessage<'static>; 0] = [];

/// The batch being sent, with its addresses in the kernel's form.
struct SendBatch {
    transmits: Vec<Transmit>,
    addrs: Vec<Option<SockaddrStorage>>,
}

impl SendBatch {
    fn new() -> Self {
        Self { transmits: Vec::with_capacity(SEND_BATCH), addrs: Vec::with_capacity(SEND_BATCH) }
    }
}

thread_local! {
    /// The kernel's message headers for `sendmmsg`, reused. They hold raw pointers (not
    /// `Send`), so they live per thread and are only borrowed inside one system call, never
    /// across an `await`.
    static SEND_HEADERS: RefCell<MultiHeaders<SockaddrStorage>> =
        RefCell::new(MultiHeaders::preallocate(SEND_BATCH, None));
}

/// Sends everything the core queued, [`SEND_BATCH`] datagrams per `sendmmsg`. A full send
/// buffer (rare with [`SOCKET_BUFFER_BYTES`]) waits for room; a datagram the kernel refuses
/// (unreachable peer, too large) is logged and skipped, the rest of its batch still goes.
async fn send_all(core: &mut RelayCore, socket: &UdpSocket, batch: &mut SendBatch) {
    loop {
        batch.transmits.clear();
        batch.addrs.clear();
        while batch.transmits.len() < SEND_BATCH {
            let Some(t) = core.poll_transmit() else { break };
            batch.addrs.push(Some(SockaddrStorage::from(t.to)));
            batch.transmits.push(t);
        }
        if batch.transmits.is_empty() {
            return;
        }
        let mut start = 0;
        while start < batch.transmits.len() {
            let slices: Vec<[IoSlice<'_>; 1]> =
                batch.transmits[start..].iter().map(|t| [IoSlice::new(&t.payload)]).collect();
            let addrs = &batch.addrs[start..];
            let sent = socket.try_io(Interest::WRITABLE, || {
                SEND_HEADERS.with_borrow_mut(|headers| {
                    sendmmsg(
                        socket.as_raw_fd(),
                        headers,
                        &slices,
                        addrs,
                        NO_CONTROL,
                        MsgFlags::empty(),
                    )
                    .map(|results| results.count())
                    .map_err(std::io::Error::from)
                })
            });
            match sent {
                Ok(n) => start += n.max(1),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Err(e) = socket.writable().await {
                        tracing::debug!(error = %e, "media socket not writable");
                        return;
                    }
                }
                Err(e) => {
                    // sendmmsg reports an error only for the first datagram of the batch.
                    tracing::debug!(to = %batch.transmits[start].to, error = %e, "media send failed");
                    start += 1;
                }
            }
        }
    }
}

/// How often the capacity gauges, the legs by state and the live quality are published.
const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// Publishes what the HTTP side reads about the relay once a second: legs by state, the live
/// quality of each leg, the capacity figures over the last minute.
fn publish(core: &RelayCore, stats: &RelayStats, capacity: &mut CapacityWindow) {
    let (connecting, connected) = core.legs_by_state();
    stats.legs_connecting.store(connecting as u64, Ordering::Relaxed);
    stats.legs_connected.store(connected as u64, Ordering::Relaxed);
    let live = core.leg_qualities().into_iter().collect();
    *stats.live_quality.lock().unwrap_or_else(|e| e.into_inner()) = live;
    let (rate, per_packet) = capacity.tick(stats.rtp_forwarded.get(), stats.busy_ns.get());
    stats.forwarded_per_second.set(rate);
    stats.busy_seconds_per_packet.set(per_packet);
}

/// Carries out one command and answers it.
fn apply(core: &mut RelayCore, now: Instant, command: Command) {
    match command {
        Command::CreateLeg { offer, max_slots, asked, reply } => {
            let created = core.create_leg(now, &offer, max_slots);
            tracing::debug!(
                waited_us = now.saturating_duration_since(asked).as_micros() as u64,
                create_us = now.elapsed().as_micros() as u64,
                ok = created.is_ok(),
                "leg created"
            );
            let _ = reply.send(created);
        }
        Command::SetFeeds { feeds, reply } => {
            let _ = reply.send(core.set_feeds(&feeds));
        }
        Command::CloseLeg { leg, reply } => {
            let _ = reply.send(core.close_leg(leg));
        }
        Command::SetHold { leg, on, reply } => {
            let _ = reply.send(core.set_hold(leg, on));
        }
        Command::StartRecording { leg, max, reply } => {
            let _ = reply.send(core.start_recording(leg, max));
        }
        Command::StopRecording { leg, reply } => {
            let _ = reply.send(core.stop_recording(leg));
        }
        Command::StartCallRecording { id, legs, max, reply } => {
            let _ = reply.send(core.start_call_recording(now, id, &legs, max));
        }
        Command::AddToCallRecording { id, leg, speaker, reply } => {
            let _ = reply.send(core.add_to_call_recording(id, leg, speaker));
        }
        Command::RemoveFromCallRecording { leg, reply } => {
            core.remove_from_call_recording(leg);
            let _ = reply.send(Ok(()));
        }
        Command::StopCallRecording { id, reply } => {
            let _ = reply.send(core.stop_call_recording(id));
        }
    }
}

async fn run(
    mut core: RelayCore,
    socket: UdpSocket,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<RelayEvent>,
    stats: Arc<RelayStats>,
) {
    let udp = match quinn_udp::UdpSocketState::new((&socket).into()) {
        Ok(udp) => udp,
        Err(e) => {
            tracing::error!(error = %e, "media socket setup failed");
            return;
        }
    };
    // One buffer per datagram of a batch, each large enough for a GRO train.
    let buf_len = 2048 * udp.gro_segments().max(1);
    let mut bufs = vec![0u8; buf_len * BATCH];
    let mut meta = vec![quinn_udp::RecvMeta::default(); BATCH];
    let mut send_batch = SendBatch::new();
    let mut capacity = CapacityWindow::new();
    let mut next_publish = Instant::now() + PUBLISH_INTERVAL;
    // When the loop last woke; the time from it to going back to sleep is busy time.
    let mut woke = Instant::now();
    loop {
        // The select below prefers commands and the socket; under a steady stream of
        // datagrams its timer branch could wait, so due timers (hold ticks above all) also
        // run here.
        let now = Instant::now();
        if core.poll_timeout() <= now {
            core.handle_timeout(now);
        }
        send_all(&mut core, &socket, &mut send_batch).await;
        while let Some(event) = core.poll_event() {
            let _ = events.send(event);
        }
        stats.legs_open.store(core.leg_count() as u64, Ordering::Relaxed);
        if now >= next_publish {
            next_publish = now + PUBLISH_INTERVAL;
            publish(&core, &stats, &mut capacity);
        }
        stats.busy_ns.inc_by(woke.elapsed().as_nanos() as u64);
        let deadline = tokio::time::Instant::from_std(core.poll_timeout().min(next_publish));
        tokio::select! {
            biased;
            command = commands.recv() => {
                let Some(command) = command else { break };
                let now = Instant::now();
                woke = now;
                apply(&mut core, now, command);
            }
            ready = socket.readable() => {
                woke = Instant::now();
                if let Err(e) = ready {
                    tracing::debug!(error = %e, "media socket not readable");
                    continue;
                }
                for _ in 0..MAX_BATCHES {
                    let mut iovs: Vec<IoSliceMut<'_>> =
                        bufs.chunks_mut(buf_len).map(IoSliceMut::new).collect();
                    let received = socket.try_io(Interest::READABLE, || {
                        udp.recv((&socket).into(), &mut iovs, &mut meta)
                    });
                    let n = match received {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::debug!(error = %e, "media receive failed");
                            break;
                        }
                    };
                    let now = Instant::now();
                    for (m, buf) in meta.iter().zip(iovs.iter()).take(n) {
                        if m.len == 0 {
                            // An empty datagram is still one (counted and dropped by the core).
                            core.handle_datagram(now, m.addr, &[]);
                            continue;
                        }
                        let stride = if m.stride == 0 { m.len } else { m.stride };
                        for datagram in buf[..m.len].chunks(stride.max(1)) {
                            core.handle_datagram(now, m.addr, datagram);
                            // A command waits for one datagram at most, not a batch: a leg
                            // being created (a citizen waiting for `call_queued`) must not
                            // wait behind a batch of DTLS handshakes (each costs ~0.5 ms of
                            // CPU, many times that on a busy machine). An atomic load when
                            // there is none.
                            if !commands.is_empty() {
                                while let Ok(command) = commands.try_recv() {
                                    apply(&mut core, Instant::now(), command);
                                }
                            }
                        }
                    }
                    send_all(&mut core, &socket, &mut send_batch).await;
                    stats.batch_seconds.observe(now.elapsed().as_secs_f64());
                    if n < BATCH {
                        break;
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                woke = Instant::now();
                if core.poll_timeout() <= woke {
                    core.handle_timeout(woke);
                }
            }
        }
    }
    tracing::info!("media relay stopped");
}
