//! The IAM actions the gate calls, in one table: which use (a flag, a phase) needs which
//! actions on which resource, and the least-privilege policy a run's flags need, built from
//! it. Pure: no AWS call. Read by `gate --dry-run` (the list) and `inspector-gate iam-policy`
//! (the IAM JSON); docs/security.md and codebuild/pipeline.yaml grant the same actions (a
//! test here holds all three to each other).

use crate::approval::ApprovalTarget;
use crate::attest::key::KeyRef;
use crate::image_ref::ImageRef;
use crate::policy::file::FloorSource;
use serde_json::{json, Value};

/// Why a run calls AWS: each use is one or more rows of [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    /// Resolve the gated image, check scanning coverage, wait and read the findings.
    Read,
    /// `--push-from` (and `push`): the registry token and the upload actions.
    Push,
    /// `--attest awskms:///…`: sign the decision.
    AttestSign,
    /// `--attest`: store the envelope as the image's `sha256-<hex>.att` tag (a push).
    AttestStore,
    /// `--approve`: find and answer the manual approval.
    Approve,
    /// `verify`: pull the attestation from the registry.
    VerifyPull,
    /// `verify --key awskms:///…`: the public key.
    VerifyKey,
    /// `--policy-floor ssm:/NAME`.
    FloorSsm,
    /// `--policy-floor s3://BUCKET/KEY`.
    FloorS3,
    /// `--baseline ecs:CLUSTER/SERVICE`.
    BaselineEcs,
    /// `scan`: Inspector's ScanSbom.
    Scan,
}

/// What a row's actions apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// No resource-level permissions exist for these actions.
    Any,
    /// Each gated (or pushed, or verified) repository.
    Repository,
    /// The pipeline of `--approve`.
    Pipeline,
    /// The one approval action of `--approve` (PIPELINE/STAGE/ACTION).
    ApprovalAction,
    /// The KMS key of `--attest` / `verify --key`.
    Key,
    /// The KMS key that encrypts the floor (a SecureString, an SSE-KMS object), only via
    /// that service.
    FloorKey,
    /// The SSM parameter of the floor.
    Parameter,
    /// The S3 object of the floor.
    Object,
    /// The S3 bucket of the floor.
    Bucket,
    /// The ECS service of the baseline.
    EcsService,
    /// Every task, limited to the baseline's cluster by the `ecs:cluster` condition
    /// (ListTasks has no task-level resource).
    EcsClusterTasks,
    /// The tasks of the baseline's cluster.
    EcsTasks,
}

/// One row: `use` needs `actions` on `resource`.
#[derive(Debug)]
pub struct Grant {
    pub sid: &'static str,
    pub uses: &'static [Use],
    pub actions: &'static [&'static str],
    pub resource: Resource,
}

