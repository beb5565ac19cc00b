//! Interning: a small number for a value that translation puts into a
//! datapath action, and the value back when the action fires.
//!
//! A datapath action carries a `u64` of user data or a `u32`
//! recirculation id, not a structure, so the bridge numbers the
//! structures (a packet-in's controller context, a frozen translation
//! state, a flow sample's collector set) and looks them up by number in
//! the upcall path. Numbers are never reused: a megaflow installed with
//! one may outlive every flow that made it. So the table only grows, and
//! each use bounds it; past the bound, `intern` says no and the caller
//! does without (the action is left out, the packet-in lost, translation
//! goes on without recirculating).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Values numbered from 0 in the order they were first seen.
#[derive(Debug)]
pub struct Interner<T> {
    table: Mutex<(HashMap<T, usize>, Vec<T>)>,
    cap: usize,
}

impl<T: Clone + Eq + Hash> Interner<T> {
    /// An empty table that numbers at most `cap` values.
    pub fn new(cap: usize) -> Self {
        Interner {
            table: Mutex::new((HashMap::new(), Vec::new())),
            cap,
        }
    }

    /// `value`'s number, given now if it is new; `None` when the table is
    /// full.
    pub fn intern(&self, value: &T) -> Option<usize> {
        let mut t = self.table.lock().ok()?;
        if let Some(&i) = t.0.get(value) {
            return Some(i);
        }
        if t.1.len() >= self.cap {
            return None;
        }
        let i = t.1.len();
        t.1.push(value.clone());
        t.0.insert(value.clone(), i);
        Some(i)
    }

    /// The value numbered `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        self.table.lock().ok()?.1.get(i).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_bounded() {
        let t = Interner::new(2);
        assert_eq!(t.intern(&"a"), Some(0));
        assert_eq!(t.intern(&"b"), Some(1));
        assert_eq!(t.intern(&"a"), Some(0));
        assert_eq!(t.intern(&"c"), None);
        assert_eq!((t.get(1), t.get(2)), (Some("b"), None));
    }
}
