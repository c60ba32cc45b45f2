//! The scan's one deadline, and its cancellation: a read loop asks [`Stop::check`] (or reads
//! through [`Checked`]) so that `--timeout` covers cataloguing and a SIGTERM/SIGINT ends a
//! long catalogue within moments instead of after it.
//!
//! Cancellation is process-wide (a signal is), set by the command's runtime through
//! [`cancel`]; the deadline belongs to one scan.

use crate::error::Error;
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Ask every running scan to stop (the process got SIGTERM or SIGINT).
pub fn cancel() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// When a scan must stop: at its deadline, or when the process is cancelled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    deadline: Option<(Instant, Duration)>,
}

/// Why a scan stopped, carried through `std::io::Error` by the readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    /// The deadline of this many seconds passed.
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

    /// Stop `timeout` from now.
    pub fn after(timeout: Duration) -> Stop {
        Stop {
            deadline: Some((Instant::now() + timeout, timeout)),
        }
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

    /// `Err` (an `io::Error` carrying [`Stopped`]) once the scan must stop.
    pub fn check(&self) -> io::Result<()> {
        match self.stopped() {
            Some(s) => Err(io::Error::other(s)),
            None => Ok(()),
        }
    }
}

/// The [`Stopped`] an I/O error carries, if it is one.
pub fn stopped(e: &io::Error) -> Option<Stopped> {
    e.get_ref()?.downcast_ref::<Stopped>().copied()
}

/// The command's error for a stopped scan: inconclusive (exit 3) at the deadline, a runtime
/// error (exit 4) when interrupted.
pub fn error(s: Stopped, what: &str) -> Error {
    match s {
        Stopped::Cancelled => Error::runtime(format!("{s} while reading {what}")),
        Stopped::Deadline(_) => Error::inconclusive(format!(
            "{s}: it was still reading {what}; give it more time with --timeout"
        )),
    }
}

/// A reader that fails with [`Stopped`] once its scan must stop: every byte the scan reads
/// goes through one, so no read loop can outlive the deadline by more than one read.
pub struct Checked<R> {
    pub inner: R,
    pub stop: Stop,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stop.check()?;
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for Checked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.stop.check()?;
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}
