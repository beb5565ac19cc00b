//! Open vSwitch's extension actions in flow strings, as ovs-ofctl writes
//! them: `resubmit:PORT`, `resubmit(PORT,TABLE)`, `load:VALUE->FIELD[..]`,
//! `move:FIELD[..]->FIELD[..]`, `output:FIELD[..]`, `note:aa.bb` and
//! `sample(probability=P,collector_set_id=C,obs_domain_id=D,obs_point_id=O
//! [,sampling_port=PORT][,ingress|,egress])`.
//!
//! The one idea: the text is what `NxAction`'s `Display` prints (which is
//! ovs-ofctl's), so a flow printed for the store or a dump parses back to
//! the same actions. A field is named by its NXM name (`NXM_NX_REG0`,
//! `NXM_OF_ETH_SRC`), its OXM name, or the short name a match uses
//! (`reg0`, `eth_src`); a bit range is `[]` (all of it), `[N]` or `[A..B]`.

use super::{field_kind, parse_num, parse_port, PortNames, SyntaxError, SyntaxResult};
use ofproto::wire::nx::action::{FieldRef, NxAction, NxSample, OFPP10_IN_PORT, SAMPLE_NO_PORT};
use ofproto::wire::nx::field::{nxm_header_name, nxm_name};
use ofproto::wire::oxm::OxmKind;

/// The field a name in a field reference stands for.
fn ref_kind(name: &str) -> Option<OxmKind> {
    let by_header = |k: &OxmKind| {
        nxm_name(*k).and_then(|(c, f)| nxm_header_name(c, f)) == Some(name) || k.name() == name
    };
    OxmKind::all()
        .chain(OxmKind::nicira())
        .find(by_header)
        .or_else(|| field_kind(name))
}

/// `NAME[]`, `NAME[N]` or `NAME[A..B]`.
fn field_ref(token: &str, text: &str) -> SyntaxResult<FieldRef> {
    let bad = |why: &str| SyntaxError::new(token, format!("{text:?}: {why}"));
    let (name, range) = text
        .trim()
        .strip_suffix(']')
        .and_then(|t| t.split_once('['))
        .ok_or_else(|| bad("a field reference is NAME[], NAME[N] or NAME[A..B]"))?;
    let kind = ref_kind(name.trim()).ok_or_else(|| bad("unknown field"))?;
    let bits = u64::from(kind.bits());
    let (ofs, n_bits) = match range.split_once("..") {
        _ if range.is_empty() => (0, bits),
        Some((a, b)) => {
            let a = parse_num(token, a, bits - 1)?;
            let b = parse_num(token, b, bits - 1)?;
            if b < a {
                return Err(bad("the range ends before it starts"));
            }
            (a, b - a + 1)
        }
        None => (parse_num(token, range, bits - 1)?, 1),
    };
    let r = FieldRef::new(kind, ofs as u16, n_bits as u16);
    r.check().map_err(|e| bad(&e.detail))?;
    Ok(r)
}

/// An OpenFlow 1.0 port number for `resubmit` (`IN_PORT` when empty).
fn of10_port(token: &str, text: &str, names: PortNames<'_>) -> SyntaxResult<u16> {
    if text.is_empty() {
        return Ok(OFPP10_IN_PORT);
    }
    let p = parse_port(token, text, names)?;
    u16::try_from(p)
        .ok()
        .filter(|&p| p < 0xff00)
        .ok_or_else(|| SyntaxError::new(token, "resubmit takes a port number below 0xff00"))
}

/// The extension action `name` with argument `arg`, if `name` is one this
/// syntax knows (`None`: not an extension action; `output:PORT` is not).
pub fn parse(
    token: &str,
    name: &str,
    arg: Option<&str>,
    names: PortNames<'_>,
) -> Option<SyntaxResult<NxAction>> {
    let field_output = name == "output" && arg.is_some_and(|a| a.trim_end().ends_with(']'));
    if !(field_output || matches!(name, "resubmit" | "load" | "move" | "note" | "sample")) {
        return None;
    }
    Some(parse_known(token, name, arg.unwrap_or(""), names))
}

