//! `capture`: write a port's packets to a pcapng file as they cross it.
//!
//! The daemon streams copies (CaptureService); this verb writes them as
//! pcapng, which tshark, Wireshark and tcpdump read: one interface block
//! naming the port (and its bridge, OpenFlow number and MAC), then one
//! enhanced packet block per packet whose flags say the direction
//! (inbound: received from the port, outbound: sent to it), with
//! nanosecond timestamps. At the end an interface statistics block
//! records what was delivered and what was lost to a slow reader
//! (`isb_osdrop`), and a summary goes to stderr, as tcpdump prints one
//! (also on SIGINT, SIGTERM and at the end of `--duration`).
//!
//! The file is created only once the daemon accepted the capture, so a
//! refused one (unknown port, bad match) leaves nothing behind. `-w -`
//! writes to stdout, flushed per packet so `| tshark -r -` reads live;
//! a reader that goes away ends the capture quietly.

use crate::cli::args::CaptureArgs;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::interface_statistics::{
    InterfaceStatisticsBlock, InterfaceStatisticsOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use proto::v1 as api;
use proto::v1::capture_event::Kind;
use std::borrow::Cow;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// pcapng's epb_flags direction bits (inbound 01, outbound 10).
const INBOUND: u32 = 0b01;
const OUTBOUND: u32 = 0b10;
/// if_tsresol: timestamps in 10^-9 s.
const NANOSECONDS: u8 = 9;

/// The pcapng file being written.
struct PcapOut {
    writer: PcapNgWriter<Box<dyn Write + Send>>,
    /// Flush after each packet (a pipe someone reads live).
    live: bool,
}

impl PcapOut {
    fn create(path: &str, started: &api::CaptureStarted) -> Result<PcapOut, CliError> {
        let (out, live): (Box<dyn Write + Send>, bool) = if path == "-" {
            (Box::new(std::io::stdout()), true)
        } else {
            let f = std::fs::File::create(path)
                .map_err(|e| CliError::Usage(format!("cannot create {path}: {e}")))?;
            (Box::new(std::io::BufWriter::new(f)), false)
        };
        let mut writer = PcapNgWriter::new(out).map_err(write_error)?;
        let mut options = vec![
            InterfaceDescriptionOption::IfName(Cow::Owned(started.port.clone())),
            InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                "switchd bridge {} port {} (OpenFlow {})",
                started.bridge, started.port, started.ofport
            ))),
            InterfaceDescriptionOption::IfTsResol(NANOSECONDS),
        ];
        if started.mac.len() == 6 {
            options.push(InterfaceDescriptionOption::IfMacAddr(Cow::Owned(
                started.mac.clone(),
            )));
        }
        writer
            .write_pcapng_block(InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: started.snaplen,
                options,
            })
            .map_err(write_error)?;
        Ok(PcapOut { writer, live })
    }

    fn packet(&mut self, p: api::CapturedPacket) -> Result<(), CliError> {
        let flags = if p.direction == "tx" {
            OUTBOUND
        } else {
            INBOUND
        };
        self.writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(p.time_ns),
                original_len: p.orig_len,
                data: Cow::Owned(p.data),
                options: vec![EnhancedPacketOption::Flags(flags)],
            })
            .map_err(write_error)?;
        if self.live {
            self.flush()?;
        }
        Ok(())
    }

    /// Close with the statistics block (`s.captured`: packets written).
    fn finish(mut self, s: &api::CaptureStats) -> Result<(), CliError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        self.writer
            .write_pcapng_block(InterfaceStatisticsBlock {
                interface_id: 0,
                timestamp: now,
                options: vec![
                    InterfaceStatisticsOption::IsbUsrDeliv(s.captured),
                    InterfaceStatisticsOption::IsbOsDrop(s.lost),
                ],
            })
            .map_err(write_error)?;
        self.flush()
    }

    fn flush(&mut self) -> Result<(), CliError> {
        self.writer.get_mut().flush().map_err(io_error)
    }
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::Usage(format!("writing the capture: {e}"))
}

fn write_error(e: pcap_file::PcapError) -> CliError {
    match e {
        pcap_file::PcapError::IoError(e) => io_error(e),
        e => CliError::Usage(format!("writing the capture: {e}")),
    }
}

/// Did the reader of our output go away (`| head`, tshark quit)?
fn reader_gone(e: &CliError) -> bool {
    matches!(e, CliError::Usage(m) if m.contains("Broken pipe"))
}

pub async fn capture(api: &Api, a: &CaptureArgs) -> Result<(), CliError> {
    let req = api::CaptureRequest {
        port: a.port.clone(),
        rx: a.rx,
        tx: a.tx,
        count: a.count.unwrap_or(0),
        snaplen: a.snaplen,
        r#match: a.match_.clone(),
    };
    let mut stream = api
        .captures()
        .capture(req)
        .await
        .map_err(|s| CliError::status("capture", s))?
        .into_inner();
    let mut out: Option<PcapOut> = None;
    // The daemon's counters (as of its last stats message) and ours.
    let mut stats = api::CaptureStats::default();
    let mut written = 0u64;
    let run = async {
        while let Some(event) = stream
            .message()
            .await
            .map_err(|s| CliError::status("capture", s))?
        {
            match event.kind {
                Some(Kind::Started(s)) => {
                    out = Some(PcapOut::create(&a.write, &s)?);
                    eprintln!(
                        "swctl: capturing on {} (bridge {}); interrupt to stop",
                        s.port, s.bridge
                    );
                }
                Some(Kind::Packet(p)) => match out.as_mut() {
                    Some(o) => {
                        o.packet(p)?;
                        written += 1;
                    }
                    None => return Err(CliError::Usage("capture: packet before start".into())),
                },
                Some(Kind::Stats(s)) => {
                    stats = s;
                    if let Some(o) = out.as_mut() {
                        o.flush()?;
                    }
                }
                None => {}
            }
        }
        Ok(())
    };
    // Interrupt, SIGTERM and --duration end the capture as the end of the
    // stream does: the file is completed and the summary printed.
    let limit = async {
        match a.duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => std::future::pending().await,
        }
    };
    let terminated = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => s.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        r = run => r,
        _ = limit => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminated => Ok(()),
    };
    let result = match result {
        Err(e) if reader_gone(&e) => return Ok(()),
        r => r,
    };
    stats.captured = written;
    if let Some(o) = out {
        match o.finish(&stats) {
            Err(e) if reader_gone(&e) => return Ok(()),
            r => r?,
        }
    }
    eprintln!(
        "swctl: {} packets captured, {} lost (reader too slow), {} not matching",
        stats.captured, stats.lost, stats.filtered
    );
    result
}
