//! Batched reads: the images of a run share their Inspector and ECR reads. One coverage listing
//! serves every image of up to 10 repositories (`ecrRepositoryName` / `accountId` filter
//! lists), or up to 10 images of any repositories by their `resourceId` where that takes fewer
//! pages ([`read_by_id`]; a repository of hundreds of images costs a page per 200 of them at
//! every poll), an image whose row that misses being read with its whole repository in the
//! same round; one findings listing up to 10 image digests (`ecrImageHash`
//! list, with their repositories and accounts), every page followed; each image's rows and
//! findings are split out here, by its own digest, repository and account. Inspector filter
//! lists take at most 10 values (botocore: `max: 10`); the values of one list are ORed and
//! different filters ANDed, so a listing may bring rows of other combinations, which the split
//! drops. The references
//! of one repository resolve in one `BatchGetImage` (up to 100 ids; it takes one repository a
//! call), each id getting its own image or failure.
//!
//! Nothing about *when* an image is read, or what its reads decide, moves here: each image's
//! wait asks for a read when its own schedule says so ([`super::judge`]) and judges what comes
//! back exactly as it judged its own call. Images join a batch by asking, and leave it by no
//! longer asking (done, or ended). The one freedom a batch takes: a status check may be made
//! up to [`EARLY_SHARE`] of its gap *earlier* than scheduled, to ride along with another
//! image's check (checking sooner never delays seeing a finished scan); findings reads are
//! never made early (a read inside the settle window would only cost another read).
//!
//! How: whoever's read is due first leads a round — waits [`LINGER`] for images woken at the
//! same moment, takes every request whose earliest time has come, groups them into listings
//! of at most 10 values per filter, and hands each request its share. Requests that arrive
//! during a round wait for the next one. All of it runs on the run's one task (no spawning).

use super::{all_coverage, all_findings_of};
use crate::aws::inspector::{
    CoverageQuery, CoverageRow, FindingsQuery, COVERAGE_PAGE, MAX_FILTER_VALUES,
};
use crate::aws::{ecr, CallError, Class, Clients};
use crate::image_ref::ImageRef;
use crate::model::{Finding, ScannedImage};
use aws_sdk_ecr::types::ImageIdentifier;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// How long the leader of a round waits for requests of images woken at the same moment.
pub const LINGER: Duration = Duration::from_millis(20);
/// Share of a status check's gap by which it may be made early to join another image's.
pub const EARLY_SHARE: f64 = 0.25;

type Reply<V> = oneshot::Sender<Result<V, CallError>>;

struct Entry<K, V> {
    key: K,
    early: Instant,
    reply: Reply<V>,
}

/// Requests of one kind waiting for a round, and whether a round is being led.
struct Coalescer<K, V> {
    /// Values per dimension of one call (one per dimension of the keys).
    limits: &'static [usize],
    queue: RefCell<Vec<Entry<K, V>>>,
    leading: Cell<bool>,
    released: Notify,
}

/// Resets the leader flag however the round ends (a dropped leader must not strand others).
struct Leading<'a, K, V>(&'a Coalescer<K, V>);

impl<K, V> Drop for Leading<'_, K, V> {
    fn drop(&mut self) {
        self.0.leading.set(false);
        self.0.released.notify_waiters();
    }
}

impl<K: Ord + Clone, V: Clone> Coalescer<K, V> {
    fn new(limits: &'static [usize]) -> Self {
        Coalescer {
            limits,
            queue: RefCell::new(Vec::new()),
            leading: Cell::new(false),
            released: Notify::new(),
        }
    }

