//! Lint checks of everything under deploy/: what ships must at least parse.
//!
//! Nothing here starts a service or a container (there is no systemd as PID 1
//! and no container engine on these machines); each artifact gets the
//! strongest check its own tooling can run offline:
//!
//! * the systemd unit: `systemd-analyze verify` (warnings count as failures:
//!   systemd only *warns* about an unknown key or a bad value) plus the
//!   settings the daemon relies on;
//! * the Kubernetes manifest: a YAML parse (python3-yaml) and its shape
//!   (host network, privileged, the two host paths, exec probes);
//! * the Containerfile: a structural check in place of hadolint;
//! * each example config, and the one inside the manifest's ConfigMap:
//!   `switchd --check --config FILE`.
//!
//! A check whose tool is missing prints why and passes, so the suite still
//! runs on a bare machine; integration/run-tests.sh installs the tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// `switchd --check --config FILE`: passes, or the test fails with its output.
fn switchd_check(config: &Path) {
    let switchd = switchd_integration::switchd_binary().expect("switchd binary");
    let out = Command::new(&switchd)
        .arg("--check")
        .arg("--config")
        .arg(config)
        .args(["--log", "error"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running switchd --check");
    assert!(
        out.status.success(),
        "switchd --check --config {} failed:\n{}{}",
        config.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// systemd

/// Runs `systemd-analyze verify` on `unit_text` saved as `switchd.service`
/// in a temporary directory; returns the diagnostics about that unit.
fn systemd_verify(unit_text: &str) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchd.service");
    std::fs::write(&path, unit_text).expect("writing the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("running systemd-analyze");
    let diagnostics = String::from_utf8_lossy(&out.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&out.stdout).lines())
        .filter(|l| l.contains("switchd.service"))
        .map(str::to_owned)
        .collect();
    (out.status.success(), diagnostics)
}

#[test]
fn systemd_unit_verifies_and_has_what_switchd_needs() {
    let text = read(&deploy_dir().join("switchd.service"));
    for needed in [
        "Type=simple",
        "ExecStart=/usr/local/bin/switchd --state-dir /var/lib/switchd",
        "Restart=on-failure",
        "LimitMEMLOCK=infinity",
        "RuntimeDirectory=switchd",
        "StateDirectory=switchd",
        "WantedBy=multi-user.target",
    ] {
        assert!(text.contains(needed), "switchd.service lacks {needed:?}");
    }
    let caps = text
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet");
    for cap in [
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_BPF",
        "CAP_SYS_ADMIN",
        "CAP_IPC_LOCK",
    ] {
        assert!(caps.split_whitespace().any(|c| c == cap), "missing {cap}");
    }

    if !have("systemd-analyze") {
        eprintln!("skipping systemd-analyze verify: systemd-analyze not installed");
        return;
    }
    // verify insists that ExecStart's binary exists: point it at the one
    // just built.
    let switchd = switchd_integration::switchd_binary().expect("switchd binary");
    let local = text.replace("/usr/local/bin/switchd", &switchd.display().to_string());
    let (ok, diagnostics) = systemd_verify(&local);
    assert!(
        ok && diagnostics.is_empty(),
        "systemd-analyze verify: {diagnostics:#?}"
    );

    // The check has teeth: a misspelt key and a bad value are reported.
    let broken = local
        .replace("LimitMEMLOCK=", "LimitMEMLOK=")
        .replace("Type=simple", "Type=simpel");
    let (_, diagnostics) = systemd_verify(&broken);
    assert!(
        diagnostics.iter().any(|d| d.contains("LimitMEMLOK"))
            && diagnostics.iter().any(|d| d.contains("simpel")),
        "systemd-analyze missed planted mistakes: {diagnostics:#?}"
    );
}

// ---------------------------------------------------------------------------
// Kubernetes

/// The manifest's documents as JSON, through python3-yaml; `None` when
/// python3 or its yaml module is missing.
fn manifest_documents(path: &Path) -> Option<Vec<Value>> {
    const SCRIPT: &str = "import sys, json, yaml\n\
        json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout)";
    let out = match Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipping YAML parse: python3 not installed");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'yaml'") {
        eprintln!("skipping YAML parse: python3-yaml not installed");
        return None;
    }
    assert!(out.status.success(), "{}: {stderr}", path.display());
    Some(serde_json::from_slice(&out.stdout).expect("python's JSON"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing or not a string"))
}

#[test]
fn daemonset_parses_and_runs_switchd_on_the_host() {
    let path = deploy_dir().join("kubernetes/switchd-daemonset.yaml");
    let Some(docs) = manifest_documents(&path) else {
        return;
    };
    let kinds: Vec<&str> = docs.iter().map(|d| str_at(d, "/kind")).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "DaemonSet"]);
    for d in &docs {
        assert!(d.pointer("/apiVersion").is_some_and(Value::is_string));
        assert!(!str_at(d, "/metadata/name").is_empty());
    }

    let ds = &docs[2];
    assert_eq!(str_at(ds, "/apiVersion"), "apps/v1");
    let selector = ds
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .expect("selector");
    let labels = ds
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .expect("template labels");
    for (k, v) in selector {
        assert_eq!(
            labels.get(k),
            Some(v),
            "selector {k} does not match the pod"
        );
    }
    let pod = ds.pointer("/spec/template/spec").expect("pod spec");
    assert_eq!(pod.pointer("/hostNetwork"), Some(&Value::Bool(true)));

    let containers = pod["containers"].as_array().expect("containers");
    let c = &containers[0];
    assert_eq!(
        c.pointer("/securityContext/privileged"),
        Some(&Value::Bool(true))
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--state-dir=/var/lib/switchd"), "{args:?}");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let cmd = c[probe]["exec"]["command"]
            .as_array()
            .unwrap_or_else(|| panic!("{probe} is not an exec probe"));
        assert_eq!(cmd[0], "swctl", "{probe}");
    }

    // Every mount names a volume; the state dir and the vhost-user socket
    // dir come from the host.
    let volumes = pod["volumes"].as_array().expect("volumes");
    let host_path = |mount: &str| {
        let m = c["volumeMounts"]
            .as_array()
            .expect("volumeMounts")
            .iter()
            .find(|m| m["mountPath"] == mount)
            .unwrap_or_else(|| panic!("nothing mounted at {mount}"));
        let v = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("mount {} names no volume", m["name"]));
        v.pointer("/hostPath/path")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    assert_eq!(
        host_path("/var/lib/switchd").as_deref(),
        Some("/var/lib/switchd")
    );
    assert_eq!(
        host_path("/var/run/vhost-user").as_deref(),
        Some("/var/run/vhost-user")
    );
    for m in c["volumeMounts"].as_array().expect("volumeMounts") {
        assert!(volumes.iter().any(|v| v["name"] == m["name"]), "{m}");
    }

    // The configuration in the ConfigMap is one switchd accepts.
    let config = str_at(&docs[1], "/data/switchd.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("switchd.toml");
    std::fs::write(&file, config).expect("writing the ConfigMap config");
    switchd_check(&file);
}

// ---------------------------------------------------------------------------
// Containerfile

/// One instruction: its keyword (upper case) and its arguments, with line
/// continuations joined.
#[derive(Debug)]
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<Instruction> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_none()) {
            continue;
        }
        let (body, continues) = match line.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (line, false),
        };
        match pending.as_mut() {
            Some(p) => {
                p.args.push(' ');
                p.args.push_str(body);
            }
            None => {
                let (kw, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                pending = Some(Instruction {
                    line: i + 1,
                    keyword: kw.to_ascii_uppercase(),
                    args: rest.trim().to_owned(),
                });
            }
        }
        if !continues {
            out.extend(pending.take());
        }
    }
    out.extend(pending);
    out
}