/// Every action the gate calls (docs/security.md explains each).
pub const TABLE: &[Grant] = &[
    Grant {
        sid: "RegistryToken",
        uses: &[Use::Push, Use::AttestStore, Use::VerifyPull],
        actions: &["ecr:GetAuthorizationToken"],
        resource: Resource::Any,
    },
    Grant {
        sid: "RegistryScanningConfiguration",
        uses: &[Use::Read],
        actions: &["ecr:GetRegistryScanningConfiguration"],
        resource: Resource::Any,
    },
    Grant {
        sid: "ResolveAndCheckCoverage",
        uses: &[Use::Read],
        actions: &[
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetRepositoryScanningConfiguration",
            "ecr:DescribeImageScanFindings",
        ],
        resource: Resource::Repository,
    },
    Grant {
        sid: "PullAttestation",
        uses: &[Use::VerifyPull],
        actions: &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        resource: Resource::Repository,
    },
    Grant {
        sid: "InspectorReadOnly",
        uses: &[Use::Read],
        actions: &["inspector2:ListCoverage", "inspector2:ListFindings"],
        resource: Resource::Any,
    },
    Grant {
        sid: "Push",
        uses: &[Use::Push, Use::AttestStore],
        actions: &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
        ],
        resource: Resource::Repository,
    },
    Grant {
        sid: "SignTheDecision",
        uses: &[Use::AttestSign],
        actions: &["kms:Sign"],
        resource: Resource::Key,
    },
    Grant {
        sid: "ReadTheDecisionKey",
        uses: &[Use::VerifyKey],
        actions: &["kms:GetPublicKey"],
        resource: Resource::Key,
    },
    Grant {
        sid: "PipelineRead",
        uses: &[Use::Approve],
        actions: &[
            "codepipeline:GetPipeline",
            "codepipeline:GetPipelineState",
            "codepipeline:ListActionExecutions",
            "codepipeline:GetPipelineExecution",
        ],
        resource: Resource::Pipeline,
    },
    Grant {
        sid: "ApproveThisApprovalOnly",
        uses: &[Use::Approve],
        actions: &["codepipeline:PutApprovalResult"],
        resource: Resource::ApprovalAction,
    },
    Grant {
        sid: "PolicyFloorParameter",
        uses: &[Use::FloorSsm],
        actions: &["ssm:GetParameter"],
        resource: Resource::Parameter,
    },
    Grant {
        sid: "PolicyFloorObject",
        uses: &[Use::FloorS3],
        actions: &["s3:GetObject"],
        resource: Resource::Object,
    },
    Grant {
        sid: "PolicyFloorBucketRegion",
        uses: &[Use::FloorS3],
        actions: &["s3:ListBucket"],
        resource: Resource::Bucket,
    },
    Grant {
        sid: "PolicyFloorDecrypt",
        uses: &[Use::FloorSsm, Use::FloorS3],
        actions: &["kms:Decrypt"],
        resource: Resource::FloorKey,
    },
    Grant {
        sid: "BaselineService",
        uses: &[Use::BaselineEcs],
        actions: &["ecs:DescribeServices"],
        resource: Resource::EcsService,
    },
    Grant {
        sid: "BaselineTaskList",
        uses: &[Use::BaselineEcs],
        actions: &["ecs:ListTasks"],
        resource: Resource::EcsClusterTasks,
    },
    Grant {
        sid: "BaselineTasks",
        uses: &[Use::BaselineEcs],
        actions: &["ecs:DescribeTasks"],
        resource: Resource::EcsTasks,
    },
    Grant {
        sid: "LocalScan",
        uses: &[Use::Scan],
        actions: &["inspector-scan:ScanSbom"],
        resource: Resource::Any,
    },
];

/// What a run will touch, as its flags say (nothing looked up).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The region of the run; `None`: not known before the SDK resolves it (`*` in ARNs).
    pub region: Option<String>,
    /// The account; `None`: the credentials' own, not known without a call (`*` in ARNs).
    pub account: Option<String>,
    /// The repositories read (gated, the baseline image's, verified).
    pub read: Vec<ImageRef>,
    /// The repositories pushed to (`--push-from`).
    pub push: Vec<ImageRef>,
    /// The repositories the decision is stored in (`--attest`).
    pub attest: Vec<ImageRef>,
    /// The repositories the attestation is pulled from (`verify`).
    pub verify: Vec<ImageRef>,
    pub sign_key: Option<KeyRef>,
    pub verify_key: Option<KeyRef>,
    pub approve: Option<ApprovalTarget>,
    pub floor: Option<FloorSource>,
    /// The service of `--baseline ecs:…`.
    pub baseline_ecs: Option<crate::aws::ecs::ServiceRef>,
    pub scan: bool,
    /// `--role-arn`: the base identity needs `sts:AssumeRole` on it (not part of the role's policy).
    pub role_arn: Option<String>,
}

/// One statement of the policy: actions, resources, an optional condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
    pub condition: Option<Value>,
}

