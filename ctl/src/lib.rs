//! # ctl: the control plane of switchd
//!
//! [`switch`] is the daemon's core: the running bridges and the persistent
//! [`store`], and the one path by which they change. Everything that asks
//! for a change translates onto it: [`api`] (the gRPC services `swctl` and
//! orchestrators use) and the OpenFlow connections (through the change path
//! each bridge gets). [`config`] reads and validates the configuration (the
//! TOML the store keeps); [`bridge`] wires one bridge together (a datapath,
//! its ports, the OpenFlow bridge, controllers, the revalidator);
//! [`port_type`] is the one table of port types (names, options, how each
//! opens); [`syntax`] reads and prints Open vSwitch's flow syntax, which the store,
//! the API and `swctl` share. [`cli`] is `swctl`. The `switchd` binary
//! (src/bin/switchd.rs) starts the core and serves the API.
//!
//! Dependencies run one way: `api -> switch -> {bridge, store, config,
//! syntax}`; nothing below `api` knows of gRPC.

#![forbid(unsafe_code)]

pub mod api;
pub mod bridge;
pub mod config;
pub mod ipfix;
pub mod mirror;
pub mod port_type;
pub mod qos;
pub mod sflow;
pub mod store;
pub mod switch;
pub mod syntax;