    /// The read of `key`, made at `due` at the latest and not before `early`, in a round with
    /// every other request whose earliest time has come. `exec` lists one group of keys
    /// (values per filter already within the limit) and returns each key's share.
    async fn get<F, Fut>(
        &self,
        key: K,
        due: Instant,
        early: Instant,
        dims: impl Fn(&K) -> Vec<String> + Copy,
        exec: F,
    ) -> Result<V, CallError>
    where
        F: Fn(Vec<K>) -> Fut + Copy,
        Fut: Future<Output = Result<BTreeMap<K, V>, CallError>>,
    {
        loop {
            let (reply, mut rx) = oneshot::channel();
            self.queue.borrow_mut().push(Entry {
                key: key.clone(),
                early,
                reply,
            });
            loop {
                let released = self.released.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                if self.leading.get() {
                    tokio::select! {
                        biased;
                        r = &mut rx => match r {
                            Ok(v) => return v,
                            // The round's leader was dropped with our request: ask again.
                            Err(_) => break,
                        },
                        _ = released => continue,
                    }
                }
                tokio::select! {
                    biased;
                    r = &mut rx => match r {
                        Ok(v) => return v,
                        Err(_) => break,
                    },
                    _ = tokio::time::sleep_until(due) => {}
                }
                if !self.leading.get() {
                    self.lead(dims, exec).await;
                }
            }
        }
    }

    /// One round: every request whose earliest time has come, in groups within the limits.
    async fn lead<F, Fut>(&self, dims: impl Fn(&K) -> Vec<String>, exec: F)
    where
        F: Fn(Vec<K>) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, V>, CallError>>,
    {
        self.leading.set(true);
        let _leading = Leading(self);
        tokio::time::sleep(LINGER).await;
        let now = Instant::now();
        let taken: Vec<Entry<K, V>> = {
            let mut q = self.queue.borrow_mut();
            let (ready, waiting) = std::mem::take(&mut *q)
                .into_iter()
                .partition(|e| e.early <= now);
            *q = waiting;
            ready
        };
        let keys: BTreeSet<K> = taken.iter().map(|e| e.key.clone()).collect();
        let groups = group(keys.into_iter().collect(), &dims, self.limits);
        let results = futures::future::join_all(groups.iter().map(|g| exec(g.clone()))).await;
        let mut share: BTreeMap<K, Result<V, CallError>> = BTreeMap::new();
        for (g, r) in groups.into_iter().zip(results) {
            match r {
                // Every key of a group gets its share from `exec`; one without is never
                // read as "nothing found".
                Ok(mut m) => share.extend(g.into_iter().map(|k| {
                    let v = m.remove(&k).ok_or_else(unshared);
                    (k, v)
                })),
                Err(e) => share.extend(g.into_iter().map(|k| (k, Err(e.clone())))),
            }
        }
        for e in taken {
            let v = share
                .get(&e.key)
                .cloned()
                .unwrap_or_else(|| Err(unshared()));
            // A request whose image stopped waiting has nobody to hear it.
            let _ = e.reply.send(v);
        }
    }
}

/// `keys` in groups whose values per dimension number at most its limit (`limits`, one per
/// dimension), in order: greedily, a key joins the current group while every dimension stays
/// within its limit.
fn group<K>(keys: Vec<K>, dims: &impl Fn(&K) -> Vec<String>, limits: &[usize]) -> Vec<Vec<K>> {
    let mut out: Vec<(Vec<K>, Vec<BTreeSet<String>>)> = Vec::new();
    for k in keys {
        let d = dims(&k);
        let fits = |sets: &Vec<BTreeSet<String>>| {
            sets.iter()
                .zip(&d)
                .zip(limits)
                .all(|((s, v), max)| s.contains(v) || s.len() < *max)
        };
        match out.last_mut().filter(|(_, sets)| fits(sets)) {
            Some((g, sets)) => {
                for (s, v) in sets.iter_mut().zip(&d) {
                    s.insert(v.clone());
                }
                g.push(k);
            }
            None => {
                let sets = d.iter().map(|v| BTreeSet::from([v.clone()])).collect();
                out.push((vec![k], sets));
            }
        }
    }
    out.into_iter().map(|(g, _)| g).collect()
}

/// A coverage request: the image's (account, repository, resource id as this version builds it).
pub type CoverageKey = (String, String, String);
/// One image's share of a coverage round: the rows its image is looked for in, or the failure
/// of the listing it was in.
pub type CoverageShare = Result<Vec<CoverageRow>, CallError>;
/// An (account, repository) whose every image one listing reads.
type RepoKey = (String, String);
/// A findings request: the image's (account, repository, digest).
pub type FindingsKey = (String, String, String);
/// A manifest request: (registry as given, "" for the caller's own; repository; "tag:T" or
/// "digest:D").
pub type ManifestKey = (String, String, String);

