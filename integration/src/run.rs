//! Running external commands and turning their failures into [`Error`]s.
//!
//! Every kernel object the harness makes is made by a command (`ip`,
//! `ethtool`, ...). The one idea: a failed command is reported with its full
//! command line and its stderr, so a test failure reads like a shell session
//! that can be replayed by hand.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::{Error, Result};

/// Renders `cmd` as a shell-like line for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` to completion and returns its output, whatever its exit status.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|source| Error::Spawn {
        command: describe(cmd),
        source,
    })
}

/// Runs `cmd` and fails unless it exits successfully; returns its stdout.
pub(crate) fn checked(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(Error::Command {
            command: describe(cmd),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ip ARGS...` in the root namespace and fails unless it succeeds.
pub fn ip(args: &[&str]) -> Result<String> {
    checked(Command::new("ip").args(args))
}

/// Runs `ip ARGS...`, ignoring failure: for best-effort cleanup.
pub(crate) fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

/// Finds `program` in `$PATH` (plus the sbin directories, which a non-login
/// root shell may lack).
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
