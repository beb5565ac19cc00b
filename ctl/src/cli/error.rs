//! What went wrong, said so that a person can fix it.
//!
//! Every failure names the verb and its object ("add-flow br0: ..."), and a
//! flow, group or meter string that does not parse is echoed with a caret
//! line under the offending token. switchd reports such errors as
//! INVALID_ARGUMENT with a message ending in "(at `TOKEN`)"; the one idea
//! here is that swctl does not need the position from the server: the
//! token is a verbatim piece of the string the user typed, so finding it
//! again (at a token boundary) gives the column.
//!
//! Exit status: 1 when switchd refused (nothing changed), 2 for a bad
//! command line, 3 when switchd cannot be reached, or went away during the
//! request (then the change may or may not have been applied).

use tonic::Code;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No daemon at the target.
    #[error("cannot reach switchd at {target}: {why}")]
    Unreachable { target: String, why: String },
    /// switchd answered with an error.
    #[error("{context}: {message}")]
    Refused {
        context: String,
        code: Code,
        message: String,
        /// The flow/group/meter text the request carried, for the caret.
        input: Option<String>,
    },
    /// The command line (or a file it names) is wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// Wraps a gRPC status from the request described by `context`.
    pub fn status(context: impl Into<String>, status: tonic::Status) -> CliError {
        Self::status_with_input(context, status, None)
    }

    /// Like [`CliError::status`], remembering the text that was sent.
    pub fn status_with_input(
        context: impl Into<String>,
        status: tonic::Status,
        input: Option<&str>,
    ) -> CliError {
        let context = context.into();
        // A status switchd sent is decoded from the reply and has no source
        // error; one with a source is the client's own account of a broken
        // connection: switchd died or went away during the request, and
        // whether the change was applied is not known.
        if std::error::Error::source(&status).is_some() {
            return CliError::Unreachable {
                target: "the API".into(),
                why: format!(
                    "{context}: the connection broke during the request ({}); \
                     the change may or may not have been applied: check with `swctl show`",
                    describe(&status)
                ),
            };
        }
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => CliError::Unreachable {
                target: "the API".into(),
                why: format!("{context}: {}", describe(&status)),
            },
            code => CliError::Refused {
                context,
                code,
                message: describe(&status),
                input: input.map(str::to_owned),
            },
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Refused { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 3,
        }
    }

    /// The full report for stderr: the message, and for a syntax error the
    /// input with a caret line under the offending token.
    pub fn report(&self) -> String {
        let mut out = format!("swctl: {self}\n");
        if let CliError::Refused {
            input: Some(input),
            message,
            ..
        } = self
        {
            if let Some(token) = offending_token(message) {
                if let Some(lines) = caret(input, token) {
                    out.push_str(&lines);
                }
            }
        }
        out
    }
}

/// The status message, or the code's meaning when there is none.
fn describe(status: &tonic::Status) -> String {
    if status.message().is_empty() {
        status.code().description().to_string()
    } else {
        status.message().to_string()
    }
}

/// The token of a message ending in "(at `TOKEN`)".
pub fn offending_token(message: &str) -> Option<&str> {
    let start = message.rfind("(at `")? + "(at `".len();
    let rest = &message[start..];
    let end = rest.rfind("`)")?;
    let token = &rest[..end];
    (!token.is_empty()).then_some(token)
}

/// Where `token` stands in `input`: the first occurrence that starts and
/// ends at a boundary of the flow syntax, else the first occurrence.
pub fn locate(input: &str, token: &str) -> Option<usize> {
    let is_sep = |c: Option<char>| {
        c.is_none_or(|c| c.is_whitespace() || matches!(c, ',' | '=' | ':' | '(' | ')' | ';'))
    };
    let found: Vec<usize> = input.match_indices(token).map(|(i, _)| i).collect();
    found
        .iter()
        .copied()
        .find(|&i| {
            let before = input[..i].chars().next_back();
            let after = input[i + token.len()..].chars().next();
            is_sep(before) && is_sep(after)
        })
        .or_else(|| found.first().copied())
}

/// `    INPUT\n    ^^^^\n` with the carets under `token`, or `None` when
/// the token is not in the input.
pub fn caret(input: &str, token: &str) -> Option<String> {
    let at = locate(input, token)?;
    let column = input[..at].chars().count();
    let width = token.chars().count().max(1);
    Some(format!(
        "    {input}\n    {}{}\n",
        " ".repeat(column),
        "^".repeat(width)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_from_the_end_of_the_message() {
        assert_eq!(
            offending_token("unknown field \"nw_dsst\" (at `nw_dsst=1.2.3.4`)"),
            Some("nw_dsst=1.2.3.4")
        );
        assert_eq!(offending_token("bridge br9 not found"), None);
        assert_eq!(offending_token("(at ``)"), None);
    }

    #[test]
    fn the_caret_sits_under_the_token() {
        let text = caret("ip,nw_dsst=1.2.3.4,actions=drop", "nw_dsst=1.2.3.4").unwrap();
        assert_eq!(
            text,
            "    ip,nw_dsst=1.2.3.4,actions=drop\n       ^^^^^^^^^^^^^^^\n"
        );
    }

    #[test]
    fn a_token_at_a_boundary_wins_over_an_earlier_substring() {
        // "ip" first appears inside "ipv6"; the token is the later "ip".
        let input = "ipv6,priority=5,ip";
        assert_eq!(locate(input, "ip"), Some(16));
        assert_eq!(locate("output:22,output:2", "2"), Some(17));
        assert_eq!(locate("abc", "zz"), None);
    }

    #[test]
    fn refusals_carry_the_caret_and_exit_1() {
        let status = tonic::Status::invalid_argument("unknown action \"flod\" (at `flod`)");
        let e =
            CliError::status_with_input("add-flow br0", status, Some("priority=1,actions=flod"));
        assert_eq!(e.exit_code(), 1);
        let report = e.report();
        assert!(
            report.starts_with("swctl: add-flow br0: unknown action"),
            "{report}"
        );
        assert!(
            report.ends_with("                       ^^^^\n"),
            "{report:?}"
        );
    }

    #[test]
    fn an_unavailable_daemon_exits_3() {
        let e = CliError::status("show", tonic::Status::unavailable("connection reset"));
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("connection reset"));
    }
}