/// Images a by-id coverage listing serves per page of a whole-repository listing: a whole
/// listing pages at [`COVERAGE_PAGE`] rows, a by-id one names [`MAX_FILTER_VALUES`] images.
const ROWS_PER_ID: usize = COVERAGE_PAGE as usize / MAX_FILTER_VALUES;

/// Whether an image's coverage is first read by its resource id this round rather than with
/// its whole repository. What the image is judged on is the same either way: a by-id listing
/// that returns the row returns the row [`crate::aws::inspector::row_for`] picks first from
/// the repository's rows (the exact form), and one that does not is followed by the
/// repository listing in the same round — only that tells "no row yet" from a row under
/// another id form. So the choice is cost alone: not while the last read found no exact row
/// (`missing`: a just-pushed image has none for a few seconds, and a by-id read would only add
/// a call), and only where it takes fewer pages. The repository held `repo_rows` at its last
/// whole listing: a whole listing costs `repo_rows / 200` pages, by-id listings `wanted / 10`
/// for the `wanted` images of the repository this round. Never listed whole: by id when the
/// repository has one image this round (10 ids a listing can never take more pages than 10
/// repositories a listing), else listed whole, which tells its size.
fn read_by_id(missing: bool, repo_rows: Option<usize>, wanted: usize) -> bool {
    !missing
        && match repo_rows {
            None => wanted == 1,
            Some(n) => n > wanted * ROWS_PER_ID,
        }
}

/// The batched reads of one run (one set of clients: one account and region), shared by
/// every image it waits for and every baseline image it reads.
pub struct Batches<'a> {
    c: &'a Clients,
    deadline: Instant,
    coverage: Coalescer<CoverageKey, CoverageShare>,
    findings: Coalescer<FindingsKey, Vec<Finding>>,
    manifests: Coalescer<ManifestKey, ecr::Share>,
    /// Rows of each (account, repository) at its last whole listing.
    repo_rows: RefCell<BTreeMap<RepoKey, usize>>,
    /// Resource ids whose last read found no row in exactly that form.
    missing: RefCell<BTreeSet<String>>,
    /// The last failed call's message (a retried one too), for a timeout message.
    pub last_err: RefCell<Option<String>>,
}

impl<'a> Batches<'a> {
    pub fn new(c: &'a Clients, deadline: Instant) -> Self {
        Batches {
            c,
            deadline,
            // One group a round: `list_coverage` plans the round's listings itself.
            coverage: Coalescer::new(&[usize::MAX]),
            findings: Coalescer::new(&[MAX_FILTER_VALUES; 3]),
            manifests: Coalescer::new(&[1, 1, ecr::BATCH_GET_MAX]),
            repo_rows: RefCell::new(BTreeMap::new()),
            missing: RefCell::new(BTreeSet::new()),
            last_err: RefCell::new(None),
        }
    }

    /// The coverage rows `img`'s row is looked for in ([`crate::aws::inspector::row_for`]):
    /// those of its resource id when a by-id listing returns its row ([`read_by_id`]), else
    /// those of its repository in its account; read at `due` at the latest and not before
    /// `early`.
    pub async fn coverage(
        &self,
        img: &ScannedImage,
        due: Instant,
        early: Instant,
    ) -> Result<Vec<CoverageRow>, CallError> {
        let key = (
            img.registry.clone(),
            img.repository.clone(),
            img.resource_id(),
        );
        self.coverage
            .get(
                key,
                due,
                early,
                |_: &CoverageKey| vec![String::new()],
                |keys: Vec<CoverageKey>| self.list_coverage(keys),
            )
            .await?
    }

