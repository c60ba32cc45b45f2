//! The SBOM and the ScanSbom round trip.
//!
//! - Our CycloneDX documents (a real Debian tree plus every ecosystem's purl shapes) validate
//!   against the CycloneDX 1.5 JSON schema with cyclonedx-python-lib's strict validator.
//! - The real SDK (`aws-sdk-inspectorscan`, through our client and retry code) talks to the
//!   scripted ScanSbom server: requests split at 5,000 components, throttling with
//!   Retry-After retried, too many components and access denied as one clear error, both answer
//!   formats turned into findings that the gate's own policy evaluation judges.

use crate::scan_common;
use crate::support::scan_server;

use inspector_gate::aws::AwsOptions;
use inspector_gate::model::Severity;
use inspector_gate::policy::eval::{evaluate, Verdict};
use inspector_gate::policy::Policy;
use inspector_gate::scan::inspector_scan::{self, Format};
use inspector_gate::scan::layers::ScanSource;
use inspector_gate::scan::sbom::{self, Subject, MAX_COMPONENTS};
use inspector_gate::scan::{catalogue, Ecosystem, Inventory, Package};
use scan_common::*;
use scan_server::{Advisory, ScanServer, Step};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TS: &str = "2026-01-02T03:04:05Z";

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the SBOM test validates with cyclonedx-python-lib from .venv: run scripts/setup (tools/requirements.txt pins it)"
    );
    venv
}

fn validate(doc: &Value) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), serde_json::to_vec(doc).unwrap()).unwrap();
    let script = "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\nerr = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\nif err:\n    print(repr(err)); sys.exit(1)\nprint('valid')\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "not valid CycloneDX 1.5: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pkg(eco: Ecosystem, name: &str, version: &str, purl: &str) -> Package {
    Package {
        ecosystem: eco,
        name: name.into(),
        version: version.into(),
        purl: purl.into(),
        location: "/some/file".into(),
    }
}

#[test]
fn sboms_validate_against_the_cyclonedx_1_5_schema() {
    let mut inv = catalogue(&ScanSource::Dir(debian_tree()))
        .unwrap()
        .pop()
        .unwrap();
    inv.packages.extend([
        pkg(
            Ecosystem::Npm,
            "@types/node",
            "20.1.0",
            "pkg:npm/%40types/node@20.1.0",
        ),
        pkg(
            Ecosystem::Pypi,
            "zope.interface",
            "6.2",
            "pkg:pypi/zope-interface@6.2",
        ),
        pkg(Ecosystem::Maven, "org.a:b", "1.0", "pkg:maven/org.a/b@1.0"),
        pkg(
            Ecosystem::Golang,
            "app",
            "",
            "pkg:generic/app?go_toolchain=1.22.5",
        ),
        pkg(Ecosystem::Cargo, "serde", "1.0.0", "pkg:cargo/serde@1.0.0"),
        pkg(Ecosystem::Gem, "rack", "3.0.8", "pkg:gem/rack@3.0.8"),
    ]);
    let subject = Subject {
        name: "dir:debian".into(),
        platform: Some("linux/amd64".into()),
    };
    let (whole, parts) = sbom::documents(&subject, &inv, TS);
    validate(&whole);
    assert_eq!(parts.len(), 1);
    // Every package is a component with its purl, in order.
    let purls: Vec<&str> = whole["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert_eq!(purls.len(), inv.packages.len());
    assert!(purls.contains(&"pkg:npm/%40types/node@20.1.0"));

    // Split documents are valid too.
    let big = many(MAX_COMPONENTS + 3);
    let (_, parts) = sbom::documents(&subject, &big, TS);
    assert_eq!(parts.len(), 2);
    validate(&parts[1]);
}

fn many(n: usize) -> Inventory {
    Inventory {
        packages: (0..n)
            .map(|i| {
                pkg(
                    Ecosystem::Npm,
                    &format!("p{i}"),
                    "1.0.0",
                    &format!("pkg:npm/p{i}@1.0.0"),
                )
            })
            .collect(),
        ..Inventory::default()
    }
}

fn env(url: &str) {
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret-key-do-not-leak"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_ENDPOINT_URL_INSPECTOR_SCAN", url),
    ] {
        // Each test runs in its own process under nextest; nothing else reads the env here.
        std::env::set_var(k, v);
    }
}

