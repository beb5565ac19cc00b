//! [`XKey`]: the key translation works on, the datapath's [`FlowKey`] plus
//! the pipeline state the datapath never sees.
//!
//! OpenFlow's `metadata` and Open vSwitch's sixteen registers are
//! scratch space of one translation: rules match them and actions write
//! them, but no packet carries them and no megaflow depends on them (a
//! translation that wrote `reg0` before matching it wrote the same value
//! for every packet of the megaflow). Keeping them out of `FlowKey` keeps
//! the key the exact-match cache hashes and compares per packet small;
//! keeping them in one flat, `Pod` struct with the flow key lets the
//! classifier match the whole thing word by word, as it matches a
//! `FlowKey`.
//!
//! `XKey` dereferences to its `FlowKey`, so code that reads and writes
//! packet fields does not care which key it holds; the translator's
//! megaflow mask is [`XKey::flow`] of its wildcards, and the extra words
//! are dropped there, by construction rather than by clearing fields.

use bytemuck::{Pod, Zeroable};
use datapath::flow::{FlowKey, FLOW_WORDS};
use std::ops::{Deref, DerefMut};

/// Number of registers (`reg0`..`reg15`).
pub const N_REGS: usize = 16;

/// Words in an [`XKey`]: the flow key, `metadata`, eight words of registers.
pub const XKEY_WORDS: usize = FLOW_WORDS + 1 + N_REGS / 2;

/// A flow key with translation-only state. A mask over `XKey`s is an `XKey`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default, Debug)]
pub struct XKey {
    pub flow: FlowKey,
    /// OpenFlow metadata (write-metadata, OXM_OF_METADATA).
    pub metadata: u64,
    /// `NXM_NX_REG0`..`NXM_NX_REG15`.
    pub regs: [u32; N_REGS],
}

const _: () = assert!(std::mem::size_of::<XKey>() == XKEY_WORDS * 8);

impl From<FlowKey> for XKey {
    fn from(flow: FlowKey) -> Self {
        XKey {
            flow,
            ..XKey::default()
        }
    }
}

impl Deref for XKey {
    type Target = FlowKey;
    fn deref(&self) -> &FlowKey {
        &self.flow
    }
}

impl DerefMut for XKey {
    fn deref_mut(&mut self) -> &mut FlowKey {
        &mut self.flow
    }
}

impl XKey {
    #[inline]
    pub fn words(&self) -> &[u64; XKEY_WORDS] {
        bytemuck::cast_ref(self)
    }

    #[inline]
    pub fn words_mut(&mut self) -> &mut [u64; XKEY_WORDS] {
        bytemuck::cast_mut(self)
    }

    /// `self & mask`, word by word.
    pub fn masked(&self, mask: &XKey) -> XKey {
        let mut out = *self;
        for (o, m) in out.words_mut().iter_mut().zip(mask.words()) {
            *o &= m;
        }
        out
    }

    /// True if `self` and `other` agree on every bit of `mask`.
    #[inline]
    pub fn matches(&self, other: &XKey, mask: &XKey) -> bool {
        let (a, b, m) = (self.words(), other.words(), mask.words());
        (0..XKEY_WORDS).all(|i| (a[i] ^ b[i]) & m[i] == 0)
    }

    /// Bitwise OR of two masks.
    pub fn union(&self, other: &XKey) -> XKey {
        let mut out = *self;
        for (o, b) in out.words_mut().iter_mut().zip(other.words()) {
            *o |= b;
        }
        out
    }
}

/// A match as only the words its mask has bits in: a rule looks at a few
/// of the key's words (`in_port`, `eth_type`, an address), so this is what
/// a rule stores (a million rules cost their words, not 2 x 34 each) and
/// what lookup scans.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SparseMatch(Box<[MatchWord]>);

/// One word of a [`SparseMatch`]: the key bits under a non-zero mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MatchWord {
    key: u64,
    mask: u64,
    at: u8,
}

