//! Local scan without a push: read an image's layers (or a root filesystem), catalogue the
//! packages it holds, write them as a CycloneDX 1.5 SBOM and have Amazon Inspector's
//! synchronous `ScanSbom` API find their vulnerabilities.
//!
//! This module knows no CLI: `layers` reads sources, `catalog` turns the files it keeps into
//! packages, `purl` names them the way Inspector matches them, `sbom` writes the document and
//! splits it into requests, and `inspector_scan` calls the API and converts its answer into
//! the crate's [`crate::model::Finding`], so the registry gate's policy and reports apply
//! unchanged.

pub mod binary;
pub mod catalog;
pub mod inspector_scan;
pub mod layers;
pub mod purl;
pub mod sbom;
pub mod stop;

use serde::Serialize;

/// The package ecosystems the catalogers report, named as in package URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
    Npm,
    Pypi,
    Maven,
    Golang,
    Cargo,
    Gem,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Maven => "maven",
            Ecosystem::Golang => "golang",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Gem => "gem",
        }
    }

    /// OS packages (managed by the distribution's package manager) versus language packages.
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm)
    }
}

/// One installed package found in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// Package URL, with the distro qualifiers Inspector matches OS packages on.
    pub purl: String,
    /// The file in the image it was read from (`/var/lib/dpkg/status`, a jar, a binary).
    pub location: String,
}

/// The distribution an image is built on, from `os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Distro {
    /// `ID`: debian, ubuntu, alpine, amzn, rhel, fedora, ...
    pub id: String,
    /// `VERSION_ID`: 12, 22.04, 3.19.1, 2, 2023, 9.4, ...
    pub version_id: String,
    /// `PRETTY_NAME`, for reports.
    pub pretty_name: Option<String>,
}

/// Everything catalogued from one platform image (or one root filesystem).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    /// `os/arch[/variant]` when the source named it.
    pub platform: Option<String>,
    pub distro: Option<Distro>,
    pub packages: Vec<Package>,
    /// What the image holds that was not catalogued: files a cataloger wanted and did not
    /// read (size, format, error, budget), package databases it could not parse, layers the
    /// source does not hold. Any of them makes the catalogue incomplete.
    pub unread: Vec<layers::Unread>,
    /// Notes about what was catalogued that are not gaps (each one line).
    pub warnings: Vec<String>,
}

impl Inventory {
    /// Sort and drop exact duplicates (the same package URL found at the same place).
    pub fn normalise(&mut self) {
        self.packages.sort_by(|a, b| {
            (a.ecosystem, &a.name, &a.version, &a.location).cmp(&(
                b.ecosystem,
                &b.name,
                &b.version,
                &b.location,
            ))
        });
        self.packages
            .dedup_by(|a, b| a.purl == b.purl && a.location == b.location);
        self.unread.sort();
        self.unread.dedup();
    }
}

use crate::error::Error;
use layers::ScanSource;

/// Catalogue a source: one inventory per platform image (one for a root filesystem).
/// Blocking (file I/O and decompression): call it from `spawn_blocking` in async code.
pub fn catalogue(source: &ScanSource) -> Result<Vec<Inventory>, Error> {
    catalogue_until(source, &stop::Stop::none())
}

/// [`catalogue`], ending with the stop's error (and no inventory) once `stop` says so.
pub fn catalogue_until(source: &ScanSource, stop: &stop::Stop) -> Result<Vec<Inventory>, Error> {
    match source {
        ScanSource::Dir(dir) => {
            let tree = layers::read_dir_until(dir, &catalog::want, stop)?;
            Ok(vec![catalog::catalogue(&tree, None)])
        }
        ScanSource::Image(spec) => {
            let images = layers::images(spec, stop)?;
            images
                .images
                .iter()
                .map(|img| {
                    let tree = layers::read_image_until(img, &catalog::want, stop)?;
                    Ok(catalog::catalogue(&tree, img.platform.clone()))
                })
                .collect()
        }
    }
}

/// What `scan` reads: an image or root filesystem to catalogue, or an SBOM made elsewhere.
#[derive(Debug, Clone)]
pub enum Input {
    From(ScanSource),
    Sbom(std::path::PathBuf),
}

/// The options of one local scan, as the CLI (or any other caller) fills them.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub input: Input,
    /// Write the SBOM here (one file per platform for multi-platform images:
    /// `NAME.<os>-<arch>[-<variant>].EXT`).
    pub sbom_out: Option<std::path::PathBuf>,
    pub format: inspector_scan::Format,
    pub aws: crate::aws::AwsOptions,
    /// The run's one deadline, from its start: cataloguing and the ScanSbom calls (retries
    /// included) together.
    pub timeout: std::time::Duration,
    /// RFC 3339 time written into the SBOM (passed in: the caller owns the clock).
    pub timestamp: String,
}

