//! # ofproto: the switch logic above the datapath
//!
//! What a bridge decides, in Open vSwitch's ofproto terms: the OpenFlow 1.3
//! codec with the Nicira extensions ([`wire`]), the flow tables, groups and
//! meters and their transactions ([`pipeline`]), translation of a packet
//! through them into datapath actions and a megaflow mask ([`xlate`]),
//! controller connections ([`conn`]), and the bridge that ties them to a
//! datapath as its upcall handler ([`bridge`]: NORMAL over VLAN-aware MAC
//! learning in [`mac_learning`], packet-in/out, revalidation). Around
//! translation sit the operator's functions that shape its result: native
//! tunnels with their routes and neighbours ([`tunnel`]), port mirroring
//! ([`mirror`]), sFlow sampling ([`sflow`]), IPFIX export ([`ipfix`]) and
//! the `sample` action's collector sets ([`flow_sample`]). The datapath below knows
//! none of this; the control plane above (`ctl`) configures it.

#![forbid(unsafe_code)]

pub mod bridge;
pub mod conn;
pub mod flow_sample;
pub mod intern;
pub mod ipfix;
pub mod mac_learning;
pub mod mirror;
pub mod pipeline;
pub mod sflow;
pub mod tunnel;
pub mod wire;
pub mod xlate;
