//! Why a change to the switch was refused or failed.
//!
//! One enum for the daemon's core, by what the caller can do about it:
//! each kind maps to one gRPC status code (in `api`) and so to one exit
//! code of `swctl`, and to an OpenFlow error where a controller asked.

/// Why a change to the switch failed.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// An unknown bridge, port, group or meter.
    #[error("{0}")]
    NotFound(String),
    /// A name or id already in use.
    #[error("{0}")]
    AlreadyExists(String),
    /// Malformed input (names, options, flow strings).
    #[error("{0}")]
    Invalid(String),
    /// The switch refused a well-formed change (an OpenFlow error).
    #[error("{0}")]
    Refused(String),
    /// The change could not be applied or persisted.
    #[error("{0}")]
    Internal(String),
}

pub type SwitchResult<T> = Result<T, SwitchError>;

impl From<crate::syntax::SyntaxError> for SwitchError {
    fn from(e: crate::syntax::SyntaxError) -> SwitchError {
        SwitchError::Invalid(e.to_string())
    }
}
