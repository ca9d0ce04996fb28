#!/usr/bin/env bash
# Install, upgrade, disable, remove and purge edgepost with the real dpkg, the real maintainer
# scripts and debhelper's real helpers (deb-systemd-helper, deb-systemd-invoke, systemd-sysusers),
# in a throwaway copy of this machine: an overlay whose lower layer is / (read only) and whose
# upper layer is a tmpfs, in a private mount namespace. Nothing reaches the host's /etc or its dpkg
# database; everything vanishes when the namespace ends.
#
#   unshare --mount --propagation private bash dpkg_sandbox.sh OUT lifecycle V1.deb V2.deb
#   unshare --mount --propagation private bash dpkg_sandbox.sh OUT camera EDGEPOST.deb CAMERA.deb
#
# lifecycle: V2 is a later version of the same package (an upgrade). camera: both packages
# installed, the camera libraries and the shipped models used, the camera package removed. The service manager is the one thing
# simulated: no systemd runs in a chroot, so /usr/bin/systemctl is wrapped. Its enable/disable/
# is-enabled calls go to the real systemctl (offline, --root=/: it reads and edits the unit symlinks); its
# start/stop/restart/try-restart/is-active calls are recorded and act on one state file, like a
# service that runs or not. "systemd running" is /run/systemd/system existing, as the scripts test.
# Results go to OUT as key=value lines.
set -euo pipefail

OUT=$1 MODE=$2 V1=$3 V2=$4
SANDBOX=$(mktemp -d /tmp/edgepost-dpkg-sandbox.XXXXXX)
mount -t tmpfs -o size=2g tmpfs "$SANDBOX"
mkdir "$SANDBOX/upper" "$SANDBOX/work" "$SANDBOX/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$SANDBOX/upper,workdir=$SANDBOX/work" "$SANDBOX/root"
R=$SANDBOX/root
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mkdir -p "$R/tmp/debs" "$R/run/fake-systemd"
cp "$V1" "$R/tmp/debs/v1.deb"
cp "$V2" "$R/tmp/debs/v2.deb"
rm -rf "$R/run/systemd/system"
: > "$R/var/log/systemctl.calls"
# the host may have a policy-rc.d forbidding starts; this sandbox decides by its own rules
rm -f "$R/usr/sbin/policy-rc.d"
# man-db's trigger re-indexes every manual page on each dpkg run: minutes on a loaded machine
rm -f "$R/var/lib/man-db/auto-update"
touch "$R/run/fake-systemd/events"

mv "$R/usr/bin/systemctl" "$R/usr/bin/systemctl.real"
cat > "$R/usr/bin/systemctl" <<'STUB'
#!/bin/sh
echo "$*" >> /var/log/systemctl.calls
action="" ; for arg in "$@"; do case "$arg" in -*) ;; *) [ -n "$action" ] || action=$arg ;; esac; done
active=/run/fake-systemd/edgepost.active
case "$action" in
    is-active) [ -f "$active" ] ;;
    start) touch "$active"; echo start >> /run/fake-systemd/events ;;
    restart) touch "$active"; echo restart >> /run/fake-systemd/events ;;
    try-restart) if [ -f "$active" ]; then echo restart >> /run/fake-systemd/events; fi ;;
    stop) rm -f "$active"; echo stop >> /run/fake-systemd/events ;;
    daemon-reload|reload) ;;
    # offline (--root=/): a systemctl that sees /run/systemd/system would look for the manager's bus
    *) exec /usr/bin/systemctl.real --root=/ "$@" ;;
esac
STUB
chmod 0755 "$R/usr/bin/systemctl"

in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
say() { printf '%s=%s\n' "$1" "$2" >> "$OUT"; }
enabled() { if [ -L "$R/etc/systemd/system/multi-user.target.wants/edgepost.service" ]; then echo yes; else echo no; fi; }
events() {  # what the service manager was asked to do since the last call (and reset)
    tr '\n' ' ' < "$R/run/fake-systemd/events" | sed 's/ $//'; : > "$R/run/fake-systemd/events"
    tr '\n' '|' < "$R/var/log/systemctl.calls" >> "$SANDBOX/calls"; echo >> "$SANDBOX/calls"
    : > "$R/var/log/systemctl.calls"
}
running() { if [ -f "$R/run/fake-systemd/edgepost.active" ]; then echo yes; else echo no; fi; }
dpkg_in_root() {  # dpkg's exit code and the tail of its output
    local rc=0
    in_root dpkg "$@" > "$SANDBOX/dpkg.log" 2>&1 || rc=$?
    printf '%s' "$rc"
}
: > "$OUT"

camera() {
    say camera.install.rc "$(dpkg_in_root -i /tmp/debs/v1.deb /tmp/debs/v2.deb)"
    say camera.install.log "$(tail -c 600 "$SANDBOX/dpkg.log" | tr '\n' '|')"
    say camera.imports "$(in_root /opt/edgepost/bin/python -c 'import cv2, numpy, onnxruntime; print(cv2.__file__)' 2>&1)"
    for model in $(ls "$R/usr/share/edgepost/models"); do
        say "camera.model.$model" "$(in_root sh -c "edgepost model check $model >/dev/null 2>&1; echo \$?")"
        say "camera.model.$model.out" "$(in_root edgepost model check "$model" 2>&1 | tr '\n' '|' | tail -c 400)"
    done
    say camera.pycache "$(find "$R/opt/edgepost-camera" -name '*.pyc' | wc -l)"
    say camera.verify "$(in_root dpkg --verify edgepost edgepost-camera 2>&1 | tr '\n' '|')"
    say camera.remove.rc "$(dpkg_in_root -r edgepost-camera)"
    say camera.remove.leftover "$(find "$R/opt/edgepost-camera" "$R/usr/share/edgepost/models" 2>/dev/null | head -3 | tr '\n' ' ')"
    say camera.after_remove.imports "$(in_root /opt/edgepost/bin/python -c 'import cv2' >/dev/null 2>&1; echo $?)"
    say camera.after_remove.version "$(in_root edgepost --version 2>&1)"
}

