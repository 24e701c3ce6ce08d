//! `loadgen`: a load generator for voicedesk.
//!
//! `loadgen calls --server http://127.0.0.1:8080 --calls N --duration SECONDS` signs in N
//! agents (`bench-agent-1..N`, each with a connected headset, available), ramps up N citizen
//! calls through the real `/ws` protocol and real WebRTC (ICE, DTLS-SRTP) against a RUNNING
//! server, keeps them talking (Opus-sized marked RTP both ways, 50 packets/s per direction)
//! for a steady measurement window, hangs up, and prints ONE JSON object on stdout. Progress
//! goes to stderr. `loadgen reports --url postgres://…` writes a month of a million call records
//! and times the month's report. `loadgen burst --calls N --within-ms 1000` signs in N agents the
//! same way, then has N citizens send `call` within the window and reports the set-up times.
//! `loadgen chats --chats N` holds N live text chats (three per agent) and times their texts.
//! See `docs/benchmarks.md` for what every number means.
//!
//! Every media leg is a sans-I/O `rtc` peer connection driven by one thread ([`engine`]),
//! so the load generator costs far less per leg than the server it measures.

// The report is one large `json!` literal.
#![recursion_limit = "256"]

mod chats;
mod engine;
mod other;
mod probe;
mod reports;
mod scenario;
mod soak;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Drives concurrent voicedesk calls and measures the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
enum Command {
    /// N concurrent citizen ↔ agent calls: ramp up, steady window, hang up; prints one JSON object.
    Calls(scenario::CallsArgs),
    /// N agents available, then N citizens call within a short window: time to `call_queued`
    /// and `call_connected` under a burst (the hall opening at 09:00); prints one JSON object.
    Burst(scenario::BurstArgs),
    /// N concurrent live text chats, several per agent, a text every few seconds each way:
    /// delivery latency, server CPU and memory per chat; prints one JSON object.
    Chats(chats::ChatsArgs),
    /// N idle citizen WebSockets: server RSS per connection; ping → pong round trips.
    WsIdle(other::WsIdleArgs),
    /// Committed call records per second on a store (SQLite or Postgres).
    Store(other::StoreArgs),
    /// A steady churn (calls, messages, reconnects, staff joins) for minutes or hours, then the
    /// server's memory, open files, threads and live counts against their baseline.
    Soak(soak::SoakArgs),
    /// Writes a month of records (a million calls by default) into Postgres with a seeded
    /// generator, then times the month's report in every grouping.
    Reports(reports::ReportsArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rtc_dtls=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Calls(args) => runtime.block_on(scenario::run(args)),
        Command::Burst(args) => runtime.block_on(scenario::run_burst(args)),
        Command::Chats(args) => runtime.block_on(chats::run(args)),
        Command::WsIdle(args) => runtime.block_on(other::ws_idle(args)),
        Command::Store(args) => runtime.block_on(other::store(args)),
        Command::Soak(args) => runtime.block_on(soak::run(args)),
        Command::Reports(args) => runtime.block_on(reports::reports(args)),
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}
