#!/usr/bin/env bash
# Prepares the lab: QEMU and its firmware from apt, Debian's cloud kernels of
# three generations and a static busybox, cached outside the source tree, the
# generic kernels of the same generations with the drivers the device guests
# bind, and
# for Secure Boot a key of the lab's own, a variable store that enrolls it and
# kernels signed with it. For the arm64 and riscv64 guests and the image
# readers' tests it fetches Debian's arm64 and riscv64 kernels, their busybox
# and arm64's EFI stub, and for the static build of aarch64 and riscv64 it
# unpacks musl, zlib, zstd and libfdt of those architectures into the same
# cache. Running it again keeps whatever is already there.
set -Eeuo pipefail

cache="${HANDOFF_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-lab}"
packages=(
  qemu-system-x86 qemu-system-arm qemu-system-misc ovmf qemu-efi-aarch64 busybox-static musl-dev
  musl-tools cpio
  xz-utils zstd kexec-tools sbsigntool openssl python3-venv zlib1g-dev libzstd-dev libfdt-dev
  qemu-user-static file systemd-boot-efi binutils-aarch64-linux-gnu binutils-riscv64-linux-gnu
  kmod
)
# what the static build links for aarch64 and riscv64; for x86_64 it uses
# the same packages, installed above
static_packages=(musl-dev zlib1g-dev libzstd-dev libfdt-dev)
suites=(bookworm trixie sid)
# modules the guests load, uncompressed into the cache beside each kernel:
# efivarfs, and virtio_net with what it needs, in the order insmod wants them
modules=(efivarfs failover net_failover virtio_net)
# the drivers the device guests bind, from Debian's generic amd64 kernels (the
# cloud kernels build no e1000e, bochs or xhci driver); each comes with the
# modules it needs, and one that is built in is left out
generic_modules=(e1000e nvme xhci_pci bochs virtio_pci virtio_net virtio_blk)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
lock=(-o DPkg::Lock::Timeout=300)

export DEBIAN_FRONTEND=noninteractive
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
trap 'echo "setup: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

fail() {
  printf 'setup: %s\n' "$*" >&2
  exit 1
}

# try runs a command with its output kept aside in $work/log.
try() {
  "$@" >"$work/log" 2>&1
}

# run is try for steps the set-up cannot do without; a failure shows the
# end of the output.
run() {
  local what="$1"
  shift
  try "$@" && return 0
  tail -n 30 "$work/log" >&2
  fail "$what failed: $*"
}

need_root() {
  [[ $EUID -eq 0 ]] || fail "$1 needs root; run this as root"
}

installed() {
  local status
  status="$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null || true)"
  [[ $status == installed ]]
}

# apt's sandbox user must reach the private directories.
open_to_apt() {
  chmod 0755 "$work"
  if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$@"
  fi
}

# packages from the machine's own suite
missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "packages: ${packages[*]} already there"
else
  need_root "installing ${missing[*]}"
  # kexec-tools is only carried into the bench's guests: its init script must
  # never load a kernel for this machine's own reboots
  if [[ " ${missing[*]} " == *" kexec-tools "* ]]; then
    echo 'kexec-tools kexec-tools/load_kexec boolean false' | debconf-set-selections
  fi
  run "apt-get update" apt-get "${lock[@]}" update
  run "installing ${missing[*]}" \
    apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}"
  echo "packages: installed ${missing[*]}"
fi

# find_mirror reads the mirror the machine already uses out of apt's view of
# its sources; a machine that has never run apt-get update has no Labels to
# match yet.
mirror=""
security=""
repo_uri() {
  apt-get indextargets --format '$(REPO_URI)' \
    "Label: $1" 'Origin: Debian' 'Target-Of: deb' | awk 'NR == 1'
}
find_mirror() {
  [[ -z $mirror ]] || return 0
  mirror="$(repo_uri Debian)"
  if [[ -z $mirror ]]; then
    need_root "reading the mirror from apt's lists"
    run "apt-get update" apt-get "${lock[@]}" update
    mirror="$(repo_uri Debian)"
  fi
  [[ -n $mirror ]] || fail "no Debian mirror in apt's sources; add one first"
  security="$(repo_uri Debian-Security)"
  echo "mirror: $mirror${security:+ and $security}"
}

