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
    /// Files a cataloger wanted but could not use (unreadable, over the size cap, unknown format).
    pub skipped: usize,
    /// One line per malformed database or other problem worth telling the user about.
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
    }
}

use crate::error::Error;
use layers::ScanSource;

/// Catalogue a source: one inventory per platform image (one for a root filesystem).
/// Blocking (file I/O and decompression): call it from `spawn_blocking` in async code.
pub fn catalogue(source: &ScanSource) -> Result<Vec<Inventory>, Error> {
    match source {
        ScanSource::Dir(dir) => {
            let tree = layers::read_dir(dir, &catalog::want)?;
            Ok(vec![catalog::catalogue(&tree, None)])
        }
        ScanSource::Image(spec) => {
            let images = layers::images(spec)?;
            images
                .images
                .iter()
                .map(|img| {
                    let tree = layers::read_image(img, &catalog::want)?;
                    Ok(catalog::catalogue(&tree, img.platform.clone()))
                })
                .collect()
        }
    }
}
