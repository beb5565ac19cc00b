//! A sorted map whose clone costs one reference count: a B-tree of
//! `Arc`-shared nodes, the index under a [`FlowTable`](super::FlowTable).
//!
//! The pipeline is published as immutable snapshots, and the next version
//! of a table starts as a clone of the current one. A clone of a `CowTree`
//! shares every node. A change then copies only the nodes on the path from
//! the root to the entry it touches (`Arc::make_mut`), O(B log N), and the
//! old version stays intact for whoever still reads it; a node nobody else
//! holds is changed in place.
//!
//! Nodes hold at most `B` entries (a leaf) or children (a branch). A branch
//! keeps, beside each child, a key no greater than any key of that child and
//! greater than every key of the child before it; a search takes the last
//! child whose key is not above the one sought. A removal may leave that key
//! below the child's new smallest key, which keeps it true. A node that
//! drops below half full after a removal is merged with a neighbour when
//! both fit in one node; otherwise nodes may stay thin, which costs space,
//! never order.

use std::sync::Arc;

/// Most entries in a leaf, children in a branch.
const B: usize = 32;

#[derive(Debug, Clone)]
enum Node<K, V> {
    Leaf(Vec<(K, V)>),
    Branch(Vec<Child<K, V>>),
}

/// A branch's child with its lower bound.
type Child<K, V> = (K, Arc<Node<K, V>>);

impl<K, V> Node<K, V> {
    fn size(&self) -> usize {
        match self {
            Node::Leaf(es) => es.len(),
            Node::Branch(cs) => cs.len(),
        }
    }
}

/// A sorted map with O(1) clone and O(log N) get, insert and remove.
#[derive(Debug, Clone)]
pub struct CowTree<K, V> {
    root: Option<Arc<Node<K, V>>>,
    len: usize,
}

impl<K, V> Default for CowTree<K, V> {
    fn default() -> Self {
        CowTree { root: None, len: 0 }
    }
}

/// The child of a branch whose range holds `k`.
fn child_index<K: Ord, C>(cs: &[(K, C)], k: &K) -> usize {
    cs.partition_point(|c| c.0 <= *k).saturating_sub(1)
}

/// Split an over-full node's entries in two; the right half moves out.
fn split<K: Clone, T>(es: &mut Vec<(K, T)>) -> Option<(K, Vec<(K, T)>)> {
    if es.len() <= B {
        return None;
    }
    let right = es.split_off(es.len() / 2);
    Some((right[0].0.clone(), right))
}

