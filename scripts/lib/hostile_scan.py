#!/usr/bin/env python3
"""The hostile inputs of issue 20 for scripts/bench-bombs, a capped runner and a ScanSbom stand-in.

  hostile_scan.py build DIR         write each input as an OCI layout under DIR/<name> (small on
                                    disk: a few MB each; built as tests/e2e/scan_bounds.rs and the
                                    scan unit tests build theirs)
  hostile_scan.py build-spill DIR   write DIR/elf/usr/lib/libbig.so, a 2 GiB shared object (a
                                    system library with 2 GiB of random bytes added as a section,
                                    as CUDA's are mostly device code), and DIR/data/…, the same
                                    bytes with its ELF magic overwritten (the cost without a spill)
  hostile_scan.py serve PORTFILE    answer Inspector Scan's ScanSbom (POST /scan/sbom) on
                                    127.0.0.1 with no vulnerabilities, writing the port to PORTFILE
                                    (the bench times the catalogue, not a scripted advisory table)
  hostile_scan.py run [--wall S] [--rss-mib M] [--term-after S] -- CMD...
                                    run CMD as a child and print one line:
                                    'wall=S cpu=S rss_mib=M shmem_mib=M result=exit:N|killed:<why>
                                    [term_to_exit=S]' (shmem: the machine's tmpfs growth, what
                                    a spill to a tmpfs TMPDIR holds outside the child's RSS)
                                    The child is killed (by its PID) past S seconds of wall time or
                                    M MiB of resident memory, so a version without the bounds cannot
                                    hang the bench or exhaust a shared machine; --term-after sends it
                                    SIGTERM after S seconds and measures how long it takes to exit.
"""
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib

OS_RELEASE = b'ID=debian\nVERSION_ID="12"\n'
DPKG_STATUS = (b'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n'
               b'Version: 1:1.2.13.dfsg-1\n\n')


# OCI layout ----------------------------------------------------------------------------------
class Layout:
    """An OCI image layout with one linux/amd64 image; layers are added as blob files."""

    def __init__(self, root):
        self.root = root
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(os.path.join(root, 'blobs', 'sha256'))
        self.layers, self.diff_ids = [], []

    def put(self, data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.root, 'blobs', 'sha256', h), 'wb') as f:
            f.write(data)
        return 'sha256:' + h, len(data)

    def add_blob_file(self, path, media, diff_id):
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for b in iter(lambda: f.read(1 << 20), b''):
                h.update(b)
        size = os.path.getsize(path)
        os.replace(path, os.path.join(self.root, 'blobs', 'sha256', h.hexdigest()))
        self.layers.append({'mediaType': media, 'digest': 'sha256:' + h.hexdigest(), 'size': size})
        self.diff_ids.append(diff_id)

    def finish(self):
        cfg = {'architecture': 'amd64', 'os': 'linux', 'config': {},
               'rootfs': {'type': 'layers', 'diff_ids': self.diff_ids}}
        cd, cs = self.put(json.dumps(cfg).encode())
        man = {'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
               'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': cs},
               'layers': self.layers}
        md, ms = self.put(json.dumps(man).encode())
        index = {'schemaVersion': 2, 'manifests': [
            {'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': md, 'size': ms,
             'annotations': {'org.opencontainers.image.ref.name': 'latest'}}]}
        with open(os.path.join(self.root, 'index.json'), 'w') as f:
            json.dump(index, f)
        with open(os.path.join(self.root, 'oci-layout'), 'w') as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        return self.root


class HashingGzip(io.RawIOBase):
    """A write-only file: gzip (level 1) to `path`, hashing the uncompressed bytes (the diff_id)."""

    def __init__(self, path):
        self.gz = gzip.open(path, 'wb', compresslevel=1)
        self.sha = hashlib.sha256()

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.gz.write(b)
        return len(b)

    def close(self):
        if not self.closed:
            self.gz.close()
        super().close()


