//! When cataloguing must stop: at the run's one deadline (`--timeout`, which covers the
//! catalogue as well as the ScanSbom calls), or at once when the process got SIGTERM/SIGINT.
//!
//! Cataloguing is blocking work on a thread of its own, which a signal or a timer on the async
//! side cannot interrupt: it stops by asking. Every byte the layer and `dir:` readers take
//! from a source goes through a [`Checked`] reader (so the tar walk, jar streaming and binary
//! reading all ask at every read, a few hundred KiB apart), and the loops over entries ask
//! [`Stop::check`] once per entry. The stop is sticky, so a reader that swallows an I/O error
//! (a jar's reader names it as unread) is caught by the next check, before its partial
//! result is kept.
//!
//! Cancellation is process-wide (a signal is), set by the command's runtime with [`cancel`];
//! the deadline belongs to one scan.

use crate::error::Error;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// How long past its stop blocking work is waited for: a reader that asks stops within one
/// read, far sooner; what cannot ask is left behind after this, so the process still ends
/// within a second of a signal or of its deadline.
pub const GRACE: Duration = Duration::from_millis(500);

/// Ask every running scan to stop (the process got SIGTERM or SIGINT).
pub fn cancel() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// When a scan must stop: at its deadline, or when the process is cancelled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    deadline: Option<(Instant, Duration)>,
}

/// Why a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    /// The deadline of this long passed.
    Deadline(Duration),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Cancelled => write!(f, "the scan was interrupted"),
            Stopped::Deadline(d) => write!(
                f,
                "the scan did not finish within its --timeout of {}",
                crate::duration::humanize(*d)
            ),
        }
    }
}

impl std::error::Error for Stopped {}

impl Stop {
    /// Never stops but when cancelled.
    pub fn none() -> Stop {
        Stop { deadline: None }
    }

    /// Stop at `at`, the deadline of a run given `timeout`.
    pub fn at(at: Instant, timeout: Duration) -> Stop {
        Stop {
            deadline: Some((at, timeout)),
        }
    }

    /// Stop `timeout` from now.
    pub fn after(timeout: Duration) -> Stop {
        Stop::at(Instant::now() + timeout, timeout)
    }

    pub fn stopped(&self) -> Option<Stopped> {
        if CANCELLED.load(Ordering::Relaxed) {
            return Some(Stopped::Cancelled);
        }
        match self.deadline {
            Some((at, d)) if Instant::now() >= at => Some(Stopped::Deadline(d)),
            _ => None,
        }
    }

    /// The command's error once the scan must stop, naming what it was reading.
    pub fn check(&self, what: &str) -> Result<(), Error> {
        match self.stopped() {
            Some(s) => Err(error(s, what)),
            None => Ok(()),
        }
    }

    /// `e`, a read of `what` that failed, as the command's error: the stop's when the scan
    /// has been stopped (the reader's error is then only its echo), else `otherwise(e)`.
    pub fn or(
        &self,
        what: &str,
        e: io::Error,
        otherwise: impl FnOnce(io::Error) -> Error,
    ) -> Error {
        match self.stopped() {
            Some(s) => error(s, what),
            None => otherwise(e),
        }
    }
}

/// The command's error for a stopped scan: inconclusive (exit 3) at the deadline — the
/// catalogue is incomplete, so nothing about the image is known — and a runtime error (exit 4)
/// when interrupted, as every interrupted command is.
pub fn error(s: Stopped, what: &str) -> Error {
    match s {
        Stopped::Cancelled => Error::runtime(format!("{s} while reading {what}")),
        Stopped::Deadline(_) => Error::inconclusive(format!(
            "{s}: it was still reading {what}; give it more time with --timeout"
        )),
    }
}

/// A reader that fails with [`Stopped`] once its scan must stop: every byte a scan reads goes
/// through one, so no read loop outlives the stop by more than one read.
pub struct Checked<R> {
    pub inner: R,
    pub stop: Stop,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(s) = self.stop.stopped() {
            return Err(io::Error::other(s));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_reader_fails_once_its_deadline_passed() {
        let data = vec![7u8; 1 << 20];
        let stop = Stop::after(Duration::from_millis(50));
        let mut r = Checked {
            inner: &data[..],
            stop,
        };
        let mut buf = [0u8; 1024];
        assert_eq!(r.read(&mut buf).unwrap(), 1024);
        std::thread::sleep(Duration::from_millis(60));
        let e = r.read(&mut buf).unwrap_err();
        assert!(e.to_string().contains("--timeout of 50ms"), "{e}");
        let err = stop.check("layer 1 of x").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_INCONCLUSIVE);
        assert!(err.message.contains("still reading layer 1 of x"), "{err}");
        let err = stop.or("layer 1", io::Error::other("broken"), |_| {
            Error::runtime("corrupt")
        });
        assert!(err.message.contains("--timeout"), "{err}");
        assert!(Stop::none().check("x").is_ok());
        assert_eq!(
            Stop::none()
                .or("x", io::Error::other("broken"), |_| Error::runtime(
                    "corrupt"
                ))
                .message,
            "corrupt"
        );
    }
}
