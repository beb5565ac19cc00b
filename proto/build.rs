//! Generate the switchd.v1 messages and services with a vendored protoc,
//! so that building needs no system protobuf compiler, and write the file
//! descriptor set the reflection service serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build runs the protoc named by PROTOC.
    std::env::set_var("PROTOC", protoc);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto = "switchd/v1/switchd.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("switchd_v1_descriptor.bin"))
        .build_client(true)
        .build_server(true)
        .compile_protos(&[proto], &["."])?;
    Ok(())
}
