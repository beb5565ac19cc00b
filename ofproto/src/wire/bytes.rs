//! Reading and writing big-endian OpenFlow fields.
//!
//! [`Reader`] walks a byte slice and turns every short read into a
//! [`WireError`] carrying the error code the caller chose for "too short"
//! (usually `BadRequest::BAD_LEN`), so decoders read like the spec's struct
//! definitions and never index out of bounds. [`Put`] appends to a `Vec<u8>`.

use super::error::{OfError, WireError, WireResult};

/// A bounds-checked big-endian reader over a slice.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    short: OfError,
}

impl<'a> Reader<'a> {
    /// Read `buf`; running short answers with `short`.
    pub fn new(buf: &'a [u8], short: OfError) -> Self {
        Reader { buf, pos: 0, short }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn short_err(&self, n: usize, what: &str) -> WireError {
        WireError::new(
            self.short,
            format!(
                "{what}: need {n} bytes at offset {}, have {}",
                self.pos,
                self.remaining()
            ),
        )
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> WireResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.short_err(n, what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> WireResult<[u8; N]> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> WireResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> WireResult<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> WireResult<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> WireResult<u64> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Skip `n` bytes (padding).
    pub fn skip(&mut self, n: usize, what: &str) -> WireResult<()> {
        self.bytes(n, what).map(|_| ())
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// A sub-reader over the next `n` bytes (for length-prefixed items).
    pub fn sub(&mut self, n: usize, what: &str) -> WireResult<Reader<'a>> {
        let short = self.short;
        Ok(Reader::new(self.bytes(n, what)?, short))
    }
}

/// Appending big-endian fields to a buffer.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_zeros(&mut self, n: usize);
    /// Pad with zeros to a multiple of 8 counted from `start`.
    fn pad_to_8(&mut self, start: usize);
    /// Overwrite a u16 at `at` (fill in a length after the body is written).
    fn set_u16(&mut self, at: usize, v: u16);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad_to_8(&mut self, start: usize) {
        let len = self.len() - start;
        self.put_zeros((8 - len % 8) % 8);
    }
    fn set_u16(&mut self, at: usize, v: u16) {
        self[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::BadRequest;

    #[test]
    fn short_reads_are_errors_with_the_chosen_code() {
        let mut r = Reader::new(&[0, 1, 2], BadRequest::BAD_LEN);
        assert_eq!(r.u16("a").unwrap(), 1);
        let e = r.u16("b").unwrap_err();
        assert_eq!(e.error, BadRequest::BAD_LEN);
        assert!(e.detail.contains("b"));
    }

    #[test]
    fn padding() {
        let mut v = vec![1u8; 3];
        v.pad_to_8(0);
        assert_eq!(v.len(), 8);
        v.pad_to_8(0);
        assert_eq!(v.len(), 8);
    }
}
