//! Fuzz target: a frontend's memory table (SET_MEM_TABLE / ADD_MEM_REG
//! bodies) against files of arbitrary sizes.
//!
//! `mem_table::check` must never panic, whatever the body, and it must
//! never accept a region that reaches past the end of its file: that is
//! the SIGBUS a hostile guest used to kill the switch with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::os::fd::OwnedFd;
use vhost_port::mem_table::{check, ADD_MEM_REG, SET_MEM_TABLE};

fuzz_target!(|input: (bool, Vec<u16>, Vec<u8>)| {
    let (single, sizes, body) = input;
    let request = if single { ADD_MEM_REG } else { SET_MEM_TABLE };
    // Up to 8 memfds, each a multiple of 4 KiB long (file sizes in pages).
    let fds: Vec<OwnedFd> = sizes
        .iter()
        .take(8)
        .map(|&pages| {
            let fd = rustix::fs::memfd_create("fuzz", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
            let f = std::fs::File::from(fd);
            f.set_len(u64::from(pages) * 4096).unwrap();
            OwnedFd::from(f)
        })
        .collect();
    let Ok(c) = check(request, &body, &fds) else {
        return;
    };
    // Whatever passed fits its file.
    let first = 8usize;
    for (i, pages) in sizes.iter().take(c.regions).enumerate() {
        let at = first + i * 32;
        let u = |o: usize| u64::from_le_bytes(body[at + o..at + o + 8].try_into().unwrap());
        let (size, offset) = (u(8), u(24));
        assert!(size > 0);
        assert!(offset.checked_add(size).is_some_and(|end| end <= u64::from(*pages) * 4096));
    }
});