impl<K: Ord + Clone, V: Clone> CowTree<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        let mut node = self.root.as_deref()?;
        loop {
            match node {
                Node::Leaf(es) => {
                    return es.binary_search_by(|e| e.0.cmp(k)).ok().map(|i| &es[i].1);
                }
                Node::Branch(cs) => node = &cs[child_index(cs, k)].1,
            }
        }
    }

    /// Insert or replace; returns the value replaced.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let Some(root) = self.root.as_mut() else {
            self.root = Some(Arc::new(Node::Leaf(vec![(k, v)])));
            self.len = 1;
            return None;
        };
        let (old, split) = Self::insert_into(root, k, v);
        if let Some((rk, right)) = split {
            let left = std::mem::replace(root, Arc::new(Node::Branch(Vec::new())));
            let lk = Self::first_key(&left).clone();
            *root = Arc::new(Node::Branch(vec![(lk, left), (rk, right)]));
        }
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    fn first_key(node: &Node<K, V>) -> &K {
        match node {
            Node::Leaf(es) => &es[0].0,
            Node::Branch(cs) => &cs[0].0,
        }
    }

    /// Insert below `node`; returns the value replaced and, if `node`
    /// split, its new right sibling.
    fn insert_into(node: &mut Arc<Node<K, V>>, k: K, v: V) -> (Option<V>, Option<Child<K, V>>) {
        match Arc::make_mut(node) {
            Node::Leaf(es) => match es.binary_search_by(|e| e.0.cmp(&k)) {
                Ok(i) => (Some(std::mem::replace(&mut es[i].1, v)), None),
                Err(i) => {
                    es.insert(i, (k, v));
                    let s = split(es).map(|(rk, r)| (rk, Arc::new(Node::Leaf(r))));
                    (None, s)
                }
            },
            Node::Branch(cs) => {
                let i = child_index(cs, &k);
                if k < cs[i].0 {
                    // Only the first child can be asked to take a key below
                    // its own: lower the bound.
                    cs[i].0 = k.clone();
                }
                let (old, s) = Self::insert_into(&mut cs[i].1, k, v);
                if let Some(s) = s {
                    cs.insert(i + 1, s);
                }
                let s = split(cs).map(|(rk, r)| (rk, Arc::new(Node::Branch(r))));
                (old, s)
            }
        }
    }

    /// Remove `k`; returns its value. A key that is absent copies nothing.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.get(k)?;
        let root = self.root.as_mut()?;
        let old = Self::remove_from(root, k);
        if old.is_some() {
            self.len -= 1;
        }
        // Drop levels with a single child, and an empty root.
        while let Some(root) = self.root.as_ref() {
            match &**root {
                Node::Branch(cs) if cs.len() == 1 => {
                    let only = cs[0].1.clone();
                    self.root = Some(only);
                }
                n if n.size() == 0 => self.root = None,
                _ => break,
            }
        }
        old
    }

    fn remove_from(node: &mut Arc<Node<K, V>>, k: &K) -> Option<V> {
        match Arc::make_mut(node) {
            Node::Leaf(es) => {
                let i = es.binary_search_by(|e| e.0.cmp(k)).ok()?;
                Some(es.remove(i).1)
            }
            Node::Branch(cs) => {
                let i = child_index(cs, k);
                let old = Self::remove_from(&mut cs[i].1, k)?;
                let n = cs[i].1.size();
                if n == 0 {
                    cs.remove(i);
                } else if n < B / 2 && cs.len() > 1 {
                    let a = if i + 1 < cs.len() { i } else { i - 1 };
                    if cs[a].1.size() + cs[a + 1].1.size() <= B {
                        Self::merge_next(cs, a);
                    }
                }
                Some(old)
            }
        }
    }

    /// Move child `a + 1`'s contents into child `a`.
    fn merge_next(cs: &mut Vec<Child<K, V>>, a: usize) {
        let (_, right) = cs.remove(a + 1);
        match (Arc::make_mut(&mut cs[a].1), Arc::unwrap_or_clone(right)) {
            (Node::Leaf(l), Node::Leaf(r)) => l.extend(r),
            (Node::Branch(l), Node::Branch(r)) => l.extend(r),
            // Siblings sit at the same depth: both leaves or both branches.
            _ => unreachable!("B-tree siblings of different depth"),
        }
    }

    /// A tree of `entries`, which must come in strictly increasing key
    /// order. O(N).
    pub fn from_sorted(entries: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut len = 0;
        let mut level: Vec<Child<K, V>> = Vec::new();
        let mut leaf = Vec::with_capacity(B);
        for e in entries {
            len += 1;
            leaf.push(e);
            if leaf.len() == B {
                let full = std::mem::replace(&mut leaf, Vec::with_capacity(B));
                level.push((full[0].0.clone(), Arc::new(Node::Leaf(full))));
            }
        }
        if !leaf.is_empty() {
            level.push((leaf[0].0.clone(), Arc::new(Node::Leaf(leaf))));
        }
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len() / B + 1);
            let mut group = Vec::with_capacity(B);
            for c in level {
                group.push(c);
                if group.len() == B {
                    let full = std::mem::replace(&mut group, Vec::with_capacity(B));
                    up.push((full[0].0.clone(), Arc::new(Node::Branch(full))));
                }
            }
            if !group.is_empty() {
                up.push((group[0].0.clone(), Arc::new(Node::Branch(group))));
            }
            level = up;
        }
        CowTree {
            root: level.pop().map(|(_, n)| n),
            len,
        }
    }

    /// Every entry in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        let mut it = Iter {
            stack: Vec::with_capacity(4),
            leaf: [].iter(),
        };
        if let Some(root) = self.root.as_deref() {
            it.descend(root);
        }
        it
    }

    /// Every entry in key order, as runs of adjacent entries.
    pub fn runs(&self) -> Runs<'_, K, V> {
        Runs(self.iter())
    }

    /// The entries with a key at or above `from`, in key order.
    pub fn range_from(&self, from: &K) -> Iter<'_, K, V> {
        let mut it = Iter {
            stack: Vec::with_capacity(4),
            leaf: [].iter(),
        };
        let mut node = match self.root.as_deref() {
            Some(n) => n,
            None => return it,
        };
        loop {
            match node {
                Node::Leaf(es) => {
                    let i = es.partition_point(|e| e.0 < *from);
                    it.leaf = es[i..].iter();
                    return it;
                }
                Node::Branch(cs) => {
                    let i = child_index(cs, from);
                    it.stack.push(cs[i + 1..].iter());
                    node = &cs[i].1;
                }
            }
        }
    }
}

/// In-order iterator over a [`CowTree`].
#[derive(Debug)]
pub struct Iter<'a, K, V> {
    /// For each branch on the way down, its children not yet visited.
    stack: Vec<std::slice::Iter<'a, Child<K, V>>>,
    leaf: std::slice::Iter<'a, (K, V)>,
}

