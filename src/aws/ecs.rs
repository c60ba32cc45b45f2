//! ECS: which image digests serve a service's traffic now, for
//! `--baseline ecs:CLUSTER/SERVICE[/CONTAINER]`. `DescribeServices` names the service's
//! deployments (ECS controller: `deployments[]` with `rolloutState`) or task sets
//! (CODE_DEPLOY / EXTERNAL controllers: `taskSets[]`, the PRIMARY one serving production);
//! `ListTasks` + `DescribeTasks` give `containers[].imageDigest`, the digest each running task
//! actually pulled (a tag in the task definition says nothing about what runs). Which of
//! those units is the baseline is the pipeline's choice (it knows the candidate); this
//! module reports them as ECS describes them.

use super::{classify, Clients};
use crate::error::{Error, Result};
use crate::retry::{self, Schedule};
use aws_sdk_ecs::types::DesiredStatus;
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// `ecs:CLUSTER/SERVICE[/CONTAINER]`, or the cluster given by its ARN
/// (`ecs:arn:PARTITION:ecs:REGION:ACCOUNT:cluster/CLUSTER/SERVICE[/CONTAINER]`), or the
/// service's ARN (`ecs:arn:…:service/CLUSTER/SERVICE[/CONTAINER]`), parsed. ECS takes a
/// cluster's "short name or full Amazon Resource Name" in DescribeServices, ListTasks and
/// DescribeTasks, but ListTasks' `serviceName` is a name: a service ARN becomes its
/// cluster's ARN and the service's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// What ECS is asked for: the cluster's short name, or its full ARN.
    pub cluster: String,
    /// The cluster's short name (the last part of its ARN).
    pub cluster_name: String,
    pub service: String,
    pub container: Option<String>,
    /// Where the cluster is, when an ARN named it.
    pub scope: Option<ArnScope>,
}

/// The partition, region and account an ECS ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl ServiceRef {
    /// Parse the part after `ecs:`.
    pub fn parse(s: &str) -> std::result::Result<ServiceRef, String> {
        let bad = |why: &str| {
            format!(
                "baseline ecs:{s} {why}: write ecs:CLUSTER/SERVICE[/CONTAINER], ecs:CLUSTER_ARN/SERVICE[/CONTAINER] or ecs:SERVICE_ARN[/CONTAINER] (arn:…:service/CLUSTER/SERVICE)"
            )
        };
        let (scope, kind, path) = match s.strip_prefix("arn:") {
            None => (None, None, s),
            Some(rest) => {
                let f: Vec<&str> = rest.splitn(5, ':').collect();
                let [partition, service, region, account, resource] = f.as_slice() else {
                    return Err(bad("is not an ECS ARN"));
                };
                if *service != "ecs" {
                    return Err(bad(&format!("names an ARN of {service}, not of ECS")));
                }
                if !crate::partition::all().iter().any(|p| p.name == *partition) {
                    return Err(bad(&format!("names an unknown partition {partition}")));
                }
                if !crate::partition::is_known_region(region)
                    || crate::partition::of_region(region).name != *partition
                {
                    return Err(bad(&format!(
                        "names region {region}, which is not in partition {partition}"
                    )));
                }
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(&format!(
                        "names account {account}, not a 12-digit account id"
                    )));
                }
                let (kind, path) = match resource.split_once('/') {
                    Some((k @ ("cluster" | "service"), path)) => (k, path),
                    Some((k, _)) => {
                        return Err(bad(&format!(
                            "names a {k} ARN, not a cluster or service ARN"
                        )))
                    }
                    None => return Err(bad("names no cluster/ or service/ resource")),
                };
                let scope = ArnScope {
                    partition: partition.to_string(),
                    region: region.to_string(),
                    account: account.to_string(),
                };
                (Some(scope), Some(kind), path)
            }
        };
        let parts: Vec<&str> = path.split('/').collect();
        if parts.iter().any(|p| p.trim().is_empty()) {
            return Err(bad("has an empty part"));
        }
        let (cluster_name, service, container) = match parts.as_slice() {
            [c, s] => (*c, *s, None),
            [c, s, n] => (*c, *s, Some(n.to_string())),
            [_] if kind == Some("service") => {
                return Err(bad(
                    "is a service ARN of the old format, which names no cluster",
                ))
            }
            _ => return Err(bad("does not name a cluster and a service")),
        };
        // A cluster ARN is passed on as given; a service ARN's cluster is rebuilt as one.
        let cluster = match &scope {
            None => cluster_name.to_string(),
            Some(a) => format!(
                "arn:{}:ecs:{}:{}:cluster/{cluster_name}",
                a.partition, a.region, a.account
            ),
        };
        Ok(ServiceRef {
            cluster,
            cluster_name: cluster_name.to_string(),
            service: service.to_string(),
            container,
            scope,
        })
    }

    /// The ARN of `rest` (`service/C/S`, `cluster/C`, `task/C/*`) in this service's
    /// partition, region and account: the ones its ARN names, else `default`'s.
    pub fn arn(&self, rest: &str, default: impl FnOnce(&str) -> String) -> String {
        match &self.scope {
            Some(a) => format!("arn:{}:ecs:{}:{}:{rest}", a.partition, a.region, a.account),
            None => default(rest),
        }
    }
}

