//! The persistent configuration store: switchd's configuration on disk,
//! under the state directory, written so that a crash at any moment
//! leaves either the old or the new version, never a mix.
//!
//! The format is the TOML [`Config`] a person would write (bridges, ports,
//! controllers, the flows, groups and meters the API added as persistent,
//! and the operator's tunnel routes), so the store can be read, diffed and
//! backed up with ordinary tools.
//!
//! The one idea is the write protocol ([`write_atomically`]): write the
//! whole new file under a temporary name in the same directory, `fsync`
//! it, `rename` it over the old one (atomic within a file system), then
//! `fsync` the directory so the rename itself is durable. A crash before
//! the rename leaves the old file and a stray temporary file (removed at
//! the next open); a crash after it leaves the new file.
//!
//! The file is the owner's only (mode 0600), and an empty store is refused
//! like any damaged one: switchd does not start with nothing in place of a
//! configuration it lost.
//!
//! Precedence at start (see `switchd --help`): an existing store wins; a
//! `--config` file only seeds a store that does not exist yet; with
//! neither, switchd starts with the default switch and stores it.

use crate::config::{Config, ConfigError};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The store's file name inside the state directory.
pub const STORE_FILE: &str = "switchd.conf.toml";

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {what} {path}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the store holds an invalid configuration")]
    Invalid(#[from] ConfigError),
    #[error("cannot serialize the configuration: {0}")]
    Serialize(String),
    #[error(
        "the store {path} is empty (switchd always writes a header): it is damaged; \
         restore it from a backup, or remove it to start afresh"
    )]
    Empty { path: String },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { what, path, source }
}

/// Where the store lives and what it last said.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    config: Config,
}

/// How [`Store::open`] got its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the existing store.
    Store,
    /// The store did not exist: seeded from the given configuration.
    Seeded,
}

