//! Controller roles and asynchronous-message filters across connections.
//!
//! OpenFlow 1.3 lets several controllers share one switch (spec 1.3.5
//! §6.3.5). Each connection has a role: EQUAL (the default: full access),
//! MASTER (full access; at most one at a time) or SLAVE (read-only, and by
//! default only port-status messages). [`RoleTable`] is the one place that
//! knows every connection's role, so it lives above the single-connection
//! state machine and is shared by all connections of a bridge.
//!
//! The one idea: role changes are arbitrated by a 64-bit `generation_id`
//! that controllers increase with each master election. The switch keeps
//! the largest one seen and refuses MASTER/SLAVE requests carrying an older
//! one with `ROLE_REQUEST_FAILED/STALE`. "Older" uses the spec's
//! wrap-around distance, `(i64)(new - cached) < 0`, so the counter may wrap.
//! A new MASTER demotes the previous one to SLAVE silently: OpenFlow 1.3
//! has no role-status message (that arrives in 1.4), so the old master
//! learns of it only when a state-changing message is refused with
//! `BAD_REQUEST/IS_SLAVE`.
//!
//! Asynchronous configuration (OFPT_SET_ASYNC, spec §7.3.10) is per
//! connection: two masks per message kind, index 0 applying while the
//! connection is MASTER or EQUAL and index 1 while SLAVE. Each new
//! connection starts from [`default_async_config`], which follows Open
//! vSwitch's OpenFlow 1.3 defaults: master/equal get packet-ins for
//! NO_MATCH and ACTION (not INVALID_TTL), every port-status and every
//! flow-removed reason; slaves get port-status only.

use std::collections::BTreeMap;

use super::ConnId;
use crate::wire::error::{BadRequest, OfError, RoleRequestFailed};
use crate::wire::message::Message;
use crate::wire::multipart::MultipartRequestBody;
use crate::wire::switch::{AsyncConfig, ControllerRole, RoleMsg};

/// The three kinds of asynchronous message a controller can filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsyncKind {
    PacketIn,
    PortStatus,
    FlowRemoved,
}

impl AsyncKind {
    /// The kind and reason of an asynchronous message, `None` for every
    /// other message.
    pub fn of(msg: &Message) -> Option<(AsyncKind, u8)> {
        match msg {
            Message::PacketIn(m) => Some((AsyncKind::PacketIn, m.reason.into())),
            Message::PortStatus(m) => Some((AsyncKind::PortStatus, m.reason.into())),
            Message::FlowRemoved(m) => Some((AsyncKind::FlowRemoved, m.reason.into())),
            _ => None,
        }
    }
}

/// OFPR_NO_MATCH | OFPR_ACTION.
const PACKET_IN_DEFAULT: u32 = (1 << 0) | (1 << 1);
/// OFPPR_ADD | OFPPR_DELETE | OFPPR_MODIFY.
const PORT_STATUS_ALL: u32 = (1 << 0) | (1 << 1) | (1 << 2);
/// OFPRR_IDLE_TIMEOUT | OFPRR_HARD_TIMEOUT | OFPRR_DELETE | OFPRR_GROUP_DELETE.
const FLOW_REMOVED_ALL: u32 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3);

/// The asynchronous configuration a new connection starts with (see the
/// module docs).
pub fn default_async_config() -> AsyncConfig {
    AsyncConfig {
        packet_in_mask: [PACKET_IN_DEFAULT, 0],
        port_status_mask: [PORT_STATUS_ALL, PORT_STATUS_ALL],
        flow_removed_mask: [FLOW_REMOVED_ALL, 0],
    }
}