    /// One round of coverage reads: the images read by id in listings of up to 10 resource ids
    /// (across repositories), the others with their whole repositories in listings of up to 10
    /// repositories, at once; then the repositories of images whose row an id listing did not
    /// return. Every key gets its share (or its listing's failure).
    async fn list_coverage(
        &self,
        keys: Vec<CoverageKey>,
    ) -> Result<BTreeMap<CoverageKey, CoverageShare>, CallError> {
        let repo = |k: &CoverageKey| (k.0.clone(), k.1.clone());
        let mut wanted: BTreeMap<RepoKey, usize> = BTreeMap::new();
        for k in &keys {
            *wanted.entry(repo(k)).or_default() += 1;
        }
        let (by_id, mut whole): (Vec<CoverageKey>, Vec<CoverageKey>) = {
            let (missing, rows) = (self.missing.borrow(), self.repo_rows.borrow());
            keys.into_iter().partition(|k| {
                read_by_id(
                    missing.contains(&k.2),
                    rows.get(&repo(k)).copied(),
                    wanted[&repo(k)],
                )
            })
        };
        // A repository listed whole this round serves all of its images.
        let listed: BTreeSet<RepoKey> = whole.iter().map(repo).collect();
        let (by_id, also): (Vec<CoverageKey>, Vec<CoverageKey>) =
            by_id.into_iter().partition(|k| !listed.contains(&repo(k)));
        whole.extend(also);
        let id_groups = group(
            by_id,
            &|k: &CoverageKey| vec![k.0.clone(), k.2.clone()],
            &[MAX_FILTER_VALUES; 2],
        );
        let (id_rows, mut repos) = futures::join!(
            futures::future::join_all(id_groups.iter().map(|g| self.list_ids(g))),
            self.list_repos(whole.iter().map(repo).collect()),
        );
        let mut out = BTreeMap::new();
        let mut missed = Vec::new();
        for (g, r) in id_groups.into_iter().zip(id_rows) {
            match r {
                Ok(rows) => {
                    for k in g {
                        let mine: Vec<CoverageRow> = rows
                            .iter()
                            .filter(|r| r.resource_id == k.2)
                            .cloned()
                            .collect();
                        if mine.is_empty() {
                            missed.push(k);
                        } else {
                            out.insert(k, Ok(mine));
                        }
                    }
                }
                Err(e) => out.extend(g.into_iter().map(|k| (k, Err(e.clone())))),
            }
        }
        // A row its id no longer finds (gone, or now in another form) is looked for in the
        // whole repository again, as before it was seen.
        for k in &missed {
            self.missing.borrow_mut().insert(k.2.clone());
        }
        let more: BTreeSet<RepoKey> = missed
            .iter()
            .map(repo)
            .filter(|r| !repos.contains_key(r))
            .collect();
        repos.extend(self.list_repos(more).await);
        for k in whole.into_iter().chain(missed) {
            let share = repos
                .get(&repo(&k))
                .cloned()
                .unwrap_or_else(|| Err(unshared()));
            if let Ok(rows) = &share {
                let mut missing = self.missing.borrow_mut();
                if rows.iter().any(|r| r.resource_id == k.2) {
                    missing.remove(&k.2);
                } else {
                    missing.insert(k.2.clone());
                }
            }
            out.insert(k, share);
        }
        Ok(out)
    }

    /// The rows of `keys`' resource ids (a by-id listing: one page of at most 10 rows, every
    /// page still followed).
    async fn list_ids(&self, keys: &[CoverageKey]) -> CoverageShare {
        let q = CoverageQuery {
            registries: distinct(keys.iter().map(|k| &k.0)),
            repositories: Vec::new(),
            resource_ids: distinct(keys.iter().map(|k| &k.2)),
        };
        all_coverage(self.c, &q, self.deadline, &self.last_err).await
    }

