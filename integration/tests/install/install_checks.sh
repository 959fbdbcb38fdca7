#!/usr/bin/env bash
# Checks of what `cmake --install` and the Debian package put on a host (issue 9).
# usage: install_checks.sh <check> <build dir> <source dir>
# checks: layout, units-verify, deb-contents, deb-scripts, postinst-run, postrm-purge-run,
#         examples-check-config
# Each check works in its own temporary folder and fails with a sentence saying what is wrong.
set -euo pipefail
check=$1
build=$(cd "$2" && pwd)
source=$(cd "$3" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/meridian-install-$check.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

stage() {  # stage: installs the build tree into $work/root with prefix /usr
  DESTDIR="$work/root" cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "cmake --install into a staging root failed"; }
}

# The files an install must give (prefix /usr), sorted; examples are listed from conf/.
expected_files() {
  {
    printf '%s\n' /etc/meridian/sidecar.toml /etc/meridian/topology.toml \
      /usr/bin/meridian /usr/bin/meridian-node /usr/bin/meridian-sidecar \
      /usr/lib/systemd/system/meridian-arbiter.service \
      /usr/lib/systemd/system/meridian-node@.service \
      /usr/lib/systemd/system/meridian-sidecar.service \
      /usr/share/doc/meridian/README.md /usr/share/doc/meridian/systemd/README.md
    (cd "$source/conf" && find . -type f \( -name '*.toml' -o -name README.md \) | sed 's|^\./|/usr/share/doc/meridian/examples/|')
  } | LC_ALL=C sort
}

