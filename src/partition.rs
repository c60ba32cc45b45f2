//! AWS partitions: which partition (ARN name, DNS suffixes) a region belongs to, and which
//! region and partition an ECR registry host names. Resource ARNs (`arn:<partition>:ecr:…`,
//! the coverage resource id) and registry hosts (`<acct>.dkr.ecr.<region>.<suffix>`) depend on
//! it: a gate in `eusc-de-east-1` that builds `arn:aws:` ids never finds its coverage row.
//!
//! The table is the AWS SDK's own partition data (`partitions.json`, as embedded in
//! aws-sdk-ecr's `endpoint_lib.rs`), resolved by the SDK's rule: a region listed by a
//! partition, else the first partition whose `regionRegex` matches, else `aws`. The tests check
//! every answer against the endpoints the SDK resolves. Update the file from a newer SDK crate
//! when AWS opens a partition.

use regex_lite::Regex;
use serde::Deserialize;
use std::sync::LazyLock;

/// One AWS partition.
#[derive(Debug)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, `aws-eusc`, `aws-iso`, …: the second field of every ARN.
    pub name: String,
    /// `amazonaws.com`, `amazonaws.com.cn`, `amazonaws.eu`, `c2s.ic.gov`, …: the end of every
    /// IPv4 service host.
    pub dns_suffix: String,
    region_regex: Regex,
    regions: Vec<String>,
}

impl PartialEq for Partition {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

#[derive(Deserialize)]
struct File {
    partitions: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id: String,
    region_regex: String,
    regions: std::collections::BTreeMap<String, serde_json::Value>,
    outputs: Outputs,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Outputs {
    dns_suffix: String,
}

static PARTITIONS: LazyLock<Vec<Partition>> = LazyLock::new(|| {
    let file: File = serde_json::from_str(include_str!("partitions.json"))
        .expect("src/partitions.json is the SDK's partition table");
    file.partitions
        .into_iter()
        .map(|e| Partition {
            region_regex: Regex::new(&e.region_regex).expect("the SDK's regionRegex compiles"),
            regions: e.regions.into_keys().collect(),
            name: e.id,
            dns_suffix: e.outputs.dns_suffix,
        })
        .collect()
});

/// Every partition the SDK knows, in its table's order.
pub fn all() -> &'static [Partition] {
    &PARTITIONS
}

/// The partition of `region`, by the SDK's rule (listed region, then `regionRegex`, then `aws`).
pub fn of_region(region: &str) -> &'static Partition {
    let all = all();
    all.iter()
        .find(|p| p.regions.iter().any(|r| r == region))
        .or_else(|| all.iter().find(|p| p.region_regex.is_match(region)))
        .or_else(|| all.iter().find(|p| p.name == "aws"))
        .expect("the SDK's table has the aws partition")
}

/// Whether some partition claims `region` by name or regex (not only by the `aws` fallback).
pub fn is_known_region(region: &str) -> bool {
    all()
        .iter()
        .any(|p| p.regions.iter().any(|r| r == region) || p.region_regex.is_match(region))
}

/// Dual-stack (IPv4 + IPv6) registry hosts: `<acct>.dkr-ecr[-fips].<region>.on.aws` (ECR's
/// "Making requests to Amazon ECR registries" guide).
const DUAL_STACK_SUFFIX: &str = "on.aws";

/// An ECR registry host, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHost {
    /// 12-digit registry (account) id.
    pub account: String,
    pub region: String,
    /// The host itself, kept so that outputs pin the image under the host the user pulls
    /// from (FIPS, dual-stack), not a rebuilt IPv4 one.
    pub host: String,
}

/// Parse an ECR registry host: `<acct>.dkr.ecr[-fips].<region>.<partition's dns suffix>` or
/// the dual-stack `<acct>.dkr-ecr[-fips].<region>.on.aws`. The region must be one the SDK's
/// table places in a partition, and an IPv4 host's suffix must be that partition's (a
/// `cn-north-1` host ends in `.amazonaws.com.cn`). `None` for anything else.
pub fn parse_registry_host(host: &str) -> Option<RegistryHost> {
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (region, suffix) = if let Some(r) = rest
        .strip_prefix("dkr-ecr.")
        .or_else(|| rest.strip_prefix("dkr-ecr-fips."))
    {
        let (region, suffix) = r.split_once('.')?;
        (suffix == DUAL_STACK_SUFFIX).then_some(())?;
        (region, None)
    } else {
        let r = rest
            .strip_prefix("dkr.ecr.")
            .or_else(|| rest.strip_prefix("dkr.ecr-fips."))?;
        let (region, suffix) = r.split_once('.')?;
        (region, Some(suffix))
    };
    if !is_known_region(region) {
        return None;
    }
    if let Some(s) = suffix {
        if s != of_region(region).dns_suffix {
            return None;
        }
    }
    Some(RegistryHost {
        account: account.to_string(),
        region: region.to_string(),
        host: host.to_string(),
    })
}