impl Store {
    /// Open the store in `state_dir`: load it if it exists, else create it
    /// from `seed`. Stray temporary files of an interrupted write are
    /// removed.
    pub fn open(
        state_dir: &Path,
        seed: impl FnOnce() -> Result<Config, ConfigError>,
    ) -> Result<(Store, Origin), StoreError> {
        let path = state_dir.join(STORE_FILE);
        remove_stray_temporaries(state_dir, STORE_FILE);
        if path.exists() {
            // A store switchd wrote is never empty: an empty one was cut
            // short (a full disk, a careless edit), not meant.
            let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
            if text.trim().is_empty() {
                return Err(StoreError::Empty {
                    path: path.display().to_string(),
                });
            }
            let config = Config::load(&path)?;
            return Ok((Store { path, config }, Origin::Store));
        }
        let config = seed()?;
        config.validate()?;
        let store = Store { path, config };
        store.write(&store.config)?;
        Ok((store, Origin::Seeded))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration last persisted.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Validate and persist `config`; on success it becomes the store's
    /// configuration. On error the file on disk is unchanged.
    pub fn save(&mut self, config: Config) -> Result<(), StoreError> {
        config.validate()?;
        self.write(&config)?;
        self.config = config;
        Ok(())
    }

    fn write(&self, config: &Config) -> Result<(), StoreError> {
        let text =
            toml::to_string_pretty(config).map_err(|e| StoreError::Serialize(e.to_string()))?;
        let text = format!(
            "# switchd configuration store: written by switchd on every change.\n\
             # Edit only while switchd is stopped.\n\n{text}"
        );
        write_atomically(&self.path, text.as_bytes())
    }
}

/// Remove `NAME.tmp.*` files left by an interrupted write.
fn remove_stray_temporaries(dir: &Path, name: &str) {
    let prefix = format!("{name}.tmp.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Replace `path` with `data` atomically and durably: temp file in the
/// same directory, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    write_atomically_with(path, data, |_| Ok(()))
}

/// [`write_atomically`] with a hook that runs after the temporary file is
/// synced and before the rename (tests use it to simulate a crash there).
fn write_atomically_with(
    path: &Path,
    data: &[u8],
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    let tmp = dir.join(format!("{name}.tmp.{}", std::process::id()));
    let result = (|| {
        // Owner only: keys and credentials live in the store.
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        f.write_all(data).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        drop(f);
        before_rename(&tmp).map_err(io("prepare", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("rename over", path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory", dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BridgeConfig;

    fn with_bridge(c: &Config, name: &str) -> Config {
        let mut c = c.clone();
        let mut b: BridgeConfig = Config::default_switch().bridge.remove(0);
        b.name = name.into();
        b.local_port = false;
        b.controller.clear();
        c.bridge.push(b);
        c
    }

    #[test]
    fn seeds_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (s, origin) = Store::open(dir.path(), || Ok(Config::default_switch())).unwrap();
        assert_eq!(origin, Origin::Seeded);
        assert_eq!(s.config(), &Config::default_switch());
        // The seed is ignored once the store exists.
        let (s2, origin) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        assert_eq!(origin, Origin::Store);
        assert_eq!(s2.config(), &Config::default_switch());
    }

    #[test]
    fn an_empty_store_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        std::fs::write(&path, "\n  \n").unwrap();
        let e = Store::open(dir.path(), || Ok(Config::default_switch())).unwrap_err();
        assert!(matches!(e, StoreError::Empty { .. }), "{e}");
        assert!(e.to_string().contains("damaged"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "\n  \n");
    }

    #[test]
    fn the_store_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(s.path()), 0o600);
        s.save(with_bridge(s.config(), "brm")).unwrap();
        assert_eq!(mode(s.path()), 0o600);
    }

    #[test]
    fn saves_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        let mut c = with_bridge(s.config(), "brx");
        c.bridge[0]
            .flows
            .push("table=0,priority=1,actions=drop".into());
        s.save(c.clone()).unwrap();
        let (s2, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        assert_eq!(s2.config(), &c);
    }

    #[test]
    fn routes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        let mut c = s.config().clone();
        c.route.push(crate::config::RouteConfig {
            prefix: "10.1.0.0/16".into(),
            dev: "br-phy".into(),
            gateway: Some("192.0.2.1".parse().unwrap()),
            src: None,
        });
        s.save(c.clone()).unwrap();
        let text = std::fs::read_to_string(s.path()).unwrap();
        assert!(text.contains("[[route]]"), "{text}");
        let (s2, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        assert_eq!(s2.config(), &c);
        // A store with a bad route is refused, not half loaded.
        std::fs::write(s.path(), text.replace("10.1.0.0/16", "10.1.0.1/16")).unwrap();
        let e = Store::open(dir.path(), || Ok(Config::default())).unwrap_err();
        assert!(crate::switch::chain(&e).contains("host bits"), "{e}");
    }

    #[test]
    fn an_invalid_config_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        let before = std::fs::read(s.path()).unwrap();
        let bad = with_bridge(&with_bridge(s.config(), "dup"), "dup");
        assert!(s.save(bad).is_err());
        assert_eq!(std::fs::read(s.path()).unwrap(), before);
        assert_eq!(s.config(), &Config::default());
    }

    #[test]
    fn a_crash_before_rename_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        write_atomically(&path, b"old").unwrap();
        // The "crash": the write stops after the temporary file is synced.
        let crash = write_atomically_with(&path, b"new", |tmp| {
            assert_eq!(std::fs::read(tmp).unwrap(), b"new");
            Err(std::io::Error::other("power cut"))
        });
        assert!(crash.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn a_killed_writer_leaves_a_loadable_store_and_its_temporary_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        s.save(with_bridge(s.config(), "bra")).unwrap();
        // A writer killed mid-write leaves a partial temporary file.
        let stray = dir.path().join(format!("{STORE_FILE}.tmp.999999"));
        std::fs::write(&stray, b"[[bridge]]\nname = \"half").unwrap();
        let (s2, origin) = Store::open(dir.path(), || Ok(Config::default())).unwrap();
        assert_eq!(origin, Origin::Store);
        assert_eq!(s2.config().bridge[0].name, "bra");
        assert!(!stray.exists());
    }

    #[test]
    fn a_corrupt_store_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STORE_FILE), b"[[bridge]\n").unwrap();
        let e = Store::open(dir.path(), || Ok(Config::default_switch())).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)));
        // Left for a person to look at.
        assert!(dir.path().join(STORE_FILE).exists());
    }
}
