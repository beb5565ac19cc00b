//! OpenFlow flow verbs (ovs-ofctl's): add-flow, add-flows, mod-flows,
//! del-flows, dump-flows.
//!
//! Flows travel as strings in ovs-ofctl syntax; switchd parses them, so a
//! mistake comes back naming its token and swctl puts a caret under it
//! (for a file: the file name and line first).

use super::Reply;
use crate::cli::args::FlowArgs;
use crate::cli::connect::Api;
use crate::cli::error::{locate, offending_token, CliError};
use crate::cli::json;
use proto::v1 as api;
use proto::v1::flow_mod_request::Flow;
use serde_json::json;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

fn flow_mod(bridge: &str, spec: &str, strict: bool, persistent: bool) -> api::FlowModRequest {
    api::FlowModRequest {
        bridge: bridge.to_string(),
        flow: Some(Flow::Spec(spec.to_string())),
        strict,
        persistent,
    }
}

pub async fn add(api: &Api, a: &FlowArgs) -> Result<Reply, CliError> {
    let n = api
        .flows()
        .add_flow(flow_mod(&a.bridge, &a.flow, false, a.persistent))
        .await
        .map_err(|s| {
            CliError::status_with_input(format!("add-flow {}", a.bridge), s, Some(&a.flow))
        })?
        .into_inner()
        .flows;
    Ok(Reply::done(json!({ "flows": n })))
}

pub async fn modify(api: &Api, a: &FlowArgs) -> Result<Reply, CliError> {
    let n = api
        .flows()
        .modify_flows(flow_mod(&a.bridge, &a.flow, a.strict, a.persistent))
        .await
        .map_err(|s| {
            CliError::status_with_input(format!("mod-flows {}", a.bridge), s, Some(&a.flow))
        })?
        .into_inner()
        .flows;
    Ok(Reply::done(json!({ "flows": n })))
}

pub async fn delete(
    api: &Api,
    bridge: &str,
    flow: Option<&str>,
    strict: bool,
) -> Result<Reply, CliError> {
    let spec = flow.unwrap_or_default();
    let n = api
        .flows()
        .delete_flows(flow_mod(bridge, spec, strict, false))
        .await
        .map_err(|s| CliError::status_with_input(format!("del-flows {bridge}"), s, flow))?
        .into_inner()
        .flows;
    Ok(Reply::done(json!({ "flows": n })))
}

/// The flows of a flow file: one per line; blank lines and lines starting
/// with `#` are skipped. Each comes with its 1-based line number.
pub fn flow_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n, l.to_string()))
        .collect()
}

fn read_flow_file(file: &Path) -> Result<String, CliError> {
    let mut text = String::new();
    let result = if file == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    result
        .map_err(|e| CliError::Usage(format!("add-flows: cannot read {}: {e}", file.display())))?;
    Ok(text)
}

pub async fn add_file(
    api: &Api,
    bridge: &str,
    file: &Path,
    persistent: bool,
) -> Result<Reply, CliError> {
    let lines = flow_lines(&read_flow_file(file)?);
    let req = api::AddFlowsRequest {
        bridge: bridge.to_string(),
        specs: lines.iter().map(|(_, l)| l.clone()).collect(),
        structured: Vec::new(),
        persistent,
    };
    let n = match api.flows().add_flows(req).await {
        Ok(r) => r.into_inner().flows,
        Err(status) => {
            let e = CliError::status(format!("add-flows {bridge}"), status);
            return Err(blame_line(e, file, &lines));
        }
    };
    Ok(Reply::done(json!({ "flows": n })))
}

/// Points a refusal of a whole file at its line. switchd names the flow
/// by its position among those sent ("flow 3: ..."); without that, the
/// line holding the offending token is blamed.
fn blame_line(e: CliError, file: &Path, lines: &[(usize, String)]) -> CliError {
    let CliError::Refused {
        context,
        code,
        message,
        ..
    } = e
    else {
        return e;
    };
    let by_index = flow_index(&message)
        .and_then(|(i, rest)| Some((lines.get(i.checked_sub(1)?)?, rest.to_string())));
    let by_token = || {
        let token = offending_token(&message)?;
        lines
            .iter()
            .find(|(_, l)| boundary_hit(l, token))
            .or_else(|| lines.iter().find(|(_, l)| l.contains(token)))
            .map(|line| (line, message.clone()))
    };
    match by_index.or_else(by_token) {
        Some(((n, text), message)) => CliError::Refused {
            context: format!("{context}: {}:{n}", file.display()),
            code,
            message,
            input: Some(text.clone()),
        },
        None => CliError::Refused {
            context,
            code,
            message,
            input: None,
        },
    }
}

