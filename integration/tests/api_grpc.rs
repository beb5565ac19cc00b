//! The gRPC API end to end: a real switchd driven over its Unix socket by a
//! tonic client.
//!
//! One test walks the whole API on two namespace hosts (bridges, ports,
//! string and structured flows, dumps, stats, megaflows, trace, the event
//! stream, bad input that must change nothing), then restarts switchd after
//! SIGTERM and after SIGKILL and checks that bridges, ports and persistent
//! flows come back and traffic flows again. A second test runs 50
//! concurrent clients adding and deleting flows and checks the exact final
//! state, live and after a restart.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use proto::v1;
use proto::v1::bridge_service_client::BridgeServiceClient;
use proto::v1::datapath_service_client::DatapathServiceClient;
use proto::v1::event_service_client::EventServiceClient;
use proto::v1::flow_service_client::FlowServiceClient;
use proto::v1::port_service_client::PortServiceClient;
use proto::v1::stats_service_client::StatsServiceClient;
use proto::v1::trace_service_client::TraceServiceClient;
use switchd_integration::{switchd_binary, Daemon, Topo};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Code;

type Res<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A switchd whose state directory outlives it (for restarts).
struct ApiSwitch {
    daemon: Option<Daemon>,
    state_dir: PathBuf,
    log: PathBuf,
    runs: u32,
    extra: Vec<String>,
}

impl ApiSwitch {
    fn start(state_dir: &Path) -> Res<ApiSwitch> {
        Self::start_with(state_dir, &[])
    }

    fn start_with(state_dir: &Path, extra: &[String]) -> Res<ApiSwitch> {
        let mut s = ApiSwitch {
            daemon: None,
            state_dir: state_dir.to_path_buf(),
            log: state_dir.join("switchd-test.log"),
            runs: 0,
            extra: extra.to_vec(),
        };
        s.spawn()?;
        Ok(s)
    }

    fn socket(&self) -> PathBuf {
        self.state_dir.join("switchd.sock")
    }

    fn store(&self) -> PathBuf {
        self.state_dir.join("switchd.conf.toml")
    }

    /// (Re)start with the same state dir; an empty seed config so no
    /// default bridge (and its OpenFlow listener) is created.
    fn spawn(&mut self) -> Res {
        self.runs += 1;
        let seed = self.state_dir.join("seed.toml");
        std::fs::write(&seed, "")?;
        let log = File::options().create(true).append(true).open(&self.log)?;
        let child = Command::new(switchd_binary()?)
            .arg("--config")
            .arg(&seed)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--log")
            .arg("info")
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        self.daemon = Some(Daemon::new("switchd", child));
        let pid_file = self.state_dir.join("switchd.pid");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = std::fs::read_to_string(&pid_file)
                .is_ok_and(|t| t.trim() == pid.to_string())
                && self.socket().exists();
            if ready {
                return Ok(());
            }
            if let Some(d) = self.daemon.as_mut() {
                if let Some(st) = d.try_wait()? {
                    return Err(format!("switchd exited: {st}\n{}", self.log_text()).into());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("switchd not ready\n{}", self.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(&mut self) -> Res {
        if let Some(mut d) = self.daemon.take() {
            let (status, killed) = d.terminate()?;
            assert!(
                !killed && status.success(),
                "SIGTERM exit: {status}, killed {killed}"
            );
        }
        Ok(())
    }

    fn kill(&mut self) -> Res {
        if let Some(mut d) = self.daemon.take() {
            d.kill()?;
        }
        Ok(())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ApiSwitch {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let log = self.log_text();
        let tail = &log[log.len().saturating_sub(32 * 1024)..];
        eprintln!(
            "---- switchd log ({} runs) ----\n{tail}---- end ----",
            self.runs
        );
    }
}

/// A channel over the Unix socket.
async fn channel(sock: &Path) -> Res<Channel> {
    let sock = sock.to_path_buf();
    let ch = Endpoint::try_from("http://switchd.invalid")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let sock = sock.clone();
            async move {
                let s = tokio::net::UnixStream::connect(sock).await?;
                Ok::<_, std::io::Error>(TokioIo::new(s))
            }
        }))
        .await?;
    Ok(ch)
}

fn state_dir(topo_prefix: &str) -> Res<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("{topo_prefix}-api-"))
        .tempdir()?)
}