package() {  # package: builds the .deb into $work/pkg, sets $deb
  mkdir -p "$work/pkg"
  (cd "$work/pkg" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg") \
    >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
  deb=$(ls "$work"/pkg/*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "cpack produced no .deb in $work/pkg"
}

# Runs a maintainer script with every command it may call replaced by a stub that records its
# arguments in $work/calls, so what it would do to a host is checked without doing it.
run_with_stubs() {  # run_with_stubs <script> <args...>
  local stubs="$work/stubs"
  mkdir -p "$stubs"
  for c in adduser addgroup deluser delgroup useradd groupadd userdel groupdel chown chgrp \
           chmod mkdir rm find systemctl deb-systemd-helper deb-systemd-invoke invoke-rc.d \
           service; do
    printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$c" "$work" >"$stubs/$c"
    chmod +x "$stubs/$c"
  done
  # getent: "meridian" exists only after postinst would have created it (STUB_USER_EXISTS).
  printf '#!/bin/sh\necho "getent $*" >> "%s/calls"\n[ -n "${STUB_USER_EXISTS:-}" ] && exit 0\nexit 2\n' \
    "$work" >"$stubs/getent"
  chmod +x "$stubs/getent"
  : >"$work/calls"
  PATH="$stubs:/usr/bin:/bin" sh "$@" || fail "$(basename "$1") $2 exited with status $?"
}

case "$check" in
  layout)
    stage
    (cd "$work/root" && find . -type f | sed 's|^\.||' | LC_ALL=C sort) >"$work/got"
    expected_files >"$work/want"
    diff -u "$work/want" "$work/got" >&2 || fail "the staged install differs from the expected layout (- expected, + installed)"
    for b in meridian meridian-node meridian-sidecar; do
      [ -x "$work/root/usr/bin/$b" ] || fail "/usr/bin/$b is not executable"
    done
    "$work/root/usr/bin/meridian-sidecar" --help | grep -q 'usage' || fail "installed meridian-sidecar --help prints no usage"
    "$work/root/usr/bin/meridian-node" --help | grep -q 'Usage' || fail "installed meridian-node --help prints no usage"
    for u in "$work"/root/usr/lib/systemd/system/*.service; do
      grep -q '^ExecStart=/usr/bin/meridian' "$u" || fail "$(basename "$u"): ExecStart does not start /usr/bin/meridian-*: $(grep ExecStart= "$u")"
      if grep -q '@MERIDIAN_' "$u"; then fail "$(basename "$u") still holds an unsubstituted @MERIDIAN_...@"; fi
    done
    echo "layout: $(wc -l <"$work/got") files as expected"
    ;;

  units-verify)
    command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing: run scripts/setup.sh (Debian package systemd)"
    stage
    # systemd-analyze verify needs each ExecStart binary at its path: point the units at the
    # staged binaries, and name the template's instance (east-1) as systemctl would.
    mkdir -p "$work/units"
    for u in "$work"/root/usr/lib/systemd/system/*.service; do
      sed "s|=/usr/bin/|=$work/root/usr/bin/|" "$u" >"$work/units/$(basename "$u")"
    done
    mv "$work/units/meridian-node@.service" "$work/units/meridian-node@east-1.service"
    for u in meridian-sidecar.service meridian-node@east-1.service meridian-arbiter.service; do
      # verify exits 0 on unknown keys and bad values (it only warns): any output is a failure.
      out=$(cd "$work/units" && systemd-analyze verify "$work/units/$u" 2>&1) ||
        fail "systemd-analyze verify $u failed: $out"
      [ -z "$out" ] || fail "systemd-analyze verify $u warns: $out"
      echo "units-verify: $u clean"
    done
    ;;

  deb-contents)
    package
    dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||' | grep -v '/$' | LC_ALL=C sort >"$work/got"
    expected_files >"$work/want"
    diff -u "$work/want" "$work/got" >&2 || fail "$(basename "$deb") holds other files than expected (- expected, + in package)"
    dpkg-deb -f "$deb" Package | grep -qx meridian || fail "package name is not meridian"
    depends=$(dpkg-deb -f "$deb" Depends)
    for d in adduser libuv1 libssl3; do
      grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"
    done
    dpkg-deb -x "$deb" "$work/x"
    grep -q '^ExecStart=/usr/bin/meridian-sidecar --config /etc/meridian/sidecar.toml$' \
      "$work/x/usr/lib/systemd/system/meridian-sidecar.service" || fail "packaged sidecar unit does not start /usr/bin/meridian-sidecar"
    echo "deb-contents: $(basename "$deb"), $(wc -l <"$work/got") files, Depends: $depends"
    ;;

  deb-scripts)
    package
    dpkg-deb -e "$deb" "$work/control"
    for s in postinst prerm postrm; do
      [ -x "$work/control/$s" ] || fail "the package has no executable $s"
      sh -n "$work/control/$s" || fail "$s is not valid sh"
    done
    [ ! -e "$work/control/preinst" ] || fail "unexpected preinst"
    diff <(LC_ALL=C sort "$work/control/conffiles") <(printf '/etc/meridian/sidecar.toml\n/etc/meridian/topology.toml\n') >&2 ||
      fail "conffiles should list exactly /etc/meridian/sidecar.toml and topology.toml"
    # Nothing is enabled or started by the package.
    for s in postinst prerm postrm; do
      if grep -Ev '^[[:space:]]*#' "$work/control/$s" |
          grep -E 'systemctl +(enable|start|restart|reload)|deb-systemd-(helper|invoke)|invoke-rc\.d|(^|[;&| ])service '; then
        fail "$s enables or starts a service"
      fi
    done
    echo "deb-scripts: postinst, prerm, postrm present and start nothing; conffiles as expected"
    ;;

  postinst-run)
    package
    dpkg-deb -e "$deb" "$work/control"
    run_with_stubs "$work/control/postinst" configure
    calls=$(cat "$work/calls")
    grep -q '^addgroup --system .*meridian$' <<<"$calls" || fail "postinst configure does not create the system group meridian: $calls"
    grep -q '^adduser --system .*--home /var/lib/meridian .*meridian$' <<<"$calls" || fail "postinst configure does not create the system user meridian: $calls"
    grep -q '^mkdir -p /var/lib/meridian$' <<<"$calls" || fail "postinst does not create /var/lib/meridian: $calls"
    grep -q '^chown meridian:meridian /var/lib/meridian$' <<<"$calls" || fail "postinst does not give /var/lib/meridian to meridian: $calls"
    if grep -Eq '^(systemctl (enable|start)|deb-systemd|invoke-rc.d|service)' <<<"$calls"; then
      fail "postinst enables or starts a service: $calls"
    fi
    # Upgrades and reinstalls: an existing user is left alone.
    STUB_USER_EXISTS=1 run_with_stubs "$work/control/postinst" configure 0.0.9
    if grep -Eq '^(adduser|addgroup)' "$work/calls"; then fail "postinst re-creates an existing user: $(cat "$work/calls")"; fi
    echo "postinst-run: creates group and user meridian and /var/lib/meridian, starts nothing"
    ;;

  postrm-purge-run)
    package
    dpkg-deb -e "$deb" "$work/control"
    STUB_USER_EXISTS=1 run_with_stubs "$work/control/postrm" remove
    if grep -Eq '^(rm|deluser|delgroup)' "$work/calls"; then fail "postrm remove deletes state or the user (only purge may): $(cat "$work/calls")"; fi
    STUB_USER_EXISTS=1 run_with_stubs "$work/control/postrm" purge
    calls=$(cat "$work/calls")
    grep -q '^rm -rf /var/lib/meridian /etc/meridian$' <<<"$calls" || fail "postrm purge does not remove /var/lib/meridian and /etc/meridian: $calls"
    grep -q '^deluser --system .*meridian$' <<<"$calls" || fail "postrm purge does not remove the user: $calls"
    echo "postrm-purge-run: remove keeps state and user; purge removes both"
    ;;

  examples-check-config)
    sidecar="$build/proxy/meridian-sidecar"
    node="$build/node/meridian-node"
    n=0
    while IFS= read -r f; do
      case "$(basename "$f")" in
        topology*.toml)  # checked by --check-config of the sidecar config beside it
          ls "$(dirname "$f")"/sidecar*.toml >/dev/null 2>&1 || fail "$f: no sidecar*.toml beside it checks it"
          continue ;;
        sidecar*.toml) out=$("$sidecar" --config "$f" --check-config 2>&1) || fail "meridian-sidecar --check-config rejects $f: $out" ;;
        node-*.toml | arbiter.toml) out=$("$node" --config "$f" --check-config 2>&1) || fail "meridian-node --check-config rejects $f: $out" ;;
        *) fail "$f: no rule says which program reads it; name it sidecar*.toml, node-*.toml, arbiter.toml or topology*.toml" ;;
      esac
      echo "examples-check-config: $f valid"
      n=$((n + 1))
    done < <(find "$source/conf" -name '*.toml' | LC_ALL=C sort)
    [ "$n" -gt 0 ] || fail "no example configs found in $source/conf"
    ;;

  *) fail "unknown check \"$check\"" ;;
esac
