//! The two caches in front of the upcall.
//!
//! * [`megaflow`]: the megaflow classifier, a tuple-space search over
//!   wildcarded flows. It holds every installed [`Megaflow`].
//! * [`emc`]: the exact-match cache, a small per-worker array keyed by the
//!   full [`crate::flow::FlowKey`] that remembers which megaflow a recent
//!   micro-flow hit, so the common case is one hash and one compare.
//!
//! A megaflow is shared (`Arc`) between the classifier, the exact-match
//! caches that point at it and the dpif's dump; removing one marks it dead
//! first, so a stale exact-match entry can never resurrect it.

pub mod emc;
pub mod megaflow;

pub use emc::ExactMatchCache;
pub use megaflow::{Classifier, Megaflow, MegaflowStats};