# write_sources writes a private sources list for one suite, on the same
# mirror, with the suite's security updates where the machine has them.
write_sources() {
  local suite="$1" file="$2"
  echo "deb [signed-by=$keyring] $mirror $suite main" >"$file"
  if [[ $suite != sid && -n $security ]]; then
    echo "deb [signed-by=$keyring] $security $suite-security main" >>"$file"
  fi
}

# update_suite reads one suite's lists. When a signature cannot be checked,
# it upgrades debian-archive-keyring from the machine's own suite, once, and
# tries again.
keyring_upgraded=no
unsigned='NO_PUBKEY|EXPKEYSIG|KEYEXPIRED|is not signed'
update_suite() {
  local suite="$1"
  shift
  try apt-get "$@" update && return 0

  if grep -qE "$unsigned" "$work/log" && [[ $keyring_upgraded == no ]]; then
    need_root "upgrading debian-archive-keyring"
    run "apt-get update" apt-get "${lock[@]}" update
    run "upgrading debian-archive-keyring" apt-get "${lock[@]}" install -y \
      --no-install-recommends --only-upgrade debian-archive-keyring
    keyring_upgraded=yes
    echo "keyring: debian-archive-keyring" \
      "$(dpkg-query -W -f '${Version}' debian-archive-keyring) for $suite"
    try apt-get "$@" update && return 0
  fi

  tail -n 30 "$work/log" >&2
  grep -qE "$unsigned" "$work/log" \
    && fail "$keyring does not hold the key that signs $suite"
  fail "apt-get update for $suite failed"
}

# use_suite points apt_opts at a private sources list and private lists for
# one suite's packages of one Debian architecture, which need not be the
# machine's. The lists are read once a run.
apt_opts=()
use_suite() {
  local suite="$1" arch="$2" dir="$work/apt-$1-$2"
  apt_opts=(
    -o "Dir::Etc::SourceList=$dir/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/lists"
    -o "Dir::Cache=$dir/cache"
    -o "APT::Architecture=$arch"
    -o "APT::Architectures::=$arch"
  )
  [[ ! -e $dir/sources.list ]] || return 0

  find_mirror
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  open_to_apt "$dir/lists/partial"
  write_sources "$suite" "$dir/sources.list"
  update_suite "$suite" "${apt_opts[@]}"
}

# fetch_kernel puts one suite's current cloud-amd64 bzImage into the cache.
fetch_kernel() {
  local suite="$1" dest="$cache/kernels/$1"
  if [[ -s $dest/vmlinuz && -s $dest/release ]] && has_modules "$dest" "${modules[@]}"; then
    echo "kernel $suite: $(<"$dest/release") already there"
    return
  fi

  # apt, pointed at a private sources list and private lists
  use_suite "$suite" amd64
  local opts=("${apt_opts[@]}")

  # the metapackage depends on the suite's current image package
  local image
  image="$(apt-cache "${opts[@]}" show --no-all-versions \
    linux-image-cloud-amd64 | sed -n 's/^Depends: //p' \
    | grep -oE 'linux-image-[^ ,]+' || true)"
  [[ $image == linux-image-*-cloud-amd64 ]] \
    || fail "no cloud-amd64 image named by linux-image-cloud-amd64 in $suite"

  # newer suites split the image: the bzImage sits in linux-binary-<release>
  # and the modules in linux-modules-<release>
  local depends package modules_package
  depends="$(apt-cache "${opts[@]}" show --no-all-versions "$image" \
    | sed -n 's/^Depends: //p')"
  package="$(grep -oE 'linux-binary-[^ ,]+' <<<"$depends" || true)"
  modules_package="$(grep -oE 'linux-modules-[^ ,]+' <<<"$depends" || true)"
  package="${package:-$image}"

  # download and unpack
  local deb="$work/deb-$suite" root="$work/root-$suite"
  mkdir -p "$deb" "$root"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading $package $modules_package from $suite" \
    apt-get "${opts[@]}" download "$package" $modules_package
  cd - >/dev/null
  for file in "$deb"/*.deb; do
    run "unpacking $file" dpkg-deb -x "$file" "$root"
  done

  # the bzImage is boot/vmlinuz-<release> or usr/lib/modules/<release>/vmlinuz
  local found=() vmlinuz release
  shopt -s nullglob
  found=("$root"/boot/vmlinuz-* "$root"/usr/lib/modules/*/vmlinuz)
  shopt -u nullglob
  ((${#found[@]} == 1)) \
    || fail "$package holds ${#found[@]} vmlinuz files, expected 1"
  vmlinuz="${found[0]}"
  if [[ $vmlinuz == "$root"/boot/* ]]; then
    release="${vmlinuz##*/vmlinuz-}"
  else
    release="$(basename "$(dirname "$vmlinuz")")"
  fi
  [[ "$(dd if="$vmlinuz" bs=1 skip=514 count=4 2>/dev/null)" == HdrS ]] \
    || fail "$vmlinuz from $package is not a bzImage"

  # write it beside the cache entry, then move it into place
  local stage="$cache/kernels/.$suite.new"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$vmlinuz" "$stage/vmlinuz"
  echo "$release" >"$stage/release"
  copy_modules "$root" "$stage/modules" "${modules[@]}"
  rm -rf "$dest"
  mv "$stage" "$dest"
  echo "kernel $suite: fetched $release from $package"
}

# has_modules DIR MODULE... tells whether a cached kernel has every module
# named.
has_modules() {
  local dir="$1" module
  shift
  for module in "$@"; do
    [[ -s $dir/modules/$module.ko ]] || return 1
  done
}

# copy_modules finds each module under an unpacked kernel package and
# writes it uncompressed, since busybox's insmod reads plain .ko files.
copy_modules() {
  local root="$1" target="$2" module file
  shift 2
  mkdir -p "$target"
  for module in "$@"; do
    file="$(find "$root" -name "$module.ko*" -print -quit)"
    [[ -n $file ]] || fail "no $module module in the kernel packages"
    case $file in
      *.ko.xz) xz -dc "$file" >"$target/$module.ko" ;;
      *.ko.zst) zstd -qdc "$file" >"$target/$module.ko" ;;
      *) cp "$file" "$target/$module.ko" ;;
    esac
  done
}

