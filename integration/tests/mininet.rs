//! Mininet on switchd: `integration/mininet/check_switchd_mn.py` runs the
//! Mininet issue's scenarios through Mininet's Python API on
//! `SwitchdSwitch` (tree and linear topologies under an os-ken learning
//! switch, a standalone tree without controller, a link added at run time
//! with iperf across it, nothing left behind after each `net.stop()`).
//!
//! The checks live in Python because Mininet is a Python library; this test
//! runs them with Debian's Python (where the `mininet` package installs),
//! the switchd and swctl this build made, and a deadline after which the
//! script is killed by PID (its switchd dies with it: PR_SET_PDEATHSIG).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchd_integration::swctl::swctl_binary;
use switchd_integration::{switchd_binary, Daemon, Error};

const PYTHON: &str = "/usr/bin/python3";
const DEADLINE: Duration = Duration::from_secs(300);

fn mininet_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import mininet.net"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Path::new("/usr/bin/mnexec").is_file()
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn mininet_topologies_run_on_switchd_and_leave_nothing_behind() -> Result<(), Error> {
    if !mininet_available() {
        eprintln!("skipping: Mininet (Debian package mininet) is not installed");
        return Ok(());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mininet");
    let tmp = tempfile::tempdir().map_err(|source| Error::Io {
        what: "creating the script's directory".into(),
        source,
    })?;
    let log = tmp.path().join("check.log");
    let mut cmd = Command::new(PYTHON);
    cmd.arg(dir.join("check_switchd_mn.py"))
        .env("SWITCHD_BIN", switchd_binary()?)
        .env("SWCTL_BIN", swctl_binary());
    let mut script = Daemon::spawn_logged("check_switchd_mn.py", cmd, &log)?;
    let status = script.wait_timeout(DEADLINE)?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let Some(status) = status else {
        script.kill()?;
        panic!("the Mininet checks did not finish in {DEADLINE:?}:\n{text}");
    };
    assert!(
        status.success(),
        "Mininet checks failed ({status}):\n{text}"
    );
    assert!(text.contains("all Mininet checks passed"), "{text}");
    Ok(())
}