    /// Every row of each of `repos`, in listings of up to 10 accounts and 10 repositories; each
    /// repository's row count is kept for [`read_by_id`].
    async fn list_repos(&self, repos: BTreeSet<RepoKey>) -> BTreeMap<RepoKey, CoverageShare> {
        let groups = group(
            repos.into_iter().collect(),
            &|k: &RepoKey| vec![k.0.clone(), k.1.clone()],
            &[MAX_FILTER_VALUES; 2],
        );
        let listed = futures::future::join_all(groups.iter().map(|g| {
            let q = CoverageQuery {
                registries: distinct(g.iter().map(|k| &k.0)),
                repositories: distinct(g.iter().map(|k| &k.1)),
                resource_ids: Vec::new(),
            };
            async move { all_coverage(self.c, &q, self.deadline, &self.last_err).await }
        }))
        .await;
        let mut out = BTreeMap::new();
        for (g, r) in groups.into_iter().zip(listed) {
            match r {
                Ok(rows) => {
                    let mut split: BTreeMap<RepoKey, Vec<CoverageRow>> =
                        g.into_iter().map(|k| (k, Vec::new())).collect();
                    for r in rows {
                        if let Some(v) =
                            split.get_mut(&(r.account_id.clone(), r.repository.clone()))
                        {
                            v.push(r);
                        }
                    }
                    let mut counts = self.repo_rows.borrow_mut();
                    for (k, v) in split {
                        counts.insert(k.clone(), v.len());
                        out.insert(k, Ok(v));
                    }
                }
                Err(e) => out.extend(g.into_iter().map(|k| (k, Err(e.clone())))),
            }
        }
        out
    }

    /// Every open finding (ACTIVE and SUPPRESSED) of `img`, read now (in a round with the
    /// images that read at this moment).
    pub async fn findings(&self, img: &ScannedImage) -> Result<Vec<Finding>, CallError> {
        let key = (
            img.registry.clone(),
            img.repository.clone(),
            img.digest.clone(),
        );
        let now = Instant::now();
        self.findings
            .get(
                key,
                now,
                now,
                |k: &FindingsKey| vec![k.0.clone(), k.1.clone(), k.2.clone()],
                |keys: Vec<FindingsKey>| self.list_findings(keys),
            )
            .await
    }

    async fn list_findings(
        &self,
        keys: Vec<FindingsKey>,
    ) -> Result<BTreeMap<FindingsKey, Vec<Finding>>, CallError> {
        let q = FindingsQuery {
            registries: distinct(keys.iter().map(|k| &k.0)),
            repositories: distinct(keys.iter().map(|k| &k.1)),
            digests: distinct(keys.iter().map(|k| &k.2)),
        };
        let found = all_findings_of(self.c, &q, self.deadline, &self.last_err).await?;
        split_findings(keys, &q, found)
    }
}

impl Batches<'_> {
    /// `id` of `r`'s repository, as `BatchGetImage` answers it: in one call with every image
    /// of the same repository resolved at this moment (up to 100 ids a call). Each asked-for
    /// id gets its own image or failure ([`ecr::share_of`]).
    pub async fn manifest(
        &self,
        r: &ImageRef,
        id: ImageIdentifier,
    ) -> Result<ecr::Share, CallError> {
        let which = match (id.image_tag(), id.image_digest()) {
            (Some(t), _) => format!("tag:{t}"),
            (None, Some(d)) => format!("digest:{d}"),
            (None, None) => String::new(),
        };
        let key = (
            r.registry.clone().unwrap_or_default(),
            r.repository.clone(),
            which,
        );
        let now = Instant::now();
        self.manifests
            .get(
                key,
                now,
                now,
                |k: &ManifestKey| vec![k.0.clone(), k.1.clone(), k.2.clone()],
                |keys: Vec<ManifestKey>| self.get_manifests(keys),
            )
            .await
    }

    async fn get_manifests(
        &self,
        keys: Vec<ManifestKey>,
    ) -> Result<BTreeMap<ManifestKey, ecr::Share>, CallError> {
        let id_of = |k: &ManifestKey| match k.2.split_once(':') {
            Some(("tag", t)) => ImageIdentifier::builder().image_tag(t).build(),
            _ => ImageIdentifier::builder()
                .image_digest(k.2.strip_prefix("digest:").unwrap_or_default())
                .build(),
        };
        // One group is one registry and repository (limits 1, 1).
        let (registry, repository) = (keys[0].0.clone(), keys[0].1.clone());
        let ids: Vec<ImageIdentifier> = keys.iter().map(id_of).collect();
        let out = ecr::batch_get_in(
            self.c,
            Some(registry.as_str()).filter(|r| !r.is_empty()),
            &repository,
            ids.clone(),
        )
        .await?;
        Ok(keys
            .into_iter()
            .zip(ids)
            .map(|(k, id)| {
                let share = ecr::share_of(out.images(), out.failures(), &id);
                (k, share)
            })
            .collect())
    }
}

