//! Packet captures: tcpdump on an interface of a host, decoded by tshark.
//!
//! The one idea: a capture is evidence read by an independent decoder.
//! [`Capture::start`] writes a pcap inside a temporary directory; after
//! [`Capture::stop`], [`Capture::count`] asks tshark how many packets
//! match a display filter (`vxlan && icmp`, `_ws.malformed`), so a test
//! can say "the underlay carried VXLAN that Wireshark decodes, with the
//! right inner frames, and nothing malformed".

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rustix::process::Signal;
use tempfile::TempDir;

use crate::daemon::Daemon;
use crate::host::Host;
use crate::run::checked;
use crate::{Error, Result};

/// A running (or stopped) tcpdump and its file.
#[derive(Debug)]
pub struct Capture {
    tcpdump: Option<Daemon>,
    _dir: TempDir,
    file: PathBuf,
}

impl Capture {
    /// Capture everything on `iface` inside `host`. `--immediate-mode` and
    /// `-U`: each packet is read and written as it arrives (by default
    /// libpcap hands packets over a ring block at a time, and the last
    /// second of traffic is lost when the capture is stopped).
    pub fn start(host: &Host, iface: &str) -> Result<Capture> {
        let dir = tempfile::Builder::new()
            .prefix("switchd-capture-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a capture directory".into(),
                source,
            })?;
        let file = dir.path().join("capture.pcap");
        let path = file.to_string_lossy().into_owned();
        let tcpdump = host.spawn(&[
            "tcpdump",
            "--immediate-mode",
            "-U",
            "-n",
            "-s",
            "0",
            "-i",
            iface,
            "-w",
            &path,
        ])?;
        // tcpdump has no readiness signal but the file it creates.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !file.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        Ok(Capture {
            tcpdump: Some(tcpdump),
            _dir: dir,
            file,
        })
    }

    /// Stop capturing (SIGINT flushes the file).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut t) = self.tcpdump.take() {
            // What is in flight reaches the file first.
            std::thread::sleep(Duration::from_millis(200));
            t.signal(Signal::INT)?;
            t.wait_timeout(Duration::from_secs(3))?;
        }
        Ok(())
    }

    /// tshark's fields `fields` of the packets matching `filter`, a line each.
    fn fields(&self, filter: &str, fields: &[&str]) -> Result<String> {
        tshark_fields(&self.file, filter, fields)
    }

    /// The bytes of each packet matching `filter`, in hex (as tshark reads them).
    pub fn frames(&self, filter: &str) -> Result<Vec<String>> {
        raw_frames(&self.file, filter)
    }

    /// The addresses, GRE key and protocol stack of the first `max` packets
    /// matching `filter` (for failure messages).
    pub fn summary(&self, filter: &str, max: usize) -> String {
        self.fields(filter, &["ip.src", "ip.dst", "gre.key", "frame.protocols"])
            .unwrap_or_else(|e| format!("{e:?}"))
            .lines()
            .take(max)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// How many captured packets tshark finds matching `filter`.
    pub fn count(&self, filter: &str) -> Result<usize> {
        let out = self.fields(filter, &["frame.number"])?;
        Ok(out.lines().filter(|l| !l.trim().is_empty()).count())
    }
}

/// tshark's fields `fields` of the packets in `file` matching `filter`
/// (pcap or pcapng), a line each, tab-separated.
pub fn tshark_fields(file: &std::path::Path, filter: &str, fields: &[&str]) -> Result<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-n", "-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    checked(&mut cmd)
}

/// The bytes of each packet in `file` matching `filter`, in hex (tshark's
/// JSON with raw bytes: `frame_raw` is [hex, offset, length, ...]).
pub fn raw_frames(file: &std::path::Path, filter: &str) -> Result<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-n", "-Y", filter, "-T", "json", "-x"]);
    let text = checked(&mut cmd)?;
    let packets: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Ok(packets
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["_source"]["layers"]["frame_raw"][0].as_str())
        .map(str::to_string)
        .collect())
}
