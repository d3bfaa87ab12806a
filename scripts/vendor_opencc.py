"""Vendor opencc-js (the 简/繁 switch's converter) into src/newsmirror/publish/static/opencc/.

    python scripts/vendor_opencc.py          # fetch with npm, check, copy, write SHA256SUMS
    python scripts/vendor_opencc.py --check  # the vendored files match SHA256SUMS

The files are opencc-js's own UMD builds, unmodified: ``cn2t.js`` (simplified -> Taiwan
and Hong Kong traditional, phrase level: OpenCC's s2twp / s2hk) and ``t2cn.js`` (traditional
-> simplified, tw2s), with the package's licences (MIT; the dictionary data Apache-2.0).
``npm pack`` fetches the pinned version into a throw-away cache; its integrity is checked
against the registry's published sha512 below, so the copy is reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.4.2"
INTEGRITY = (  # as the registry publishes it (npm view opencc-js@1.4.2 dist.integrity)
    "sha512-EdcspgdROiCCZDM+jZR6Pa670xW+EW2QhctPBQ8gRjg6l"
    "rx4IHEl+2s+kt5izk/TkxVRgdWuFgaGkaEdIUfdaw=="
)
FILES = {  # in the package -> vendored name
    "package/dist/umd/cn2t.js": "cn2t.js",
    "package/dist/umd/t2cn.js": "t2cn.js",
    "package/LICENSE": "LICENSE",
    "package/THIRD_PARTY_LICENSES.md": "THIRD_PARTY_LICENSES.md",
}
DEST = Path(__file__).resolve().parent.parent / "src/newsmirror/publish/static/opencc"


def sums(folder: Path) -> str:
    lines = [
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}"
        for name in sorted(FILES.values())
    ]
    return "\n".join(lines) + f"\n# opencc-js {VERSION} {INTEGRITY}\n"


def fetch(scratch: Path) -> Path:
    subprocess.run(
        ["npm", "pack", f"opencc-js@{VERSION}", "--cache", str(scratch / "cache"), "--silent"],
        cwd=scratch,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tgz = scratch / f"opencc-js-{VERSION}.tgz"
    digest = base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        raise SystemExit(f"opencc-js-{VERSION}.tgz does not match its published integrity")
    return tgz


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        same = (DEST / "SHA256SUMS").read_text(encoding="utf-8") == sums(DEST)
        print("vendored opencc-js matches SHA256SUMS" if same else "vendored opencc-js changed")
        return 0 if same else 1
    with tempfile.TemporaryDirectory() as tmp:
        tgz = fetch(Path(tmp))
        DEST.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            for member, name in FILES.items():
                data = tar.extractfile(member)
                assert data is not None, member
                (DEST / name).write_bytes(data.read())
    (DEST / "SHA256SUMS").write_text(sums(DEST), encoding="utf-8")
    print(f"opencc-js {VERSION} vendored into {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