#[test]
fn containerfile_is_structurally_sound() {
    let text = read(&deploy_dir().join("Containerfile"));
    let ins = instructions(&text);
    const KNOWN: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    for i in &ins {
        assert!(
            KNOWN.contains(&i.keyword.as_str()),
            "line {}: unknown instruction {}",
            i.line,
            i.keyword
        );
    }
    let first = ins
        .iter()
        .find(|i| i.keyword != "ARG")
        .expect("instructions");
    assert_eq!(
        first.keyword, "FROM",
        "line {}: must start with FROM",
        first.line
    );

    // Stages: named, multi-stage, builder with cargo, runtime debian:12-slim.
    let mut stages: Vec<(String, String)> = Vec::new();
    for i in ins.iter().filter(|i| i.keyword == "FROM") {
        let words: Vec<&str> = i.args.split_whitespace().collect();
        match words.as_slice() {
            [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                assert!(image.contains(':'), "line {}: pin the image tag", i.line);
                stages.push(((*image).to_owned(), (*name).to_owned()));
            }
            _ => panic!("line {}: FROM IMAGE AS NAME expected", i.line),
        }
    }
    assert!(stages.len() >= 2, "a multi-stage build is expected");
    let (runtime_image, _) = stages.last().expect("stages");
    assert!(runtime_image.ends_with("debian:12-slim"), "{runtime_image}");

    let mut stage = 0usize;
    let mut cargo_build_stage = None;
    let mut user_set = false;
    for i in &ins {
        match i.keyword.as_str() {
            "FROM" => stage += 1,
            "ADD" => {
                assert!(
                    !i.args.contains("://"),
                    "line {}: ADD of a URL: fetch in RUN with a checksum, or COPY",
                    i.line
                );
            }
            "COPY" => {
                if let Some(from) = i
                    .args
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("--from="))
                {
                    let earlier = &stages[..stage - 1];
                    assert!(
                        earlier.iter().any(|(_, name)| name == from),
                        "line {}: COPY --from={from} names no earlier stage",
                        i.line
                    );
                }
            }
            "RUN" => {
                if i.args.contains("cargo build") {
                    assert!(i.args.contains("--release"), "line {}", i.line);
                    assert!(i.args.contains("--locked"), "line {}", i.line);
                    cargo_build_stage = Some(stage);
                }
                if i.args.contains("apt-get install") {
                    assert!(
                        i.args.contains("--no-install-recommends"),
                        "line {}",
                        i.line
                    );
                    assert!(
                        i.args.contains("rm -rf /var/lib/apt/lists"),
                        "line {}: clean the apt lists in the same layer",
                        i.line
                    );
                }
            }
            "USER" if stage == stages.len() => user_set = true,
            "ENTRYPOINT" | "CMD" => {
                assert!(
                    i.args.starts_with('['),
                    "line {}: {} in exec (JSON) form so signals reach switchd",
                    i.line,
                    i.keyword
                );
                let parsed: Result<Vec<String>, _> = serde_json::from_str(&i.args);
                assert!(parsed.is_ok(), "line {}: bad JSON array", i.line);
            }
            _ => {}
        }
    }
    assert!(
        cargo_build_stage.is_some_and(|s| s < stages.len()),
        "cargo build must run in a build stage"
    );
    assert!(
        user_set || text.contains("runs as root on purpose"),
        "the runtime stage sets USER or documents why it runs as root"
    );
    let runtime_part = text.rsplit("\nFROM ").next().unwrap_or(&text);
    assert!(
        runtime_part.contains("iproute2"),
        "runtime installs iproute2"
    );
    assert!(runtime_part.contains("/usr/local/bin/switchd"));
    assert!(runtime_part.contains("swctl"));

    // The ignore file keeps the build context small.
    let ignore = read(&deploy_dir().join("Containerfile.dockerignore"));
    assert!(ignore.lines().any(|l| l.trim_end_matches('/') == "target"));
}

// ---------------------------------------------------------------------------
// Example configurations

#[test]
fn every_example_config_passes_switchd_check() {
    let dir = deploy_dir().join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for needed in ["learning-bridge", "openflow-tls", "afxdp"] {
        assert!(
            names.iter().any(|n| n == needed),
            "no example {needed}.toml"
        );
    }
    for f in &files {
        switchd_check(f);
    }
}

#[test]
fn switchd_check_rejects_a_bad_config() {
    // Guards the test above: --check must actually check.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"e\"\ntype = \"bogus\"\n",
    )
    .expect("write");
    let switchd = switchd_integration::switchd_binary().expect("switchd binary");
    let out = Command::new(switchd)
        .arg("--check")
        .arg("--config")
        .arg(&file)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running switchd");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}
