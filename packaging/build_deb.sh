#!/usr/bin/env bash
# Build dist/edgepost_<version>_<arch>.deb with dpkg-deb (called by `make deb`).
#
# The package carries a complete virtualenv in /opt/edgepost, installed at build time from a
# wheelhouse of pinned wheels (requirements.lock as constraints); nothing is pip-installed on the box.
#
# Why the venv works after unpacking: it is created by the target's interpreter
# (/usr/bin/python3.11, a Depends) directly under the staging root at .../opt/edgepost. A venv
# finds its site-packages from pyvenv.cfg next to bin/python, so the tree itself is position
# independent; only script shebangs and activate scripts embed the staging path, and those are
# rewritten to /opt/edgepost below. Byte-code is compiled with the final paths (compileall -s/-p).
#
# Environment knobs:
#   PYTHON=/usr/bin/python3.11   interpreter of the target (must match the box's python3.11)
#   OUT_DIR=dist                 where the .deb goes
#   BUILD_DIR=build/deb          scratch (wiped)
#   WHEELHOUSE=build/wheelhouse  downloaded wheels (kept between builds; pip skips what is there)
#   EXTRAS=camera                optional dependency groups to bundle ("" for a sensor-only box)
#   OFFLINE=1                    do not download: the wheelhouse must already hold every wheel
#   DEB_COMPRESS=xz              dpkg-deb compressor (xz, gzip, zstd, none)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3.11}
OUT_DIR=$(realpath -m "${OUT_DIR:-$ROOT/dist}")
BUILD_DIR=$(realpath -m "${BUILD_DIR:-$ROOT/build/deb}")
WHEELHOUSE=$(realpath -m "${WHEELHOUSE:-$ROOT/build/wheelhouse}")
EXTRAS=${EXTRAS-camera}
OFFLINE=${OFFLINE:-0}
DEB_COMPRESS=${DEB_COMPRESS:-xz}
PREFIX=/opt/edgepost

log() { printf 'build_deb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg-dev)"
[ -x "$PYTHON" ] || die "$PYTHON not found (the package targets the distribution's python3.11)"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' || die "$PYTHON is not Python 3.11"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "$PYTHON has no venv/ensurepip (apt-get install python3.11-venv)"

VERSION=$("$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$ROOT/pyproject.toml")
ARCH=$(dpkg --print-architecture)
DEB="$OUT_DIR/edgepost_${VERSION}_${ARCH}.deb"
STAGE="$BUILD_DIR/root"
VENV="$STAGE$PREFIX"
SPEC="edgepost${EXTRAS:+[$EXTRAS]}==$VERSION"

log "edgepost $VERSION for $ARCH -> $DEB"
rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR/src" "$BUILD_DIR/dist" "$WHEELHOUSE" "$OUT_DIR" "$STAGE"

# 1. Our own wheel, built from a clean copy (setuptools writes build/ and *.egg-info into the tree).
(cd "$ROOT" && tar --exclude=__pycache__ -cf - pyproject.toml README.md agent drivers) | tar -xf - -C "$BUILD_DIR/src"
"$PYTHON" -m venv "$VENV"
VPY="$VENV/bin/python"
# pip and the build backend come from the index (or the wheelhouse when offline)
if [ "$OFFLINE" = 1 ]; then
    INDEX_ARGS=(--no-index --find-links "$WHEELHOUSE")
else
    INDEX_ARGS=()
fi
if [ "$OFFLINE" != 1 ]; then
    "$VPY" -m pip download -q --only-binary=:all: -d "$WHEELHOUSE" "setuptools>=68" wheel
fi
"$VPY" -m pip wheel -q "${INDEX_ARGS[@]}" --find-links "$WHEELHOUSE" --no-deps -w "$BUILD_DIR/dist" "$BUILD_DIR/src"

# 2. The wheelhouse: every runtime dependency, pinned by requirements.lock, binary wheels only.
if [ "$OFFLINE" != 1 ]; then
    "$VPY" -m pip download -q --only-binary=:all: -d "$WHEELHOUSE" -c "$ROOT/requirements.lock" \
        --find-links "$BUILD_DIR/dist" "$SPEC"
fi

# pip download copies our own wheel in too; drop it so a stale one can never be installed later
rm -f "$WHEELHOUSE"/edgepost-*.whl

# 3. Install offline from the wheelhouse only (machine pip config ignored: no index, no extra links).
env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
    "$VPY" -m pip install -q --no-index --no-compile --find-links "$WHEELHOUSE" --find-links "$BUILD_DIR/dist" \
    -c "$ROOT/requirements.lock" "$SPEC"
"$VPY" -m pip freeze --all > "$BUILD_DIR/installed.txt"
# the box never installs anything: drop the installers from the shipped venv
"$VPY" -m pip uninstall -q -y pip setuptools >/dev/null 2>&1 || true
rm -f "$VENV/bin/pip" "$VENV/bin/pip3" "$VENV/bin/pip3.11"

# 4. Make the staged venv believe it lives in /opt/edgepost.
for script in "$VENV"/bin/*; do
    if [ -f "$script" ] && [ ! -L "$script" ] && head -c 2 "$script" | grep -q '^#!'; then
        sed -i "1s|^#!$VENV/|#!$PREFIX/|" "$script"
    fi
done
sed -i "s|$VENV|$PREFIX|g" "$VENV"/bin/activate* "$VENV/pyvenv.cfg"
find "$VENV" -name direct_url.json -delete  # records the build directory; not needed at run time
"$VPY" -m compileall -q -j 2 -s "$STAGE" -p / "$VENV/lib" >/dev/null
if grep -rIl --exclude='*.pyc' "$BUILD_DIR" "$VENV" >/dev/null; then
    die "staging path left in: $(grep -rIl --exclude='*.pyc' "$BUILD_DIR" "$VENV" | head -3 | tr '\n' ' ')"
fi

# 5. The rest of the file system.
install -D -m 0644 "$ROOT/packaging/edgepost.service" "$STAGE/lib/systemd/system/edgepost.service"
install -D -m 0640 "$ROOT/packaging/config.yaml" "$STAGE/etc/edgepost/config.yaml"
mkdir -p "$STAGE/usr/bin" "$STAGE/usr/share/edgepost" "$STAGE/usr/share/doc/edgepost"
ln -s "$PREFIX/bin/edgepost" "$STAGE/usr/bin/edgepost"
for data in firmware_profiles models; do
    if [ -d "$ROOT/$data" ]; then
        (cd "$ROOT" && tar --exclude=__pycache__ --exclude='*.py' -cf - "$data") | tar -xf - -C "$STAGE/usr/share/edgepost"
    fi
done
cp "$BUILD_DIR/installed.txt" "$STAGE/usr/share/doc/edgepost/installed-wheels.txt"
# drivers/camera/inference/store.py looks for bundled models next to the installed packages
if [ -d "$STAGE/usr/share/edgepost/models" ]; then
    ln -s /usr/share/edgepost/models "$VENV/lib/python3.11/site-packages/models"
fi

# 6. Control files.
mkdir -p "$STAGE/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$SIZE/" \
    "$ROOT/packaging/debian/control" > "$STAGE/DEBIAN/control"
install -m 0644 "$ROOT/packaging/debian/conffiles" "$STAGE/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$ROOT/packaging/debian/$script" "$STAGE/DEBIAN/$script"
done

dpkg-deb --root-owner-group -Z"$DEB_COMPRESS" --build "$STAGE" "$DEB" >/dev/null
log "built $DEB ($(du -h "$DEB" | cut -f1))"
echo "$DEB"
