//! How the service writes its log lines: readable text, or one JSON object per line for log
//! collectors (`--log-format json`). The binary and the JSON log test build the same
//! subscriber here.
//!
//! What a line may carry: a line about a call names it in its `call` field (the call id, a
//! random UUID); legs are relay-internal numbers. Personal data — a citizen's name, phone
//! number, message text, the words of an assistant question — is never a field or part of a
//! message (`tests/tests/json_logs.rs` checks a scripted day).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when `RUST_LOG` is not set: the service at info, the WebRTC stack's chatter
/// (every refused datagram, every DTLS alert) only when it is a warning or worse.
pub const DEFAULT_FILTER: &str = "info,rtc=warn,rtc_ice=warn,rtc_dtls=error,rtc_srtp=warn";

/// `RUST_LOG` if set, else [`DEFAULT_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into())
}

/// One readable line per event, to `writer`.
pub fn text<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).finish()
}

/// One JSON object per line to `writer`: `timestamp`, `level`, `target`, the event's fields
/// at the top level (`message`, `call`, …) and the current span.
pub fn json<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .finish()
}
