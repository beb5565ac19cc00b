//! # ofproto: the switch logic above the datapath
//!
//! Today this crate holds the standalone bridge: VLAN-aware MAC learning
//! ([`mac_learning`]) and the [`standalone::LearningBridge`] upcall handler
//! that makes a bridge with no controller a learning switch (Open vSwitch's
//! `fail-mode=standalone` with the NORMAL action). The OpenFlow 1.3 codec,
//! pipeline, translation and controller connections come next (see
//! docs/DESIGN.md); NORMAL will reuse the MAC table as it is.

#![forbid(unsafe_code)]

pub mod bridge;
pub mod conn;
pub mod mac_learning;
pub mod mirror;
pub mod pipeline;
pub mod sflow;
pub mod tunnel;
pub mod wire;
pub mod xlate;
