//! OpenFlow 1.3 error types and codes (`ofp_error_type` and its code
//! enums, spec 1.3.5 section 7.4.4), and the [`WireError`] every decoder
//! returns: the error the switch must answer with, plus a human detail.
//!
//! Codes are plain `u16` constants grouped by type, so the spec's tables
//! read straight off this file: `BadRequest::BAD_TYPE` is
//! `OFPET_BAD_REQUEST`/`OFPBRC_BAD_TYPE`.

use std::fmt;

/// An OFPT_ERROR (type, code) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OfError {
    pub kind: u16,
    pub code: u16,
}

macro_rules! error_type {
    ($name:ident = $ty:expr; $($code:ident = $v:expr),* $(,)?) => {
        /// Codes of one `ofp_error_type`.
        #[derive(Debug)]
        pub struct $name;
        impl $name {
            pub const TYPE: u16 = $ty;
            $(pub const $code: OfError = OfError { kind: $ty, code: $v };)*
        }
    };
}

error_type!(HelloFailed = 0; INCOMPATIBLE = 0, EPERM = 1);
error_type!(BadRequest = 1;
    BAD_VERSION = 0, BAD_TYPE = 1, BAD_MULTIPART = 2, BAD_EXPERIMENTER = 3,
    BAD_EXP_TYPE = 4, EPERM = 5, BAD_LEN = 6, BUFFER_EMPTY = 7, BUFFER_UNKNOWN = 8,
    BAD_TABLE_ID = 9, IS_SLAVE = 10, BAD_PORT = 11, BAD_PACKET = 12,
    MULTIPART_BUFFER_OVERFLOW = 13);
error_type!(BadAction = 2;
    BAD_TYPE = 0, BAD_LEN = 1, BAD_EXPERIMENTER = 2, BAD_EXP_TYPE = 3, BAD_OUT_PORT = 4,
    BAD_ARGUMENT = 5, EPERM = 6, TOO_MANY = 7, BAD_QUEUE = 8, BAD_OUT_GROUP = 9,
    MATCH_INCONSISTENT = 10, UNSUPPORTED_ORDER = 11, BAD_TAG = 12, BAD_SET_TYPE = 13,
    BAD_SET_LEN = 14, BAD_SET_ARGUMENT = 15);
error_type!(BadInstruction = 3;
    UNKNOWN_INST = 0, UNSUP_INST = 1, BAD_TABLE_ID = 2, UNSUP_METADATA = 3,
    UNSUP_METADATA_MASK = 4, BAD_EXPERIMENTER = 5, BAD_EXP_TYPE = 6, BAD_LEN = 7, EPERM = 8);
error_type!(BadMatch = 4;
    BAD_TYPE = 0, BAD_LEN = 1, BAD_TAG = 2, BAD_DL_ADDR_MASK = 3, BAD_NW_ADDR_MASK = 4,
    BAD_WILDCARDS = 5, BAD_FIELD = 6, BAD_VALUE = 7, BAD_MASK = 8, BAD_PREREQ = 9,
    DUP_FIELD = 10, EPERM = 11);
error_type!(FlowModFailed = 5;
    UNKNOWN = 0, TABLE_FULL = 1, BAD_TABLE_ID = 2, OVERLAP = 3, EPERM = 4,
    BAD_TIMEOUT = 5, BAD_COMMAND = 6, BAD_FLAGS = 7);
error_type!(GroupModFailed = 6;
    GROUP_EXISTS = 0, INVALID_GROUP = 1, WEIGHT_UNSUPPORTED = 2, OUT_OF_GROUPS = 3,
    OUT_OF_BUCKETS = 4, CHAINING_UNSUPPORTED = 5, WATCH_UNSUPPORTED = 6, LOOP = 7,
    UNKNOWN_GROUP = 8, CHAINED_GROUP = 9, BAD_TYPE = 10, BAD_COMMAND = 11,
    BAD_BUCKET = 12, BAD_WATCH = 13, EPERM = 14);
error_type!(PortModFailed = 7;
    BAD_PORT = 0, BAD_HW_ADDR = 1, BAD_CONFIG = 2, BAD_ADVERTISE = 3, EPERM = 4);
error_type!(TableModFailed = 8; BAD_TABLE = 0, BAD_CONFIG = 1, EPERM = 2);
error_type!(QueueOpFailed = 9; BAD_PORT = 0, BAD_QUEUE = 1, EPERM = 2);
error_type!(SwitchConfigFailed = 10; BAD_FLAGS = 0, BAD_LEN = 1, EPERM = 2);
error_type!(RoleRequestFailed = 11; STALE = 0, UNSUP = 1, BAD_ROLE = 2);
error_type!(MeterModFailed = 12;
    UNKNOWN = 0, METER_EXISTS = 1, INVALID_METER = 2, UNKNOWN_METER = 3, BAD_COMMAND = 4,
    BAD_FLAGS = 5, BAD_RATE = 6, BAD_BURST = 7, BAD_BAND = 8, BAD_BAND_VALUE = 9,
    OUT_OF_METERS = 10, OUT_OF_BANDS = 11);
error_type!(TableFeaturesFailed = 13;
    BAD_TABLE = 0, BAD_METADATA = 1, BAD_TYPE = 2, BAD_LEN = 3, BAD_ARGUMENT = 4, EPERM = 5);

/// `OFPET_EXPERIMENTER`.
pub const OFPET_EXPERIMENTER: u16 = 0xffff;

// Open vSwitch's Nicira errors, sent in OpenFlow 1.2+ as type
// OFPET_EXPERIMENTER with the Nicira experimenter id and these exp_types
// (`ofp-errors.h`, "NX1.2+(n)"): see `ErrorMsg::reply_to`.
error_type!(NxError = OFPET_EXPERIMENTER;
    TLV_BAD_COMMAND = 16, TLV_BAD_OPT_LEN = 17, TLV_BAD_FIELD_IDX = 18,
    TLV_TABLE_FULL = 19, TLV_ALREADY_MAPPED = 20, TLV_DUP_ENTRY = 21,
    INVALID_TLV_FIELD = 37, TLV_INVALID_DEL = 38);

/// A decoding or validation failure: what to answer, and why (for logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub error: OfError,
    pub detail: String,
}

impl WireError {
    pub fn new(error: OfError, detail: impl Into<String>) -> Self {
        WireError {
            error,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OpenFlow error type {} code {}: {}",
            self.error.kind, self.error.code, self.detail
        )
    }
}

impl std::error::Error for WireError {}

/// Shorthand for decoders.
pub type WireResult<T> = Result<T, WireError>;