/// The outcome for one platform image (or the one root filesystem or SBOM).
#[derive(Debug, Clone)]
pub struct PlatformScan {
    /// The source, and the platform when there are several.
    pub label: String,
    pub platform: Option<String>,
    /// Absent for `--sbom` input (nothing was catalogued here).
    pub inventory: Option<Inventory>,
    pub components: usize,
    pub findings: Vec<crate::model::Finding>,
}

/// The largest SBOM file `--sbom` reads.
const MAX_SBOM_FILE: u64 = 256 << 20;

/// Catalogue (or read) the SBOM(s), scan them with ScanSbom, and return the findings per
/// platform. Policy evaluation and reports are the caller's: the same ones as the gate.
pub async fn run(opts: &ScanOptions) -> Result<Vec<PlatformScan>, Error> {
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let mut planned: Vec<(PlatformScan, Vec<serde_json::Value>)> = Vec::new();
    match &opts.input {
        Input::From(source) => {
            let src = source.clone();
            let stop = stop::Stop::at(deadline.into_std(), opts.timeout);
            let work = tokio::task::spawn_blocking(move || catalogue_until(&src, &stop));
            // The catalogue stops itself at the deadline (its readers ask `stop`); what does
            // not ask (`docker save` behind a docker: source) is not waited for past it.
            let inventories = tokio::time::timeout_at(deadline + stop::GRACE, work)
                .await
                .map_err(|_| {
                    stop::error(
                        stop::Stopped::Deadline(opts.timeout),
                        &format!("the image source {source}"),
                    )
                })?
                .map_err(|e| Error::runtime(format!("cataloguing the image failed: {e}")))??;
            let many = inventories.len() > 1;
            for inv in inventories {
                let label = match (&inv.platform, many) {
                    (Some(p), true) => format!("{source} ({p})"),
                    _ => source.to_string(),
                };
                let subject = sbom::Subject {
                    name: source.to_string(),
                    platform: inv.platform.clone(),
                };
                let (whole, parts) = sbom::documents(&subject, &inv, &opts.timestamp);
                if let Some(out) = &opts.sbom_out {
                    let path = if many {
                        per_platform(out, inv.platform.as_deref())
                    } else {
                        out.clone()
                    };
                    write_json(&path, &whole)?;
                }
                planned.push((
                    PlatformScan {
                        label,
                        platform: inv.platform.clone(),
                        components: inv.packages.len(),
                        inventory: Some(inv),
                        findings: Vec::new(),
                    },
                    parts,
                ));
            }
        }
        Input::Sbom(path) => {
            let doc = read_sbom(path)?;
            let parts = sbom::split(&doc)?;
            let components = parts
                .iter()
                .map(|d| d["components"].as_array().map_or(0, Vec::len))
                .sum();
            planned.push((
                PlatformScan {
                    label: path.display().to_string(),
                    platform: None,
                    inventory: None,
                    components,
                    findings: Vec::new(),
                },
                parts,
            ));
        }
    }
    // Nothing catalogued: no call (an empty SBOM says nothing); the caller reports it.
    if planned.iter().all(|(p, _)| p.components == 0) {
        return Ok(planned.into_iter().map(|(p, _)| p).collect());
    }
    let client = inspector_scan::client(&opts.aws).await?;
    let mut out = Vec::with_capacity(planned.len());
    for (mut p, parts) in planned {
        if p.components > 0 {
            p.findings = inspector_scan::scan(&client, &parts, opts.format, deadline)
                .await
                .map_err(|e| e.context(&p.label))?;
        }
        out.push(p);
    }
    Ok(out)
}

/// `sbom.json` + `linux/arm64/v8` -> `sbom.linux-arm64-v8.json`.
fn per_platform(out: &std::path::Path, platform: Option<&str>) -> std::path::PathBuf {
    let tag = platform.unwrap_or("unknown").replace('/', "-");
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sbom".into());
    let name = match out.extension() {
        Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tag}"),
    };
    out.with_file_name(name)
}

fn write_json(path: &std::path::Path, doc: &serde_json::Value) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(doc)
        .map_err(|e| Error::runtime(format!("cannot encode the SBOM: {e}")))?;
    crate::file::replace(path, &bytes)
        .map_err(|e| Error::runtime(format!("cannot write the SBOM to {}: {e}", path.display())))
}

fn read_sbom(path: &std::path::Path) -> Result<serde_json::Value, Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::usage(format!("cannot read the SBOM {}: {e}", path.display())))?;
    if meta.len() > MAX_SBOM_FILE {
        return Err(Error::usage(format!(
            "the SBOM {} is {} MiB, over the {} MiB this command reads",
            path.display(),
            meta.len() >> 20,
            MAX_SBOM_FILE >> 20
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read the SBOM {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "the SBOM {} is not valid JSON ({e}): ScanSbom takes CycloneDX 1.5 JSON",
            path.display()
        ))
    })
}