# fetch_generic_kernel puts one suite's current generic amd64 bzImage into
# kernels/generic/SUITE, with its config and, uncompressed in modules/, each
# of generic_modules that is not built in and the modules it needs, with
# modules/order listing them in the order insmod must take them.
fetch_generic_kernel() {
  local suite="$1" dest="$cache/kernels/generic/$1"
  if [[ -s $dest/vmlinuz && -s $dest/release && -s $dest/modules/order ]]; then
    echo "generic kernel $suite: $(<"$dest/release") already there"
    return
  fi

  use_suite "$suite" amd64
  local opts=("${apt_opts[@]}")

  # the metapackage names the image package; newer suites split it into
  # linux-binary-<release> (the bzImage), linux-modules-<release> and
  # linux-base-<release> (config and modules.builtin)
  local image depends packages
  image="$(apt-cache "${opts[@]}" show --no-all-versions linux-image-amd64 \
    | sed -n 's/^Depends: //p' | grep -oE 'linux-image-[^ ,]+' | head -n 1 || true)"
  [[ $image == linux-image-*-amd64 ]] \
    || fail "no amd64 image named by linux-image-amd64 in $suite"
  depends="$(apt-cache "${opts[@]}" show --no-all-versions "$image" \
    | sed -n 's/^Depends: //p')"
  mapfile -t packages < <(grep -oE 'linux-(binary|modules|base)-[^ ,]+-amd64' <<<"$depends" || true)
  ((${#packages[@]} > 0)) || packages=("$image")

  # download and unpack
  local deb="$work/deb-generic-$suite" root="$work/root-generic-$suite"
  mkdir -p "$deb" "$root"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading ${packages[*]} from $suite" apt-get "${opts[@]}" download "${packages[@]}"
  cd - >/dev/null
  for file in "$deb"/*.deb; do
    run "unpacking $file" dpkg-deb -x "$file" "$root"
  done

  # the modules are in lib/modules/<release> or usr/lib/modules/<release>,
  # the bzImage in boot/ or beside them, the config in either place
  local tree release places vmlinuz config
  tree="$(find "$root" -path '*/lib/modules/*/kernel' -type d -print -quit)"
  [[ -n $tree ]] || fail "${packages[*]} hold no lib/modules/<release>/kernel"
  tree="$(dirname "$tree")"
  release="$(basename "$tree")"
  places=("$tree")
  [[ ! -d $root/boot ]] || places+=("$root/boot")
  vmlinuz="$(find "${places[@]}" -maxdepth 1 -name "vmlinuz*" -print -quit)"
  config="$(find "${places[@]}" -maxdepth 1 -name "config*" -print -quit)"
  [[ -n $vmlinuz && -n $config ]] || fail "${packages[*]} hold no vmlinuz and config of $release"
  [[ "$(dd if="$vmlinuz" bs=1 skip=514 count=4 2>/dev/null)" == HdrS ]] \
    || fail "$vmlinuz from ${packages[*]} is not a bzImage"

  # Debian ships no modules.dep: depmod writes it, where it looks, from the
  # modules' own symbols
  if [[ ! -d $root/lib/modules ]]; then
    mkdir -p "$root/lib"
    ln -s ../usr/lib/modules "$root/lib/modules"
  fi
  run "depmod for $release" depmod -b "$root" "$release"

  local stage="$cache/kernels/generic/.$suite.new"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$vmlinuz" "$stage/vmlinuz"
  cp "$config" "$stage/config"
  echo "$release" >"$stage/release"
  copy_generic_modules "$root/lib/modules/$release" "$stage/modules"
  rm -rf "$dest"
  mv "$stage" "$dest"
  rm -rf "$deb" "$root"
  echo "generic kernel $suite: fetched $release from ${packages[*]};" \
    "modules $(tr '\n' ' ' <"$dest/modules/order")"
}

# copy_generic_modules writes each of generic_modules, after the modules
# modules.dep says it needs, uncompressed into TARGET, and their names in
# insmod's order into TARGET/order. modules.dep lists every module a module
# needs, those it needs directly first, so insmod takes them last to first.
copy_generic_modules() {
  local tree="$1" target="$2" module pattern line path name i
  local -a order=() needed
  mkdir -p "$target"
  for module in "${generic_modules[@]}"; do
    # a module's file may spell its underscores as dashes
    pattern="${module//_/[-_]}"
    if grep -qE "/$pattern\.ko" "$tree/modules.builtin"; then
      echo "generic kernel $(basename "$tree"): $module is built in"
      continue
    fi
    line="$(grep -E "/$pattern\.ko[.a-z]*:" "$tree/modules.dep" || true)"
    [[ -n $line ]] || fail "no $module in $(basename "$tree")'s modules.dep"
    read -r -a needed <<<"${line//:/ }"
    for ((i = ${#needed[@]} - 1; i > 0; i--)); do order+=("${needed[i]}"); done
    order+=("${needed[0]}")
  done
  for path in "${order[@]}"; do
    name="$(basename "$path")"
    name="${name%%.ko*}"
    [[ ! -e $target/$name.ko ]] || continue
    case $path in
      *.ko.xz) xz -dc "$tree/$path" >"$target/$name.ko" ;;
      *.ko.zst) zstd -qdc "$tree/$path" >"$target/$name.ko" ;;
      *) cp "$tree/$path" "$target/$name.ko" ;;
    esac
    echo "$name" >>"$target/order"
  done
}

# fetch_foreign_kernel puts the kernel file of another architecture's image
# package into kernels/ARCH/SUITE/NAME, for the image readers' tests and
# the guests of that architecture: arm64 ships an Image as vmlinuz, riscv64
# an Image inside a PE file as vmlinux. Of the modules, only each MODULE
# named after NAME is kept, uncompressed in modules/.
fetch_foreign_kernel() {
  local arch="$1" suite="$2" flavour="$3" name="$4"
  shift 4
  local wanted=("$@")
  local dest="$cache/kernels/$arch/$suite"
  if [[ -s $dest/$name && -s $dest/release ]] && has_modules "$dest" "${wanted[@]}"; then
    echo "kernel $arch $suite: $(<"$dest/release") already there"
    return
  fi

  use_suite "$suite" "$arch"
  local opts=("${apt_opts[@]}")

  # the metapackage names the current image package; newer suites move the
  # kernel itself into linux-binary-<release>
  local image depends package
  image="$(apt-cache "${opts[@]}" show --no-all-versions "linux-image-$flavour" \
    | sed -n 's/^Depends: //p' | grep -oE 'linux-image-[^ ,]+' | head -n 1 || true)"
  [[ $image == linux-image-*-$flavour ]] \
    || fail "no $flavour image named by linux-image-$flavour in $suite"
  depends="$(apt-cache "${opts[@]}" show --no-all-versions "$image" \
    | sed -n 's/^Depends: //p')"
  package="$(grep -oE 'linux-binary-[^ ,]+' <<<"$depends" || true)"
  package="${package:-$image}"

  # download and unpack
  local deb="$work/deb-$arch-$suite" root="$work/root-$arch-$suite"
  mkdir -p "$deb" "$root"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading $package from $suite for $arch" \
    apt-get "${opts[@]}" download "$package:$arch"
  cd - >/dev/null
  for file in "$deb"/*.deb; do
    run "unpacking $file" dpkg-deb -x "$file" "$root"
  done

  # the kernel is boot/vmlinu?-<release> or usr/lib/modules/<release>/vmlinu?
  local found=() kernel release
  shopt -s nullglob
  found=("$root"/boot/vmlinu[xz]-* "$root"/usr/lib/modules/*/vmlinu[xz])
  shopt -u nullglob
  ((${#found[@]} == 1)) \
    || fail "$package holds ${#found[@]} kernel files, expected 1"
  kernel="${found[0]}"
  if [[ $kernel == "$root"/boot/* ]]; then
    release="${kernel##*/vmlinu[xz]-}"
  else
    release="$(basename "$(dirname "$kernel")")"
  fi

  local stage="$cache/kernels/$arch/.$suite.new"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$kernel" "$stage/$name"
  echo "$release" >"$stage/release"
  ((${#wanted[@]} == 0)) || copy_modules "$root" "$stage/modules" "${wanted[@]}"
  rm -rf "$dest"
  mv "$stage" "$dest"
  rm -rf "$deb" "$root"
  echo "kernel $arch $suite: fetched $release from $package"
}

# fetch_foreign_file puts one file of another architecture's package into
# ARCH/NAME: the first of PATH... the package holds (bookworm's packages keep
# bin/, trixie's merged /usr has usr/bin/). Busybox for the guests of that
# architecture, systemd's EFI stub for the lab's UKIs.
fetch_foreign_file() {
  local arch="$1" suite="$2" package="$3" name="$4" dest="$cache/$1/$4"
  shift 4
  if [[ -s $dest ]]; then
    echo "$package $arch: $name already there"
    return
  fi
  use_suite "$suite" "$arch"
  local deb="$work/deb-$package-$arch" root="$work/root-$package-$arch"
  mkdir -p "$deb" "$root" "$cache/$arch"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading $package for $arch from $suite" apt-get "${apt_opts[@]}" download "$package"
  cd - >/dev/null
  local file path
  file="$(find "$deb" -name "${package}_*_$arch.deb" -print -quit)"
  [[ -n $file ]] || fail "apt-get download left no $package for $arch"
  run "unpacking $file" dpkg-deb -x "$file" "$root"
  for path in "$@"; do
    if [[ -s $root/$path ]]; then
      cp "$root/$path" "$dest.new"
      mv "$dest.new" "$dest"
      rm -rf "$deb" "$root"
      echo "$package $arch: fetched $name"
      return
    fi
  done
  fail "$package for $arch holds none of $*"
}

# fetch_foreign_kexec_tools unpacks Debian's kexec-tools of another
# architecture, with every library package it depends on, into
# ARCH/kexec-tools/root, for the benchmark's guests of that architecture;
# the lab copies the binary and the shared objects it needs from there.
fetch_foreign_kexec_tools() {
  local arch="$1" suite="$2" dest="$cache/$1/kexec-tools"
  if [[ -s $dest/debian-packages ]]; then
    echo "kexec-tools $arch: $(head -n 1 "$dest/debian-packages") already there"
    return
  fi
  use_suite "$suite" "$arch"

  # kexec-tools and the library packages under it, following lib* and
  # zlib* only:
  # the rest (debconf and what it pulls in) holds nothing the binary loads
  local packages=(kexec-tools) queue=(kexec-tools) package dependency
  while ((${#queue[@]} > 0)); do
    package="${queue[0]}"
    queue=("${queue[@]:1}")
    for dependency in $(apt-cache "${apt_opts[@]}" depends --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances "$package" \
      | sed -n 's/^ *\(Pre\)\{0,1\}Depends: \(z\{0,1\}lib[^ <>]*\)$/\2/p'); do
      [[ " ${packages[*]} " == *" $dependency "* ]] && continue
      packages+=("$dependency")
      queue+=("$dependency")
    done
  done

  local deb="$work/deb-kexec-tools-$arch" stage="$cache/$arch/.kexec-tools.new" file
  rm -rf "$stage"
  mkdir -p "$deb" "$stage/root"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading ${packages[*]} for $arch from $suite" \
    apt-get "${apt_opts[@]}" download "${packages[@]/%/:$arch}"
  cd - >/dev/null
  for package in "${packages[@]}"; do
    file="$(find "$deb" -name "${package}_*_$arch.deb" -print -quit)"
    [[ -n $file ]] || fail "apt-get download left no $package for $arch"
    run "unpacking $file" dpkg-deb -x "$file" "$stage/root"
    dpkg-deb -f "$file" Package Version | sed 's/^[^:]*: //' | paste -sd ' ' \
      >>"$stage/debian-packages"
  done
  [[ -x $stage/root/sbin/kexec || -x $stage/root/usr/sbin/kexec ]] \
    || fail "kexec-tools for $arch holds no sbin/kexec"
  rm -rf "$dest" "$deb"
  mv "$stage" "$dest"
  echo "kexec-tools $arch: fetched $(head -n 1 "$dest/debian-packages") and" \
    "$((${#packages[@]} - 1)) library packages ($suite)"
}

# fetch_static unpacks the static build's packages of another architecture
# into the cache, where scripts/build-static.sh finds musl's headers, startup
# files and libc.a, and zlib's and zstd's headers and archives. They are not
# installed: the machine's dpkg never learns of the foreign architecture.
fetch_static() {
  local arch="$1" debian_arch="$2" suite="$3" dest="$cache/static/$1" package
  if [[ -s $dest/debian-packages ]]; then
    local complete=yes
    for package in "${static_packages[@]}"; do
      grep -q "^$package " "$dest/debian-packages" || complete=no
    done
    if [[ $complete == yes ]]; then
      echo "static $arch: ${static_packages[*]} ($debian_arch, $suite) already there"
      return
    fi
  fi

  use_suite "$suite" "$debian_arch"
  local deb="$work/deb-static-$arch"
  mkdir -p "$deb"
  open_to_apt "$deb"
  cd "$deb"
  run "downloading ${static_packages[*]} for $debian_arch from $suite" \
    apt-get "${apt_opts[@]}" download "${static_packages[@]}"
  cd - >/dev/null

  # the libraries sit in usr/lib/<arch>-linux-musl (musl) and
  # usr/lib/<arch>-linux-gnu (zlib, zstd), the headers in usr/include
  local stage="$dest.new" file
  rm -rf "$stage"
  mkdir -p "$stage"
  for package in "${static_packages[@]}"; do
    file="$(find "$deb" -name "${package}_*_$debian_arch.deb" -print -quit)"
    [[ -n $file ]] || fail "apt-get download left no $package for $debian_arch"
    run "unpacking $file" dpkg-deb -x "$file" "$stage"
    echo "$package $(dpkg-deb -f "$file" Version) $debian_arch $suite" \
      >>"$stage/debian-packages"
  done
  for file in "$arch-linux-musl/libc.a" "$arch-linux-gnu/libz.a" "$arch-linux-gnu/libzstd.a" \
    "$arch-linux-gnu/libfdt.a"; do
    [[ -s $stage/usr/lib/$file ]] || fail "no usr/lib/$file in ${static_packages[*]}"
  done
  rm -rf "$dest"
  mv "$stage" "$dest"
  echo "static $arch: fetched $(awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }' \
    "$dest/debian-packages") ($debian_arch, $suite)"
}

# the cache, by an absolute path since the downloads change directory
mkdir -p "$cache/kernels" "$cache/static"
cache="$(cd "$cache" && pwd)"
for suite in "${suites[@]}"; do
  fetch_kernel "$suite"
done
for suite in "${suites[@]}"; do
  fetch_generic_kernel "$suite"
done
# efivarfs for the guests EDK2 boots
fetch_foreign_kernel arm64 bookworm cloud-arm64 vmlinuz efivarfs
fetch_foreign_kernel arm64 trixie cloud-arm64 vmlinuz efivarfs
fetch_foreign_kernel riscv64 trixie riscv64 vmlinux
fetch_foreign_kernel riscv64 sid riscv64 vmlinux
fetch_foreign_file arm64 bookworm busybox-static busybox bin/busybox usr/bin/busybox
fetch_foreign_file riscv64 trixie busybox-static busybox bin/busybox usr/bin/busybox
fetch_foreign_file arm64 bookworm systemd-boot-efi linuxaa64.efi.stub \
  usr/lib/systemd/boot/efi/linuxaa64.efi.stub

fetch_foreign_kexec_tools arm64 bookworm

# the static build's other architectures, each from a suite that has it
# (bookworm has no riscv64)
fetch_static aarch64 arm64 bookworm
fetch_static riscv64 riscv64 trixie

# a static busybox for the guests' initramfs
busybox="$(dpkg-query -L busybox-static | awk '/\/bin\/busybox$/ && !n++')"
[[ -x $busybox ]] || fail "busybox-static is installed but holds no busybox"
if cmp -s "$busybox" "$cache/busybox"; then
  echo "busybox: already there"
else
  cp "$busybox" "$cache/busybox.new"
  mv "$cache/busybox.new" "$cache/busybox"
  echo "busybox: copied $busybox"
fi

# Secure Boot: virt-fw-vars from PyPI in a virtual environment of its own
secureboot="$cache/secureboot"
venv="$secureboot/venv"
virt_firmware=virt-firmware==26.10
mkdir -p "$secureboot"
if [[ -x $venv/bin/virt-fw-vars && -s $venv/installed \
  && "$(<"$venv/installed")" == "$virt_firmware" ]]; then
  echo "virt-firmware: already there"
else
  rm -rf "$venv"
  run "making a virtual environment in $venv" /usr/bin/python3 -m venv "$venv"
  run "installing $virt_firmware from PyPI" \
    "$venv/bin/python3" -m pip install --disable-pip-version-check "$virt_firmware"
  echo "$virt_firmware" >"$venv/installed"
  echo "virt-firmware: installed $virt_firmware into $venv"
fi

# the lab's own key and certificate, made once; every signature below and the
# firmware's PK, KEK and db come from it
key="$secureboot/lab.key"
cert="$secureboot/lab.crt"
if [[ -s $key && -s $cert ]]; then
  echo "secure boot key: already there"
else
  run "making the lab's key" openssl req -x509 -newkey rsa:2048 -sha256 -nodes \
    -days 36500 -subj "/CN=Handoff lab Secure Boot key/" \
    -keyout "$key.new" -out "$cert.new"
  mv "$key.new" "$key"
  mv "$cert.new" "$cert"
  echo "secure boot key: made $cert"
fi

# OVMF's empty variable store with that certificate enrolled and Secure Boot on
template=/usr/share/OVMF/OVMF_VARS_4M.fd
variables="$secureboot/OVMF_VARS_4M.enrolled.fd"
owner=6ad5e3a8-0f4c-4d7e-9b3e-1c2d3e4f5a6b
if [[ -s $variables && $variables -nt $cert && $variables -nt $template ]]; then
  echo "secure boot variables: already there"
else
  run "enrolling the lab's key" "$venv/bin/virt-fw-vars" --input "$template" \
    --output "$variables.new" --set-pk "$owner" "$cert" --add-kek "$owner" "$cert" \
    --add-db "$owner" "$cert" --secure-boot
  mv "$variables.new" "$variables"
  echo "secure boot variables: wrote $variables"
fi

# sign_kernel writes vmlinuz.unsigned, Debian's signatures stripped, and
# vmlinuz.signed, that signed with the lab's key alone: the kernel checks only
# the first signature, so one added after Debian's would never be read.
sign_kernel() {
  local dir="$cache/kernels/$1"
  if [[ -s $dir/vmlinuz.signed && $dir/vmlinuz.signed -nt $dir/vmlinuz \
    && $dir/vmlinuz.signed -nt $cert ]]; then
    echo "signed kernel $1: already there"
    return
  fi
  cp "$dir/vmlinuz" "$work/unsigned"
  local removed=0
  while sbverify --list "$work/unsigned" 2>/dev/null | grep -q '^signature '; do
    ((removed < 8)) || fail "cannot strip the signatures of $dir/vmlinuz"
    run "stripping a signature of $dir/vmlinuz" sbattach --remove "$work/unsigned"
    removed=$((removed + 1))
  done
  run "signing $dir/vmlinuz" sbsign --key "$key" --cert "$cert" \
    --output "$work/signed" "$work/unsigned"
  run "checking the signature of $dir/vmlinuz.signed" \
    sbverify --cert "$cert" "$work/signed"
  mv "$work/unsigned" "$dir/vmlinuz.unsigned"
  mv "$work/signed" "$dir/vmlinuz.signed"
  echo "signed kernel $1: $removed signature(s) stripped, signed with the lab's key"
}
for suite in "${suites[@]}"; do
  sign_kernel "$suite"
done

echo "lab cache: $cache"