fn parse_known(token: &str, name: &str, arg: &str, names: PortNames<'_>) -> SyntaxResult<NxAction> {
    let need = |what: &str| SyntaxError::new(token, format!("{name} takes {what}"));
    match name {
        "resubmit" if token.contains('(') => {
            let (port, table) = arg.split_once(',').ok_or_else(|| need("(PORT,TABLE)"))?;
            let in_port = of10_port(token, port.trim(), names)?;
            let table = match table.trim() {
                "" => None,
                t => Some(parse_num(token, t, 254)? as u8),
            };
            Ok(NxAction::Resubmit { in_port, table })
        }
        "resubmit" => Ok(NxAction::Resubmit {
            in_port: of10_port(token, arg, names)?,
            table: None,
        }),
        "load" => {
            let (value, dst) = arg
                .split_once("->")
                .ok_or_else(|| need("VALUE->FIELD[..]"))?;
            let dst = field_ref(token, dst)?;
            let max = if dst.n_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << dst.n_bits) - 1
            };
            let value = parse_num(token, value.trim(), max)?;
            Ok(NxAction::RegLoad { dst, value })
        }
        "move" => {
            let (src, dst) = arg
                .split_once("->")
                .ok_or_else(|| need("FIELD[..]->FIELD[..]"))?;
            let (src, dst) = (field_ref(token, src)?, field_ref(token, dst)?);
            if src.n_bits != dst.n_bits {
                return Err(SyntaxError::new(
                    token,
                    "move needs ranges of the same width",
                ));
            }
            Ok(NxAction::RegMove { src, dst })
        }
        "sample" => sample(token, arg, names),
        "output" => Ok(NxAction::OutputReg {
            src: field_ref(token, arg)?,
            max_len: u16::MAX,
            v2: false,
        }),
        _ => {
            let bytes = arg
                .split('.')
                .filter(|b| !b.is_empty())
                .map(|b| u8::from_str_radix(b, 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| need("hex bytes separated by dots (note:aa.bb)"))?;
            Ok(NxAction::Note(bytes))
        }
    }
}

/// `sample(key=value,...)`, as ovs-ofctl reads it: a non-zero probability
/// is required, the ids default to 0, and the subtype is the least that
/// carries what was given.
fn sample(token: &str, arg: &str, names: PortNames<'_>) -> SyntaxResult<NxAction> {
    let mut s = NxSample {
        probability: 0,
        collector_set_id: 0,
        obs_domain_id: 0,
        obs_point_id: 0,
        sampling_port: SAMPLE_NO_PORT,
        direction: 0,
        subtype: 0,
    };
    let u32_max = u64::from(u32::MAX);
    for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .map_or((part, ""), |(k, v)| (k.trim(), v.trim()));
        match k {
            "probability" => s.probability = parse_num(token, v, 65535)? as u16,
            "collector_set_id" => s.collector_set_id = parse_num(token, v, u32_max)? as u32,
            "obs_domain_id" => s.obs_domain_id = parse_num(token, v, u32_max)? as u32,
            "obs_point_id" => s.obs_point_id = parse_num(token, v, u32_max)? as u32,
            "sampling_port" => {
                let p = parse_port(token, v, names)?;
                s.sampling_port = match p {
                    0xffff_ff00.. => (p & 0xffff) as u16,
                    _ => u16::try_from(p)
                        .ok()
                        .filter(|&p| p < 0xff00)
                        .ok_or_else(|| {
                            SyntaxError::new(token, "sampling_port is a port number below 0xff00")
                        })?,
                };
            }
            "ingress" => s.direction = 1,
            "egress" => s.direction = 2,
            _ => {
                return Err(SyntaxError::new(
                    token,
                    format!("invalid key {k:?} in \"sample\" argument"),
                ))
            }
        }
    }
    if s.probability == 0 {
        return Err(SyntaxError::new(
            token,
            "non-zero \"probability\" must be specified on sample",
        ));
    }
    s.subtype = s.least_subtype();
    Ok(NxAction::Sample(s))
}