/// Each asked-for image's findings out of one listing. A finding of a combination nobody asked
/// for (another listed repository that holds a listed digest: the same image pushed twice) is
/// dropped; a finding the filters matched that names no image in them (no image details) may
/// be any listed image's, so it is neither dropped nor guessed at: the listing is an error.
fn split_findings(
    keys: Vec<FindingsKey>,
    q: &FindingsQuery,
    found: Vec<(FindingsKey, Finding)>,
) -> Result<BTreeMap<FindingsKey, Vec<Finding>>, CallError> {
    let mut out: BTreeMap<FindingsKey, Vec<Finding>> =
        keys.into_iter().map(|k| (k, Vec::new())).collect();
    for (k, f) in found {
        if let Some(v) = out.get_mut(&k) {
            v.push(f);
        } else if !(q.registries.contains(&k.0)
            && q.repositories.contains(&k.1)
            && q.digests.contains(&k.2))
        {
            return Err(CallError {
                class: Class::Permanent,
                code: "UnattributedFinding".into(),
                message: format!(
                    "finding {} names no image of the listing (registry '{}', repository '{}', digest '{}'), so it cannot be told whose it is",
                    f.id, k.0, k.1, k.2
                ),
            });
        }
    }
    Ok(out)
}

/// A round that did not return some asked-for image's share (a bug, never "nothing found").
fn unshared() -> CallError {
    CallError {
        class: Class::Permanent,
        code: "Unshared".into(),
        message: "a batched listing returned no share for an image it was asked about".into(),
    }
}