def gzip_layer(layout, tmp, files):
    """A gzip tar layer of (name, bytes, mode) files."""
    out = HashingGzip(tmp)
    with tarfile.open(fileobj=out, mode='w|', format=tarfile.GNU_FORMAT) as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 1_700_000_000
            t.addfile(ti, io.BytesIO(data))
    diff_id = 'sha256:' + out.sha.hexdigest()
    out.close()
    layout.add_blob_file(tmp, 'application/vnd.oci.image.layer.v1.tar+gzip', diff_id)


# Zips ----------------------------------------------------------------------------------------
def pom(artifact):
    return (f'META-INF/maven/org.example/{artifact}/pom.properties',
            f'groupId=org.example\nartifactId={artifact}\nversion=1.0\n'.encode())


def jar(artifact, filler):
    """A jar naming org.example:<artifact>:1.0 with `filler` stored zero bytes beside it."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w') as z:
        n, d = pom(artifact)
        z.writestr(n, d, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr('data/filler.bin', bytes(filler), compress_type=zipfile.ZIP_STORED)
    return b.getvalue()


def directory_bomb(entries=65_535):
    """A jar whose central directory names one entry `entries` times: every record points at
    the same local entry (the issue's 'sharing data'), a nested jar that inflates to 16 MiB
    (its pom.properties and stored zeros) from about 16 KB, so a reader that follows the
    central directory inflates 1 TiB from a layout of about 40 KB."""
    inner = jar('shared', 16 << 20)
    one = io.BytesIO()
    with zipfile.ZipFile(one, 'w') as z:
        n, d = pom('bomb')
        z.writestr(n, d, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr('BOOT-INF/lib/shared-1.0.jar', inner, compress_type=zipfile.ZIP_DEFLATED)
    one = one.getvalue()
    eocd = one.rfind(b'PK\x05\x06')
    cd_size, cd_at = struct.unpack('<II', one[eocd + 12:eocd + 20])
    records = one[cd_at:cd_at + cd_size]
    shared = records[records.index(b'PK\x01\x02', 1):]  # the nested jar's record
    central = records[:records.index(b'PK\x01\x02', 1)] + shared * (entries - 1)
    end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, entries, entries, len(central), cd_at, 0)
    return one[:cd_at] + central + end


# The inputs ----------------------------------------------------------------------------------
def build_longname(root, tmp):
    """A ~100 KB zstd layer whose GNU long-name header declares 2 GiB (as
    src/scan/layers/tests.rs builds it): a real zstd frame of 128 KiB RLE blocks of 'a'."""
    declared = 2 << 30
    h = tarfile.TarInfo('././@LongLink')
    h.type, h.size = tarfile.GNUTYPE_LONGNAME, declared
    header = h.tobuf(format=tarfile.GNU_FORMAT)[:512]
    z = bytearray(b'\x28\xb5\x2f\xfd\x00\x38')  # frame header: 128 KiB window, no checksum
    z += (512 << 3).to_bytes(4, 'little')[:3] + header  # one raw block: the tar header
    blocks = declared // (128 << 10)
    for i in range(blocks):
        last = 1 if i + 1 == blocks else 0
        z += (last | (1 << 1) | ((128 << 10) << 3)).to_bytes(4, 'little')[:3] + b'a'
    sha = hashlib.sha256(header)
    chunk = b'a' * (64 << 20)
    for _ in range(declared // len(chunk)):
        sha.update(chunk)
    with open(tmp, 'wb') as f:
        f.write(z)
    layout = Layout(root)
    layout.add_blob_file(tmp, 'application/vnd.oci.image.layer.v1.tar+zstd', 'sha256:' + sha.hexdigest())
    return layout.finish()


def build_jars(root, tmp):
    """Forty jars of 60 MiB (stored zeros) in one gzip layer: ~11 MB on disk."""
    layout = Layout(root)
    gzip_layer(layout, tmp, [('etc/os-release', OS_RELEASE, 0o644)] +
               [(f'app/lib/big{i}.jar', jar(f'big{i}', 60 << 20), 0o644) for i in range(40)])
    return layout.finish()


def build_cd_bomb(root, tmp):
    """A jar whose 65,535 central-directory entries all share one local entry."""
    layout = Layout(root)
    gzip_layer(layout, tmp, [('etc/os-release', OS_RELEASE, 0o644),
                             ('app/bomb.jar', directory_bomb(), 0o644)])
    return layout.finish()


def build_dep_v0_bomb(root, tmp):
    """An executable ELF (/bin/true) with a .dep-v0 section that inflates to 1 GiB of spaces
    (~1 MB of zlib), as cargo-auditable's section would hold a crate list, beside one dpkg
    package (so a scan that drops the section unseen has something to pass)."""
    bomb, elf = tmp + '.dep-v0', tmp + '.elf'
    z = zlib.compressobj(9)
    with open(bomb, 'wb') as f:
        chunk = b' ' * (64 << 20)
        for _ in range(16):
            f.write(z.compress(chunk))
        f.write(z.flush())
    subprocess.run(['objcopy', '--add-section', f'.dep-v0={bomb}', '/bin/true', elf], check=True)
    with open(elf, 'rb') as f:
        data = f.read()
    os.remove(bomb)
    os.remove(elf)
    layout = Layout(root)
    gzip_layer(layout, tmp, [('etc/os-release', OS_RELEASE, 0o644),
                             ('var/lib/dpkg/status', DPKG_STATUS, 0o644),
                             ('usr/local/bin/tool', data, 0o755)])
    return layout.finish()


def build_zeros(root, tmp):
    """One file of 32 GiB of zeros in a 33 MB gzip layer (one 64 MiB member repeated, as
    tests/e2e/scan_deadline.rs builds it): a catalogue that takes far longer than a signal
    should; the diff_id is not the tar's (hashing 32 GiB here would dominate the bench)."""
    size = 32 << 30
    ti = tarfile.TarInfo('data/zeros.bin')
    ti.size, ti.mode = size, 0o644
    member = gzip.compress(bytes(64 << 20), compresslevel=9)
    with open(tmp, 'wb') as f:
        f.write(gzip.compress(ti.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(size // (64 << 20)):
            f.write(member)
        f.write(gzip.compress(bytes(1024)))
    layout = Layout(root)
    layout.add_blob_file(tmp, 'application/vnd.oci.image.layer.v1.tar+gzip', 'sha256:' + '0' * 64)
    return layout.finish()


INPUTS = {
    'longname': build_longname,
    'jars': build_jars,
    'cd-bomb': build_cd_bomb,
    'dep-v0-bomb': build_dep_v0_bomb,
    'zeros': build_zeros,
}


def build(out):
    os.makedirs(out, exist_ok=True)
    for name, fn in INPUTS.items():
        root = os.path.join(out, name)
        if os.path.exists(os.path.join(root, 'index.json')):
            continue
        fn(root, os.path.join(out, name + '.partial'))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        print(f'built {name}: {size / 1e6:.2f} MB', file=sys.stderr)


def build_spill(out, size=2 << 30):
    so = os.path.join(out, 'elf', 'usr', 'lib', 'libbig.so')
    data = os.path.join(out, 'data', 'usr', 'lib', 'libbig.so')
    if os.path.exists(so) and os.path.exists(data) and os.path.exists(os.path.join(out, 'elf', 'etc')):
        return
    for p in (so, data):
        os.makedirs(os.path.dirname(p), exist_ok=True)
        root = os.path.dirname(os.path.dirname(os.path.dirname(p)))
        os.makedirs(os.path.join(root, 'etc'), exist_ok=True)
        os.makedirs(os.path.join(root, 'var', 'lib', 'dpkg'), exist_ok=True)
        with open(os.path.join(root, 'etc', 'os-release'), 'wb') as f:
            f.write(OS_RELEASE)
        with open(os.path.join(root, 'var', 'lib', 'dpkg', 'status'), 'wb') as f:
            f.write(DPKG_STATUS)
    pad = os.path.join(out, 'pad.partial')
    with open(pad, 'wb') as f, open('/dev/urandom', 'rb') as r:
        for _ in range(size // (64 << 20)):
            f.write(r.read(64 << 20))
    lib = next(p for p in ('/usr/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1')
               if os.path.exists(p))
    subprocess.run(['objcopy', '--add-section', f'.pad={pad}', lib, so + '.partial'], check=True)
    os.remove(pad)
    shutil.copyfile(so + '.partial', data + '.partial')
    with open(data + '.partial', 'r+b') as f:
        f.write(b'DATA')
    os.replace(so + '.partial', so)
    os.replace(data + '.partial', data)
    print(f'built {so} and {data}: {os.path.getsize(so) / 2**30:.2f} GiB each', file=sys.stderr)


# ScanSbom stand-in ---------------------------------------------------------------------------
class ScanSbom(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        try:
            comps = json.loads(body).get('sbom', {}).get('components', [])
        except ValueError:
            comps = []
        for i, c in enumerate(comps):
            c['bom-ref'] = f'comp-{i + 1}'
        answer = {'sbom': {'bomFormat': 'CycloneDX', 'specVersion': '1.5',
                           'serialNumber': 'urn:uuid:00000000-0000-4000-8000-000000000000',
                           'metadata': {'properties': []}, 'components': comps, 'vulnerabilities': []}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


def serve(portfile):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), ScanSbom)
    with open(portfile + '.partial', 'w') as f:
        f.write(str(srv.server_address[1]))
    os.replace(portfile + '.partial', portfile)
    srv.serve_forever()


# Capped runner -------------------------------------------------------------------------------
def status_kib(pid, key):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def shmem_kib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('Shmem:'):
                return int(line.split()[1])
    return 0


def run(argv):
    wall_cap, rss_cap, term_after = 60.0, 4096, None
    while argv and argv[0] != '--':
        flag, value = argv[0], argv[1]
        argv = argv[2:]
        if flag == '--wall':
            wall_cap = float(value)
        elif flag == '--rss-mib':
            rss_cap = int(value)
        elif flag == '--term-after':
            term_after = float(value)
        else:
            sys.exit(f'hostile_scan.py run: unknown flag {flag}')
    cmd = argv[1:]
    start = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.environ.get('STDERR_TO', os.devnull), 'wb'))
    peak, killed, termed, status, usage = 0, None, None, None, None
    shm_base = shm_peak = shmem_kib()
    while True:
        pid, st, ru = os.wait4(child.pid, os.WNOHANG)
        if pid:
            status, usage = st, ru
            break
        now = time.monotonic() - start
        peak = max(peak, status_kib(child.pid, 'VmHWM'))
        shm_peak = max(shm_peak, shmem_kib())
        if peak > rss_cap << 10 and not killed:
            killed = f'killed:rss>{rss_cap}MiB'
            os.kill(child.pid, signal.SIGKILL)
        elif now > wall_cap and not killed:
            killed = f'killed:wall>{wall_cap:g}s'
            os.kill(child.pid, signal.SIGKILL)
        elif term_after is not None and termed is None and now > term_after:
            termed = now
            os.kill(child.pid, signal.SIGTERM)
        time.sleep(0.02)
    wall = time.monotonic() - start
    peak = max(peak, usage.ru_maxrss)
    code = killed or f'exit:{os.waitstatus_to_exitcode(status)}'
    t = f' term_to_exit={wall - termed:.2f}' if termed is not None else ''
    shm = (shm_peak - shm_base) >> 10
    cpu = usage.ru_utime + usage.ru_stime
    print(f'wall={wall:.2f} cpu={cpu:.2f} rss_mib={peak >> 10} shmem_mib={shm} result={code}{t}')


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    what = sys.argv[1]
    if what == 'build':
        build(sys.argv[2])
    elif what == 'build-spill':
        build_spill(sys.argv[2])
    elif what == 'serve':
        serve(sys.argv[2])
    elif what == 'run':
        run(sys.argv[2:])
    else:
        sys.exit(__doc__)
