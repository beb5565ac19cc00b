//! Mirror verbs: add-mirror, del-mirror, list-mirrors.
//!
//! Open vSwitch sets mirrors up with `ovs-vsctl -- --id=@m create mirror
//! ...`; swctl takes the same settings as words: `swctl add-mirror br0 m0
//! select-src-port=vm1 select-dst-port=vm1 output-port=tap0`.

use super::Reply;
use crate::cli::args::AddMirror;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::table::{count, Table};
use proto::v1 as api;
use serde_json::{json, Value};

/// The mirror swctl's words describe: `select-all`, `select-src-port=a,b`,
/// `select-dst-port=..`, `select-vlan=10,20`, `output-port=p`,
/// `output-vlan=v`, `snaplen=n` (underscores work too). switchd checks
/// the result (ports, selection, ranges).
fn parse(name: &str, words: &[String]) -> Result<api::MirrorSpec, CliError> {
    let mut m = api::MirrorSpec {
        name: name.to_string(),
        ..Default::default()
    };
    let list = |v: &str| {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let number = |k: &str, v: &str| -> Result<u32, CliError> {
        v.parse()
            .map_err(|_| CliError::Usage(format!("{k}={v}: not a number")))
    };
    for w in words {
        let w = w.replace('_', "-");
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k {
            "select-all" if v.is_empty() || v == "true" => m.select_all = true,
            "select-src-port" => m.select_src_port = list(v),
            "select-dst-port" => m.select_dst_port = list(v),
            "select-vlan" => {
                m.select_vlan = v
                    .split(',')
                    .map(|x| number(k, x))
                    .collect::<Result<_, _>>()?
            }
            "output-port" => m.output_port = v.to_string(),
            "output-vlan" => m.output_vlan = number(k, v)?,
            "snaplen" => m.snaplen = number(k, v)?,
            _ => return Err(CliError::Usage(format!("unknown mirror setting {w:?}"))),
        }
    }
    Ok(m)
}

pub async fn add(api: &Api, a: &AddMirror) -> Result<Reply, CliError> {
    let spec = parse(&a.name, &a.settings)?;
    api.mirrors()
        .add_mirror(api::AddMirrorRequest {
            bridge: a.bridge.clone(),
            mirror: Some(spec),
        })
        .await
        .map_err(|s| CliError::status(format!("add-mirror {} {}", a.bridge, a.name), s))?;
    Ok(Reply::done(json!({})))
}

pub async fn delete(api: &Api, bridge: &str, name: &str) -> Result<Reply, CliError> {
    api.mirrors()
        .delete_mirror(api::DeleteMirrorRequest {
            bridge: bridge.to_string(),
            name: name.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("del-mirror {bridge} {name}"), s))?;
    Ok(Reply::done(json!({})))
}

/// What a mirror selects, in its settings' words.
fn selection(m: &api::MirrorSpec) -> String {
    let mut words = Vec::new();
    if m.select_all {
        words.push("select-all".to_string());
    }
    if !m.select_src_port.is_empty() {
        words.push(format!("select-src-port={}", m.select_src_port.join(",")));
    }
    if !m.select_dst_port.is_empty() {
        words.push(format!("select-dst-port={}", m.select_dst_port.join(",")));
    }
    if !m.select_vlan.is_empty() {
        let v: Vec<String> = m.select_vlan.iter().map(u32::to_string).collect();
        words.push(format!("select-vlan={}", v.join(",")));
    }
    words.join(" ")
}

fn output(m: &api::MirrorSpec) -> String {
    let mut s = if m.output_port.is_empty() {
        format!("output-vlan={}", m.output_vlan)
    } else {
        format!("output-port={}", m.output_port)
    };
    if m.snaplen > 0 {
        s.push_str(&format!(" snaplen={}", m.snaplen));
    }
    s
}

pub async fn list(api: &Api, bridge: Option<&str>) -> Result<Reply, CliError> {
    let mirrors = api
        .mirrors()
        .list_mirrors(api::ListMirrorsRequest {
            bridge: bridge.unwrap_or_default().to_string(),
        })
        .await
        .map_err(|s| CliError::status("list-mirrors", s))?
        .into_inner()
        .mirrors;
    let mut t = Table::new(&[
        "BRIDGE",
        "MIRROR",
        "SELECT",
        "OUTPUT",
        "ACTIVE",
        "TX_PKTS>",
        "TX_BYTES>",
    ]);
    let mut all: Vec<Value> = Vec::new();
    for s in &mirrors {
        let m = s.mirror.clone().unwrap_or_default();
        t.row([
            s.bridge.clone(),
            m.name.clone(),
            selection(&m),
            output(&m),
            if s.active { "yes" } else { "no" }.to_string(),
            count(s.tx_packets),
            count(s.tx_bytes),
        ]);
        all.push(json!({
            "bridge": s.bridge,
            "name": m.name,
            "select_all": m.select_all,
            "select_src_port": m.select_src_port,
            "select_dst_port": m.select_dst_port,
            "select_vlan": m.select_vlan,
            "output_port": m.output_port,
            "output_vlan": m.output_vlan,
            "snaplen": m.snaplen,
            "active": s.active,
            "tx_packets": s.tx_packets,
            "tx_bytes": s.tx_bytes,
        }));
    }
    Ok(Reply {
        human: t.render(),
        json: json!({ "mirrors": all }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_settings_words() {
        let words: Vec<String> =
            "select-src-port=a,b select_dst_port=a select-vlan=0,10 output-port=c snaplen=64"
                .split_whitespace()
                .map(String::from)
                .collect();
        let m = parse("m0", &words).unwrap();
        assert_eq!(m.select_src_port, vec!["a", "b"]);
        assert_eq!(m.select_dst_port, vec!["a"]);
        assert_eq!(m.select_vlan, vec![0, 10]);
        assert_eq!((m.output_port.as_str(), m.snaplen), ("c", 64));
        assert!(parse("m", &["bogus=1".into()]).is_err());
        assert!(parse("m", &["output-vlan=x".into()]).is_err());
        assert!(parse("m", &["select-all".into()]).unwrap().select_all);
    }
}
