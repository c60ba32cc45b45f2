//! Publishing a finished report: warnings on stderr, the chosen format on stdout, the report
//! files in `--report-dir`, and the native outputs of the CI system. Shared by every use case
//! that produces a verdict (`gate`, `evaluate`).

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::{self, Format, Report};
use std::path::{Path, PathBuf};

/// Where and how a report is shown.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    pub format: Format,
    pub report_dir: Option<PathBuf>,
    pub color: bool,
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

/// Write the report files into `dir`.
pub fn write_reports(report: &Report, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::runtime(format!("cannot create report dir {}: {e}", dir.display())))?;
    for (name, text) in files(report) {
        write_file(&dir.join(name), &text)?;
    }
    Ok(())
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
    print!("{}", opts.format.render(report, opts.color));
    if let Some(dir) = &opts.report_dir {
        write_reports(report, dir)?;
    }
    crate::ci::emit_from_env(report, opts.report_dir.as_deref())
        .map_err(|e| Error::runtime(format!("cannot write CI outputs: {e}")))
}

/// Write a whole file, naming it in the error.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))
}
