//! The two caches in front of the upcall: the per-worker exact-match cache
//! ([`emc`]) and the megaflow classifier ([`megaflow`]).