/// A digest the tasks of one unit run, with the image text their task definition names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningImage {
    pub image: String,
    pub digest: String,
    pub tasks: usize,
}

/// A group of tasks ECS deploys together: a deployment or a task set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `deployment ecs-svc/2 (PRIMARY, IN_PROGRESS)`, `task set ecs-svc/9 (PRIMARY)`.
    pub label: String,
    /// ECS says it serves traffic: a COMPLETED deployment, or the PRIMARY task set.
    pub serving: bool,
    /// The digests its running tasks report for the container, most tasks first.
    pub images: Vec<RunningImage>,
    /// Its running tasks that report no digest yet (what they run is not known).
    pub undigested: usize,
}

/// What a service runs, unit by unit (units without a running task left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// ECS, CODE_DEPLOY or EXTERNAL.
    pub controller: String,
    pub units: Vec<Unit>,
}

/// A deployment or task set as DescribeServices describes it.
#[derive(Debug, Clone)]
struct Described {
    id: String,
    task_definition: Option<String>,
    label: String,
    serving: bool,
}

/// The units of `r` and the digests their running tasks report.
pub async fn running(c: &Clients, r: &ServiceRef, deadline: Instant) -> Result<Running> {
    let (controller, described) = describe(c, r, deadline).await?;
    let arns = running_tasks(c, r, deadline).await?;
    let tasks = container_digests(c, r, &arns, deadline).await?;
    let units = assign(r, &described, tasks)?;
    if units.is_empty() {
        return Err(Error::runtime(format!(
            "no running task of service {} belongs to any of its {} ({})",
            r.service,
            if controller == "ECS" {
                "deployments"
            } else {
                "task sets"
            },
            described
                .iter()
                .map(|d| d.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Running { controller, units })
}

/// The service's deployment controller and its deployments (ECS) or task sets (others).
async fn describe(
    c: &Clients,
    r: &ServiceRef,
    deadline: Instant,
) -> Result<(String, Vec<Described>)> {
    let out = retry::call(Schedule::CALL, deadline, || async {
        c.ecs
            .describe_services()
            .cluster(&r.cluster)
            .services(&r.service)
            .send()
            .await
            .map_err(|e| classify(e, |_| None))
    })
    .await
    .map_err(|e| e.into_error("ecs:DescribeServices"))?;
    let Some(svc) = out.services().first() else {
        let why = out
            .failures()
            .first()
            .and_then(|f| f.reason())
            .unwrap_or("not found");
        return Err(Error::runtime(format!(
            "service {} in cluster {} not found ({why})",
            r.service, r.cluster
        )));
    };
    let controller = svc
        .deployment_controller()
        .map(|d| d.r#type().as_str().to_string())
        .unwrap_or_else(|| "ECS".to_string());
    let described: Vec<Described> = if controller == "ECS" {
        svc.deployments()
            .iter()
            .map(|d| {
                let status = d.status().unwrap_or("UNKNOWN");
                let rollout = d.rollout_state().map(|s| s.as_str().to_string());
                Described {
                    id: d.id().unwrap_or_default().to_string(),
                    task_definition: d.task_definition().map(str::to_string),
                    label: format!(
                        "deployment {} ({status}{})",
                        d.id().unwrap_or("?"),
                        rollout
                            .as_deref()
                            .map(|s| format!(", {s}"))
                            .unwrap_or_default()
                    ),
                    serving: rollout.as_deref() == Some("COMPLETED"),
                }
            })
            .collect()
    } else {
        svc.task_sets()
            .iter()
            .map(|t| {
                let status = t.status().unwrap_or("UNKNOWN");
                Described {
                    id: t.id().unwrap_or_default().to_string(),
                    task_definition: t.task_definition().map(str::to_string),
                    label: format!("task set {} ({status})", t.id().unwrap_or("?")),
                    serving: status == "PRIMARY",
                }
            })
            .collect()
    };
    if described.is_empty() {
        return Err(Error::runtime(format!(
            "service {} ({controller} deployment controller, status {}) has no {}",
            r.service,
            svc.status().unwrap_or("unknown"),
            if controller == "ECS" {
                "deployment"
            } else {
                "task set"
            }
        )));
    }
    Ok((controller, described))
}

/// The ARNs of the service's RUNNING tasks, every page.
async fn running_tasks(c: &Clients, r: &ServiceRef, deadline: Instant) -> Result<Vec<String>> {
    let mut arns: Vec<String> = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let page = retry::call(Schedule::CALL, deadline, || async {
            c.ecs
                .list_tasks()
                .cluster(&r.cluster)
                .service_name(&r.service)
                .desired_status(DesiredStatus::Running)
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| classify(e, |_| None))
        })
        .await
        .map_err(|e| e.into_error("ecs:ListTasks"))?;
        arns.extend(page.task_arns().iter().cloned());
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    if arns.is_empty() {
        return Err(Error::runtime(format!(
            "service {} in cluster {} has no running task, so nothing runs to compare with (pass an image or a saved report.json as --baseline instead)",
            r.service, r.cluster
        )));
    }

    Ok(arns)
}

/// One running task's container as DescribeTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskImage {
    started_by: Option<String>,
    task_definition: Option<String>,
    container: String,
    image: String,
    digest: Option<String>,
}

/// The containers of every running task (the named container only, when one is named).
async fn container_digests(
    c: &Clients,
    r: &ServiceRef,
    arns: &[String],
    deadline: Instant,
) -> Result<Vec<TaskImage>> {
    let mut out_tasks = Vec::new();
    for chunk in arns.chunks(100) {
        let out = retry::call(Schedule::CALL, deadline, || async {
            c.ecs
                .describe_tasks()
                .cluster(&r.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify(e, |_| None))
        })
        .await
        .map_err(|e| e.into_error("ecs:DescribeTasks"))?;
        for t in out.tasks() {
            for ct in t.containers() {
                let (Some(name), Some(image)) = (ct.name(), ct.image()) else {
                    continue;
                };
                if r.container.as_deref().is_some_and(|n| n != name) {
                    continue;
                }
                out_tasks.push(TaskImage {
                    started_by: t.started_by().map(str::to_string),
                    task_definition: t.task_definition_arn().map(str::to_string),
                    container: name.to_string(),
                    image: image.to_string(),
                    digest: ct.image_digest().map(str::to_string),
                });
            }
        }
    }
    Ok(out_tasks)
}

/// Give each task's digest to its unit: the one its `startedBy` names (ECS writes the
/// deployment id there), else every unit of its task definition. One container only.
fn assign(r: &ServiceRef, described: &[Described], tasks: Vec<TaskImage>) -> Result<Vec<Unit>> {
    let names: BTreeSet<&str> = tasks.iter().map(|t| t.container.as_str()).collect();
    match names.len() {
        0 => {
            return Err(Error::runtime(match &r.container {
                Some(n) => format!("no running task of {} has a container named {n}", r.service),
                None => format!("no running task of {} reports a container", r.service),
            }))
        }
        1 => {}
        _ => {
            let names: Vec<&str> = names.into_iter().collect();
            return Err(Error::usage(format!(
                "service {} runs several containers ({}): name one, e.g. --baseline ecs:{}/{}/{}",
                r.service,
                names.join(", "),
                r.cluster,
                r.service,
                names[0]
            )));
        }
    }
    let mut per_unit: Vec<BTreeMap<(String, String), usize>> =
        vec![BTreeMap::new(); described.len()];
    let mut undigested = vec![0usize; described.len()];
    for t in &tasks {
        let by_id = described
            .iter()
            .position(|d| !d.id.is_empty() && t.started_by.as_deref() == Some(d.id.as_str()));
        let owners: Vec<usize> = match by_id {
            Some(i) => vec![i],
            None => described
                .iter()
                .enumerate()
                .filter(|(_, d)| {
                    d.task_definition.is_some() && d.task_definition == t.task_definition
                })
                .map(|(i, _)| i)
                .collect(),
        };
        let Some(digest) = &t.digest else {
            owners.iter().for_each(|i| undigested[*i] += 1);
            continue;
        };
        for i in owners {
            *per_unit[i]
                .entry((digest.clone(), t.image.clone()))
                .or_default() += 1;
        }
    }
    let units: Vec<Unit> = described
        .iter()
        .zip(per_unit)
        .zip(undigested)
        .filter(|((_, m), u)| !m.is_empty() || *u > 0)
        .map(|((d, m), undigested)| {
            let mut images: Vec<RunningImage> = m
                .into_iter()
                .map(|((digest, image), tasks)| RunningImage {
                    image,
                    digest,
                    tasks,
                })
                .collect();
            images.sort_by(|a, b| b.tasks.cmp(&a.tasks).then_with(|| a.digest.cmp(&b.digest)));
            Unit {
                label: d.label.clone(),
                serving: d.serving,
                images,
                undigested,
            }
        })
        .collect();
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_refs_parse() {
        assert_eq!(
            ServiceRef::parse("prod/web").unwrap(),
            ServiceRef {
                cluster: "prod".into(),
                cluster_name: "prod".into(),
                service: "web".into(),
                container: None,
                scope: None,
            }
        );
        assert_eq!(
            ServiceRef::parse("prod/web/app")
                .unwrap()
                .container
                .as_deref(),
            Some("app")
        );
        for bad in ["prod", "prod/", "/web", "a/b/c/d", ""] {
            assert!(ServiceRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cluster_and_service_arns_parse_in_every_partition() {
        let r = ServiceRef::parse("arn:aws:ecs:us-east-1:123456789012:cluster/prod/web").unwrap();
        assert_eq!(r.cluster, "arn:aws:ecs:us-east-1:123456789012:cluster/prod");
        assert_eq!(
            (r.cluster_name.as_str(), r.service.as_str()),
            ("prod", "web")
        );
        assert_eq!(r.container, None);
        assert_eq!(
            r.arn("service/prod/web", |_| unreachable!()),
            "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
        );
        // A service ARN (new format) becomes its cluster's ARN and the service's name, the
        // form ListTasks' serviceName takes.
        let r = ServiceRef::parse("arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/web/app")
            .unwrap();
        assert_eq!(
            r.cluster,
            "arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod"
        );
        assert_eq!(r.service, "web");
        assert_eq!(r.container.as_deref(), Some("app"));
        for (partition, region) in [
            ("aws-us-gov", "us-gov-west-1"),
            ("aws-eusc", "eusc-de-east-1"),
            ("aws-iso-f", "us-isof-south-1"),
        ] {
            let arn = format!("arn:{partition}:ecs:{region}:123456789012:cluster/c1/s1");
            let r = ServiceRef::parse(&arn).unwrap();
            let scope = r.scope.unwrap();
            assert_eq!(
                (scope.partition.as_str(), scope.region.as_str()),
                (partition, region)
            );
        }
        for (bad, why) in [
            (
                "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "does not name a cluster and a service",
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:service/web",
                "old format",
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
                "task ARN",
            ),
            (
                "arn:aws:ecr:us-east-1:123456789012:cluster/prod/web",
                "not of ECS",
            ),
            (
                "arn:aws-cn:ecs:us-east-1:123456789012:cluster/prod/web",
                "not in partition aws-cn",
            ),
            (
                "arn:aws-mars:ecs:us-east-1:123456789012:cluster/prod/web",
                "unknown partition",
            ),
            ("arn:aws:ecs:us-east-1:1234:cluster/prod/web", "12-digit"),
            ("arn:aws:ecs:us-east-1", "not an ECS ARN"),
            (
                "arn:aws:ecs:us-east-1:123456789012:cluster//web",
                "empty part",
            ),
        ] {
            let e = ServiceRef::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn unit(id: &str, td: &str, serving: bool) -> Described {
        Described {
            id: id.into(),
            task_definition: Some(td.into()),
            label: id.into(),
            serving,
        }
    }

    fn task(by: Option<&str>, td: &str, digest: Option<&str>) -> TaskImage {
        TaskImage {
            started_by: by.map(str::to_string),
            task_definition: Some(td.into()),
            container: "app".into(),
            image: "repo:tag".into(),
            digest: digest.map(str::to_string),
        }
    }

    #[test]
    fn tasks_go_to_the_deployment_that_started_them() {
        let r = ServiceRef::parse("prod/web").unwrap();
        // A forced new deployment keeps the task definition: only startedBy tells them apart.
        let d = [
            unit("ecs-svc/2", "td:1", false),
            unit("ecs-svc/1", "td:1", true),
        ];
        let units = assign(
            &r,
            &d,
            vec![
                task(Some("ecs-svc/1"), "td:1", Some("sha256:old")),
                task(Some("ecs-svc/2"), "td:1", Some("sha256:new")),
                task(Some("ecs-svc/1"), "td:1", Some("sha256:old")),
                task(Some("ecs-svc/1"), "td:1", None),
            ],
        )
        .unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].label, "ecs-svc/2");
        assert_eq!(units[0].images[0].digest, "sha256:new");
        assert!(units[1].serving);
        assert_eq!(units[1].images[0].digest, "sha256:old");
        assert_eq!(units[1].images[0].tasks, 2);
        assert_eq!(units[1].undigested, 1);
        // Without startedBy (task sets), the task definition decides; unknown tasks belong nowhere.
        let d = [unit("ts-1", "td:1", true), unit("ts-2", "td:2", false)];
        let units = assign(
            &r,
            &d,
            vec![
                task(None, "td:2", Some("sha256:green")),
                task(None, "td:9", Some("sha256:stray")),
            ],
        )
        .unwrap();
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].label, "ts-2");
    }

    #[test]
    fn several_containers_need_a_name() {
        let r = ServiceRef::parse("prod/web").unwrap();
        let mut side = task(None, "td:1", Some("sha256:b"));
        side.container = "sidecar".into();
        let e = assign(
            &r,
            &[unit("d", "td:1", true)],
            vec![task(None, "td:1", Some("sha256:a")), side],
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Usage);
        assert!(e.message.contains("app, sidecar"), "{e}");
    }
}
