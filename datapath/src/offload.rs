//! Offload completion (being written).
