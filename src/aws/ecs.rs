//! ECS: which image digest a service runs now, for `--baseline ecs:CLUSTER/SERVICE[/CONTAINER]`.
//! `DescribeServices` names the PRIMARY deployment's task definition; `ListTasks` +
//! `DescribeTasks` give `containers[].imageDigest`, the digest each running task actually
//! pulled (a tag in the task definition says nothing about what runs).

use super::{classify, Clients};
use crate::error::{Error, Result};
use crate::retry::{self, Schedule};
use aws_sdk_ecs::types::DesiredStatus;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// `ecs:CLUSTER/SERVICE[/CONTAINER]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
    pub container: Option<String>,
}

impl ServiceRef {
    /// Parse the part after `ecs:`.
    pub fn parse(s: &str) -> std::result::Result<ServiceRef, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            format!("baseline ecs:{s} must be ecs:CLUSTER/SERVICE or ecs:CLUSTER/SERVICE/CONTAINER")
        };
        if parts.iter().any(|p| p.trim().is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [c, s] => Ok(ServiceRef {
                cluster: c.to_string(),
                service: s.to_string(),
                container: None,
            }),
            [c, s, n] => Ok(ServiceRef {
                cluster: c.to_string(),
                service: s.to_string(),
                container: Some(n.to_string()),
            }),
            _ => Err(bad()),
        }
    }
}

/// What the service runs: the container's image as written in the task definition and the
/// digests its running primary-deployment tasks report, most common first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub image: String,
    pub digests: Vec<(String, usize)>,
}

/// The image digest(s) the primary deployment of `r` runs.
pub async fn running(c: &Clients, r: &ServiceRef, deadline: Instant) -> Result<Running> {
    let primary = primary_task_definition(c, r, deadline).await?;
    let arns = running_tasks(c, r, deadline).await?;
    let images = container_images(c, r, &primary, &arns, deadline).await?;
    choose(r, &primary, images)
}

/// The task definition of the service's PRIMARY deployment (what it is rolling out to).
async fn primary_task_definition(c: &Clients, r: &ServiceRef, deadline: Instant) -> Result<String> {
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
    let primary = svc
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition())
        .or(svc.task_definition())
        .ok_or_else(|| {
            Error::runtime(format!(
                "service {} has no primary deployment (status {})",
                r.service,
                svc.status().unwrap_or("unknown")
            ))
        })?
        .to_string();
    Ok(primary)
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

/// Per "container name\nimage" of the primary deployment's tasks: the digests they run, with
/// how many tasks run each.
async fn container_images(
    c: &Clients,
    r: &ServiceRef,
    primary: &str,
    arns: &[String],
    deadline: Instant,
) -> Result<BTreeMap<String, BTreeMap<String, usize>>> {
    let mut images: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
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
        // During a deployment older tasks still run: only the primary deployment's count.
        for t in out
            .tasks()
            .iter()
            .filter(|t| t.task_definition_arn() == Some(primary))
        {
            for ct in t.containers() {
                let (Some(name), Some(image)) = (ct.name(), ct.image()) else {
                    continue;
                };
                if r.container.as_deref().is_some_and(|n| n != name) {
                    continue;
                }
                let entry = images.entry(format!("{name}\n{image}")).or_default();
                if let Some(d) = ct.image_digest() {
                    *entry.entry(d.to_string()).or_default() += 1;
                }
            }
        }
    }
    Ok(images)
}

/// The one container (named, or the only one) and its digests, most tasks first.
fn choose(
    r: &ServiceRef,
    primary: &str,
    images: BTreeMap<String, BTreeMap<String, usize>>,
) -> Result<Running> {
    let names: Vec<String> = images
        .keys()
        .map(|k| k.split('\n').next().unwrap_or_default().to_string())
        .collect();
    let (key, digests) = match images.len() {
        0 => {
            return Err(Error::runtime(match &r.container {
                Some(n) => format!(
                    "no running task of the primary deployment of {} has a container named {n}",
                    r.service
                ),
                None => format!(
                "no running task of the primary deployment ({primary}) of {} reports a container",
                r.service
            ),
            }))
        }
        1 => images.into_iter().next().unwrap_or_default(),
        _ => {
            return Err(Error::usage(format!(
                "service {} runs several containers ({}): name one, e.g. --baseline ecs:{}/{}/{}",
                r.service,
                names.join(", "),
                r.cluster,
                r.service,
                names[0]
            )))
        }
    };
    let image = key.split_once('\n').map(|(_, i)| i).unwrap_or_default();
    if digests.is_empty() {
        return Err(Error::runtime(format!(
            "the running tasks of {} report no image digest for {image} yet",
            r.service
        )));
    }
    let mut digests: Vec<(String, usize)> = digests.into_iter().collect();
    digests.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Running {
        image: image.to_string(),
        digests,
    })
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
                service: "web".into(),
                container: None
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
}
