//! Test support shared by the end-to-end tests: real peers (moto, docker-registry) and our
//! scripted AWS server, all on 127.0.0.1 and stopped by the test that started them.
#![allow(dead_code)]

pub mod aws;
pub mod echo_registry;
pub mod faults;
pub mod filters;
pub mod findings;
pub mod fixtures;
pub mod gated;
pub mod model;
pub mod moto;
pub mod referrers_proxy;
pub mod registry;
pub mod s3_regions;
pub mod scan_server;
pub mod scenario;
pub mod sdk;
pub mod serve;
pub mod world;
