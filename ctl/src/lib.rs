//! # ctl: the control plane of switchd
//!
//! [`config`] reads and validates the configuration (TOML, the format the
//! persistent store will keep); [`bridge`] wires a bridge together: a
//! datapath, its ports, and the handler that decides for missed packets.
//! The `switchd` binary (src/bin/switchd.rs) runs the bridges.

#![forbid(unsafe_code)]

pub mod api;
pub mod bridge;
pub mod config;
pub mod store;
