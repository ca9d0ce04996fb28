#!/usr/bin/env bash
# Build the edgepost .debs with debhelper + dh-virtualenv (called by `make deb`); prints their paths.
#
#   edgepost         sensor-only: a venv in /opt/edgepost from the pinned wheels (requirements.lock)
#   edgepost-camera  onnxruntime, OpenCV, numpy in /opt/edgepost-camera, and the shipped models
#
# Steps: fill the wheelhouse (pinned runtime wheels, binary only; the build tools and the model
# wheel hash-checked), copy the sources to a scratch tree, run dpkg-buildpackage -b there (it checks
# the Build-Depends of debian/control: apt-get install debhelper dh-virtualenv python3.11-venv, or
# `make apt-deps`). Nothing is installed into the developer's .venv or onto this machine.
#
# Environment knobs:
#   OUT_DIR=dist                 where the .debs go
#   BUILD_DIR=build/deb          scratch (wiped)
#   WHEELHOUSE=build/wheelhouse  downloaded wheels, kept between builds (the cache; not in git)
#   CAMERA=1                     0: build edgepost only (build profile pkg.edgepost.nocamera)
#   OFFLINE=0                    1: no download; the wheelhouse must hold every wheel
#   DEB_COMPRESS=gzip            dpkg-deb compressor. gzip: lintian (bookworm) rejects zstd members as
#                                malformed-deb-archive and dpkg < 1.21.18 cannot read them; xz took
#                                161 s of a 2.5 min build. Level: DEB_COMPRESS_LEVEL (default 6;
#                                measured on edgepost-camera, 275 MB: gzip -9 35 s user/101.8 MB,
#                                -6 17 s/102.3 MB, -1 6 s/113.3 MB; zstd 4 s/95.4 MB)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=/usr/bin/python3.11
OUT_DIR=$(realpath -m "${OUT_DIR:-$ROOT/dist}")
BUILD_DIR=$(realpath -m "${BUILD_DIR:-$ROOT/build/deb}")
WHEELHOUSE=$(realpath -m "${WHEELHOUSE:-$ROOT/build/wheelhouse}")
CAMERA=${CAMERA:-1}
OFFLINE=${OFFLINE:-0}
DEB_COMPRESS=${DEB_COMPRESS:-gzip}

log() { printf 'build_deb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in dpkg-buildpackage dh dh_virtualenv; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install debhelper dh-virtualenv dpkg-dev)"
done
[ -x "$PYTHON" ] || die "$PYTHON not found (the package targets the distribution's python3.11)"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "$PYTHON has no venv/ensurepip (apt-get install python3.11-venv)"
case "$DEB_COMPRESS" in zstd|gzip|xz|none) ;; *) die "DEB_COMPRESS=$DEB_COMPRESS (zstd, gzip, xz, none)";; esac

rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR/src" "$WHEELHOUSE" "$OUT_DIR"

# 1. The wheelhouse. pip comes from a throwaway venv (Debian's python3.11-venv bundles it); the
#    machine's pip configuration is ignored so only the index and the pins decide.
if [ "$OFFLINE" != 1 ]; then
    "$PYTHON" -m venv "$BUILD_DIR/pip"
    PIP=("$BUILD_DIR/pip/bin/python" -m pip)
    export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
    unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
    # build tools and the model wheel: pinned with sha256, checked by pip
    "${PIP[@]}" download -q --no-deps --require-hashes -d "$WHEELHOUSE" \
        -r "$ROOT/packaging/build-tools.txt" -r "$ROOT/packaging/model-files.txt"
    # runtime: the project's dependencies (and the camera extra), pinned by requirements.lock
    mapfile -t REQS < <("$PYTHON" - "$ROOT/pyproject.toml" "$CAMERA" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"]))
if sys.argv[2] == "1":
    print("\n".join(project["optional-dependencies"]["camera"]))
PY
)
    "${PIP[@]}" download -q --only-binary=:all: -d "$WHEELHOUSE" -c "$ROOT/requirements.lock" "${REQS[@]}"
fi

# 2. A clean copy of what the package is built from (setuptools writes build/ and *.egg-info).
(cd "$ROOT" && tar --exclude=__pycache__ --exclude='*.egg-info' -cf - \
    pyproject.toml README.md requirements.lock agent drivers firmware_profiles models packaging debian) \
    | tar -xf - -C "$BUILD_DIR/src"

# 3. dpkg-buildpackage: binary packages only, unsigned.
PROFILES=()
[ "$CAMERA" = 1 ] || PROFILES=(-Ppkg.edgepost.nocamera)
log "dpkg-buildpackage in $BUILD_DIR/src (wheelhouse $WHEELHOUSE, $DEB_COMPRESS)"
(cd "$BUILD_DIR/src" && WHEELHOUSE="$WHEELHOUSE" DEB_COMPRESS="$DEB_COMPRESS" \
    dpkg-buildpackage -b --no-sign "${PROFILES[@]}" >"$BUILD_DIR/build.log" 2>&1) \
    || { tail -40 "$BUILD_DIR/build.log" >&2; die "dpkg-buildpackage failed (log: $BUILD_DIR/build.log)"; }

for deb in "$BUILD_DIR"/*.deb; do
    mv "$deb" "$OUT_DIR/"
    log "built $OUT_DIR/$(basename "$deb") ($(du -h "$OUT_DIR/$(basename "$deb")" | cut -f1))"
    echo "$OUT_DIR/$(basename "$deb")"
done
