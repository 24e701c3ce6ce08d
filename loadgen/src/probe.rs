//! What the load generator reads about the server and itself: CPU time and resident memory
//! from `/proc`, and counters from the server's `/metrics` page.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The relay counter of RTP packets written to receive slots (one per destination).
pub(crate) const FORWARDED_METRIC: &str = "voicedesk_relay_rtp_packets_forwarded_total";

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on every mainstream
/// Linux, which is also the fallback).
pub(crate) fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// User plus system CPU time of a whole process (every thread), from `/proc/<pid>/stat`
/// (`pid` `"self"` for this process).
pub(crate) fn cpu_time(pid: &str, ticks_per_second: u64) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| anyhow!("malformed {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .ok_or_else(|| anyhow!("short {path}"))?
            .parse::<u64>()
            .with_context(|| format!("field {} of {path}", i + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_micros(total * 1_000_000 / ticks_per_second))
}

/// Resident set size (`VmRSS`) of a process in KiB.
pub(crate) fn rss_kb(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

/// The relay counter of RTP packets received from participants (after decryption).
pub(crate) const RECEIVED_METRIC: &str = "voicedesk_relay_rtp_packets_received_total";

/// The relay counter of datagrams dropped (unknown sender, not STUN/DTLS/RTP, refused by a
/// leg's stack).
pub(crate) const DROPPED_METRIC: &str = "voicedesk_relay_datagrams_dropped_total";

/// Reads every sample of the server's `/metrics` page (Prometheus text format, no labels).
pub(crate) async fn metrics(http_base: &str) -> Result<HashMap<String, f64>> {
    let body = http_get(http_base, "/metrics").await?;
    Ok(body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_owned(), value.trim().parse::<f64>().ok()?))
        })
        .collect())
}

/// The cumulative buckets `(upper bound in seconds, count)` of one series of a histogram on a
/// `/metrics` page read by [`metrics`], ascending; `selector` is the series' labels before `le`
/// (`step="queued"`). `+Inf` is `f64::INFINITY`.
pub(crate) fn histogram_buckets(
    page: &HashMap<String, f64>,
    name: &str,
    selector: &str,
) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{{selector},le=\"");
    let mut buckets: Vec<(f64, f64)> = page
        .iter()
        .filter_map(|(key, count)| {
            let le = key.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((bound, *count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The `q`-quantile (0..1) of cumulative `buckets`, interpolated linearly inside its bucket
/// (as Prometheus' `histogram_quantile`); `None` without observations.
pub(crate) fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut below = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(below.0);
            }
            let inside = (rank - below.1) / (count - below.1).max(f64::MIN_POSITIVE);
            return Some(below.0 + (bound - below.0) * inside);
        }
        below = (bound, count);
    }
    None
}

/// One plain-HTTP GET over a fresh connection; returns the body. Enough for `/metrics`
/// (axum sends it with a Content-Length).
async fn http_get(http_base: &str, path: &str) -> Result<String> {
    let authority = http_base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("only http:// servers are supported, got {http_base:?}"))?
        .trim_end_matches('/');
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(authority))
        .await
        .map_err(|_| anyhow!("connecting to {authority} timed out"))?
        .with_context(|| format!("connecting to {authority}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| anyhow!("GET {path} did not finish within 5 s"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| anyhow!("malformed HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_owned())
}

/// CPU time of the whole machine, all cores summed, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineCpu {
    /// user + nice + system + irq + softirq: time the cores ran something.
    pub(crate) busy: Duration,
    /// Time the hypervisor ran something else while a virtual core wanted to run: the core
    /// stood still.
    pub(crate) steal: Duration,
}

/// Reads [`MachineCpu`].
pub(crate) fn machine_cpu(ticks_per_second: u64) -> Result<MachineCpu> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().ok_or_else(|| anyhow!("empty /proc/stat"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().context("a /proc/stat field"))
        .collect::<Result<_>>()?;
    if fields.len() < 8 {
        bail!("short /proc/stat cpu line");
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice — already in user/nice]
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6];
    let time = |ticks: u64| Duration::from_micros(ticks * 1_000_000 / ticks_per_second);
    Ok(MachineCpu { busy: time(busy), steal: time(fields[7]) })
}

/// The machine's UDP receive-buffer overflows (`Udp: RcvbufErrors` of `/proc/net/snmp`):
/// datagrams the kernel dropped because a socket's receive buffer was full — its owner (the
/// relay, or a leg of the load generator) did not read fast enough.
pub(crate) fn udp_rcvbuf_errors() -> Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").context("reading /proc/net/snmp")?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next(), udp.next());
    let (Some(names), Some(values)) = (names, values) else {
        bail!("no Udp lines in /proc/net/snmp")
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| anyhow!("no RcvbufErrors in /proc/net/snmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_interpolated_inside_its_bucket() {
        let page: HashMap<String, f64> = [
            ("h_bucket{step=\"queued\",le=\"0.1\"}", 50.0),
            ("h_bucket{step=\"queued\",le=\"0.2\"}", 100.0),
            ("h_bucket{step=\"queued\",le=\"+Inf\"}", 100.0),
            ("h_bucket{step=\"bridged\",le=\"0.1\"}", 7.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let buckets = histogram_buckets(&page, "h", "step=\"queued\"");
        assert_eq!(buckets, [(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)]);
        assert!((bucket_quantile(&buckets, 0.5).unwrap() - 0.1).abs() < 1e-9);
        assert!((bucket_quantile(&buckets, 0.75).unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(bucket_quantile(&[], 0.5), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let ticks = clock_ticks_per_second();
        assert!(ticks > 0);
        cpu_time("self", ticks).unwrap();
        assert!(rss_kb("self").unwrap() > 0);
        machine_cpu(ticks).unwrap();
        udp_rcvbuf_errors().unwrap();
    }
}
