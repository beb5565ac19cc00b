//! The socket file of a server port: what switchd may replace and remove.
//!
//! A `vhostuser` port listens on a path in the file system, where a VM's
//! QEMU connects. Binding there must not destroy anything that is not the
//! port's own: a port named after another file (switchd's API socket, the
//! configuration store, a socket of another service) must fail to open,
//! never unlink that file and take its place.
//!
//! The one idea: switchd only ever removes a socket. At open, a path that
//! is free is bound; a path holding a socket is a stale one (a previous
//! run, or a crash) and is replaced; anything else (a regular file, a
//! directory, a symbolic link, whatever it points at) is refused. At close,
//! the path is removed only if it still is the very socket this port
//! bound (same device and inode), so a port never removes a file someone
//! put there after it.
//!
//! A client port (`vhostuserclient`) connects to a path the guest's VMM
//! serves; [`check_guest_path`] refuses one that cannot be that: relative,
//! or already there as something other than a socket.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why a port's socket path cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SocketPathError {
    #[error("{path} exists and is a {kind}, not a socket: refusing to replace it")]
    Taken { path: PathBuf, kind: &'static str },
    #[error("{path} is not an absolute path")]
    Relative { path: PathBuf },
    #[error("cannot inspect or replace {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A socket file a port bound; removed on drop if it is still that socket.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "regular file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

/// Make `path` free for a listener: nothing there, or a stale socket
/// (removed). Anything else is refused untouched.
pub fn make_room(path: &Path) -> Result<(), SocketPathError> {
    let io = |source| SocketPathError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
        Ok(m) if m.file_type().is_socket() => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        },
        Ok(m) => Err(SocketPathError::Taken {
            path: path.to_path_buf(),
            kind: kind(m.file_type()),
        }),
    }
}

/// Check the path a client port will connect to: absolute, and a socket
/// if anything is there yet (the VMM may create it later).
pub fn check_guest_path(path: &Path) -> Result<(), SocketPathError> {
    if !path.is_absolute() {
        return Err(SocketPathError::Relative {
            path: path.to_path_buf(),
        });
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.file_type().is_socket() => Err(SocketPathError::Taken {
            path: path.to_path_buf(),
            kind: kind(m.file_type()),
        }),
        _ => Ok(()),
    }
}

impl SocketFile {
    /// Remember the socket just bound at `path`.
    pub fn bound(path: &Path) -> Result<SocketFile, SocketPathError> {
        let m = std::fs::symlink_metadata(path).map_err(|source| SocketPathError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn free_paths_and_stale_sockets_make_room() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm.sock");
        make_room(&p).unwrap();
        drop(UnixListener::bind(&p).unwrap());
        assert!(p.exists(), "a closed listener leaves its file behind");
        make_room(&p).unwrap();
        assert!(!p.exists(), "the stale socket was removed");
    }

    #[test]
    fn anything_but_a_socket_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchd.conf.toml");
        std::fs::write(&file, "keep me").unwrap();
        let e = make_room(&file).unwrap_err();
        assert!(e.to_string().contains("regular file"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

        let sub = dir.path().join("d");
        std::fs::create_dir(&sub).unwrap();
        assert!(make_room(&sub).is_err());

        // A link to a socket is not a socket of ours either.
        let sock = dir.path().join("real.sock");
        let _l = UnixListener::bind(&sock).unwrap();
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        let e = make_room(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(sock.exists() && link.exists());
    }

    #[test]
    fn a_guest_path_must_be_absolute_and_a_socket_if_present() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qemu.sock");
        check_guest_path(&sock).unwrap();
        let _l = UnixListener::bind(&sock).unwrap();
        check_guest_path(&sock).unwrap();
        assert!(check_guest_path(Path::new("qemu.sock")).is_err());
        let e = check_guest_path(Path::new("/etc/passwd")).unwrap_err();
        assert!(e.to_string().contains("not a socket"), "{e}");
    }

    #[test]
    fn drop_removes_only_the_socket_it_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm.sock");
        let l = UnixListener::bind(&p).unwrap();
        let f = SocketFile::bound(&p).unwrap();
        drop(f);
        assert!(!p.exists(), "our socket is removed");
        drop(l);

        // Someone replaced it after we bound (a socket made beside it, so
        // its inode differs, renamed over ours): theirs stays.
        let l = UnixListener::bind(&p).unwrap();
        let f = SocketFile::bound(&p).unwrap();
        let beside = dir.path().join("theirs.sock");
        let _theirs = UnixListener::bind(&beside).unwrap();
        std::fs::rename(&beside, &p).unwrap();
        drop(f);
        assert!(p.exists(), "a socket we did not bind is left");
        drop(l);
    }
}
