//! `watch`: print switchd's events as they happen.
//!
//! One line per event; with `--json` one JSON object per line (the first
//! is `{"type":"ready",...}`, sent once the subscription is in place, so
//! a script knows that later changes will be seen). `--count` and
//! `--duration` end the stream for scripts; otherwise it runs until
//! interrupted or until switchd goes away (exit status 3).

use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use proto::v1 as api;
use proto::v1::event::Kind;
use std::io::Write as _;
use std::time::Duration;

pub async fn watch(
    api: &Api,
    bridges: &[String],
    count: Option<usize>,
    duration: Option<u64>,
    as_json: bool,
) -> Result<(), CliError> {
    let run = async {
        let mut stream = api
            .events()
            .watch(api::WatchRequest {
                bridges: bridges.to_vec(),
            })
            .await
            .map_err(|s| CliError::status("watch", s))?
            .into_inner();
        let mut seen = 0usize;
        while count.is_none_or(|c| seen < c) {
            let Some(event) = stream
                .message()
                .await
                .map_err(|s| CliError::status("watch", s))?
            else {
                return Err(CliError::Unreachable {
                    target: "the API".into(),
                    why: "watch: switchd ended the event stream".into(),
                });
            };
            let ready = matches!(event.kind, Some(Kind::Ready(_)));
            let line = if as_json {
                Some(json::event(&event).to_string())
            } else if ready {
                eprintln!("swctl: watching events; interrupt to stop");
                None
            } else {
                Some(render_event(&event))
            };
            if let Some(line) = line {
                let mut out = std::io::stdout().lock();
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Ok(()) => {}
                    // The reader went away (`swctl watch | head -3`): done.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    Err(e) => return Err(CliError::Usage(format!("writing output: {e}"))),
                }
            }
            if !ready {
                seen += 1;
            }
        }
        Ok(())
    };
    match duration {
        Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), run).await {
            Ok(result) => result,
            Err(_elapsed) => Ok(()),
        },
        None => run.await,
    }
}

/// `TIME BRIDGE KIND details...`
pub fn render_event(e: &api::Event) -> String {
    let head = format!("{} {}", utc_time(e.time_ms), e.bridge);
    match &e.kind {
        Some(Kind::PortStatus(p)) => format!(
            "{head} port {} {} ofport={} link={}",
            p.reason,
            p.port,
            p.ofport,
            if p.link_up { "up" } else { "down" }
        ),
        Some(Kind::FlowRemoved(f)) => format!(
            "{head} flow-removed reason={} table={} priority={} cookie={:#x} n_packets={} n_bytes={} {}",
            f.reason, f.table, f.priority, f.cookie, f.packets, f.bytes, f.r#match
        ),
        Some(Kind::Controller(c)) => format!("{head} controllers connected={}", c.connected),
        Some(Kind::BridgeChange(b)) => format!("{head} bridge {}", b.change),
        Some(Kind::Ready(_)) => format!("{head} ready"),
        None => format!("{head} (unknown event)"),
    }
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_time(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc_time(1_798_761_599_000), "2026-12-31T23:59:59.000Z");
    }

    #[test]
    fn events_render_on_one_line() {
        let e = api::Event {
            bridge: "br0".into(),
            time_ms: 0,
            kind: Some(Kind::PortStatus(api::PortStatusEvent {
                reason: "delete".into(),
                port: "eth1".into(),
                ofport: 3,
                link_up: false,
                config: None,
            })),
        };
        assert_eq!(
            render_event(&e),
            "1970-01-01T00:00:00.000Z br0 port delete eth1 ofport=3 link=down"
        );
    }
}
