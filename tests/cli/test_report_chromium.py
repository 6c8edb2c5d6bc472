"""The HTML report rendered by headless Chromium (Debian's chromium package, installed by
`scripts/install-deps.sh test`, which `make test` runs): it loads without console messages or
resource requests of its own, the rendered DOM holds the charts' SVG elements, and the
screenshot is not blank (decoded here with zlib). Skipped, with the reason, where Chromium is not
installed and cannot be; under CI=true a Chromium that apt could install but is missing fails."""
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest

from test_cli import idx_bytes, image_blobs

# Hosts Chromium itself contacts at start-up (time, accounts, component updates), whatever the
# page: their requests are not the report's.
BROWSER_HOSTS = re.compile(r"https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|"
                           r"gvt1\.com|googleusercontent\.com)[/:]")
FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-extensions", "--disable-default-apps",
         "--enable-logging=stderr", "--v=1"]


def chromium_or_skip():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    reason = ("Chromium is not installed (Debian package chromium; `make test` or "
              "`bash scripts/install-deps.sh test` installs it): the report's render test is "
              "skipped")
    if os.environ.get("CI") == "true" and shutil.which("apt-cache"):
        policy = subprocess.run(["apt-cache", "policy", "chromium"], capture_output=True,
                                text=True).stdout
        candidate = re.search(r"Candidate:\s*(\S+)", policy)
        if candidate and candidate.group(1) != "(none)":
            pytest.fail("CI: chromium " + candidate.group(1) + " is installable but not "
                        "installed; scripts/install-deps.sh test should have installed it")
    pytest.skip(reason)


def run_chromium(chromium, tmp_path, url, *extra):
    """(stdout, stderr) of headless Chromium on url with a fresh profile."""
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    proc = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                          cwd=tmp_path, capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def page_problems(log, page_url):
    """What the verbose log shows the page did besides loading itself: console messages (a page
    without scripts has none; resource errors appear there too), files it loaded, and network
    requests that are not Chromium's own."""
    problems = []
    for line in log.splitlines():
        if ":CONSOLE" in line:
            problems.append(line)
        m = re.search(r"FileURLLoader::Start: (\S+)", line)
        if m and m.group(1) != page_url:
            problems.append(line)
        m = re.search(r"NotifyBeforeURLRequest: (\S+)", line)
        if m and not BROWSER_HOSTS.match(m.group(1)):
            problems.append(line)
    return problems


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def count(self, tag, klass=None):
        return sum(1 for t, a in self.tags
                   if t == tag and (klass is None or klass in (a.get("class") or "").split()))


def png_pixels(data):
    """The pixels of an 8-bit RGB or RGBA PNG as an (h, w, channels) uint8 array: chunks, zlib,
    and the five scanline filters (PNG specification, section 9)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat = 8, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    ch = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for r in range(h):
        f = raw[r * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=r * (stride + 1) + 1)
        line = line.astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth depend on the left neighbour: byte by byte
            cur = np.zeros(stride, dtype=np.int32)
            for i in range(stride):
                a = cur[i - ch] if i >= ch else 0
                b = prev[i]
                c = prev[i - ch] if i >= ch else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 255
        out[r] = cur
        prev = cur
    return out.astype(np.uint8).reshape(h, w, ch)


@pytest.fixture
def report(softreg, workdir):
    """A report with every section: IDX images, training with a validation split, calibrated."""
    imgs, y = image_blobs(80, 3, seed=8)
    imgs[::6] = imgs[::-6][: len(imgs[::6])]  # rows that look like another class
    (workdir / "train-images-idx3-ubyte").write_bytes(idx_bytes(imgs[:160]))
    (workdir / "train-labels-idx1-ubyte").write_bytes(idx_bytes(y[:160].astype(np.uint8)))
    (workdir / "test-images-idx3-ubyte").write_bytes(idx_bytes(imgs[160:]))
    (workdir / "test-labels-idx1-ubyte").write_bytes(idx_bytes(y[160:].astype(np.uint8)))
    softreg("train", "--data", "train-images-idx3-ubyte", "--model", "m.srm", "--quiet",
            "--valid-fraction", "0.25", "--max-iter", "20")
    softreg("calibrate", "--model", "m.srm", "--data", "test-images-idx3-ubyte")
    softreg("eval", "--model", "m.srm", "--data", "test-images-idx3-ubyte", "--report",
            "report.html")
    return workdir / "report.html"


def test_chromium_renders_the_report(report, tmp_path):
    chromium = chromium_or_skip()
    url = report.resolve().as_uri()

    # The log check catches what it must: a page with a script error and missing resources.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                   '<img src="http://127.0.0.1:9/x.png">'
                   '<script>throw new Error("kaput")</script></body></html>')
    _, log = run_chromium(chromium, tmp_path, "--dump-dom", bad.resolve().as_uri())
    found = "\n".join(page_problems(log, bad.resolve().as_uri()))
    assert "kaput" in found and "missing.png" in found and "127.0.0.1:9" in found, found

    dom_text, log = run_chromium(chromium, tmp_path, "--dump-dom", url)
    assert page_problems(log, url) == []
    assert f"FileURLLoader::Start: {url}" in log  # the page itself did load
    dom = Dom()
    dom.feed(dom_text)
    assert dom.count("svg", "confusion") == 1
    assert dom.count("svg", "curve") == 2
    assert dom.count("svg", "reliability") == 2
    assert dom.count("path", "train") == 2 and dom.count("path", "valid") == 2
    assert dom.count("rect", "cell") == 9
    assert dom.count("rect", "bar") >= 2
    assert dom.count("line", "diagonal") == 2
    assert dom.count("figure", "wrong") >= 1
    assert dom.count("table", "per-class") == 1

    shot = tmp_path / "shot.png"
    run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,3000", url)
    px = png_pixels(shot.read_bytes())[:, :, :3].astype(int)
    assert px.shape[:2] == (3000, 1280)
    colours = np.unique(px.reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{len(colours)} colours: a blank or unstyled page"
    background = np.array([0xF4, 0xF5, 0xF7])
    assert (np.abs(px - background).sum(axis=2) > 30).mean() > 0.05
    # The charts' blue (#2b6cb0: training curves, reliability bars, F1 bars) and the
    # validation orange (#dd6b20) are drawn.
    for rgb in ([0x2B, 0x6C, 0xB0], [0xDD, 0x6B, 0x20]):
        near = (np.abs(px - np.array(rgb)).sum(axis=2) < 12).sum()
        assert near > 200, f"colour {rgb} covers only {near} pixels"


def test_report_prints(report, tmp_path):
    """--print-to-pdf through the page's print style gives a PDF of a few pages."""
    chromium = chromium_or_skip()
    pdf = tmp_path / "report.pdf"
    run_chromium(chromium, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                 report.resolve().as_uri())
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 8, pages
