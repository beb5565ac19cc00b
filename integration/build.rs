//! Tests that need root (network namespaces, XDP programs, tap devices)
//! carry `#[cfg_attr(switchd_not_root, ignore = "...")]`: built by a user
//! who is not root, they are reported as ignored, never as passed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(switchd_not_root)");
    println!("cargo::rerun-if-changed=build.rs");
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u32>().ok());
    if uid != Some(0) {
        println!("cargo::rustc-cfg=switchd_not_root");
    }
}
