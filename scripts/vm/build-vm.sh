#!/usr/bin/env bash
# Builds (once, cached) the pieces of the kernel-SCTP test VM from Debian packages:
#   OUT/vmlinuz          the Debian kernel (linux-image-$RSP_VM_KERNEL), which has sctp.ko
#   OUT/initramfs.gz     busybox-static, the modules the guest needs, and scripts/vm/init
# Nothing is installed on the host: the kernel package is fetched with `apt-get download` and
# unpacked with `dpkg -x` into a scratch directory.
#   usage: scripts/vm/build-vm.sh OUT_DIR
set -euo pipefail
out=${1:?usage: build-vm.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
has_candidate() { [[ $(apt-cache policy "$1" 2>/dev/null) == *"Candidate: "[0-9]* ]]; }
kver=${RSP_VM_KERNEL:-6.1.0-56-amd64}
if [[ -z ${RSP_VM_KERNEL:-} ]] && ! has_candidate "linux-image-$kver" && ! ls "$out"/linux-image-"$kver"_*.deb >/dev/null 2>&1; then
  # The default ABI is gone from the archive: take the newest 6.1 ABI apt offers instead.
  alt=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
        sed -n 's/^linux-image-\(6\.1\.0-[0-9]*-amd64\) .*/\1/p' | sort -t- -k2,2n | tail -n1)
  [[ -n $alt ]] && kver=$alt
fi
pkg=linux-image-$kver
if [[ -s $out/vmlinuz && -s $out/initramfs.gz && $(cat "$out/kernel" 2>/dev/null) == "$kver" &&
      $out/initramfs.gz -nt $here/init && $out/initramfs.gz -nt $0 ]]; then
  exit 0
fi

# The initramfs has no libc: busybox must be the static one (package busybox-static).
busybox=$(command -v busybox || echo /bin/busybox)
if [[ ! -x $busybox ]]; then
  echo "build-vm: needs busybox-static (apt-get install busybox-static)" >&2; exit 69
fi
if command -v file >/dev/null && [[ $(file -L "$busybox") != *"statically linked"* ]]; then
  echo "build-vm: $busybox is dynamically linked; install busybox-static" >&2; exit 69
fi
command -v cpio >/dev/null || { echo "build-vm: needs cpio" >&2; exit 69; }

mkdir -p "$out"
scratch=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
deb=$(ls "$out"/"$pkg"_*.deb 2>/dev/null | head -n1 || true)
if [[ -z $deb ]]; then
  if ! has_candidate "$pkg"; then
    echo "build-vm: apt has no $pkg; set RSP_VM_KERNEL to one of:" >&2
    apt-cache search --names-only '^linux-image-6\.[0-9.-]*-amd64$' >&2 || true
    exit 69
  fi
  (cd "$out" && apt-get download -q "$pkg" >&2)
  deb=$(ls "$out"/"$pkg"_*.deb | head -n1)
fi
dpkg -x "$deb" "$scratch/kernel"
cp "$scratch/kernel/boot/vmlinuz-$kver" "$out/vmlinuz.new"

root=$scratch/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,host,share,modules}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/init" "$root/init"
chmod +x "$root/init"
# Load order matters (insmod does not resolve dependencies); scripts/vm/init reads this list.
modules="dummy veth virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
crc32c_generic libcrc32c udp_tunnel ip6_udp_tunnel sctp 9pnet 9pnet_virtio netfs fscache 9p"
: > "$root/modules/order"
for m in $modules; do
  f=$(find "$scratch/kernel/lib/modules/$kver" -name "$m.ko*" | head -n1)
  [[ -n $f ]] || { echo "build-vm: module $m missing from $pkg" >&2; exit 70; }
  case $f in
    *.ko.xz) xz -dc "$f" > "$root/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$root/modules/$m.ko" ;;
    *) cp "$f" "$root/modules/$m.ko" ;;
  esac
  echo "$m" >> "$root/modules/order"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initramfs.gz.new"
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/initramfs.gz.new" "$out/initramfs.gz"
echo "$kver" > "$out/kernel"
echo "build-vm: $out (kernel $kver)" >&2
