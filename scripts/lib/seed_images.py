#!/usr/bin/env python3
"""Seed moto's ECR with N images for scripts/bench-fanout and write the scripted server's
IMAGES file. Usage: seed_images.py MOTO_URL N REPOS OUT.json [LAYOUTS_DIR]
Image k (k = 0..N-1) is bench/svcNN:vK with NN = k mod REPOS, a distinct config-only manifest,
critical (one CRITICAL finding) when k is even. One enhanced continuous-scanning rule bench/*.
With LAYOUTS_DIR, image k is also written as the OCI image layout LAYOUTS_DIR/K (for
`gate --push-from oci:LAYOUTS_DIR/K`), holding the byte-identical manifest: the digest a push
stores is the one seeded here, which the scripted Inspector2 knows; its IMAGES entry names the
layout ("layout")."""
import hashlib, json, os, sys
import boto3

EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest()
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def write_layout(path, manifest, digest, tag):
    """An OCI image layout of one image: the manifest (the exact bytes given) and its `{}`
    config, index.json naming it by `tag` (org.opencontainers.image.ref.name)."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)
    for blob, d in ((manifest, digest), (EMPTY_CONFIG, EMPTY_CONFIG_DIGEST)):
        with open(os.path.join(blobs, d.removeprefix("sha256:")), "wb") as f:
            f.write(blob)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [{"mediaType": MANIFEST_TYPE, "digest": digest, "size": len(manifest),
                                  "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)


url, n, repos, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]  # repos 0: one each
layouts = sys.argv[5] if len(sys.argv) > 5 else None
ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1")
ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[{
    "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "bench/*", "filterType": "WILDCARD"}]}])
have = {r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate() for r in p["repositories"]}
images = []
for k in range(n):
    repo = f"bench/svc{(k % repos) if repos else k:02d}"
    if repo not in have:
        ecr.create_repository(repositoryName=repo)
        have.add(repo)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": EMPTY_CONFIG_DIGEST, "size": len(EMPTY_CONFIG)},
                           "layers": [], "annotations": {"bench.image": str(k)}}, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    tag = f"v{k}"
    ecr.put_image(repositoryName=repo, imageTag=tag, imageDigest=digest, imageManifest=manifest,
                  imageManifestMediaType=MANIFEST_TYPE)
    image = {"digest": digest, "repository": repo, "tag": tag, "critical": k % 2 == 0}
    if layouts:
        image["layout"] = os.path.join(layouts, str(k))
        write_layout(image["layout"], manifest.encode(), digest, tag)
    images.append(image)
json.dump(images, open(out, "w"))
