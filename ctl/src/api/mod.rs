//! The gRPC API (`switchd.v1`, schema in `proto/`): what orchestrators
//! and `swctl` use to drive a running switchd.
//!
//! The one idea: every service is a thin translation between protobuf and
//! the daemon's core, [`Switch`](crate::switch::Switch), which owns the
//! running bridges and the persistent store and is the one path by which
//! they change (see its essay). A service parses its request, calls the
//! core, and turns the answer or the [`SwitchError`] into a reply or a
//! status; it keeps no state of its own.
//!
//! Modules by concept: [`bridges`], [`ports`], [`flows`] (with groups and
//! meters), [`stats`], [`datapath`] (megaflows, workers), [`trace`],
//! [`tunnels`] (routes, neighbours, tunnel ports), [`events`] (the watch
//! stream), [`capture`] (live capture streams), [`mirrors`], [`sflow`], [`ipfix`], [`qos`]; [`convert`] maps structured protobuf
//! flows to OpenFlow messages; [`metrics`] is the Prometheus endpoint.
//! Open vSwitch's flow syntax lives in [`crate::syntax`].

pub mod bridges;
pub mod capture;
pub mod convert;
pub mod datapath;
pub mod events;
pub mod flows;
pub mod ipfix;
pub mod metrics;
pub mod mirrors;
pub mod ports;
pub mod qos;
pub mod serve;
pub mod sflow;
pub mod stats;
pub mod trace;
pub mod tunnels;

pub use crate::switch::Switch;

use crate::switch::SwitchError;
use proto::v1;
use std::sync::Arc;
use tonic::Status;

impl Switch {
    /// The services' way into the core: [`Switch::run`] (under the lock, on
    /// a blocking thread), answered in gRPC's terms.
    pub(crate) async fn call<R, F>(self: &Arc<Self>, f: F) -> Result<R, Status>
    where
        R: Send + 'static,
        F: FnOnce(&Switch, &mut crate::switch::Inner) -> crate::switch::SwitchResult<R>
            + Send
            + 'static,
    {
        self.run(f).await.map_err(Status::from)
    }
}

/// Each kind of refusal as one gRPC status code.
impl From<SwitchError> for Status {
    fn from(e: SwitchError) -> Status {
        match e {
            SwitchError::NotFound(m) => Status::not_found(m),
            SwitchError::AlreadyExists(m) => Status::already_exists(m),
            SwitchError::Invalid(m) => Status::invalid_argument(m),
            SwitchError::Refused(m) => Status::failed_precondition(m),
            SwitchError::Internal(m) => Status::internal(m),
        }
    }
}

/// The largest request or reply the API takes or sends. gRPC's default
/// (4 MiB) refused a 100,000-flow `add-flows` and any dump of more than
/// ~40,000 flows; a batch is applied whole, so it is one message.
pub const MAX_MESSAGE: usize = 512 << 20;

/// Every service of the API, health and reflection included, on one
/// router, built on `server` (which carries TLS settings if any). The
/// health service reports SERVING for the whole server and for each
/// `switchd.v1` service.
pub async fn router(
    switch: Arc<Switch>,
    mut server: tonic::transport::Server,
) -> Result<tonic::transport::server::Router, anyhow::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in [
        "switchd.v1.BridgeService",
        "switchd.v1.PortService",
        "switchd.v1.FlowService",
        "switchd.v1.GroupService",
        "switchd.v1.MeterService",
        "switchd.v1.StatsService",
        "switchd.v1.DatapathService",
        "switchd.v1.TraceService",
        "switchd.v1.TunnelService",
        "switchd.v1.EventService",
        "switchd.v1.CaptureService",
        "switchd.v1.MirrorService",
        "switchd.v1.SflowService",
        "switchd.v1.IpfixService",
        "",
    ] {
        reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let s = switch;
    Ok(server
        .add_service(health)
        .add_service(reflection)
        .add_service(
            v1::bridge_service_server::BridgeServiceServer::new(bridges::Bridges(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::port_service_server::PortServiceServer::new(ports::Ports(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::flow_service_server::FlowServiceServer::new(flows::Flows(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::group_service_server::GroupServiceServer::new(flows::Groups(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::meter_service_server::MeterServiceServer::new(flows::Meters(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::stats_service_server::StatsServiceServer::new(stats::Stats(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::datapath_service_server::DatapathServiceServer::new(datapath::Datapath(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::trace_service_server::TraceServiceServer::new(trace::Trace(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::tunnel_service_server::TunnelServiceServer::new(tunnels::Tunnels(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::event_service_server::EventServiceServer::new(events::Events(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::ipfix_service_server::IpfixServiceServer::new(ipfix::Ipfix(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::qos_service_server::QosServiceServer::new(qos::Qos(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::sflow_service_server::SflowServiceServer::new(sflow::Sflow(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::mirror_service_server::MirrorServiceServer::new(mirrors::Mirrors(s.clone()))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            v1::capture_service_server::CaptureServiceServer::new(capture::Captures(s))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        ))
}

/// Seconds (with fraction) since `t`.
pub(crate) fn secs_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64()
}
