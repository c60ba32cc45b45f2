//! Progress reporting on stderr: an indicatif spinner (phase + elapsed time) on a TTY,
//! plain timestamped lines in CI logs. Results never go through here: they go to stdout.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Shared progress sink; cheap to share behind an `Arc`.
pub struct Progress {
    verbosity: Verbosity,
    start: Instant,
    /// Present only when stderr is a terminal (and not quiet).
    multi: Option<MultiProgress>,
    spinner: Mutex<Option<ProgressBar>>,
    color: bool,
}

impl Progress {
    /// `tty` forces the mode (tests); `None` asks whether stderr is a terminal.
    pub fn new(verbosity: Verbosity, color: bool, tty: Option<bool>) -> Self {
        let tty = tty.unwrap_or_else(|| std::io::stderr().is_terminal());
        let multi = (tty && verbosity != Verbosity::Quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            verbosity,
            start: Instant::now(),
            multi,
            spinner: Mutex::new(None),
            color,
        }
    }

    /// A sink that prints nothing (library use, unit tests).
    pub fn silent() -> Self {
        Self::new(Verbosity::Quiet, false, Some(false))
    }

    pub fn is_tty(&self) -> bool {
        self.multi.is_some()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A long-running phase changed ("waiting for scan of app@sha256:… : SCAN_IN_PROGRESS").
    pub fn phase(&self, msg: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        match &self.multi {
            Some(multi) => {
                let mut guard = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
                let sp = guard.get_or_insert_with(|| {
                    let sp = multi.add(ProgressBar::new_spinner());
                    sp.set_style(
                        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    sp.enable_steady_tick(Duration::from_millis(120));
                    sp
                });
                sp.set_message(crate::sanitize::text(msg));
            }
            None => self.line("", msg),
        }
    }

    /// A notable event that should stay in the log.
    pub fn info(&self, msg: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.line("", msg);
        }
    }

    /// Only with `-v`.
    pub fn debug(&self, msg: &str) {
        if self.verbosity == Verbosity::Verbose {
            self.line("debug: ", msg);
        }
    }

    /// Warnings are shown even with `-q`: they explain a verdict.
    pub fn warn(&self, msg: &str) {
        let prefix = if self.color {
            "\x1b[33mwarning:\x1b[0m "
        } else {
            "warning: "
        };
        self.line(prefix, msg);
    }

    /// A byte-progress bar for uploads; `None` when not on a TTY (then callers log summaries).
    pub fn bytes_bar(&self, label: &str, total: u64) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>20} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(crate::sanitize::text(label));
        Some(bar)
    }

    /// Clear the spinner before results are printed.
    pub fn finish(&self) {
        if let Some(sp) = self
            .spinner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            sp.finish_and_clear();
        }
    }

    fn line(&self, prefix: &str, msg: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        // Messages carry external text (platforms, registry answers): one sanitized line.
        let text = format!("[{secs:7.1}s] {prefix}{}", crate::sanitize::text(msg));
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let ts = time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{ts} {text}");
            }
        }
    }
}
