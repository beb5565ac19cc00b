//! The gRPC API (`switchd.v1`, schema in `proto/`): what orchestrators
//! and `swctl` use to drive a running switchd.
//!
//! The one idea: every service is a thin translation between protobuf and
//! one shared [`Switch`], which owns the running bridges and the
//! persistent [`Store`](crate::store::Store) behind a single lock. A
//! mutating call takes the lock on a blocking thread, validates the change
//! against a copy of the configuration, applies it to the running bridge,
//! persists the new configuration, and only then answers; if applying
//! fails nothing was persisted, and if persisting fails the change is
//! undone. One lock makes concurrent clients simple to reason about: each
//! call sees and leaves a consistent switch, and the store on disk is
//! always what is running.
//!
//! Modules by concept: [`bridges`], [`ports`], [`flows`] (with groups and
//! meters), [`stats`], [`datapath`] (megaflows, workers), [`trace`],
//! [`events`] (the watch stream); [`syntax`] parses and prints Open
//! vSwitch's flow syntax; [`convert`] maps structured protobuf flows to
//! OpenFlow messages; [`metrics`] is the Prometheus endpoint.

pub mod bridges;
pub mod convert;
pub mod datapath;
pub mod events;
pub mod flows;
pub mod metrics;
pub mod ports;
pub mod serve;
pub mod stats;
pub mod switch;
pub mod syntax;
pub mod trace;

pub use switch::Switch;

use proto::v1;
use std::sync::Arc;
use tonic::Status;

/// Why an API call failed; each maps to one gRPC status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An unknown bridge, port, group or meter.
    #[error("{0}")]
    NotFound(String),
    /// A name or id already in use.
    #[error("{0}")]
    AlreadyExists(String),
    /// Malformed input (names, options, flow strings).
    #[error("{0}")]
    Invalid(String),
    /// The switch refused a well-formed change (an OpenFlow error).
    #[error("{0}")]
    Refused(String),
    /// The change could not be applied or persisted.
    #[error("{0}")]
    Internal(String),
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::Invalid(m) => Status::invalid_argument(m),
            ApiError::Refused(m) => Status::failed_precondition(m),
            ApiError::Internal(m) => Status::internal(m),
        }
    }
}

impl From<syntax::SyntaxError> for ApiError {
    fn from(e: syntax::SyntaxError) -> ApiError {
        ApiError::Invalid(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

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
        "switchd.v1.EventService",
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
        .add_service(v1::bridge_service_server::BridgeServiceServer::new(
            bridges::Bridges(s.clone()),
        ))
        .add_service(v1::port_service_server::PortServiceServer::new(
            ports::Ports(s.clone()),
        ))
        .add_service(v1::flow_service_server::FlowServiceServer::new(
            flows::Flows(s.clone()),
        ))
        .add_service(v1::group_service_server::GroupServiceServer::new(
            flows::Groups(s.clone()),
        ))
        .add_service(v1::meter_service_server::MeterServiceServer::new(
            flows::Meters(s.clone()),
        ))
        .add_service(v1::stats_service_server::StatsServiceServer::new(
            stats::Stats(s.clone()),
        ))
        .add_service(v1::datapath_service_server::DatapathServiceServer::new(
            datapath::Datapath(s.clone()),
        ))
        .add_service(v1::trace_service_server::TraceServiceServer::new(
            trace::Trace(s.clone()),
        ))
        .add_service(v1::event_service_server::EventServiceServer::new(
            events::Events(s),
        )))
}

/// Seconds (with fraction) since `t`.
pub(crate) fn secs_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64()
}