/// The IPv4 registry host of `account` in `region`: `<acct>.dkr.ecr.<region>.<dns suffix>`.
pub fn registry_host(account: &str, region: &str) -> String {
    format!(
        "{account}.dkr.ecr.{region}.{}",
        of_region(region).dns_suffix
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecr::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    /// The host the SDK's own endpoint resolver picks for ECR in `region` (its partition
    /// table and regexes, compiled into aws-sdk-ecr).
    fn sdk_host(region: &str, fips: bool) -> String {
        let params = Params::builder()
            .region(region)
            .use_fips(fips)
            .use_dual_stack(false)
            .build()
            .unwrap();
        let ep =
            futures::executor::block_on(DefaultResolver::new().resolve_endpoint(&params)).unwrap();
        let url = reqwest::Url::parse(ep.url()).unwrap();
        url.host_str().unwrap().to_string()
    }

    #[test]
    fn the_table_has_every_partition_of_the_sdk() {
        let names: Vec<&str> = all().iter().map(|p| p.name.as_str()).collect();
        for n in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-eusc",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-e",
            "aws-iso-f",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn regions_map_to_the_partition_the_sdk_resolves() {
        // Every listed region, plus regions only a regex claims (one not opened yet).
        let mut regions: Vec<String> = all()
            .iter()
            .flat_map(|p| p.regions.iter().cloned())
            .filter(|r| !r.ends_with("-global"))
            .collect();
        regions.extend(
            [
                "us-west-9",
                "cn-south-7",
                "us-gov-north-3",
                "eusc-de-west-2",
                "us-iso-south-4",
                "us-isob-north-2",
                "eu-isoe-north-5",
                "us-isof-west-6",
            ]
            .map(String::from),
        );
        for r in &regions {
            let p = of_region(r);
            let host = sdk_host(r, false);
            assert_eq!(
                host,
                format!("api.ecr.{r}.{}", p.dns_suffix),
                "{r} in {}",
                p.name
            );
            assert!(is_known_region(r), "{r}");
        }
        assert_eq!(of_region("eusc-de-east-1").name, "aws-eusc");
        assert_eq!(of_region("eusc-de-east-1").dns_suffix, "amazonaws.eu");
        assert_eq!(of_region("us-isof-south-1").name, "aws-iso-f");
        assert_eq!(of_region("eu-isoe-west-1").name, "aws-iso-e");
        assert_eq!(of_region("us-isob-east-1").name, "aws-iso-b");
        assert_eq!(of_region("us-gov-west-1").dns_suffix, "amazonaws.com");
        assert_eq!(of_region("cn-north-1").dns_suffix, "amazonaws.com.cn");
        // The SDK's fallback: an unknown name is `aws`, but no registry host may name it.
        assert_eq!(of_region("moon-base-1").name, "aws");
        assert!(!is_known_region("moon-base-1"));
    }

    #[test]
    fn fips_hosts_are_the_sdks_fips_endpoints_shape() {
        for r in ["us-east-1", "us-gov-west-1", "us-isof-south-1"] {
            let h = sdk_host(r, true);
            assert_eq!(h, format!("api.ecr-fips.{r}.{}", of_region(r).dns_suffix));
        }
    }

    #[test]
    fn registry_hosts_of_every_form() {
        for (host, region) in [
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1"),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                "us-east-1",
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                "eusc-de-east-1",
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                "us-iso-east-1",
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                "us-isob-east-1",
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                "eu-isoe-west-1",
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                "us-isof-south-1",
            ),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", "eu-west-1"),
            ("123456789012.dkr-ecr-fips.us-east-1.on.aws", "us-east-1"),
        ] {
            let h = parse_registry_host(host).unwrap_or_else(|| panic!("{host}"));
            assert_eq!(
                (h.account.as_str(), h.region.as_str(), h.host.as_str()),
                ("123456789012", region, host)
            );
        }
        for bad in [
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com.cn",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com",
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-isof-south-1.amazonaws.com",
            "123456789012.dkr.ecr.moon-base-1.amazonaws.com",
            "123456789012.dkr-ecr.eu-west-1.amazonaws.com",
            "12345.dkr.ecr.us-east-1.amazonaws.com",
            "docker.io",
            "123456789012.dkr.ecr.us-east-1",
        ] {
            assert_eq!(parse_registry_host(bad), None, "{bad}");
        }
        assert_eq!(
            registry_host("123456789012", "eusc-de-east-1"),
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu"
        );
    }
}
