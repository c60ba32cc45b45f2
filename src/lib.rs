//! inspector-gate: push an image to Amazon ECR, wait for Amazon Inspector's enhanced scan of
//! exactly that digest, apply a policy, and fail the CI step or approve/reject a CodePipeline
//! manual approval.
//!
//! Layout: a pure core (`model`, `policy`, `report`, `wait::decide`) with no I/O and the clock
//! passed in; adapters at the edges (`aws`, `registry`, `approval`, `ci`); `commands` wires
//! them together for each CLI subcommand.

pub mod approval;
pub mod aws;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod error;
pub mod findings_file;
pub mod handoff;
pub mod image_ref;
pub mod model;
pub mod policy;
pub mod progress;
pub mod registry;
pub mod report;
pub mod retry;
pub mod wait;
