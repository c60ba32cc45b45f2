//! Publishing a finished report: warnings on stderr, the chosen format on stdout, the report
//! files in `--report-dir`, and the native outputs of the CI system. Shared by every use case
//! that produces a verdict (`gate`, `evaluate`).

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::{self, Format, Report};
use std::path::{Path, PathBuf};

/// Where and how a report is shown.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub format: Format,
    pub report_dir: Option<PathBuf>,
    pub color: bool,
    /// Display columns of stdout (the table fits them; see `cli::stdout_width`).
    pub width: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            format: Format::default(),
            report_dir: None,
            color: false,
            width: report::table::Layout::DEFAULT_WIDTH,
        }
    }
}

/// The report files and their renderers, in the order they are written.
pub fn files(report: &Report) -> [(&'static str, String); 4] {
    [
        ("report.json", report::json::render(report)),
        ("report.sarif", report::sarif::render(report)),
        ("junit.xml", report::junit::render(report)),
        ("summary.md", report::markdown::render(report)),
    ]
}

/// Write the report files into `dir`, each whole or not at all ([`crate::file`]); returns the
/// line that announces them.
pub fn write_reports(report: &Report, dir: &Path) -> Result<String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::runtime(format!("cannot create report dir {}: {e}", dir.display())))?;
    let mut names = Vec::new();
    for (name, text) in files(report) {
        crate::file::write(&dir.join(name), &text)?;
        names.push(name);
    }
    Ok(wrote_line(dir, &names))
}

/// `wrote reports/ (report.json, report.sarif, junit.xml, summary.md)`.
pub fn wrote_line(dir: &Path, names: &[&str]) -> String {
    let dir = dir.display().to_string();
    format!(
        "wrote {}/ ({})",
        dir.trim_end_matches('/'),
        names.join(", ")
    )
}

/// Show a finished report: its warnings (once each) on stderr, the chosen format on stdout,
/// the report files, and the CI system's native outputs.
pub fn publish(report: &Report, opts: &PublishOptions, progress: &Progress) -> Result<()> {
    let warnings: std::collections::BTreeSet<&String> = report
        .images
        .iter()
        .flat_map(|i| i.evaluation.warnings.iter())
        .collect();
    for w in warnings {
        progress.warn(w);
    }
    // The files first, so that the table points at report.json only when it was written; the
    // table is shown even when they could not be, before that error ends the run.
    let written = opts
        .report_dir
        .as_ref()
        .map(|dir| write_reports(report, dir).map(|line| (line, dir.join("report.json"))));
    let layout = report::table::Layout {
        width: opts.width,
        color: opts.color,
        report_json: match &written {
            Some(Ok((_, path))) => Some(path.display().to_string()),
            _ => None,
        },
    };
    print!("{}", opts.format.render(report, &layout));
    match written {
        Some(Err(e)) => return Err(e),
        // After the table, so a terminal shows it below the verdict, with the hand-off lines.
        Some(Ok((line, _))) => progress.info(&line),
        None => {}
    }
    crate::ci::emit_from_env(report, opts.report_dir.as_deref())
        .map_err(|e| Error::runtime(format!("cannot write CI outputs: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reports_are_announced_by_their_directory() {
        let names = ["report.json", "report.sarif", "junit.xml", "summary.md"];
        for dir in ["reports", "reports/"] {
            assert_eq!(
                super::wrote_line(std::path::Path::new(dir), &names),
                "wrote reports/ (report.json, report.sarif, junit.xml, summary.md)"
            );
        }
    }
}
