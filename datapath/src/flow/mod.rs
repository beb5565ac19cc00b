//! Flow keys: what a packet *is*, as far as every cache is concerned.
//!
//! [`key`] defines [`FlowKey`], a fixed `#[repr(C)]` layout of named fields
//! that is also an array of 64-bit words; a mask is a `FlowKey` whose set bits
//! say "this bit matters". [`extract`] fills a key from packet bytes.

pub mod extract;
pub mod key;

pub use extract::extract;
pub use key::{FlowKey, Mask, FLOW_WORDS};