impl<'a, K, V> Iter<'a, K, V> {
    /// Go down the leftmost path of `node`.
    fn descend(&mut self, mut node: &'a Node<K, V>) {
        loop {
            match node {
                Node::Leaf(es) => {
                    self.leaf = es.iter();
                    return;
                }
                Node::Branch(cs) => {
                    let mut cs = cs.iter();
                    let Some(first) = cs.next() else { return };
                    self.stack.push(cs);
                    node = &first.1;
                }
            }
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.leaf.next() {
                return Some((k, v));
            }
            self.leaf = self.next_leaf()?.iter();
        }
    }
}

impl<'a, K, V> Iter<'a, K, V> {
    /// The leaf after the current one.
    fn next_leaf(&mut self) -> Option<&'a [(K, V)]> {
        let next = loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                Some(c) => break &c.1,
                None => {
                    self.stack.pop();
                }
            }
        };
        self.descend(next);
        Some(self.leaf.as_slice())
    }
}

/// The entries of a [`CowTree`] in key order, a leaf's run at a time: a
/// scan over a slice compiles to a tighter loop than one over [`Iter`].
#[derive(Debug)]
pub struct Runs<'a, K, V>(Iter<'a, K, V>);

impl<'a, K, V> Iterator for Runs<'a, K, V> {
    type Item = &'a [(K, V)];

    fn next(&mut self) -> Option<Self::Item> {
        let run = std::mem::replace(&mut self.0.leaf, [].iter()).as_slice();
        if !run.is_empty() {
            return Some(run);
        }
        let run = self.0.next_leaf()?;
        self.0.leaf = [].iter();
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Snapshot,
        RangeFrom(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..600, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (0u16..600).prop_map(Op::Remove),
            1 => Just(Op::Snapshot),
            1 => (0u16..600).prop_map(Op::RangeFrom),
        ]
    }

    proptest! {
        /// The tree against `BTreeMap`, with old snapshots that must not
        /// change under later writes.
        #[test]
        fn holds_against_btreemap(ops in prop::collection::vec(op(), 0..2000)) {
            let mut t = CowTree::default();
            let mut m = BTreeMap::new();
            let mut snaps: Vec<(CowTree<u16, u32>, BTreeMap<u16, u32>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(t.insert(k, v), m.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(t.remove(&k), m.remove(&k)),
                    Op::Snapshot => snaps.push((t.clone(), m.clone())),
                    Op::RangeFrom(k) => {
                        let a: Vec<_> = t.range_from(&k).map(|(k, v)| (*k, *v)).collect();
                        let b: Vec<_> = m.range(k..).map(|(k, v)| (*k, *v)).collect();
                        prop_assert_eq!(a, b);
                    }
                }
                prop_assert_eq!(t.len(), m.len());
            }
            let all: Vec<_> = t.iter().map(|(k, v)| (*k, *v)).collect();
            let runs: Vec<_> = t.runs().flatten().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(&runs, &all);
            prop_assert_eq!(all, m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            for k in 0..600 {
                prop_assert_eq!(t.get(&k), m.get(&k));
            }
            for (st, sm) in snaps {
                let a: Vec<_> = st.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(a, sm.into_iter().collect::<Vec<_>>());
            }
        }

        #[test]
        fn from_sorted_builds_the_same_map(n in 0usize..3000, drop in 0usize..3000) {
            let t = CowTree::from_sorted((0..n).map(|i| (i, i * 2)));
            prop_assert_eq!(t.len(), n);
            prop_assert!(t.iter().map(|(k, v)| (*k, *v)).eq((0..n).map(|i| (i, i * 2))));
            let mut t = t;
            prop_assert_eq!(t.remove(&drop), (drop < n).then_some(drop * 2));
            prop_assert_eq!(t.insert(n, 0), None);
            prop_assert!(t.range_from(&drop).all(|(k, _)| *k >= drop));
        }
    }

    #[test]
    fn grows_and_shrinks_through_many_levels() {
        let mut t = CowTree::default();
        for i in (0..20_000u32).rev() {
            t.insert(i, i);
        }
        let snap = t.clone();
        for i in (0..20_000u32).step_by(2) {
            assert_eq!(t.remove(&i), Some(i));
        }
        assert_eq!(t.len(), 10_000);
        assert!(t.iter().map(|(k, _)| *k).eq((1..20_000).step_by(2)));
        assert_eq!(snap.len(), 20_000);
        assert!(snap.iter().map(|(k, _)| *k).eq(0..20_000));
        for i in (1..20_000u32).step_by(2) {
            assert_eq!(t.remove(&i), Some(i));
        }
        assert!(t.is_empty() && t.root.is_none());
    }
}