fn spec_req(bridge: &str, spec: &str, persistent: bool) -> v1::FlowModRequest {
    v1::FlowModRequest {
        bridge: bridge.into(),
        flow: Some(v1::flow_mod_request::Flow::Spec(spec.into())),
        strict: false,
        persistent,
    }
}

async fn dump(ch: &Channel, bridge: &str) -> Res<Vec<v1::FlowEntry>> {
    Ok(FlowServiceClient::new(ch.clone())
        .dump_flows(v1::DumpFlowsRequest {
            bridge: bridge.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .flows)
}

/// Bridges, ports and persistent flows as they came back.
async fn check_restored(ch: &Channel, a: &str, b: &str) -> Res {
    let br = BridgeServiceClient::new(ch.clone())
        .get_bridge(v1::GetBridgeRequest { name: "br0".into() })
        .await?
        .into_inner();
    assert_eq!(br.fail_mode, v1::FailMode::Secure as i32);
    let ports: Vec<(String, u32)> = br
        .ports
        .iter()
        .map(|p| (p.name.clone(), p.ofport))
        .collect();
    assert_eq!(ports, vec![(a.to_string(), 1), (b.to_string(), 2)]);
    let flows = dump(ch, "br0").await?;
    let specs: BTreeSet<&str> = flows.iter().map(|f| f.spec.as_str()).collect();
    assert_eq!(flows.len(), 2, "{specs:?}");
    assert!(flows.iter().all(|f| f.persistent));
    assert!(
        specs.contains("table=0,priority=100,in_port=1,actions=output:2"),
        "{specs:?}"
    );
    Ok(())
}

fn expect_code<T: std::fmt::Debug>(r: Result<T, tonic::Status>, code: Code, needle: &str) {
    match r {
        Ok(v) => panic!("expected {code:?} ({needle}), got {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "{s:?}");
            assert!(
                s.message().contains(needle),
                "{:?} should mention {needle:?}",
                s.message()
            );
        }
    }
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_api_drives_a_real_switch_and_survives_restarts() -> Res {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let ha = topo.add_host("a", "10.0.0.1/24")?;
    let hb = topo.add_host("b", "10.0.0.2/24")?;
    let dir = state_dir(topo.prefix())?;
    let mut sw = ApiSwitch::start(dir.path())?;
    let ch = channel(&sw.socket()).await?;

    // Health and the socket's mode.
    let health = tonic_health::pb::health_client::HealthClient::new(ch.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "switchd.v1.FlowService".into(),
        })
        .await?
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(sw.socket())?.permissions().mode() & 0o777,
        0o600
    );

    // Watch events from the start.
    let mut watch = EventServiceClient::new(ch.clone())
        .watch(v1::WatchRequest::default())
        .await?
        .into_inner();
    let first = watch.message().await?.ok_or("no ready event")?;
    assert!(matches!(first.kind, Some(v1::event::Kind::Ready(_))));
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(e)) = watch.message().await {
            if ev_tx.send(e).is_err() {
                break;
            }
        }
    });

    // A bridge with two AF_PACKET ports: a learning switch at first.
    let mut bridges = BridgeServiceClient::new(ch.clone());
    let mut ports = PortServiceClient::new(ch.clone());
    let mut flows = FlowServiceClient::new(ch.clone());
    bridges
        .create_bridge(v1::CreateBridgeRequest {
            name: "br0".into(),
            ..Default::default()
        })
        .await?;
    for h in [&ha, &hb] {
        ports
            .add_port(v1::AddPortRequest {
                bridge: "br0".into(),
                name: h.port().into(),
                r#type: "afpacket".into(),
                ..Default::default()
            })
            .await?;
    }
    let listed = ports
        .list_ports(v1::ListPortsRequest {
            bridge: "br0".into(),
        })
        .await?
        .into_inner()
        .ports;
    assert_eq!(
        listed.iter().map(|p| p.ofport).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        ha.wait_reachable(hb.ip(), Duration::from_secs(5))?,
        "learning switch"
    );

    // Secure mode: only flows forward. One as a string, one structured.
    bridges
        .set_fail_mode(v1::SetFailModeRequest {
            bridge: "br0".into(),
            fail_mode: v1::FailMode::Secure as i32,
        })
        .await?;
    flows
        .add_flow(spec_req(
            "br0",
            "priority=100,in_port=1,actions=output:2",
            true,
        ))
        .await?;
    let structured = v1::Flow {
        priority: Some(100),
        r#match: Some(v1::Match {
            in_port: Some(2),
            ..Default::default()
        }),
        instructions: vec![v1::Instruction {
            kind: Some(v1::instruction::Kind::ApplyActions(v1::ActionList {
                actions: vec![v1::Action {
                    kind: Some(v1::action::Kind::Output(v1::Output {
                        port: 1,
                        max_len: 0,
                    })),
                }],
            })),
        }],
        ..Default::default()
    };
    flows
        .add_flow(v1::FlowModRequest {
            bridge: "br0".into(),
            flow: Some(v1::flow_mod_request::Flow::Structured(structured)),
            strict: false,
            persistent: true,
        })
        .await?;
    // A transient flow that reports its removal.
    flows
        .add_flow(spec_req(
            "br0",
            "table=1,priority=5,send_flow_rem,ip,actions=drop",
            false,
        ))
        .await?;
    assert!(
        ha.wait_reachable(hb.ip(), Duration::from_secs(5))?,
        "flows forward"
    );
    let d = dump(&ch, "br0").await?;
    assert_eq!(d.len(), 3);
    assert_eq!(d.iter().filter(|f| f.persistent).count(), 2);

    // Counters, megaflows, workers, trace.
    tokio::time::sleep(Duration::from_millis(700)).await; // a revalidator pass
    let d = dump(&ch, "br0").await?;
    assert!(d.iter().any(|f| f.packets > 0), "{d:?}");
    let stats = StatsServiceClient::new(ch.clone())
        .port_stats(v1::PortStatsRequest {
            bridge: "br0".into(),
            port: String::new(),
        })
        .await?
        .into_inner();
    assert!(
        stats
            .ports
            .iter()
            .all(|p| p.rx_packets > 0 && p.tx_packets > 0),
        "{stats:?}"
    );
    let mut dp = DatapathServiceClient::new(ch.clone());
    ha.ping(hb.ip(), 1)?;
    let mf = dp
        .dump_megaflows(v1::DumpMegaflowsRequest {
            bridge: "br0".into(),
        })
        .await?
        .into_inner();
    assert!(
        mf.flows
            .iter()
            .any(|f| f.r#match.contains("in_port(") && f.actions.starts_with("output:")),
        "{mf:?}"
    );
    let ws = dp
        .worker_stats(v1::WorkerStatsRequest {
            bridge: "br0".into(),
        })
        .await?
        .into_inner();
    assert!(ws.total.as_ref().is_some_and(|t| t.rx_packets > 0));
    let tr = TraceServiceClient::new(ch.clone())
        .trace(v1::TraceRequest {
            bridge: "br0".into(),
            flow: "in_port=1,ip,nw_src=10.0.0.1,nw_dst=10.0.0.2".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(tr.steps.len(), 1, "{tr:?}");
    assert!(
        tr.steps[0].matched && tr.steps[0].rule.contains("in_port=1"),
        "{tr:?}"
    );
    assert_eq!(tr.datapath_actions, "output:2");
    assert!(tr.megaflow.contains("in_port(1)"), "{tr:?}");
    assert!(!tr.fail_open);

    // Bad input: a clear error, and nothing changes.
    let store_before = std::fs::read(sw.store())?;
    let flows_before = dump(&ch, "br0").await?.len();
    expect_code(
        flows.add_flow(spec_req("nobr", "actions=drop", true)).await,
        Code::NotFound,
        "nobr",
    );
    expect_code(
        flows
            .add_flow(spec_req("br0", "ip,nw_dst=10.0.0.300,actions=drop", true))
            .await,
        Code::InvalidArgument,
        "nw_dst=10.0.0.300",
    );
    expect_code(
        flows
            .add_flow(spec_req("br0", "in_port=1,actions=learn(table=2)", true))
            .await,
        Code::InvalidArgument,
        "learn(table=2)",
    );
    expect_code(
        flows
            .add_flow(spec_req("br0", "actions=group:77", true))
            .await,
        Code::FailedPrecondition,
        "group 77",
    );
    expect_code(
        bridges
            .create_bridge(v1::CreateBridgeRequest {
                name: "br0".into(),
                ..Default::default()
            })
            .await,
        Code::AlreadyExists,
        "br0",
    );
    expect_code(
        bridges
            .create_bridge(v1::CreateBridgeRequest {
                name: "averyveryverylongname".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "1 to 15",
    );
    expect_code(
        ports
            .add_port(v1::AddPortRequest {
                bridge: "br0".into(),
                name: ha.port().into(),
                r#type: "afpacket".into(),
                ..Default::default()
            })
            .await,
        Code::AlreadyExists,
        ha.port(),
    );
    expect_code(
        ports
            .delete_port(v1::DeletePortRequest {
                bridge: "br0".into(),
                name: "ghost0".into(),
            })
            .await,
        Code::NotFound,
        "ghost0",
    );
    expect_code(
        ports
            .add_port(v1::AddPortRequest {
                bridge: "br0".into(),
                name: "x1".into(),
                r#type: "bogus".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "bogus",
    );
    assert_eq!(
        std::fs::read(sw.store())?,
        store_before,
        "bad input changed the store"
    );
    assert_eq!(dump(&ch, "br0").await?.len(), flows_before);

    // Events: a port leaving and coming back, a flow removed.
    ports
        .delete_port(v1::DeletePortRequest {
            bridge: "br0".into(),
            name: hb.port().into(),
        })
        .await?;
    ports
        .add_port(v1::AddPortRequest {
            bridge: "br0".into(),
            name: hb.port().into(),
            r#type: "afpacket".into(),
            ofport: Some(2),
            ..Default::default()
        })
        .await?;
    let n = flows
        .delete_flows(spec_req("br0", "table=1", false))
        .await?
        .into_inner()
        .flows;
    assert_eq!(n, 1);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), ev_rx.recv()).await {
            Ok(Some(e)) => seen.push(e),
            Ok(None) => break,
            Err(_) => {}
        }
        let has = |f: &dyn Fn(&v1::event::Kind) -> bool| {
            seen.iter().any(|e| e.kind.as_ref().is_some_and(f))
        };
        if has(&|k| matches!(k, v1::event::Kind::FlowRemoved(r) if r.reason == "delete"))
            && has(&|k| matches!(k, v1::event::Kind::PortStatus(p) if p.reason == "delete"))
            && has(&|k| matches!(k, v1::event::Kind::PortStatus(p) if p.reason == "add"))
            && has(&|k| matches!(k, v1::event::Kind::BridgeChange(b) if b.change == "created"))
        {
            break;
        }
    }
    let kinds: Vec<_> = seen.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert!(
        kinds.iter().any(|k| k.contains("FlowRemoved")),
        "{kinds:#?}"
    );
    assert!(
        kinds
            .iter()
            .any(|k| k.contains("PortStatus") && k.contains("\"delete\"")),
        "{kinds:#?}"
    );
    assert!(
        kinds.iter().any(|k| k.contains("BridgeChange")),
        "{kinds:#?}"
    );
    assert!(ha.wait_reachable(hb.ip(), Duration::from_secs(5))?);

    // Restart after SIGTERM, then after SIGKILL: state and traffic return.
    drop(ch);
    sw.terminate()?;
    assert!(!sw.socket().exists(), "SIGTERM leaves no socket");
    sw.spawn()?;
    let ch = channel(&sw.socket()).await?;
    check_restored(&ch, ha.port(), hb.port()).await?;
    assert!(
        ha.wait_reachable(hb.ip(), Duration::from_secs(5))?,
        "after SIGTERM restart"
    );
    drop(ch);
    sw.kill()?;
    assert!(sw.socket().exists(), "kill -9 leaves the socket behind");
    sw.spawn()?;
    let ch = channel(&sw.socket()).await?;
    check_restored(&ch, ha.port(), hb.port()).await?;
    assert!(
        ha.wait_reachable(hb.ip(), Duration::from_secs(5))?,
        "after SIGKILL restart"
    );

    // Tear down through the API.
    let mut flows = FlowServiceClient::new(ch.clone());
    flows.delete_flows(spec_req("br0", "", false)).await?;
    assert!(dump(&ch, "br0").await?.is_empty());
    let mut ports = PortServiceClient::new(ch.clone());
    ports
        .delete_port(v1::DeletePortRequest {
            bridge: "br0".into(),
            name: ha.port().into(),
        })
        .await?;
    let mut bridges = BridgeServiceClient::new(ch.clone());
    bridges
        .delete_bridge(v1::DeleteBridgeRequest { name: "br0".into() })
        .await?;
    let left = bridges
        .list_bridges(v1::ListBridgesRequest {})
        .await?
        .into_inner()
        .bridges;
    assert!(left.is_empty());
    let stored = std::fs::read_to_string(sw.store())?;
    assert!(!stored.contains("br0"), "{stored}");
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_clients_lose_nothing() -> Res {
    let Some(topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let dir = state_dir(topo.prefix())?;
    let mut sw = ApiSwitch::start(dir.path())?;
    let ch = channel(&sw.socket()).await?;
    BridgeServiceClient::new(ch.clone())
        .create_bridge(v1::CreateBridgeRequest {
            name: "brc".into(),
            fail_mode: v1::FailMode::Secure as i32,
            ..Default::default()
        })
        .await?;
    const CLIENTS: u32 = 50;
    const PER: u32 = 6;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        // Each client has its own connection.
        let ch = channel(&sw.socket()).await?;
        tasks.push(tokio::spawn(async move {
            let mut flows = FlowServiceClient::new(ch);
            for i in 0..PER {
                let spec = format!(
                    "priority={},ip,nw_dst=10.{c}.{i}.0/24,actions=drop",
                    1000 + c
                );
                flows.add_flow(spec_req("brc", &spec, true)).await?;
            }
            // Delete the odd ones again (strict).
            for i in (1..PER).step_by(2) {
                let spec = format!("priority={},ip,nw_dst=10.{c}.{i}.0/24", 1000 + c);
                let mut r = spec_req("brc", &spec, false);
                r.strict = true;
                let n = flows.delete_flows(r).await?.into_inner().flows;
                assert_eq!(n, 1, "{spec}");
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let expected: BTreeSet<String> = (0..CLIENTS)
        .flat_map(|c| {
            (0..PER).step_by(2).map(move |i| {
                format!(
                    "table=0,priority={},ip,nw_dst=10.{c}.{i}.0/24,actions=drop",
                    1000 + c
                )
            })
        })
        .collect();
    let live: BTreeSet<String> = dump(&ch, "brc")
        .await?
        .into_iter()
        .map(|f| f.spec)
        .collect();
    assert_eq!(live, expected);
    drop(ch);
    sw.terminate()?;
    sw.spawn()?;
    let ch = channel(&sw.socket()).await?;
    let back: BTreeSet<String> = dump(&ch, "brc")
        .await?
        .into_iter()
        .map(|f| f.spec)
        .collect();
    assert_eq!(back, expected, "after restart");
    Ok(())
}

/// A CA that issues leaf certificates (PEM cert, PEM key).
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(name: &str) -> Res<Ca> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca { cert, key })
    }

    fn issue(&self, name: &str) -> Res<(String, String)> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn tls_channel(
    port: u16,
    ca: &str,
    id: Option<&(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((c, k)) = id {
        tls = tls.identity(tonic::transport::Identity::from_pem(c, k));
    }
    Endpoint::try_from(format!("https://localhost:{port}"))?
        .tls_config(tls)?
        .connect()
        .await
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_api_needs_client_certificates_and_metrics_are_served() -> Res {
    let Some(topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let dir = state_dir(topo.prefix())?;
    let ca = Ca::new("test-ca")?;
    let server = ca.issue("localhost")?;
    let client = ca.issue("orchestrator")?;
    let stranger = Ca::new("other-ca")?.issue("intruder")?;
    let pem = |name: &str, text: &str| -> Res<String> {
        let p = dir.path().join(name);
        std::fs::write(&p, text)?;
        Ok(p.display().to_string())
    };
    let (grpc, metrics) = (free_port()?, free_port()?);
    let args = vec![
        "--grpc-addr".to_string(),
        format!("127.0.0.1:{grpc}"),
        "--tls-cert".into(),
        pem("server.pem", &server.0)?,
        "--tls-key".into(),
        pem("server.key", &server.1)?,
        "--tls-client-ca".into(),
        pem("ca.pem", &ca.cert.pem())?,
        "--metrics-addr".into(),
        format!("127.0.0.1:{metrics}"),
    ];
    let _sw = ApiSwitch::start_with(dir.path(), &args)?;
    let ca_pem = ca.cert.pem();

    // A client with a certificate from the CA gets in.
    let ch = tls_channel(grpc, &ca_pem, Some(&client)).await?;
    BridgeServiceClient::new(ch.clone())
        .create_bridge(v1::CreateBridgeRequest {
            name: "brt".into(),
            ..Default::default()
        })
        .await?;
    FlowServiceClient::new(ch.clone())
        .add_flow(spec_req("brt", "priority=7,ip,actions=drop", true))
        .await?;
    // Without a certificate, or with one from another CA: refused.
    for id in [None, Some(&stranger)] {
        let refused = match tls_channel(grpc, &ca_pem, id).await {
            Err(_) => true,
            Ok(ch) => BridgeServiceClient::new(ch)
                .list_bridges(v1::ListBridgesRequest {})
                .await
                .is_err(),
        };
        assert!(refused, "a client without a valid certificate got in");
    }

    // Prometheus text exposition.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", metrics)).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(body.contains("# TYPE switchd_bridge_flows gauge"), "{body}");
    // The flow added above plus the table-miss NORMAL flow every
    // standalone bridge starts with.
    assert!(
        body.contains("switchd_bridge_flows{bridge=\"brt\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("switchd_table_flows{bridge=\"brt\",table=\"0\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("switchd_worker_rx_packets_total{bridge=\"brt\",worker=\"0\"}"),
        "{body}"
    );
    // Tunnel drops by reason, translation's and the datapath's, at zero.
    for reason in [
        "no_route",
        "unknown_key",
        "pop_geneve_critical",
        "push_too_big",
    ] {
        let sample = format!("switchd_tunnel_drops_total{{reason=\"{reason}\"}} 0");
        assert!(body.contains(&sample), "{sample} in {body}");
    }
    Ok(())
}