impl Plan {
    fn partition(&self) -> &str {
        self.region
            .as_deref()
            .map(|r| crate::partition::of_region(r).name.as_str())
            .unwrap_or("aws")
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{rest}",
            self.partition(),
            self.region.as_deref().unwrap_or("*"),
            self.account.as_deref().unwrap_or("*")
        )
    }

    /// The ARN of `r`'s repository (its own registry host's account and region when it names one).
    fn repository_arn(&self, r: &ImageRef) -> String {
        let region = r
            .region
            .as_deref()
            .or(self.region.as_deref())
            .unwrap_or("*");
        let account = r
            .registry
            .as_deref()
            .or(self.account.as_deref())
            .unwrap_or("*");
        let partition = crate::partition::of_region(region).name.as_str();
        let partition = if region == "*" { "aws" } else { partition };
        format!(
            "arn:{partition}:ecr:{region}:{account}:repository/{}",
            r.repository
        )
    }

    /// The uses these flags make.
    pub fn uses(&self) -> Vec<Use> {
        let mut u = Vec::new();
        let mut add = |cond: bool, x: Use| {
            if cond {
                u.push(x)
            }
        };
        add(!self.read.is_empty(), Use::Read);
        add(!self.push.is_empty(), Use::Push);
        add(!self.attest.is_empty(), Use::AttestStore);
        add(
            matches!(self.sign_key, Some(KeyRef::Kms(_))),
            Use::AttestSign,
        );
        add(self.approve.is_some(), Use::Approve);
        add(!self.verify.is_empty(), Use::VerifyPull);
        add(
            matches!(self.verify_key, Some(KeyRef::Kms(_))),
            Use::VerifyKey,
        );
        add(
            matches!(self.floor, Some(FloorSource::Ssm(_))),
            Use::FloorSsm,
        );
        add(
            matches!(self.floor, Some(FloorSource::S3 { .. })),
            Use::FloorS3,
        );
        add(self.baseline_ecs.is_some(), Use::BaselineEcs);
        add(self.scan, Use::Scan);
        u
    }

    /// The repositories a row's use applies to.
    fn repositories(&self, grant: &Grant, uses: &[Use]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for u in grant.uses.iter().filter(|u| uses.contains(u)) {
            let refs = match u {
                Use::Read => &self.read,
                Use::Push => &self.push,
                Use::AttestStore => &self.attest,
                Use::VerifyPull => &self.verify,
                _ => continue,
            };
            for r in refs {
                let arn = self.repository_arn(r);
                if !out.contains(&arn) {
                    out.push(arn);
                }
            }
        }
        out
    }

    /// A KMS key's resource: an ARN as given, a key id in this region/account, or every key
    /// of the account limited to the alias by `kms:ResourceAliases`.
    fn key(&self, k: Option<&KeyRef>) -> (String, Option<Value>) {
        let id = match k {
            Some(KeyRef::Kms(id)) => id.as_str(),
            _ => return (self.arn("kms", "key/*"), None),
        };
        if id.starts_with("arn:") && id.contains(":key/") {
            (id.to_string(), None)
        } else if let Some(alias) = id
            .strip_prefix("arn:")
            .and_then(|a| a.split_once(":alias/"))
        {
            (
                self.arn("kms", "key/*"),
                Some(
                    json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": format!("alias/{}", alias.1)}}),
                ),
            )
        } else if id.starts_with("alias/") {
            (
                self.arn("kms", "key/*"),
                Some(json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": id}})),
            )
        } else {
            (self.arn("kms", &format!("key/{id}")), None)
        }
    }

    /// The statements these flags need, in [`TABLE`]'s order.
    pub fn statements(&self) -> Vec<Statement> {
        let uses = self.uses();
        let mut out = Vec::new();
        for g in TABLE {
            if !g.uses.iter().any(|u| uses.contains(u)) {
                continue;
            }
            let mut condition = None;
            let resources = match g.resource {
                Resource::Any => vec!["*".to_string()],
                Resource::Repository => self.repositories(g, &uses),
                Resource::Pipeline => match &self.approve {
                    Some(a) => vec![self.arn("codepipeline", &a.pipeline)],
                    None => continue,
                },
                Resource::ApprovalAction => match &self.approve {
                    Some(a) => vec![self.arn(
                        "codepipeline",
                        &format!("{}/{}/{}", a.pipeline, a.stage, a.action),
                    )],
                    None => continue,
                },
                Resource::Key => {
                    let k = if g.uses.contains(&Use::AttestSign) {
                        self.sign_key.as_ref()
                    } else {
                        self.verify_key.as_ref()
                    };
                    let (arn, c) = self.key(k);
                    condition = c;
                    vec![arn]
                }
                Resource::Parameter => match &self.floor {
                    Some(FloorSource::Ssm(name)) => vec![self.parameter_arn(name)],
                    _ => continue,
                },
                Resource::Object => match &self.floor {
                    Some(FloorSource::S3 { bucket, key }) => {
                        vec![format!("arn:{}:s3:::{bucket}/{key}", self.partition())]
                    }
                    _ => continue,
                },
                Resource::Bucket => match &self.floor {
                    Some(FloorSource::S3 { bucket, .. }) => {
                        vec![format!("arn:{}:s3:::{bucket}", self.partition())]
                    }
                    _ => continue,
                },
                Resource::FloorKey => {
                    let (service, context) = match &self.floor {
                        Some(FloorSource::Ssm(name)) => (
                            "ssm",
                            json!({"kms:EncryptionContext:PARAMETER_ARN": self.parameter_arn(name)}),
                        ),
                        Some(FloorSource::S3 { bucket, key }) => (
                            "s3",
                            json!({"kms:EncryptionContext:aws:s3:arn": [
                                format!("arn:{}:s3:::{bucket}/{key}", self.partition()),
                                format!("arn:{}:s3:::{bucket}", self.partition()),
                            ]}),
                        ),
                        _ => continue,
                    };
                    let via = format!(
                        "{service}.{}.{}",
                        self.region.as_deref().unwrap_or("*"),
                        self.region
                            .as_deref()
                            .map(|r| crate::partition::of_region(r).dns_suffix.as_str())
                            .unwrap_or("amazonaws.com")
                    );
                    condition = Some(json!({
                        "StringLike": {"kms:ViaService": via},
                        "ForAnyValue:StringEquals": context,
                    }));
                    vec![self.arn("kms", "key/*")]
                }
                // In the partition, region and account a cluster or service ARN names.
                Resource::EcsService => match &self.baseline_ecs {
                    Some(r) => vec![r.arn(
                        &format!("service/{}/{}", r.cluster_name, r.service),
                        |rest| self.arn("ecs", rest),
                    )],
                    None => continue,
                },
                Resource::EcsClusterTasks => match &self.baseline_ecs {
                    Some(r) => {
                        let cluster = r.arn(&format!("cluster/{}", r.cluster_name), |rest| {
                            self.arn("ecs", rest)
                        });
                        condition = Some(json!({"ArnEquals": {"ecs:cluster": cluster}}));
                        vec!["*".to_string()]
                    }
                    None => continue,
                },
                Resource::EcsTasks => match &self.baseline_ecs {
                    Some(r) => vec![r.arn(&format!("task/{}/*", r.cluster_name), |rest| {
                        self.arn("ecs", rest)
                    })],
                    None => continue,
                },
            };
            if resources.is_empty() {
                continue;
            }
            // Two rows on the same resources and condition are one statement.
            if let Some(prev) = out.iter_mut().find(|s: &&mut Statement| {
                s.resources == resources && s.condition == condition && condition.is_none()
            }) {
                for a in g.actions {
                    if !prev.actions.contains(a) {
                        prev.actions.push(a);
                    }
                }
                continue;
            }
            out.push(Statement {
                sid: g.sid,
                actions: g.actions.to_vec(),
                resources,
                condition,
            });
        }
        out
    }

    fn parameter_arn(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_string();
        }
        self.arn(
            "ssm",
            &format!("parameter/{}", name.trim_start_matches('/')),
        )
    }

    /// The least-privilege policy as IAM JSON.
    pub fn policy(&self) -> Value {
        let statements: Vec<Value> = self
            .statements()
            .into_iter()
            .map(|s| {
                let mut v = json!({
                    "Sid": s.sid,
                    "Effect": "Allow",
                    "Action": s.actions,
                    "Resource": if s.resources.len() == 1 { json!(s.resources[0]) } else { json!(s.resources) },
                });
                if let Some(c) = s.condition {
                    v["Condition"] = c;
                }
                v
            })
            .collect();
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    /// What the policy cannot say: the base identity's `sts:AssumeRole` for `--role-arn`, and
    /// the `*` an unknown account or region leaves in the ARNs.
    pub fn notes(&self) -> Vec<String> {
        let mut n = Vec::new();
        if let Some(role) = &self.role_arn {
            n.push(format!(
                "--role-arn: the base credentials also need sts:AssumeRole on {role}; this policy belongs to that role"
            ));
        }
        if self.account.is_none()
            && self
                .statements()
                .iter()
                .any(|s| s.resources.iter().any(|r| r.contains(":*:")))
        {
            n.push("the account is not named by an image's registry host: the ARNs say * for it (name the image as ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO to pin it)".into());
        }
        n
    }
}

