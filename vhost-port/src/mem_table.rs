//! A frontend's memory table, checked against the files behind it before
//! anything maps them.
//!
//! A vhost-user frontend shares guest memory by sending, for each region,
//! a file descriptor and the region's place in that file (`mmap_offset`,
//! `memory_size`). rust-vmm's handler maps what it is told. `mmap` itself
//! accepts a length past the end of the file, but the first access to a
//! page beyond it raises SIGBUS, which kills the whole switch: a guest
//! that claims a 1 GiB region backed by a 2 MiB memfd and points a
//! descriptor at 512 MiB would take down every bridge.
//!
//! The one idea: every byte of a region must exist in its file *when the
//! table arrives*. The relay (the only path from a guest's socket to the
//! handler) runs [`check`] on `SET_MEM_TABLE` and `ADD_MEM_REG`: each
//! region's descriptor must be a regular file (memfd, hugetlbfs, tmpfs)
//! holding `mmap_offset + memory_size` bytes, or the table is refused as a
//! guest fault and the connection closed before the handler sees it.
//!
//! What this cannot stop: a frontend that shrinks the file *after* the
//! table was accepted. A memfd sealed against shrinking (QEMU seals its
//! `memory-backend-memfd` by default) cannot be shrunk; an unsealed one can,
//! by a frontend that owns it. [`check`] reports which regions are unsealed
//! so the relay can log it; closing that hole for unsealed files needs a
//! SIGBUS handler that maps a blank page over the fault (DESIGN.md).

use crate::ring::GuestError;
use rustix::fs::{fcntl_get_seals, fstat, FileType, SealFlags};
use std::os::fd::OwnedFd;

/// `VHOST_USER_SET_MEM_TABLE`.
pub const SET_MEM_TABLE: u32 = 5;
/// `VHOST_USER_ADD_MEM_REG`.
pub const ADD_MEM_REG: u32 = 37;

/// Bytes of one region descriptor: guest physical address, size, frontend
/// virtual address, offset in the file, each a little-endian u64.
const REGION_LEN: usize = 32;
const SIZE: usize = 8;
const MMAP_OFFSET: usize = 24;
/// `SET_MEM_TABLE`: region count (u32) and padding (u32) before the regions.
const TABLE_HDR: usize = 8;
/// `ADD_MEM_REG`: padding (u64) before its one region.
const SINGLE_HDR: usize = 8;