/// `flow 3: rest` -> (3, "rest").
fn flow_index(message: &str) -> Option<(usize, &str)> {
    let rest = message.strip_prefix("flow ")?;
    let (n, rest) = rest.split_once(':')?;
    Some((n.trim().parse().ok()?, rest.trim_start()))
}

fn boundary_hit(line: &str, token: &str) -> bool {
    locate(line, token).is_some_and(|at| {
        let before = line[..at].chars().next_back();
        before.is_none_or(|c| !c.is_alphanumeric() && c != '_')
    })
}

pub async fn dump(
    api: &Api,
    bridge: &str,
    filter: Option<&str>,
    table: Option<u32>,
) -> Result<Reply, CliError> {
    let mut flows = api
        .flows()
        .dump_flows(api::DumpFlowsRequest {
            bridge: bridge.to_string(),
            table,
            filter: filter.unwrap_or_default().to_string(),
        })
        .await
        .map_err(|s| CliError::status_with_input(format!("dump-flows {bridge}"), s, filter))?
        .into_inner()
        .flows;
    flows.sort_by_key(|f| {
        let flow = f.flow.clone().unwrap_or_default();
        (
            flow.table,
            std::cmp::Reverse(flow.priority.unwrap_or(0x8000)),
        )
    });
    let mut human = String::new();
    for f in &flows {
        // ovs-ofctl's layout: counters first, then the flow as add-flow
        // takes it back.
        let _ = writeln!(
            human,
            " {}duration={:.3}s, n_packets={}, n_bytes={}, {}",
            if f.persistent { "persistent, " } else { "" },
            f.duration_secs,
            f.packets,
            f.bytes,
            f.spec
        );
    }
    Ok(Reply {
        human,
        json: json!({ "bridge": bridge, "flows": flows.iter().map(json::flow_entry).collect::<Vec<_>>() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_files_skip_comments_and_blank_lines() {
        let text = "# a comment\n\npriority=1,actions=drop\n  ip,actions=normal  \n";
        assert_eq!(
            flow_lines(text),
            vec![
                (3, "priority=1,actions=drop".to_string()),
                (4, "ip,actions=normal".to_string())
            ]
        );
    }

    #[test]
    fn a_refused_file_is_blamed_on_the_line_with_the_token() {
        let lines = flow_lines("priority=1,actions=drop\n# x\nip,nw_dsst=1.2.3.4,actions=drop\n");
        let e = CliError::status(
            "add-flows br0",
            tonic::Status::invalid_argument("unknown field (at `nw_dsst=1.2.3.4`)"),
        );
        let e = blame_line(e, Path::new("flows.txt"), &lines);
        let report = e.report();
        assert!(
            report.starts_with("swctl: add-flows br0: flows.txt:3: unknown field"),
            "{report}"
        );
        assert!(report.contains("\n       ^^^^^^^^^^^^^^^\n"), "{report}");
    }

    #[test]
    fn switchd_s_flow_number_picks_the_line() {
        // The token also appears on the first line; the number decides.
        let lines = flow_lines("ip,actions=flod\n\n# c\nip,actions=flod\n");
        let e = CliError::status(
            "add-flows br0",
            tonic::Status::invalid_argument("flow 2: unknown action (at `flod`)"),
        );
        let report = blame_line(e, Path::new("f"), &lines).report();
        assert!(
            report.starts_with("swctl: add-flows br0: f:4: unknown action (at `flod`)\n"),
            "{report}"
        );
        assert!(
            report.ends_with("    ip,actions=flod\n               ^^^^\n"),
            "{report:?}"
        );
    }
}
