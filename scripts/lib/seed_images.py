#!/usr/bin/env python3
"""Seed moto's ECR with N images for scripts/bench-fanout and write the scripted server's
IMAGES file. Usage: seed_images.py MOTO_URL N REPOS OUT.json
Image k (k = 0..N-1) is bench/svcNN:v1 with NN = k mod REPOS, a distinct config-only manifest,
critical (one CRITICAL finding) when k is even. One enhanced continuous-scanning rule bench/*."""
import hashlib, json, sys
import boto3

url, n, repos, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]  # repos 0: one each
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
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                                      "size": 2},
                           "layers": [], "annotations": {"bench.image": str(k)}}, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    tag = f"v{k}"
    ecr.put_image(repositoryName=repo, imageTag=tag, imageDigest=digest, imageManifest=manifest,
                  imageManifestMediaType="application/vnd.oci.image.manifest.v1+json")
    images.append({"digest": digest, "repository": repo, "tag": tag, "critical": k % 2 == 0})
json.dump(images, open(out, "w"))