/// Whether `msg` changes switch state or sends packets, which a SLAVE may
/// not do (spec §6.3.5): FLOW_MOD, GROUP_MOD, PORT_MOD, TABLE_MOD,
/// METER_MOD, PACKET_OUT, and a TABLE_FEATURES multipart request with a
/// body (which reconfigures the tables). SET_CONFIG, SET_ASYNC, ROLE_REQUEST
/// and read-only multipart requests are allowed. Of the experimenter
/// messages, Nicira's TLV table mod changes state.
pub fn is_state_changing(msg: &Message) -> bool {
    match msg {
        Message::Experimenter(e) => {
            e.experimenter == crate::wire::switch::NX_EXPERIMENTER_ID
                && e.exp_type == crate::wire::nx::tlv::NXT_TLV_TABLE_MOD
        }
        Message::FlowMod(_)
        | Message::GroupMod(_)
        | Message::PortMod(_)
        | Message::TableMod(_)
        | Message::MeterMod(_)
        | Message::PacketOut(_) => true,
        Message::MultipartRequest(r) => {
            matches!(&r.body, MultipartRequestBody::TableFeatures(t) if !t.is_empty())
        }
        _ => false,
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    role: ControllerRole,
    async_config: AsyncConfig,
}

/// Roles, the master-election generation id and async configurations of
/// every connection of one switch.
#[derive(Clone, Debug, Default)]
pub struct RoleTable {
    conns: BTreeMap<ConnId, Entry>,
    /// The largest generation_id seen in a MASTER/SLAVE request, once any.
    generation_id: Option<u64>,
}

impl RoleTable {
    pub fn new() -> RoleTable {
        RoleTable::default()
    }

    /// Register a new connection: role EQUAL, default async configuration.
    pub fn add(&mut self, conn: ConnId) {
        self.conns.insert(
            conn,
            Entry {
                role: ControllerRole::Equal,
                async_config: default_async_config(),
            },
        );
    }

    /// Forget a closed connection. The generation id stays: it belongs to
    /// the switch, not to a connection.
    pub fn remove(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// The current role of `conn` (EQUAL, MASTER or SLAVE), `None` for an
    /// unknown connection.
    pub fn role(&self, conn: ConnId) -> Option<ControllerRole> {
        self.conns.get(&conn).map(|e| e.role)
    }

    /// The connection that is MASTER, if any.
    pub fn master(&self) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|(_, e)| e.role == ControllerRole::Master)
            .map(|(id, _)| *id)
    }

    /// The largest generation id seen so far.
    pub fn generation_id(&self) -> Option<u64> {
        self.generation_id
    }

    /// Whether `conn` may change switch state (it is not a SLAVE). Unknown
    /// connections may not.
    pub fn may_modify(&self, conn: ConnId) -> bool {
        matches!(
            self.role(conn),
            Some(ControllerRole::Equal | ControllerRole::Master)
        )
    }

    /// The role check for one request: `Err(BAD_REQUEST/IS_SLAVE)` when a
    /// SLAVE (or an unknown connection) sends a state-changing message.
    pub fn check(&self, conn: ConnId, msg: &Message) -> Result<(), OfError> {
        if is_state_changing(msg) && !self.may_modify(conn) {
            Err(BadRequest::IS_SLAVE)
        } else {
            Ok(())
        }
    }

    /// Handle OFPT_ROLE_REQUEST from `conn`; `Ok` is the ROLE_REPLY body.
    pub fn handle_role_request(&mut self, conn: ConnId, req: RoleMsg) -> Result<RoleMsg, OfError> {
        if !self.conns.contains_key(&conn) {
            return Err(BadRequest::EPERM);
        }
        match req.role {
            ControllerRole::NoChange => {}
            ControllerRole::Equal => self.set_role(conn, ControllerRole::Equal),
            role @ (ControllerRole::Master | ControllerRole::Slave) => {
                if let Some(cached) = self.generation_id {
                    // Spec 1.3.5 §6.3.5: stale if distance(new, cached) < 0.
                    if (req.generation_id.wrapping_sub(cached) as i64) < 0 {
                        return Err(RoleRequestFailed::STALE);
                    }
                }
                self.generation_id = Some(req.generation_id);
                if role == ControllerRole::Master {
                    for e in self.conns.values_mut() {
                        if e.role == ControllerRole::Master {
                            e.role = ControllerRole::Slave;
                        }
                    }
                }
                self.set_role(conn, role);
            }
            ControllerRole::Unknown(_) => return Err(RoleRequestFailed::BAD_ROLE),
        }
        Ok(RoleMsg {
            role: self.role(conn).unwrap_or(ControllerRole::Equal),
            generation_id: self.generation_id.unwrap_or(0),
        })
    }

    fn set_role(&mut self, conn: ConnId, role: ControllerRole) {
        if let Some(e) = self.conns.get_mut(&conn) {
            e.role = role;
        }
    }

    /// OFPT_SET_ASYNC from `conn`.
    pub fn set_async(&mut self, conn: ConnId, config: AsyncConfig) {
        if let Some(e) = self.conns.get_mut(&conn) {
            e.async_config = config;
        }
    }

    /// The body of OFPT_GET_ASYNC_REPLY for `conn`.
    pub fn async_config(&self, conn: ConnId) -> Option<AsyncConfig> {
        self.conns.get(&conn).map(|e| e.async_config)
    }

    /// Whether `conn` wants an asynchronous message of `kind` with
    /// `reason`, given its role and async configuration.
    pub fn wants(&self, conn: ConnId, kind: AsyncKind, reason: u8) -> bool {
        let Some(e) = self.conns.get(&conn) else {
            return false;
        };
        let idx = usize::from(e.role == ControllerRole::Slave);
        let masks = match kind {
            AsyncKind::PacketIn => e.async_config.packet_in_mask,
            AsyncKind::PortStatus => e.async_config.port_status_mask,
            AsyncKind::FlowRemoved => e.async_config.flow_removed_mask,
        };
        reason < 32 && masks[idx] & (1u32 << reason) != 0
    }

    /// Whether `conn` wants `msg`; messages that are not asynchronous
    /// (not PACKET_IN, PORT_STATUS or FLOW_REMOVED) are always wanted by a
    /// known connection.
    pub fn wants_message(&self, conn: ConnId, msg: &Message) -> bool {
        match AsyncKind::of(msg) {
            Some((kind, reason)) => self.wants(conn, kind, reason),
            None => self.conns.contains_key(&conn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::flow_mod::FlowMod;
    use crate::wire::multipart::MultipartRequest;

    const A: ConnId = ConnId(1);
    const B: ConnId = ConnId(2);

    fn req(role: ControllerRole, generation_id: u64) -> RoleMsg {
        RoleMsg {
            role,
            generation_id,
        }
    }

    fn table() -> RoleTable {
        let mut t = RoleTable::new();
        t.add(A);
        t.add(B);
        t
    }

    #[test]
    fn new_connections_are_equal() {
        let t = table();
        assert_eq!(t.role(A), Some(ControllerRole::Equal));
        assert!(t.may_modify(A));
        assert_eq!(t.master(), None);
        assert_eq!(t.role(ConnId(9)), None);
        assert!(!t.may_modify(ConnId(9)));
    }

    #[test]
    fn nochange_reports_current_role() {
        let mut t = table();
        let r = t
            .handle_role_request(A, req(ControllerRole::NoChange, 77))
            .unwrap();
        assert_eq!(r, req(ControllerRole::Equal, 0));
        // NOCHANGE does not record the generation id.
        assert_eq!(t.generation_id(), None);
    }

    #[test]
    fn master_demotes_previous_master() {
        let mut t = table();
        let r = t
            .handle_role_request(A, req(ControllerRole::Master, 1))
            .unwrap();
        assert_eq!(r, req(ControllerRole::Master, 1));
        assert_eq!(t.master(), Some(A));
        let r = t
            .handle_role_request(B, req(ControllerRole::Master, 2))
            .unwrap();
        assert_eq!(r, req(ControllerRole::Master, 2));
        assert_eq!(t.role(A), Some(ControllerRole::Slave));
        assert_eq!(t.master(), Some(B));
        assert!(!t.may_modify(A));
        assert!(t.may_modify(B));
    }

    #[test]
    fn master_again_is_idempotent() {
        let mut t = table();
        t.handle_role_request(A, req(ControllerRole::Master, 5))
            .unwrap();
        t.handle_role_request(A, req(ControllerRole::Master, 5))
            .unwrap();
        assert_eq!(t.role(A), Some(ControllerRole::Master));
    }

    #[test]
    fn stale_generation_is_refused() {
        let mut t = table();
        t.handle_role_request(A, req(ControllerRole::Master, 10))
            .unwrap();
        assert_eq!(
            t.handle_role_request(B, req(ControllerRole::Master, 9)),
            Err(RoleRequestFailed::STALE)
        );
        assert_eq!(
            t.handle_role_request(B, req(ControllerRole::Slave, 3)),
            Err(RoleRequestFailed::STALE)
        );
        assert_eq!(t.master(), Some(A));
        assert_eq!(t.role(B), Some(ControllerRole::Equal));
        // Equal ignores the generation id.
        assert!(t
            .handle_role_request(B, req(ControllerRole::Equal, 0))
            .is_ok());
        // Equal generation id is not stale.
        assert!(t
            .handle_role_request(B, req(ControllerRole::Slave, 10))
            .is_ok());
    }

    #[test]
    fn generation_id_wraps_around() {
        let mut t = table();
        t.handle_role_request(A, req(ControllerRole::Master, u64::MAX - 1))
            .unwrap();
        // 2 is "after" u64::MAX - 1 in wrap-around order.
        assert!(t
            .handle_role_request(B, req(ControllerRole::Master, 2))
            .is_ok());
        assert_eq!(t.generation_id(), Some(2));
        assert_eq!(
            t.handle_role_request(A, req(ControllerRole::Master, u64::MAX)),
            Err(RoleRequestFailed::STALE)
        );
    }

    #[test]
    fn generation_id_outlives_connections() {
        let mut t = table();
        t.handle_role_request(A, req(ControllerRole::Master, 50))
            .unwrap();
        t.remove(A);
        assert_eq!(t.master(), None);
        assert_eq!(
            t.handle_role_request(B, req(ControllerRole::Master, 49)),
            Err(RoleRequestFailed::STALE)
        );
    }

    #[test]
    fn bad_role_and_unknown_connection() {
        let mut t = table();
        assert_eq!(
            t.handle_role_request(A, req(ControllerRole::Unknown(7), 0)),
            Err(RoleRequestFailed::BAD_ROLE)
        );
        assert_eq!(
            t.handle_role_request(ConnId(9), req(ControllerRole::Equal, 0)),
            Err(BadRequest::EPERM)
        );
    }

    #[test]
    fn slave_cannot_modify() {
        let mut t = table();
        t.handle_role_request(A, req(ControllerRole::Slave, 1))
            .unwrap();
        let flow_mod = Message::FlowMod(FlowMod::default());
        assert_eq!(t.check(A, &flow_mod), Err(BadRequest::IS_SLAVE));
        assert_eq!(t.check(B, &flow_mod), Ok(()));
        assert_eq!(t.check(A, &Message::FeaturesRequest), Ok(()));
        assert_eq!(t.check(A, &Message::BarrierRequest), Ok(()));
        assert_eq!(
            t.check(A, &Message::SetAsync(default_async_config())),
            Ok(())
        );
        let read = Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::TableFeatures(Vec::new()),
        });
        assert_eq!(t.check(A, &read), Ok(()));
    }

    #[test]
    fn async_defaults_follow_role() {
        let mut t = table();
        // Equal: packet-in NO_MATCH and ACTION, not INVALID_TTL.
        assert!(t.wants(A, AsyncKind::PacketIn, 0));
        assert!(t.wants(A, AsyncKind::PacketIn, 1));
        assert!(!t.wants(A, AsyncKind::PacketIn, 2));
        for r in 0..3 {
            assert!(t.wants(A, AsyncKind::PortStatus, r));
        }
        for r in 0..4 {
            assert!(t.wants(A, AsyncKind::FlowRemoved, r));
        }
        // Slave: port-status only.
        t.handle_role_request(A, req(ControllerRole::Slave, 1))
            .unwrap();
        assert!(!t.wants(A, AsyncKind::PacketIn, 0));
        assert!(!t.wants(A, AsyncKind::FlowRemoved, 0));
        assert!(t.wants(A, AsyncKind::PortStatus, 2));
        // Reasons past the mask width are never wanted.
        assert!(!t.wants(B, AsyncKind::PortStatus, 40));
        assert!(!t.wants(ConnId(9), AsyncKind::PortStatus, 0));
    }

    #[test]
    fn set_async_replaces_masks() {
        let mut t = table();
        let cfg = AsyncConfig {
            packet_in_mask: [1 << 2, 1 << 0],
            port_status_mask: [0, 0],
            flow_removed_mask: [1 << 1, 1 << 1],
        };
        t.set_async(A, cfg);
        assert_eq!(t.async_config(A), Some(cfg));
        assert_eq!(t.async_config(B), Some(default_async_config()));
        assert!(t.wants(A, AsyncKind::PacketIn, 2));
        assert!(!t.wants(A, AsyncKind::PacketIn, 0));
        assert!(!t.wants(A, AsyncKind::PortStatus, 0));
        t.handle_role_request(A, req(ControllerRole::Slave, 1))
            .unwrap();
        assert!(t.wants(A, AsyncKind::PacketIn, 0));
        assert!(t.wants(A, AsyncKind::FlowRemoved, 1));
    }
}
