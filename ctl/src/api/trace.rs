//! TraceService: what the bridge would do with a packet (ofproto/trace).
//!
//! The packet is given as a flow in match syntax or as raw bytes; it is
//! translated through the bridge's current pipeline snapshot exactly as a
//! datapath miss would be ([`ofproto::bridge::OfBridge::translate`]), and
//! the translation's record (tables looked up and whether each matched,
//! the rules hit, the groups taken) becomes the trace. Nothing is sent and
//! no megaflow is installed; as for a real packet, table lookup counters
//! count it and NORMAL learns its source MAC.

use super::datapath::{format_actions, format_megaflow, masked_fields};
use crate::switch::{port_names, Switch};
use crate::switch::{SwitchError, SwitchResult};
use crate::syntax::flow::{format_flow, format_match, parse_match, FlowView};
use datapath::flow::FlowKey;
use ofproto::bridge::of_to_dp;
use proto::v1;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The TraceService implementation.
#[derive(Debug)]
pub struct Trace(pub Arc<Switch>);

/// The flow key a trace request describes.
fn key_of(bridge: &crate::bridge::Bridge, r: &v1::TraceRequest) -> SwitchResult<(FlowKey, String)> {
    if !r.packet.is_empty() {
        if !r.flow.is_empty() {
            return Err(SwitchError::Invalid("give flow or packet, not both".into()));
        }
        let in_port = of_to_dp(r.in_port)
            .ok_or_else(|| SwitchError::Invalid(format!("in_port {} is not a port", r.in_port)))?;
        let mut packet = datapath::packet::Packet::from_bytes(&r.packet);
        packet.in_port = in_port;
        let mut key = FlowKey::default();
        datapath::flow::extract(&packet, &mut key);
        return Ok((
            key,
            format!("{} bytes on port {}", r.packet.len(), r.in_port),
        ));
    }
    let (key, _, m) = dp_match(bridge, &r.flow)?;
    Ok((key, format_match(&m)))
}

/// A flow in match syntax as a datapath key and mask, with `in_port` as a
/// datapath port number (also the filter of a capture).
pub(super) fn dp_match(
    bridge: &crate::bridge::Bridge,
    text: &str,
) -> SwitchResult<(FlowKey, datapath::flow::Mask, ofproto::wire::oxm::Match)> {
    let names = port_names(bridge);
    let (m, _) = parse_match(text, &names)?;
    let tlv = bridge.ofbridge.store.snapshot().tlv.clone();
    let (mut key, mask) = ofproto::pipeline::key_map::match_to_key(&m, &tlv)
        .map_err(|e| SwitchError::Invalid(format!("flow: {e}")))?;
    // The key holds datapath port numbers.
    if let Some(ofproto::wire::oxm::OxmField::InPort(p)) =
        m.get(ofproto::wire::oxm::OxmKind::InPort)
    {
        key.in_port = of_to_dp(*p)
            .ok_or_else(|| SwitchError::Invalid(format!("in_port {p} is not a port")))?;
    }
    Ok((key.flow, mask.flow, m))
}

fn trace(inner: &crate::switch::Inner, r: &v1::TraceRequest) -> SwitchResult<v1::TraceResponse> {
    let (b, _) = inner.bridge(&r.bridge)?;
    let (key, flow) = key_of(b, r)?;
    let (actions, mask, cache) = b.ofbridge.translate(&key);
    let mut rules = cache.rules.iter();
    let steps = cache
        .tables
        .iter()
        .map(|&(table, matched)| {
            let rule = if matched {
                rules.find(|x| x.table_id == table)
            } else {
                None
            };
            v1::TraceStep {
                table: u32::from(table),
                matched: rule.is_some(),
                rule: rule
                    .map(|x| format_flow(FlowView::from(&**x)))
                    .unwrap_or_default(),
                priority: rule.map(|x| u32::from(x.priority)).unwrap_or(0),
                cookie: rule.map(|x| x.cookie).unwrap_or(0),
            }
        })
        .collect();
    let fields = masked_fields(&key, &mask);
    Ok(v1::TraceResponse {
        flow,
        steps,
        datapath_actions: format_actions(&actions),
        megaflow: format_megaflow(&fields),
        megaflow_fields: fields,
        fail_open: cache.fail_open,
        groups: cache.buckets.iter().map(|(g, _)| g.id).collect(),
    })
}

#[tonic::async_trait]
impl v1::trace_service_server::TraceService for Trace {
    async fn trace(
        &self,
        req: Request<v1::TraceRequest>,
    ) -> Result<Response<v1::TraceResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| trace(inner, &r))
            .await
            .map(Response::new)
    }
}