impl SparseMatch {
    /// The match of (`key`, `mask`), word by word (key bits outside the
    /// mask are dropped).
    pub fn new(key: &XKey, mask: &XKey) -> SparseMatch {
        let (k, m) = (key.words(), mask.words());
        SparseMatch(
            (0..XKEY_WORDS)
                .filter(|&i| m[i] != 0)
                .map(|i| MatchWord {
                    key: k[i] & m[i],
                    mask: m[i],
                    at: i as u8,
                })
                .collect(),
        )
    }

    /// The first word where `key` disagrees with the match: its index and
    /// the match's mask there (what a failed lookup consulted).
    #[inline]
    pub fn first_miss(&self, key: &XKey) -> Option<(usize, u64)> {
        let k = key.words();
        self.0
            .iter()
            .find(|w| (k[usize::from(w.at)] ^ w.key) & w.mask != 0)
            .map(|w| (usize::from(w.at), w.mask))
    }

    pub fn matches(&self, key: &XKey) -> bool {
        self.first_miss(key).is_none()
    }

    /// OR the match's mask into `wc`.
    pub fn widen(&self, wc: &mut XKey) {
        let w = wc.words_mut();
        for m in self.0.iter() {
            w[usize::from(m.at)] |= m.mask;
        }
    }

    /// The match as dense (key, mask).
    pub fn key_mask(&self) -> (XKey, XKey) {
        let (mut key, mut mask) = (XKey::default(), XKey::default());
        for w in self.0.iter() {
            key.words_mut()[usize::from(w.at)] = w.key;
            mask.words_mut()[usize::from(w.at)] = w.mask;
        }
        (key, mask)
    }

    /// Could one key match both this and (`key`, `mask`)?
    pub fn overlaps(&self, key: &XKey, mask: &XKey) -> bool {
        let (k, m) = (key.words(), mask.words());
        self.0.iter().all(|w| {
            let i = usize::from(w.at);
            (w.key ^ k[i]) & w.mask & m[i] == 0
        })
    }

    /// Is this match at least as specific as (`key`, `mask`)?
    pub fn covered_by(&self, key: &XKey, mask: &XKey) -> bool {
        let (rk, rm) = self.key_mask();
        let (rk, rm, k, m) = (rk.words(), rm.words(), key.words(), mask.words());
        (0..XKEY_WORDS).all(|i| (m[i] & !rm[i]) == 0 && ((rk[i] ^ k[i]) & m[i]) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_state_is_outside_the_flow_key_words() {
        let mut k = XKey::default();
        k.regs[15] = 7;
        k.metadata = 1;
        assert!(
            k.flow.is_zero(),
            "registers and metadata are not packet bits"
        );
        k.ipv4_src = 1;
        assert_eq!(k.flow.ipv4_src, 1, "XKey derefs to its flow key");
        let mut m = XKey::default();
        m.regs[15] = u32::MAX;
        let mut other = k;
        other.regs[15] = 8;
        assert!(!k.matches(&other, &m));
        other.regs[15] = 7;
        assert!(k.matches(&other, &m));
    }

    #[test]
    fn a_sparse_match_agrees_with_the_dense_one() {
        let (mut key, mut mask) = (XKey::default(), XKey::default());
        key.ipv4_dst = 0x0a00_0001;
        mask.ipv4_dst = 0xffff_ff00;
        key.regs[3] = 9;
        mask.regs[3] = u32::MAX;
        let key = key.masked(&mask);
        let m = SparseMatch::new(&key, &mask);
        assert_eq!(m.key_mask(), (key, mask));
        let mut pkt = key;
        pkt.ipv4_dst = 0x0a00_00ff;
        pkt.tp_dst = 80;
        assert!(m.matches(&pkt) && pkt.matches(&key, &mask));
        pkt.regs[3] = 8;
        let (at, word) = m.first_miss(&pkt).unwrap();
        assert_eq!(word, mask.words()[at]);
        assert!(!pkt.matches(&key, &mask));
        let mut wc = XKey::default();
        m.widen(&mut wc);
        assert_eq!(wc, mask);
        assert!(
            SparseMatch::default().matches(&pkt),
            "the empty match matches all"
        );
    }
}