/// Every action in the table, once each, sorted.
pub fn all_actions() -> Vec<&'static str> {
    let mut a: Vec<&str> = TABLE
        .iter()
        .flat_map(|g| g.actions.iter().copied())
        .collect();
    a.sort_unstable();
    a.dedup();
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    fn actions_of(policy: &Value) -> BTreeSet<String> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                _ => vec![],
            })
            .collect()
    }

    /// The services the gate calls (a pipeline also grants logs, artefacts, CodeBuild reports).
    const SERVICES: &[&str] = &[
        "ecr:",
        "inspector2:",
        "codepipeline:",
        "kms:",
        "ssm:",
        "ecs:",
        "inspector-scan:",
    ];

    fn ours(a: &str) -> bool {
        SERVICES.iter().any(|s| a.starts_with(s)) && !a.contains('*')
    }

    fn every_use() -> Plan {
        Plan {
            region: Some("eu-west-1".into()),
            account: Some("123456789012".into()),
            read: vec![r("app/web:1")],
            push: vec![r("app/web:1")],
            attest: vec![r("app/web:1")],
            verify: vec![r("app/web:1")],
            sign_key: Some("awskms:///alias/decision".parse().unwrap()),
            verify_key: Some("awskms:///alias/decision".parse().unwrap()),
            approve: Some(ApprovalTarget::parse("deploy/Approve/Gate").unwrap()),
            floor: Some("ssm:/ci/floor".parse().unwrap()),
            baseline_ecs: Some(crate::aws::ecs::ServiceRef::parse("prod/web").unwrap()),
            scan: true,
            role_arn: None,
        }
    }

    #[test]
    fn a_plain_gate_reads_only() {
        let p = Plan {
            region: Some("eu-west-1".into()),
            account: Some("123456789012".into()),
            read: vec![r("app/web:1")],
            ..Plan::default()
        };
        let policy = p.policy();
        let got = actions_of(&policy);
        let want: BTreeSet<String> = [
            "ecr:GetRegistryScanningConfiguration",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetRepositoryScanningConfiguration",
            "ecr:DescribeImageScanFindings",
            "inspector2:ListCoverage",
            "inspector2:ListFindings",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(got, want);
        let text = serde_json::to_string(&policy).unwrap();
        assert!(
            text.contains("arn:aws:ecr:eu-west-1:123456789012:repository/app/web"),
            "{text}"
        );
        assert!(!text.contains("PutImage") && !text.contains("GetAuthorizationToken"));
    }

    #[test]
    fn each_flag_adds_its_actions_on_its_resource() {
        let p = every_use();
        let policy = p.policy();
        let text = serde_json::to_string_pretty(&policy).unwrap();
        for want in [
            "\"codepipeline:PutApprovalResult\"",
            "arn:aws:codepipeline:eu-west-1:123456789012:deploy/Approve/Gate",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/ci/floor",
            "\"kms:ResourceAliases\": \"alias/decision\"",
            "ssm.eu-west-1.amazonaws.com",
            "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
            "arn:aws:ecs:eu-west-1:123456789012:task/prod/*",
            "\"kms:Sign\"",
            "\"kms:GetPublicKey\"",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert_eq!(
            actions_of(&policy).into_iter().collect::<Vec<_>>(),
            all_actions()
                .into_iter()
                .filter(|a| !a.starts_with("s3:"))
                .map(String::from)
                .collect::<Vec<_>>()
        );
        // A key ARN is the resource itself; a China region is its own partition.
        let p = Plan {
            region: Some("cn-north-1".into()),
            attest: vec![r("app/web:1")],
            sign_key: Some(
                "awskms:///arn:aws-cn:kms:cn-north-1:123456789012:key/abcd"
                    .parse()
                    .unwrap(),
            ),
            ..Plan::default()
        };
        let text = serde_json::to_string(&p.policy()).unwrap();
        assert!(
            text.contains("\"arn:aws-cn:kms:cn-north-1:123456789012:key/abcd\""),
            "{text}"
        );
        assert!(
            text.contains("arn:aws-cn:ecr:cn-north-1:*:repository/app/web"),
            "{text}"
        );
        assert!(!p.notes().is_empty());
        // A baseline cluster given by its ARN: the ECS resources are in its account and
        // partition, whatever the run's own (the ARN passed whole would match nothing).
        let p = Plan {
            region: Some("us-gov-west-1".into()),
            baseline_ecs: Some(
                crate::aws::ecs::ServiceRef::parse(
                    "arn:aws-us-gov:ecs:us-gov-west-1:210987654321:cluster/prod/web",
                )
                .unwrap(),
            ),
            ..Plan::default()
        };
        let text = serde_json::to_string(&p.policy()).unwrap();
        for want in [
            "\"arn:aws-us-gov:ecs:us-gov-west-1:210987654321:service/prod/web\"",
            "\"arn:aws-us-gov:ecs:us-gov-west-1:210987654321:task/prod/*\"",
            "\"arn:aws-us-gov:ecs:us-gov-west-1:210987654321:cluster/prod\"",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }

    /// The JSON block of docs/security.md is the policy of a gate that pushes and approves;
    /// its action table names every action of [`TABLE`], and nothing else.
    #[test]
    fn docs_security_grants_what_the_table_says() {
        let doc = include_str!("../docs/security.md");
        let section = doc
            .split("## Least-privilege IAM policy")
            .nth(1)
            .expect("the section");
        let json_text = section
            .split("```json")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .expect("the JSON block");
        let documented: Value = serde_json::from_str(json_text).expect("valid JSON");
        let plan = Plan {
            read: vec![r("app/web:1")],
            push: vec![r("app/web:1")],
            approve: Some(ApprovalTarget::parse("p/s/a").unwrap()),
            ..Plan::default()
        };
        assert_eq!(actions_of(&documented), actions_of(&plan.policy()));
        let table: BTreeSet<String> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                l.split('|')
                    .nth(1)
                    .unwrap_or_default()
                    .split('`')
                    .filter(|w| w.contains(':') && !w.contains(' '))
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        let all: BTreeSet<String> = all_actions().into_iter().map(String::from).collect();
        assert_eq!(table, all, "docs/security.md's action table vs iam::TABLE");
    }

    /// codebuild/pipeline.yaml grants exactly the table's actions of the services the gate
    /// calls (the local scan's ScanSbom and the floor's S3 object and key are not used there).
    #[test]
    fn the_pipeline_template_grants_what_the_table_says() {
        let yaml = include_str!("../codebuild/pipeline.yaml");
        // The gate's own grants: the Gate*Policy resources, and the key policy's statements
        // for the roles that sign and verify (not the account's administration of the key).
        let (mut resource, mut sid) = ("", "");
        let mut granted = BTreeSet::new();
        for line in yaml.lines() {
            if line.len() > 2 && !line[2..].starts_with(' ') && line.trim_end().ends_with(':') {
                resource = line.trim().trim_end_matches(':');
            }
            let l = line.trim();
            if let Some(s) = l.strip_prefix("- Sid: ") {
                sid = s.trim();
            }
            let gate = resource.starts_with("Gate")
                || (resource == "DecisionKey" && sid != "AccountAdministersNeverSigns");
            let action = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("Action: "))
                .map(str::trim);
            if let Some(a) = action.filter(|a| gate && ours(a)) {
                granted.insert(a.to_string());
            }
        }
        let want: BTreeSet<String> = all_actions()
            .into_iter()
            .filter(|a| {
                !matches!(
                    *a,
                    "inspector-scan:ScanSbom" | "s3:GetObject" | "s3:ListBucket" | "kms:Decrypt"
                )
            })
            .map(String::from)
            .collect();
        assert_eq!(granted, want, "codebuild/pipeline.yaml vs iam::TABLE");
    }
}
