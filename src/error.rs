//! The one error type of inspector-gate and the exit codes it maps to.
//!
//! Every failure that reaches the user is an [`Error`]: a kind (which decides the exit
//! code) and one line of text naming the cause and, where known, the fix. Messages are
//! lowercase fragments that read well after "error: ".

use std::fmt;

/// Exit code: passed (and approved, when asked to approve).
pub const EXIT_PASS: i32 = 0;
/// Exit code: policy violated (and rejected, when asked to approve).
pub const EXIT_VIOLATION: i32 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: inconclusive (timeout, unsupported image, scanning not enabled, ...).
pub const EXIT_INCONCLUSIVE: i32 = 3;
/// Exit code: runtime error (AWS, registry, network, I/O, access denied).
pub const EXIT_RUNTIME: i32 = 4;

/// What went wrong, in the terms of the exit-code contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flag, invalid policy file, bad image reference (exit 2).
    Usage,
    /// Image unsupported, eligibility expired, not covered by enhanced scanning (exit 3).
    Inconclusive,
    /// The deadline passed before the scan was seen done: no finding was read (exit 3). The
    /// one gap `--on-timeout pass` may accept.
    Timeout,
    /// The deadline passed after the scan was seen done, before its findings were read
    /// completely or were final (exit 3 whatever `--on-timeout` says: the scan finished, so
    /// its findings are an input the verdict depends on).
    ReadTimeout,
    /// AWS or registry error, access denied, network, I/O (exit 4).
    Runtime,
}

/// The error every fallible function of the crate returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Further lines printed under the error line, one item each (e.g. every problem of a
    /// policy file); the error line itself says they follow.
    pub details: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Usage,
            message: message.into(),
            details: Vec::new(),
        }
    }
    pub fn inconclusive(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Inconclusive,
            message: message.into(),
            details: Vec::new(),
        }
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Timeout,
            message: message.into(),
            details: Vec::new(),
        }
    }
    pub fn read_timeout(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::ReadTimeout,
            message: message.into(),
            details: Vec::new(),
        }
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Runtime,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The same error with lines to print under it.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// Prefix the message with what was being done ("pushing app:1: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The process exit code for this error (see the table in README.md).
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage => EXIT_USAGE,
            ErrorKind::Inconclusive | ErrorKind::Timeout | ErrorKind::ReadTimeout => {
                EXIT_INCONCLUSIVE
            }
            ErrorKind::Runtime => EXIT_RUNTIME,
        }
    }
}

/// An I/O failure as a user reads it: "does not exist", "permission denied", else the OS's
/// own words (the one wording for every local input of every command).
pub fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, always: multi-line causes are folded so CI logs stay greppable, and other
        // control characters (terminal escapes echoed from a file or a server) become spaces.
        let one_line: String = self
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        f.write_str(&one_line)
    }
}

impl std::error::Error for Error {}

/// Fold any whitespace run (newlines included) into one space, for one-line messages built
/// from text we do not control (SDK error chains, registry error bodies).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error and its causes as `err: cause: cause`, each cause's own text once (hyper, reqwest
/// and the AWS SDK often wrap the same text), without the `Debug` dumps an SDK error's
/// context display appends: the line a user reads names the cause, not the structs around it.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    one_line(&parts.join(": "))
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::runtime(format!("i/o error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::inconclusive("x").exit_code(), 3);
        assert_eq!(Error::timeout("x").exit_code(), 3);
        assert_eq!(Error::read_timeout("x").exit_code(), 3);
        assert_eq!(Error::runtime("x").exit_code(), 4);
    }

    #[test]
    fn display_is_one_line() {
        let e = Error::runtime("a\nb\r\nc").context("pushing");
        assert_eq!(e.to_string(), "pushing: a b  c");
        let e = Error::runtime("bad \u{1b}[31mred\u{0}\tx");
        assert_eq!(e.to_string(), "bad  [31mred  x");
    }
}
