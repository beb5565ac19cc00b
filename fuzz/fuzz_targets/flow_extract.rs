//! Fuzz target: flow key extraction on arbitrary frames.
//!
//! Extraction must never panic and never read outside the frame, whatever
//! the bytes. Beyond "does not crash", this checks the contract the rest of
//! the datapath relies on: every header offset in the returned `Layout` lies
//! inside the frame, in header order, and extraction is a pure function of
//! the bytes (a key that was dirty before gives the same result).
#![no_main]

use datapath::flow::extract::{extract_frame, Layout};
use datapath::flow::FlowKey;
use libfuzzer_sys::fuzz_target;

fn check_layout(layout: &Layout, len: usize) {
    let offsets = [layout.l2_5, layout.l3, layout.l4, layout.l7];
    let mut prev = 0usize;
    for off in offsets.into_iter().flatten() {
        let off = usize::from(off);
        assert!(off <= len, "offset {off} past frame end {len}: {layout:?}");
        assert!(off >= prev, "offsets out of order: {layout:?}");
        prev = off;
    }
}

fuzz_target!(|frame: &[u8]| {
    let mut key = FlowKey::default();
    let layout = extract_frame(frame, &mut key);
    check_layout(&layout, frame.len());

    // Same bytes, dirty key: same result.
    let mut again = FlowKey::exact();
    let layout_again = extract_frame(frame, &mut again);
    assert_eq!(key, again);
    assert_eq!(layout, layout_again);
});
