#!/usr/bin/env bash
# Installs an acejudge .deb into a fresh Debian 12 root and checks that it
# works from the installed paths: the user, the uid range and the state
# directory exist; `acejudge doctor` passes; `acejudge judge` accepts a bundled
# reference solution; remove keeps the data and purge deletes it.
#
# Usage: packaging/test-install.sh PACKAGE.deb
#
# The clean root is made once by debootstrap (minbase, plus python3 for the
# judged reference and adduser, the package's dependency) from Debian's mirror
# and cached under $ACEJUDGE_TEST_CACHE (default /var/cache/acejudge-test);
# every run works on a throwaway overlay of it, in a private mount namespace,
# so nothing of a run outlives it. Needs root, debootstrap, unshare (util-linux).
set -euo pipefail

SUITE=bookworm
INCLUDE=adduser,python3
MIRROR=${ACEJUDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${ACEJUDGE_TEST_CACHE:-/var/cache/acejudge-test}
# The cached root's name changes with what it contains, so a new list makes a new root.
ROOT="$CACHE/$SUITE-minbase-${INCLUDE//,/-}"
CHALLENGE=lru-cache-ttl
SOLUTION=/usr/share/acejudge/challenges/$CHALLENGE/python/solution/lru_cache.py

step() {
    echo "== $*"
}

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# In the chroot, with the environment a systemd service gets: nothing inherited.
in_root() {
    chroot "$MERGED" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

make_root() {
    if [ -e "$ROOT/.complete" ]; then
        return
    fi
    command -v debootstrap >/dev/null || fail "debootstrap is missing (scripts/install-deps.sh installs it)"
    step "debootstrap $SUITE (minbase + $INCLUDE) into $ROOT (cached for later runs)"
    mkdir -p "$CACHE"
    local tmp="$ROOT.tmp.$$"
    rm -rf "$tmp"
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
        fail "debootstrap failed: see $CACHE/debootstrap.log"
    rm -rf "$tmp/var/cache/apt/archives/"*.deb
    touch "$tmp/.complete"
    rm -rf "$ROOT"
    mv "$tmp" "$ROOT"
}

# Runs in the private mount namespace: everything mounted here vanishes with it.
inside() {
    local deb=$1 work=$2
    MERGED="$work/merged"
    mkdir -p "$work/upper" "$work/work" "$MERGED"
    mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$work/upper,workdir=$work/work" "$MERGED"
    mount -t proc proc "$MERGED/proc"
    mount --rbind /sys "$MERGED/sys"
    mount --rbind /dev "$MERGED/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$MERGED/tmp"
    cp "$deb" "$MERGED/tmp/acejudge.deb"

    step "dpkg -i $(basename "$deb")"
    in_root dpkg -i /tmp/acejudge.deb
    # shellcheck disable=SC2016 # dpkg-query's own ${Status} field, not a shell expansion
    in_root dpkg-query -W -f='${Status}\n' acejudge | grep -qx "install ok installed" || fail "acejudge is not installed"

    step "installed layout"
    for path in /usr/bin/acejudge /etc/acejudge/acejudge.toml /usr/lib/systemd/system/acejudge.service \
        /usr/lib/acejudge/runners/libacejudge_runner_python.so "$SOLUTION"; do
        [ -e "$MERGED$path" ] || fail "$path is missing"
    done
    grep -qx /etc/acejudge/acejudge.toml "$MERGED/var/lib/dpkg/info/acejudge.conffiles" || fail "the configuration is not a conffile"
    in_root getent passwd acejudge >/dev/null || fail "no acejudge system user"
    grep -qx "acejudge:61000:64" "$MERGED/etc/subuid" || fail "/etc/subuid does not reserve 61000-61063"
    grep -qx "acejudge:61000:64" "$MERGED/etc/subgid" || fail "/etc/subgid does not reserve 61000-61063"
    [ "$(stat -c %a:%U "$MERGED/var/lib/acejudge")" = "700:root" ] || fail "/var/lib/acejudge is not root's, mode 0700"
    [ -L "$MERGED/etc/systemd/system/multi-user.target.wants/acejudge.service" ] || fail "the unit is not enabled"
    echo "ok"

    step "acejudge doctor"
    in_root acejudge --data-dir /var/lib/acejudge doctor || fail "acejudge doctor reported a missing layer"

    step "acejudge judge: the $CHALLENGE reference in Python"
    in_root acejudge --data-dir /var/lib/acejudge --runners-dir /usr/lib/acejudge/runners \
        judge --challenges-dir /usr/share/acejudge/challenges --challenge "$CHALLENGE" --lang python "$SOLUTION" ||
        fail "the reference solution was not accepted from the installed paths"

    step "dpkg -r keeps the configuration and the state"
    in_root dpkg -r acejudge
    [ -e "$MERGED/etc/acejudge/acejudge.toml" ] || fail "remove deleted the configuration"
    [ -d "$MERGED/var/lib/acejudge" ] || fail "remove deleted the state directory"
    [ ! -e "$MERGED/usr/bin/acejudge" ] || fail "remove left /usr/bin/acejudge"
    echo "ok"

    step "dpkg -P deletes them, the uid range and the user"
    in_root dpkg -P acejudge
    [ ! -e "$MERGED/etc/acejudge" ] || fail "purge left /etc/acejudge"
    [ ! -e "$MERGED/var/lib/acejudge" ] || fail "purge left /var/lib/acejudge"
    ! grep -q "^acejudge:" "$MERGED/etc/subuid" || fail "purge left the /etc/subuid entry"
    ! in_root getent passwd acejudge >/dev/null || fail "purge left the acejudge user"
    echo "ok"
}

main() {
    if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
        sed -n '7p' "$0" | sed 's/^# //' >&2
        exit 2
    fi
    [ "$(id -u)" -eq 0 ] || fail "needs root (chroot, mounts)"
    local deb
    deb=$(realpath "$1")
    make_root
    # Global: the EXIT trap runs after main has returned.
    WORK=$(mktemp -d /var/tmp/acejudge-install.XXXXXX)
    # --one-file-system: never into a mount that outlived the namespace.
    trap 'rm -rf --one-file-system "$WORK"' EXIT
    unshare --mount --propagation private -- "$0" --inside "$deb" "$WORK"
    echo "install test passed"
}

if [ "${1:-}" = "--inside" ]; then
    shift
    inside "$@"
else
    main "$@"
fi