/// What a checked table looked like.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Regions checked.
    pub regions: usize,
    /// Regions whose file can still be shrunk (no `F_SEAL_SHRINK`).
    pub unsealed: usize,
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Check the regions of a `request` whose body is `body` against the
/// descriptors that came with it. Other requests pass untouched. A body
/// too short for what it claims is left to the handler, which refuses it.
pub fn check(request: u32, body: &[u8], fds: &[OwnedFd]) -> Result<Checked, GuestError> {
    let (first, count) = match request {
        SET_MEM_TABLE => {
            let Some(n) = body.get(..4) else {
                return Ok(Checked::default());
            };
            let n = u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize;
            (TABLE_HDR, n)
        }
        ADD_MEM_REG => (SINGLE_HDR, 1),
        _ => return Ok(Checked::default()),
    };
    let mut out = Checked::default();
    for (index, fd) in fds.iter().enumerate().take(count) {
        let at = first + index * REGION_LEN;
        let (Some(size), Some(offset)) = (u64_at(body, at + SIZE), u64_at(body, at + MMAP_OFFSET))
        else {
            break;
        };
        let bad = |file_size: u64| GuestError::MemoryRegion {
            index,
            size,
            offset,
            file_size,
        };
        let st = fstat(fd).map_err(|_| bad(0))?;
        let file_size = u64::try_from(st.st_size).unwrap_or(0);
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(GuestError::MemoryFile {
                index,
                kind: format!("{:?}", FileType::from_raw_mode(st.st_mode)),
            });
        }
        match offset.checked_add(size) {
            Some(end) if size > 0 && end <= file_size => {}
            _ => return Err(bad(file_size)),
        }
        out.regions += 1;
        let sealed = fcntl_get_seals(fd).is_ok_and(|s| s.contains(SealFlags::SHRINK));
        if !sealed {
            out.unsealed += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags};
    use std::fs::File;

    fn memfd(len: u64, seal: bool) -> OwnedFd {
        let fd = memfd_create("t", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
        let f = File::from(fd);
        f.set_len(len).unwrap();
        let fd = OwnedFd::from(f);
        if seal {
            fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW).unwrap();
        }
        fd
    }

    fn region(gpa: u64, size: u64, offset: u64) -> Vec<u8> {
        [gpa, size, 0x7f00_0000_0000 + gpa, offset]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    fn table(regions: &[Vec<u8>]) -> Vec<u8> {
        let mut b = (regions.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&[0; 4]);
        regions.iter().for_each(|r| b.extend_from_slice(r));
        b
    }

    #[test]
    fn regions_inside_their_files_pass() {
        let fds = [memfd(2 << 20, true), memfd(4 << 20, false)];
        let body = table(&[region(0, 2 << 20, 0), region(1 << 32, 2 << 20, 2 << 20)]);
        let c = check(SET_MEM_TABLE, &body, &fds).unwrap();
        assert_eq!(
            c,
            Checked {
                regions: 2,
                unsealed: 1
            }
        );
    }

    #[test]
    fn a_region_past_the_end_of_its_file_is_a_fault() {
        // The hostile probe: 1 GiB claimed, 2 MiB behind it.
        let fds = [memfd(2 << 20, false)];
        let e = check(SET_MEM_TABLE, &table(&[region(0, 1 << 30, 0)]), &fds).unwrap_err();
        assert!(
            matches!(e, GuestError::MemoryRegion { index: 0, size, file_size, .. }
                if size == 1 << 30 && file_size == 2 << 20),
            "{e}"
        );
        assert!(e.to_string().contains("memory region 0"), "{e}");
        // The offset counts too, and an overflowing sum is no way round it.
        let e = check(SET_MEM_TABLE, &table(&[region(0, 2 << 20, 4096)]), &fds);
        assert!(e.is_err());
        let e = check(
            SET_MEM_TABLE,
            &table(&[region(0, 4096, u64::MAX - 10)]),
            &fds,
        );
        assert!(e.is_err());
        let e = check(SET_MEM_TABLE, &table(&[region(0, 0, 0)]), &fds);
        assert!(e.is_err(), "an empty region");
    }

    #[test]
    fn add_mem_reg_is_checked_like_a_table() {
        let fds = [memfd(1 << 20, true)];
        let mut body = 0u64.to_le_bytes().to_vec();
        body.extend(region(0, 1 << 20, 0));
        assert_eq!(check(ADD_MEM_REG, &body, &fds).unwrap().regions, 1);
        let mut body = 0u64.to_le_bytes().to_vec();
        body.extend(region(0, 2 << 20, 0));
        assert!(check(ADD_MEM_REG, &body, &fds).is_err());
    }

    #[test]
    fn a_region_that_is_not_a_regular_file_is_a_fault() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fds = [OwnedFd::from(a)];
        let e = check(SET_MEM_TABLE, &table(&[region(0, 4096, 0)]), &fds).unwrap_err();
        assert!(matches!(e, GuestError::MemoryFile { index: 0, .. }), "{e}");
    }

    #[test]
    fn other_requests_and_short_bodies_pass_to_the_handler() {
        let fds = [memfd(4096, false)];
        assert_eq!(check(1, &[0; 64], &fds).unwrap(), Checked::default());
        assert_eq!(
            check(SET_MEM_TABLE, &[1], &fds).unwrap(),
            Checked::default()
        );
        let short = table(&[region(0, 4096, 0)]);
        assert_eq!(
            check(SET_MEM_TABLE, &short[..20], &fds).unwrap(),
            Checked::default()
        );
    }
}