fn distinct<'s>(v: impl Iterator<Item = &'s String>) -> Vec<String> {
    v.cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding the listing's filters matched but that names no image of them is never
    /// dropped (it may be any listed image's, so a pass would not have seen it); one of a
    /// combination nobody asked for (the same digest in another listed repository) is.
    #[test]
    fn a_finding_that_names_no_listed_image_is_an_error_not_dropped() {
        let img = crate::report::testing::image(None);
        let key =
            |repo: &str, d: &str| ("123456789012".to_string(), repo.to_string(), d.to_string());
        let (a, b) = (
            "sha256:".to_string() + &"a".repeat(64),
            "sha256:".to_string() + &"b".repeat(64),
        );
        let keys = vec![key("app/web", &a), key("app/api", &b)];
        let q = FindingsQuery {
            registries: vec!["123456789012".into()],
            repositories: vec!["app/api".into(), "app/web".into()],
            digests: vec![a.clone(), b.clone()],
        };
        let f = |i| crate::report::testing::finding(i, &img);
        let found = vec![
            (key("app/web", &a), f(0)),
            (key("app/api", &b), f(1)),
            // app/api also holds app/web's image: not asked for, dropped.
            (key("app/api", &a), f(2)),
        ];
        let out = split_findings(keys.clone(), &q, found.clone()).unwrap();
        assert_eq!(out[&keys[0]], vec![f(0)]);
        assert_eq!(out[&keys[1]], vec![f(1)]);

        for unnamed in [
            key("", ""),
            ("".into(), "app/web".into(), a.clone()),
            key("app/web", "sha256:other"),
        ] {
            let mut found = found.clone();
            found.push((unnamed.clone(), f(3)));
            let e = split_findings(keys.clone(), &q, found).unwrap_err();
            assert!(matches!(e.class, Class::Permanent), "{unnamed:?}: {e:?}");
            assert!(e.message.contains(&f(3).id), "{}", e.message);
        }
    }

    /// By id only where it takes fewer pages than the whole repository (200 rows a page
    /// against 10 images a by-id listing), and not while the image's exact row is missing.
    #[test]
    fn coverage_is_read_by_id_where_that_takes_fewer_pages() {
        // The last read found no exact row (just pushed, or another form): the repository.
        assert!(!read_by_id(true, Some(5000), 1));
        assert!(!read_by_id(true, None, 1));
        // Never listed whole: by id for a repository's only image, whole (to learn its size)
        // for several.
        assert!(read_by_id(false, None, 1));
        assert!(!read_by_id(false, None, 2));
        // One image among 300: a page and a half per poll against a tenth of one.
        assert!(read_by_id(false, Some(300), 1));
        // A small repository: listing it whole is as cheap.
        assert!(!read_by_id(false, Some(1), 1));
        assert!(!read_by_id(false, Some(20), 1));
        assert!(read_by_id(false, Some(21), 1));
        // 10 images of a repository of 150: one page whole, one listing by id; 210: by id.
        assert!(!read_by_id(false, Some(150), 10));
        assert!(read_by_id(false, Some(210), 10));
    }

    #[test]
    fn groups_keep_every_filter_within_ten_values() {
        let keys: Vec<(String, String)> = (0..25)
            .map(|i| ("123456789012".to_string(), format!("repo{}", i % 13)))
            .collect();
        let dims = |k: &(String, String)| vec![k.0.clone(), k.1.clone()];
        let groups = group(keys.clone(), &dims, &[MAX_FILTER_VALUES; 2]);
        let mut seen = 0;
        for g in &groups {
            let repos: BTreeSet<_> = g.iter().map(|k| &k.1).collect();
            assert!(repos.len() <= MAX_FILTER_VALUES, "{repos:?}");
            seen += g.len();
        }
        assert_eq!(seen, 25, "every key is in a group");
        // 13 repositories: two groups, not one per key.
        let distinct: BTreeSet<_> = keys.into_iter().collect();
        let groups = group(
            distinct.into_iter().collect(),
            &dims,
            &[MAX_FILTER_VALUES; 2],
        );
        assert_eq!(groups.len(), 2);
    }

    /// One BatchGetImage answer serves several ids: each its own image (by tag or digest) or
    /// its own failure, and an id the answer names nowhere is "not found", never another's.
    #[test]
    fn each_id_gets_its_own_image_or_failure() {
        use aws_sdk_ecr::types::{Image, ImageFailure, ImageFailureCode};
        let tag = |t: &str| ImageIdentifier::builder().image_tag(t).build();
        let digest = |d: &str| ImageIdentifier::builder().image_digest(d).build();
        let img = |t: &str, d: &str| {
            Image::builder()
                .image_id(
                    ImageIdentifier::builder()
                        .image_tag(t)
                        .image_digest(d)
                        .build(),
                )
                .build()
        };
        let images = vec![img("a", "sha256:1"), img("b", "sha256:2")];
        let failures = vec![ImageFailure::builder()
            .image_id(tag("c"))
            .failure_code(ImageFailureCode::KmsError)
            .build()];
        let got = |id| ecr::share_of(&images, &failures, &id);
        let digest_of = |s: ecr::Share| {
            s.unwrap()
                .image_id()
                .unwrap()
                .image_digest()
                .map(str::to_string)
        };
        assert_eq!(digest_of(got(tag("b"))).as_deref(), Some("sha256:2"));
        assert_eq!(
            digest_of(got(digest("sha256:1"))).as_deref(),
            Some("sha256:1")
        );
        let code = |s: ecr::Share| s.unwrap_err().failure_code().cloned();
        assert_eq!(code(got(tag("c"))), Some(ImageFailureCode::KmsError));
        assert_eq!(code(got(tag("d"))), Some(ImageFailureCode::ImageNotFound));
    }

    /// Manifests: one repository (and registry) a call, up to 100 ids.
    #[test]
    fn manifest_groups_are_one_repository_each() {
        let keys: Vec<ManifestKey> = (0..230)
            .map(|i| (String::new(), format!("repo{}", i % 2), format!("tag:v{i}")))
            .collect();
        let dims = |k: &ManifestKey| vec![k.0.clone(), k.1.clone(), k.2.clone()];
        let mut sorted = keys.clone();
        sorted.sort();
        let groups = group(sorted, &dims, &[1, 1, ecr::BATCH_GET_MAX]);
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 15, 100, 15]
        );
        for g in &groups {
            assert!(g.iter().all(|k| k.1 == g[0].1), "one repository a call");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_due_together_share_one_call_and_early_ones_ride_along() {
        let c: Coalescer<u32, u32> = Coalescer::new(&[MAX_FILTER_VALUES]);
        let calls = RefCell::new(Vec::<Vec<u32>>::new());
        let exec = |keys: Vec<u32>| {
            calls.borrow_mut().push(keys.clone());
            async move { Ok(keys.into_iter().map(|k| (k, k * 10)).collect()) }
        };
        let dims = |k: &u32| vec![k.to_string()];
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let (a, b, late) = tokio::join!(
            c.get(1, t0 + s(3), t0 + s(2), dims, exec),
            // Due a little later, but may go from 2.5 s: rides along with the first.
            c.get(
                2,
                t0 + s(3) + Duration::from_millis(400),
                t0 + s(2) + Duration::from_millis(500),
                dims,
                exec
            ),
            // Not before 10 s: its own round.
            c.get(3, t0 + s(11), t0 + s(10), dims, exec),
        );
        assert_eq!((a.unwrap(), b.unwrap(), late.unwrap()), (10, 20, 30));
        assert_eq!(*calls.borrow(), vec![vec![1, 2], vec![3]]);
    }

    /// Requesters of random due and early times against rounds of random latency, some of them
    /// dropped mid-wait (as a wait's deadline drops its future, a leader's too): every request
    /// not dropped is answered with its own share, within the rounds that can be ahead of it.
    #[tokio::test(start_paused = true)]
    async fn every_request_is_answered_whatever_the_timing() {
        for seed in 0..40u64 {
            let c: Coalescer<u32, u32> = Coalescer::new(&[3]);
            let rng = &RefCell::new(fastrand::Rng::with_seed(seed));
            let ms = |lo: u64, hi: u64| Duration::from_millis(rng.borrow_mut().u64(lo..hi));
            let exec = |keys: Vec<u32>| {
                let lat = ms(0, 3000);
                async move {
                    tokio::time::sleep(lat).await;
                    Ok(keys.into_iter().map(|k| (k, k)).collect())
                }
            };
            let dims = |k: &u32| vec![k.to_string()];
            let t0 = Instant::now();
            let c = &c;
            let tasks = (0..12u32).map(|i| async move {
                for n in 0..25u32 {
                    let key = i * 1000 + n;
                    let gap = ms(0, 4000);
                    let now = Instant::now();
                    let (due, early) = (now + gap, now + gap.mul_f64(1.0 - EARLY_SHARE));
                    let f = c.get(key, due, early, dims, exec);
                    if rng.borrow_mut().u8(0..8) == 0 {
                        let _ = tokio::time::timeout(ms(0, 5000), f).await;
                        continue;
                    }
                    // One round in progress and its own (2 × (LINGER + 3 s)), plus one more per
                    // leader dropped with its request (measured: at most 7.5 s late).
                    let got = tokio::time::timeout_at(due + Duration::from_secs(60), f).await;
                    let got = got.unwrap_or_else(|_| {
                        panic!(
                            "seed {seed}: request {key} due at {:?} not answered",
                            due - t0
                        )
                    });
                    assert_eq!(got.unwrap(), key);
                }
            });
            futures::future::join_all(tasks).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_fails_each_request_of_its_group() {
        let c: Coalescer<u32, u32> = Coalescer::new(&[MAX_FILTER_VALUES]);
        let exec = |_keys: Vec<u32>| async {
            Err::<BTreeMap<u32, u32>, _>(CallError {
                class: crate::aws::Class::Permanent,
                code: "X".into(),
                message: "boom".into(),
            })
        };
        let now = Instant::now();
        let dims = |k: &u32| vec![k.to_string()];
        let (a, b) = tokio::join!(
            c.get(1, now, now, dims, exec),
            c.get(2, now, now, dims, exec)
        );
        assert_eq!(a.unwrap_err().message, "boom");
        assert_eq!(b.unwrap_err().message, "boom");
    }
}
