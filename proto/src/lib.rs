//! # proto: the switchd gRPC API
//!
//! The schema lives in `switchd/v1/switchd.proto` (package `switchd.v1`);
//! `build.rs` generates the prost messages and the tonic clients and
//! servers from it with a vendored `protoc`, so no system package is
//! needed. The one idea: the version is in the package name. Fields are
//! only ever added to `v1`; an incompatible change would be a new `v2`
//! package served side by side.
//!
//! [`FILE_DESCRIPTOR_SET`] is the encoded descriptor of the schema, for the
//! gRPC reflection service (so `grpcurl` and other generic clients can
//! discover the API).

#![forbid(unsafe_code)]

/// The `switchd.v1` package: messages, `*_client` and `*_server` modules.
pub mod v1 {
    #![allow(missing_docs, clippy::all, missing_debug_implementations)]
    tonic::include_proto!("switchd.v1");
}

/// The schema's encoded `FileDescriptorSet` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchd_v1_descriptor");
