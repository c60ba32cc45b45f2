//! AWS partitions: which partition (and DNS suffix) a region belongs to. Resource ARNs
//! (`arn:<partition>:ecr:…`, the coverage resource id) and registry hosts
//! (`<acct>.dkr.ecr.<region>.<suffix>`) depend on it: a gate in `cn-north-1` that builds
//! `arn:aws:` ids never finds its coverage row and waits out its timeout.

/// One AWS partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, …: the second field of every ARN.
    pub name: &'static str,
    /// `amazonaws.com`, `amazonaws.com.cn`, …: the end of every service host.
    pub dns_suffix: &'static str,
}

pub const AWS: Partition = Partition {
    name: "aws",
    dns_suffix: "amazonaws.com",
};
pub const AWS_CN: Partition = Partition {
    name: "aws-cn",
    dns_suffix: "amazonaws.com.cn",
};
pub const AWS_US_GOV: Partition = Partition {
    name: "aws-us-gov",
    dns_suffix: "amazonaws.com",
};
pub const AWS_ISO: Partition = Partition {
    name: "aws-iso",
    dns_suffix: "c2s.ic.gov",
};
pub const AWS_ISO_B: Partition = Partition {
    name: "aws-iso-b",
    dns_suffix: "sc2s.sgov.gov",
};

/// The partition of `region`, by its prefix (the rule the SDK's partition table encodes).
pub fn of_region(region: &str) -> Partition {
    if region.starts_with("cn-") {
        AWS_CN
    } else if region.starts_with("us-gov-") {
        AWS_US_GOV
    } else if region.starts_with("us-isob-") {
        AWS_ISO_B
    } else if region.starts_with("us-iso-") {
        AWS_ISO
    } else {
        AWS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partition() {
        assert_eq!(of_region("eu-west-1"), AWS);
        assert_eq!(of_region("cn-northwest-1").name, "aws-cn");
        assert_eq!(of_region("cn-north-1").dns_suffix, "amazonaws.com.cn");
        assert_eq!(of_region("us-gov-west-1").name, "aws-us-gov");
        assert_eq!(of_region("us-gov-east-1").dns_suffix, "amazonaws.com");
        assert_eq!(of_region("us-iso-east-1").name, "aws-iso");
        assert_eq!(of_region("us-isob-east-1").name, "aws-iso-b");
    }
}
