//! The Nicira extensions (Open vSwitch's `NXM` fields and `NXAST` actions),
//! beside the standard codec they extend.
//!
//! Controllers written for Open vSwitch (and `ovs-ofctl` itself) speak
//! OpenFlow 1.3 plus these: registers and tunnel metadata in matches,
//! `resubmit`, `load`, `move`, `output:reg` and `note` in action lists.
//!
//! The one idea: nothing here is a second codec. A Nicira *field* is an
//! [`OxmKind`](crate::wire::oxm::OxmKind) described by one more table
//! ([`field`]), decoded by the OXM code; a Nicira *action* is an
//! [`Action::Nx`](crate::wire::action::Action::Nx) whose body
//! ([`action::NxAction`]) follows the `OFPAT_EXPERIMENTER` header with
//! vendor [`NX_VENDOR_ID`]. The pipeline maps the fields onto the datapath's
//! `FlowKey` (`pipeline::key_map`) and translation executes the actions
//! (`xlate`). The TLV table messages that name GENEVE options as
//! `tun_metadata` fields are [`tlv`].

pub mod action;
pub mod field;
pub mod tlv;

pub use action::{FieldRef, NxAction, NxSample};

/// Nicira's experimenter (vendor) id, `NX_VENDOR_ID`.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