if [ "$MODE" = camera ]; then
    camera
    umount -R "$R" 2>/dev/null || umount -l "$R"
    umount "$SANDBOX"
    rmdir "$SANDBOX"
    exit 0
fi

# 1. An image build / chroot: no systemd running.
say chroot.install.rc "$(dpkg_in_root -i /tmp/debs/v1.deb)"
say chroot.install.log "$(tail -c 600 "$SANDBOX/dpkg.log" | tr '\n' '|')"
say chroot.enabled "$(enabled)"
say chroot.events "$(events)"
say chroot.user "$(in_root getent passwd edgepost | cut -d: -f1,6,7)"
say chroot.etc "$(in_root stat -c '%n %U:%G %a' /etc/edgepost /etc/edgepost/conf.d /etc/edgepost/profiles /etc/edgepost/config.yaml | tr '\n' '|')"
say chroot.pycache "$(find "$R/opt/edgepost/lib" -name '*.pyc' | wc -l)"
say chroot.version "$(in_root edgepost --version 2>&1)"
say chroot.validate "$(in_root edgepost config validate 2>&1 | tr '\n' '|')"
say chroot.verify "$(in_root dpkg --verify edgepost 2>&1 | tr '\n' '|')"
# the operator's own settings: a group-only config with a changed value, a drop-in
in_root sh -c 'chmod 0600 /etc/edgepost/config.yaml && chown root:root /etc/edgepost/config.yaml
               sed -i "s/edgepost-unconfigured/pole-0042/" /etc/edgepost/config.yaml
               mkdir -p /etc/edgepost/conf.d && printf "gateway: {site: Main St 12}\n" > /etc/edgepost/conf.d/10-site.yaml'
say chroot.upgrade.rc "$(dpkg_in_root -i /tmp/debs/v2.deb)"
say chroot.after_upgrade.etc "$(in_root stat -c '%n %U:%G %a' /etc/edgepost/config.yaml | tr '\n' '|')"
say chroot.after_upgrade.config "$(grep -c pole-0042 "$R/etc/edgepost/config.yaml")"
say chroot.after_upgrade.validate "$(in_root edgepost --json config show 2>&1 | tr -d '\n' | head -c 400)"
say chroot.after_upgrade.events "$(events)"
say chroot.remove.rc "$(dpkg_in_root -r edgepost)"
say chroot.purge.rc "$(dpkg_in_root -P edgepost)"
say chroot.after_purge "$(ls -d "$R/opt/edgepost" "$R/var/lib/edgepost" "$R/etc/edgepost/config.yaml" 2>/dev/null | wc -l)"

# 2. A box with systemd running.
mkdir -p "$R/run/systemd/system"
: > "$R/run/fake-systemd/events"
say box.install.rc "$(dpkg_in_root -i /tmp/debs/v1.deb)"
say box.enabled "$(enabled)"
say box.install.events "$(events)"
say box.running "$(running)"
say box.upgrade_running.rc "$(dpkg_in_root -i /tmp/debs/v2.deb)"
say box.upgrade_running.events "$(events)"
say box.upgrade_running.enabled "$(enabled)"
# the operator stops it (maintenance): an upgrade must not start it again
in_root systemctl stop edgepost.service
events >/dev/null
say box.upgrade_stopped.rc "$(dpkg_in_root -i /tmp/debs/v1.deb)"
say box.upgrade_stopped.events "$(events)"
say box.upgrade_stopped.running "$(running)"
# the operator disables it: an upgrade keeps it disabled (and does not start it)
in_root systemctl disable edgepost.service >/dev/null 2>&1
say box.disabled "$(enabled)"
say box.upgrade_disabled.rc "$(dpkg_in_root -i /tmp/debs/v2.deb)"
say box.upgrade_disabled.enabled "$(enabled)"
say box.upgrade_disabled.events "$(events)"
# enabled and running again, then removed: stopped on remove
in_root systemctl enable edgepost.service >/dev/null 2>&1
in_root systemctl start edgepost.service
events >/dev/null
say box.remove.rc "$(dpkg_in_root -r edgepost)"
say box.remove.events "$(events)"
say box.remove.pycache "$(find "$R/opt" -path '*edgepost*' -name '*.pyc' 2>/dev/null | wc -l)"
say box.remove.leftover "$(find "$R/opt/edgepost" 2>/dev/null | head -3 | tr '\n' ' ')"
say box.purge.rc "$(dpkg_in_root -P edgepost)"
say box.purge.enabled "$(enabled)"
say box.purge.state "$(ls "$R/var/lib/systemd/deb-systemd-helper-enabled" 2>/dev/null | grep -c edgepost || true)"

say calls "$(tr '\n' '#' < "$SANDBOX/calls")"
umount -R "$R" 2>/dev/null || umount -l "$R"
umount "$SANDBOX"
rmdir "$SANDBOX"