fn advisories() -> Vec<Advisory> {
    vec![
        Advisory {
            id: "CVE-2099-0001",
            purl_prefix: "pkg:npm/p1@",
            ratings: vec![("NVD", "critical")],
            fixed: Some("1.0.1"),
            epss: Some(0.5),
        },
        Advisory {
            id: "CVE-2099-0002",
            purl_prefix: "pkg:npm/p10000@",
            ratings: vec![("NVD", "medium")],
            fixed: None,
            epss: None,
        },
    ]
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_split_throttling_is_retried_and_findings_merge() {
    let server = ScanServer::start(
        advisories(),
        vec![Step::Throttle {
            retry_after: Some(1),
        }],
    );
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let inv = many(2 * MAX_COMPONENTS + 1);
    let subject = Subject {
        name: "oci:x".into(),
        platform: None,
    };
    let (_, parts) = sbom::documents(&subject, &inv, TS);
    let started = std::time::Instant::now();
    let findings = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let calls = server.calls();
    let sizes: Vec<usize> = calls.iter().map(|c| c.components).collect();
    assert_eq!(
        sizes,
        [5000, 5000, 5000, 1],
        "throttled first call repeated"
    );
    assert!(calls.iter().all(|c| c.signed_for_service));
    assert!(calls
        .iter()
        .all(|c| c.output_format.as_deref() == Some("CYCLONE_DX_1_5")));

    let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["CVE-2099-0001", "CVE-2099-0002"]);
    let f1 = &findings[0];
    assert_eq!(f1.severity, Severity::Critical);
    assert_eq!(f1.packages.len(), 1);
    assert_eq!(f1.packages[0].name, "p1");
    assert_eq!(f1.packages[0].fixed_in_version.as_deref(), Some("1.0.1"));
    assert_eq!(f1.epss_score, Some(0.5));
    assert_eq!(findings[1].fix_available.as_deref(), Some("NO"));
    assert_eq!(
        findings[1].packages[0].name, "p10000",
        "from the third request"
    );

    // The gate's own policy judges them.
    let mut policy = Policy::default();
    policy.apply_fail_on(Severity::High);
    let today = time::macros::date!(2026 - 01 - 02);
    assert_eq!(
        evaluate(&policy, &findings, None, today).verdict,
        Verdict::Fail
    );
    policy.ignore_unfixed = true;
    policy.max.insert(Severity::Critical, 1);
    assert_eq!(
        evaluate(&policy, &findings, None, today).verdict,
        Verdict::Pass
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inspector_answer_format_gives_the_same_findings() {
    let server = ScanServer::start(advisories(), vec![]);
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let subject = Subject {
        name: "oci:x".into(),
        platform: None,
    };
    let (_, parts) = sbom::documents(&subject, &many(20), TS);
    let ours = inspector_scan::scan(&client, &parts, Format::Inspector, deadline())
        .await
        .unwrap();
    assert_eq!(
        server.calls()[0].output_format.as_deref(),
        Some("INSPECTOR")
    );
    let server2 = ScanServer::start(advisories(), vec![]);
    env(&server2.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let cdx = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap();
    type Key = Vec<(String, Severity, Vec<(String, Option<String>)>)>;
    let key = |f: &Vec<inspector_gate::model::Finding>| -> Key {
        f.iter()
            .map(|f| {
                (
                    f.id.clone(),
                    f.severity,
                    f.packages
                        .iter()
                        .map(|p| (p.name.clone(), p.fixed_in_version.clone()))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(key(&ours), key(&cdx));
    assert_eq!(ours.len(), 1, "p1 only: p10000 is not in 20 packages");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_components_and_access_denied_are_one_clear_error() {
    let server = ScanServer::start(advisories(), vec![Step::Scan, Step::AccessDenied]);
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    // A document that was not split: the service refuses it.
    let subject = Subject {
        name: "x".into(),
        platform: None,
    };
    let inv = many(MAX_COMPONENTS + 1);
    let unsplit = sbom::document(&subject, &inv, &inv.packages, TS);
    let e = inspector_scan::scan(&client, &[unsplit], Format::CycloneDx, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(e.message.contains("ValidationException"), "{e}");
    assert!(e.message.contains("at most 5000"), "{e}");

    let (_, parts) = sbom::documents(&subject, &many(3), TS);
    let e = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(
        e.message.contains("grant inspector-scan:ScanSbom"),
        "names the IAM action: {e}"
    );
    assert!(!e.message.contains("test-secret-key"), "{e}");
    assert_eq!(server.calls().len(), 2, "neither error is retried");
}

/// Every finding id with the names of the packages it affects.
fn by_id(findings: &[inspector_gate::model::Finding]) -> Vec<(String, Vec<String>)> {
    findings
        .iter()
        .map(|f| {
            let mut p: Vec<String> = f.packages.iter().map(|p| p.name.clone()).collect();
            p.sort();
            (f.id.clone(), p)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_over_the_size_limit_are_halved_and_merged_never_dropped() {
    // One advisory for every package, two for a few: each answer grows with its packages.
    let mut adv = advisories();
    adv.push(Advisory {
        id: "CVE-2099-0100",
        purl_prefix: "pkg:npm/p",
        ratings: vec![("NVD", "high")],
        fixed: Some("2.0.0"),
        epss: None,
    });
    adv.push(Advisory {
        id: "CVE-2099-0039",
        purl_prefix: "pkg:npm/p39@",
        ratings: vec![("NVD", "low")],
        fixed: None,
        epss: None,
    });
    let subject = Subject {
        name: "oci:x".into(),
        platform: None,
    };
    let (_, parts) = sbom::documents(&subject, &many(40), TS);
    // Under AWS's own limit (10 MB) one request answers for all 40.
    let whole = ScanServer::start(adv.clone(), vec![]);
    env(&whole.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let want = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap();
    let full = whole.calls()[0].answer_bytes;
    assert_eq!(whole.calls().len(), 1);
    assert_eq!(want.len(), 3, "{:?}", by_id(&want));

    // A limit a third of that answer: 40 → 20 → 10 packages per request.
    let server = ScanServer::start(adv, vec![]);
    server.limit_answers(full / 3);
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let got = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap();
    assert_eq!(
        by_id(&got),
        by_id(&want),
        "every half's findings, merged by id"
    );
    let all = got.iter().find(|f| f.id == "CVE-2099-0100").unwrap();
    assert_eq!(
        all.packages.len(),
        40,
        "one package entry per package, from every half"
    );
    let calls = server.calls();
    let refused: Vec<usize> = calls
        .iter()
        .filter(|c| c.too_large)
        .map(|c| c.components)
        .collect();
    let answered: Vec<usize> = calls
        .iter()
        .filter(|c| !c.too_large)
        .map(|c| c.components)
        .collect();
    assert_eq!(refused, [40, 20, 20], "{refused:?}");
    assert_eq!(answered, [10, 10, 10, 10], "{answered:?}");
    assert!(calls.iter().all(|c| c.answer_bytes <= full), "bounded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_whose_answer_alone_is_too_large_is_inconclusive_naming_it() {
    // p2's answer carries ten vulnerabilities; every other package's fits the limit.
    const IDS: [&str; 10] = [
        "CVE-2099-1000",
        "CVE-2099-1001",
        "CVE-2099-1002",
        "CVE-2099-1003",
        "CVE-2099-1004",
        "CVE-2099-1005",
        "CVE-2099-1006",
        "CVE-2099-1007",
        "CVE-2099-1008",
        "CVE-2099-1009",
    ];
    let adv = IDS
        .iter()
        .map(|id| Advisory {
            id,
            purl_prefix: "pkg:npm/p2@",
            ratings: vec![("NVD", "critical")],
            fixed: None,
            epss: None,
        })
        .collect();
    let server = ScanServer::start(adv, vec![]);
    server.limit_answers(2_000);
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let (_, parts) = sbom::documents(
        &Subject {
            name: "x".into(),
            platform: None,
        },
        &many(4),
        TS,
    );
    let e = inspector_scan::scan(&client, &parts, Format::CycloneDx, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 3, "inconclusive, never a pass: {e}");
    assert!(
        e.message.contains("package pkg:npm/p2@1.0.0") && e.message.contains("10 MB"),
        "{e}"
    );
    assert!(
        e.message.contains("exceeds the maximum response size"),
        "the service's word: {e}"
    );
    let sizes: Vec<(usize, bool)> = server
        .calls()
        .iter()
        .map(|c| (c.components, c.too_large))
        .collect();
    // All 4 refused; [p0 p1] answered; [p2 p3] refused; p2 alone refused: the error (p3 is
    // never sent, and the run is not judged on what was seen).
    assert_eq!(
        sizes,
        [(4, true), (2, false), (2, true), (1, true)],
        "{sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_throttling_stops_at_the_deadline() {
    let steps = (0..50)
        .map(|_| Step::Throttle {
            retry_after: Some(1),
        })
        .collect();
    let server = ScanServer::start(advisories(), steps);
    env(&server.url);
    let client = inspector_scan::client(&AwsOptions::default())
        .await
        .unwrap();
    let (_, parts) = sbom::documents(
        &Subject {
            name: "x".into(),
            platform: None,
        },
        &many(2),
        TS,
    );
    let d = tokio::time::Instant::now() + Duration::from_secs(4);
    let e = inspector_scan::scan(&client, &parts, Format::CycloneDx, d)
        .await
        .unwrap_err();
    assert!(e.message.contains("ThrottlingException"), "{e}");
    let n = server.calls().len();
    assert!((2..10).contains(&n), "bounded retries: {n}");
}

fn options(
    input: inspector_gate::scan::Input,
    sbom_out: Option<PathBuf>,
) -> inspector_gate::scan::ScanOptions {
    inspector_gate::scan::ScanOptions {
        input,
        sbom_out,
        format: Format::CycloneDx,
        aws: AwsOptions::default(),
        timeout: Duration::from_secs(60),
        timestamp: TS.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_catalogues_writes_the_sbom_and_rescans_it_from_the_file() {
    use inspector_gate::registry::SourceSpec;
    use inspector_gate::scan::{run, Input};
    let server = ScanServer::start(
        vec![Advisory {
            id: "CVE-2099-1000",
            purl_prefix: "pkg:deb/debian/base-files@",
            ratings: vec![("NVD", "high"), ("DEBIAN", "medium")],
            fixed: Some("12.4+deb12u6"),
            epss: None,
        }],
        vec![],
    );
    env(&server.url);
    let tmp = tempfile::tempdir().unwrap();
    let layer = |arch: &str| {
        let status = format!("Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\nArchitecture: {arch}\n");
        Layer::Tar {
            tar: layer_tar(&[
                ("etc/os-release", Some(b"ID=debian\nVERSION_ID=\"12\"\n")),
                ("var/lib/dpkg/status", Some(status.as_bytes())),
            ]),
            gzip: true,
        }
    };
    let layout = oci_layout(
        &tmp.path().join("oci"),
        &[
            ("linux", "amd64", &[layer("amd64")]),
            ("linux", "arm64", &[layer("arm64")]),
        ],
    );
    let out = tmp.path().join("sbom.json");
    let src = ScanSource::Image(SourceSpec::OciDir {
        dir: layout,
        reference: None,
    });
    let scans = run(&options(Input::From(src), Some(out.clone())))
        .await
        .unwrap();
    assert_eq!(scans.len(), 2);
    for s in &scans {
        assert_eq!(s.components, 1);
        assert_eq!(s.findings.len(), 1, "{}", s.label);
        assert_eq!(
            s.findings[0].severity,
            Severity::Medium,
            "the distribution's rating"
        );
        assert_eq!(
            s.findings[0].packages[0].fixed_in_version.as_deref(),
            Some("12.4+deb12u6")
        );
    }
    assert!(
        scans[1].label.ends_with("(linux/arm64)"),
        "{}",
        scans[1].label
    );
    let arm = tmp.path().join("sbom.linux-arm64.json");
    assert!(tmp.path().join("sbom.linux-amd64.json").exists());
    let doc: Value = serde_json::from_slice(&std::fs::read(&arm).unwrap()).unwrap();
    validate(&doc);

    // The written SBOM scanned again as --sbom gives the same findings.
    let again = run(&options(Input::Sbom(arm), None)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].findings, scans[1].findings);
    assert_eq!(server.calls().len(), 3);

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, b"{ not json").unwrap();
    let e = run(&options(Input::Sbom(bad), None)).await.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.message.contains("bad.json"), "{e}");
}
