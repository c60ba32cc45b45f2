//! inspector-gate: push an image to Amazon ECR, wait for Amazon Inspector's enhanced scan of
//! exactly that digest, apply a policy, and fail the CI step or approve/reject a CodePipeline
//! manual approval.
//!
//! Layout (see docs/architecture.md): a pure core (`model`, `policy`, `report`, `decision`, the
//! wait judgements in `wait`) with no I/O and the clock passed in; adapters at the edges (`aws`,
//! `registry`, `approval`, `ci`); `pipeline` holds the use cases that wire them together. The
//! command line lives in the binary only: this library has no clap types.

pub mod approval;
pub mod attest;
pub mod aws;
pub mod baseline;
pub mod ci;
pub mod decision;
pub mod duration;
pub mod error;
pub mod file;
pub mod findings_file;
pub mod fixplan;
pub mod handoff;
pub mod iam;
pub mod image;
pub mod image_ref;
pub mod model;
pub mod oci;
pub mod partition;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod registry;
pub mod report;
pub mod retry;
pub mod sanitize;
pub mod scan;
#[cfg(test)]
mod test_support;
pub mod version;
pub mod wait;
