//! # datapath: the fast path of switchd
//!
//! This crate moves packets. It knows packets, flow keys, caches, actions and
//! ports; it knows nothing of OpenFlow. Everything above it (ofproto, the
//! control plane) talks to it through two doors:
//!
//! * [`dpif::Dpif`], a handle to add and remove ports, put, dump and delete
//!   megaflows and read counters, in the manner of Open vSwitch's dpif;
//! * [`upcall::UpcallHandler`], the one trait the datapath calls *up* through
//!   when a packet misses every cache (or an action asks for userspace).
//!
//! The one idea to hold while reading: a packet is parsed once into a
//! fixed-layout [`flow::FlowKey`] of 64-bit words; every cache works on those
//! words (mask = AND, hash = a few multiplies), so a lookup never looks at the
//! packet bytes again.
//!
//! Module map (the life of a packet, in order): [`packet`] (buffers, batches,
//! pool) -> [`netdev`] (ports: AF_XDP, AF_PACKET, tap) -> [`flow`] (key
//! extraction, over the header views and the one header walk of [`wire`]) -> [`cache`] (exact-match cache, megaflow classifier) ->
//! [`upcall`] on a miss -> [`actions`] / [`exec`] (with [`tunnel`] push and pop) -> [`netdev`] tx (with [`capture`] taps on rx and tx), driven by
//! [`worker`] threads and managed through [`dpif`].

pub mod actions;
pub mod cache;
pub mod capture;
pub mod config;
pub mod dpif;
pub mod exec;
pub mod flow;
pub mod meter;
pub mod netdev;
pub mod offload;
pub mod packet;
pub mod pmd;
pub mod port_table;
pub mod qos;
pub mod tunnel;
pub mod upcall;
pub mod wire;
pub mod worker;

/// A datapath port number. Port numbers are small and dense; they index the
/// port table directly. `u32` so that OpenFlow port numbers map one to one.
pub type PortNo = u32;
