"""An independent verifier of inspector-gate's signed decision, for the e2e tests: it shares no
code with the Rust implementation. It reads cosign's attestation manifest
(`sha256-<hex>.att`) from the registry over the distribution API, fetches each DSSE layer,
rebuilds DSSE's pre-authentication encoding and checks the ECDSA P-256 / SHA-256 signature with
Python's `cryptography`; then checks the in-toto statement (subject, predicate type) and
recomputes the policy digest from canonical JSON.

usage: dsse_verify.py REGISTRY_URL USER PASSWORD REPO DIGEST PUBLIC_KEY_PEM_FILE
       dsse_verify.py --kms-public-key KEY_ID OUT_PEM   (GetPublicKey via boto3, e.g. from moto)
Prints one JSON object: {"layers": n, "verified": [statement, ...], "failed": n}.
"""

import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PREDICATE = "https://github.com/inspector-gate/inspector-gate/blob/main/docs/attestation.md#decision-v1"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"


def get(url, user, password, accept=None):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.read()


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main():
    if sys.argv[1] == "--kms-public-key":
        import boto3

        kms = boto3.client("kms")
        der = kms.get_public_key(KeyId=sys.argv[2])["PublicKey"]
        key = serialization.load_der_public_key(der)
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        open(sys.argv[3], "wb").write(pem)
        return
    base, user, password, repo, digest, key_file = sys.argv[1:7]
    key = serialization.load_pem_public_key(open(key_file, "rb").read())
    assert isinstance(key.curve, ec.SECP256R1), key.curve
    tag = digest.replace(":", "-", 1) + ".att"
    manifest = json.loads(get(f"{base}/v2/{repo}/manifests/{tag}", user, password,
                              "application/vnd.oci.image.manifest.v1+json"))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json", manifest
    config = json.loads(get(f"{base}/v2/{repo}/blobs/{manifest['config']['digest']}", user, password))
    assert config["rootfs"]["diff_ids"] == [l["digest"] for l in manifest["layers"]], config
    out = {"layers": len(manifest["layers"]), "verified": [], "failed": 0}
    for layer in manifest["layers"]:
        assert layer["mediaType"] == DSSE_LAYER, layer
        assert layer["annotations"]["predicateType"] == PREDICATE, layer
        assert layer["annotations"]["dev.cosignproject.cosign/signature"] == "", layer
        blob = get(f"{base}/v2/{repo}/blobs/{layer['digest']}", user, password)
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
        env = json.loads(blob)
        assert env["payloadType"] == "application/vnd.in-toto+json", env["payloadType"]
        payload = base64.b64decode(env["payload"])
        ok = False
        for s in env["signatures"]:
            try:
                key.verify(base64.b64decode(s["sig"]), pae(env["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
                ok = True
            except InvalidSignature:
                pass
        if not ok:
            out["failed"] += 1
            continue
        st = json.loads(payload)
        assert st["_type"] == "https://in-toto.io/Statement/v1", st["_type"]
        assert st["predicateType"] == PREDICATE
        hexd = digest.split(":", 1)[1]
        assert any(s["digest"].get("sha256") == hexd for s in st["subject"]), st["subject"]
        p = st["predicate"]
        recomputed = hashlib.sha256(canonical(p["policy"]).encode()).hexdigest()
        assert p["policyDigest"] == {"sha256": recomputed}, (p["policyDigest"], recomputed)
        out["verified"].append(st)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
