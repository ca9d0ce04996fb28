"""Copy the repo's models/ into a package tree so that every shipped manifest has its file on the box.

A manifest whose ``file:`` is ``pkg:<module>/<path>`` points into a wheel that only the dev venv has
(text-direction: rapidocr-onnxruntime). Here the file is taken out of that wheel (downloaded
hash-checked into the wheelhouse by build_deb.sh, never installed), written beside the manifest,
``file:`` is rewritten to the local name and a LICENSE note names where it came from. The sha256 of
the manifest is checked for every shipped file. Standard library only (runs before any venv).

    python3 packaging/ship_models.py MODELS_DIR WHEELHOUSE DEST
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import zipfile
from pathlib import Path

FILE_LINE = re.compile(r"^file:\s*(?P<value>\S+)\s*$", re.MULTILINE)
SHA_LINE = re.compile(r"^sha256:\s*(?P<value>[0-9a-f]{64})\s*$", re.MULTILINE)
LICENCE_LINE = re.compile(r"^licence:\s*(?P<value>\S+)\s*$", re.MULTILINE)


def field(pattern: re.Pattern[str], text: str, manifest: Path) -> str:
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"{manifest}: no {pattern.pattern.split(':')[0].lstrip('^')}: line")
    return match.group("value")


def from_wheel(member: str, wheelhouse: Path) -> tuple[bytes, Path]:
    """The bytes of ``member`` from the one wheel in the wheelhouse that holds it."""
    found = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            if member in archive.namelist():
                found.append((archive.read(member), wheel))
    if len(found) != 1:
        raise SystemExit(f"{member}: found in {len(found)} wheels of {wheelhouse}, expected 1")
    return found[0]


def ship(models: Path, wheelhouse: Path, dest: Path) -> list[str]:
    shipped = []
    for manifest in sorted(models.glob("*/manifest.yaml")):
        text = manifest.read_text()
        target = dest / manifest.parent.name
        target.mkdir(parents=True, exist_ok=True)
        for item in manifest.parent.iterdir():  # the folder minus generators (build.py) and caches
            if item.is_file() and item.suffix != ".py" and item.name != "manifest.yaml":
                shutil.copy2(item, target / item.name)
        file = field(FILE_LINE, text, manifest)
        if file.startswith("pkg:"):
            member = file[len("pkg:") :]
            data, wheel = from_wheel(member, wheelhouse)
            local = Path(member).name
            (target / local).write_bytes(data)
            text = FILE_LINE.sub(f"file: {local}", text, count=1)
            text = text.replace(f"file {member}", f"file {member}; copied to {local} by the .deb build")
            (target / "LICENSE").write_text(
                f"{local}: taken unchanged from {wheel.name} ({member}).\n"
                f"Licence: {field(LICENCE_LINE, text, manifest)} (the wheel's metadata; the model is"
                " PaddleOCR's, by the PaddlePaddle Authors, converted to ONNX by RapidAI).\n"
                "Full text: /usr/share/common-licenses/Apache-2.0; see also"
                " /usr/share/doc/edgepost-camera/copyright.\n"
            )
            file = local
        (target / "manifest.yaml").write_text(text)
        digest = hashlib.sha256((target / file).read_bytes()).hexdigest()
        if digest != field(SHA_LINE, text, manifest):
            raise SystemExit(f"{target / file}: sha256 {digest} differs from {manifest}")
        shipped.append(f"{manifest.parent.name}: {file}")
    return shipped


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    for line in ship(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])):
        print(f"ship_models: {line}")
