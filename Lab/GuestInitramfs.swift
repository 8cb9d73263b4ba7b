import Foundation
import HandoffCore

/// Builds the initramfs of each kernel in a chain with Handoff's own cpio
/// writer. Stage i carries busybox, the static handoff binary, an init
/// script, a marker file only it holds, and, unless it is the last stage,
/// the next kernel and the next stage's initramfs.
struct GuestInitramfs {
  let busybox: [UInt8]
  let handoff: [UInt8]
  let paths: LabPaths

  /// The initramfs of stage `index` of `plan`, with every later stage inside it.
  func build(_ plan: ChainPlan, stage index: Int) throws -> [UInt8] {
    var archive = CpioWriter()
    for directory in [
      "bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "next", "mnt",
    ] {
      archive.addDirectory(directory)
    }
    // the modules, and the order insmod must take them in: each after those
    // it needs. Guests of the virt boards need efivarfs only under EDK2; a
    // generic kernel's come with their order.
    let kernel = plan.stages[index].kernel
    let efivarfs = plan.scenario.architecture == .x86_64 || plan.scenario.firmware.isEFI
    var modules = efivarfs ? ["efivarfs"] : []
    if plan.scenario.machine.hasNetwork { modules += ["failover", "net_failover", "virtio_net"] }
    if plan.scenario.kernels == .generic { modules = try kernel.moduleOrder() }
    for name in modules {
      guard let module = try kernel.modules().first(where: { $0.lastPathComponent == name + ".ko" })
      else { throw LabError.missing("\(name).ko for \(kernel.release); run 'make setup'") }
      archive.addFile("lib/modules/\(name).ko", contents: [UInt8](try Data(contentsOf: module)))
    }
    archive.addFile("etc/modules", contents: Array(modules.joined(separator: "\n").utf8))
    archive.addCharacterDevice("dev/console", major: 5, minor: 1)
    archive.addFile("bin/busybox", contents: busybox, mode: 0o755)
    archive.addFile("bin/handoff", contents: handoff, mode: 0o755)
    archive.addSymlink("bin/kexec", target: "handoff")
    archive.addFile("init", contents: Array(InitScript.text.utf8), mode: 0o755)
    archive.addFile("etc/handoff-stage", contents: Array(plan.marker(stage: index).utf8))
    // the disks each stage reads, the devices it reports, the data it carries
    let disks = plan.scenario.machine.disks.map(\.device)
    if !disks.isEmpty {
      archive.addFile("etc/handoff-disks", contents: Array(disks.joined(separator: "\n").utf8))
    }
    if !plan.scenario.machine.boundDevices.isEmpty {
      archive.addFile("etc/handoff-devices", contents: [])
    }
    if plan.scenario.carriesData, let disk = disks.first {
      archive.addFile("etc/handoff-carry", contents: Array(disk.utf8))
    }
    if plan.scenario.residue != nil {
      // the first stage leaves the marker in free RAM; the last waits for the host to read RAM
      if index == 0 {
        archive.addFile("etc/handoff-fill", contents: Array(plan.residueMarker.utf8))
      }
      if index + 1 == plan.stages.count { archive.addFile("etc/handoff-hold", contents: []) }
    }

    if index + 1 < plan.stages.count {
      let next = plan.stages[index + 1]
      let initrd = try build(plan, stage: index + 1)
      let commandLine = plan.commandLine(stage: index + 1)
      if plan.scenario.kernelForm == .uki {
        // the initramfs and the command line travel inside the image
        archive.addFile(
          "next/vmlinuz",
          contents: try KernelForms.unifiedKernelImage(
            next.kernel.image, initrd: initrd, commandLine: commandLine,
            architecture: plan.scenario.architecture, paths: paths))
      } else {
        let kernel = try KernelForms.bytes(
          of: next.kernel.image, as: plan.scenario.kernelForm,
          architecture: plan.scenario.architecture, paths: paths)
        archive.addFile("next/vmlinuz", contents: kernel)
        archive.addFile("next/initrd", contents: initrd)
        archive.addFile("next/cmdline", contents: Array(commandLine.utf8))
      }
      if next.dialect == .kexecTools { archive.addFile("next/kexec-dialect", contents: []) }
      archive.addFile("next/load-options", contents: Array(plan.loadOptions(stage: index + 1).utf8))
      archive.addFile("next/exec-options", contents: Array(plan.scenario.execOptions.utf8))
      if let hop = InitScript.hop(plan.scenario.hop) {
        archive.addFile("next/hop", contents: Array(hop.utf8))
      }
      if plan.scenario.hop == .signatureChecks {
        // the kernels the running one must refuse: no signature, and Debian's
        for (name, signing) in [("unsigned", Signing.none), ("debian", .debian)] {
          archive.addFile(
            "next/vmlinuz.\(name)",
            contents: [UInt8](try Data(contentsOf: next.kernel.image(signing))))
        }
      }
    }
    return archive.finish()
  }
}

/// The guest's /init: mounts what the scenario reads, reports this stage on
/// the serial console in `LAB:` lines, then hands off to the next stage.
enum InitScript {
  static let text = """
    #!/bin/busybox sh
    /bin/busybox --install -s /bin
    export PATH=/bin
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    for module in $(cat /etc/modules); do insmod "/lib/modules/$module.ko"; done
    mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
    echo "LAB: stage=$(cat /etc/handoff-stage)"
    echo "LAB: version=$(cat /proc/version)"
    echo "LAB: cmdline=$(cat /proc/cmdline)"
    if [ -e /proc/vmcore ]; then
      echo "LAB: vmcore=$(stat -c %s /proc/vmcore)"
      # the panicked kernel's release, from the vmcoreinfo note at the start,
      # and its command line, from its own RAM
      echo "LAB: vmcore-release=$(head -c 65536 /proc/vmcore | tr '\\000' '\\n' \\
        | grep -m1 '^OSRELEASE=' | cut -d= -f2)"
      echo "LAB: vmcore-stage0-cmdline=$(tr '\\000' '\\n' < /proc/vmcore \\
        | grep -c -m1 -F 'handoff.stage=0')"
    fi
    if [ -d /sys/firmware/efi ]; then echo "LAB: efi=yes"; else echo "LAB: efi=no"; fi
    echo "LAB: lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)"
    echo "LAB: efivars=$(ls /sys/firmware/efi/efivars 2>/dev/null | wc -l)"
    for device in /sys/bus/pci/devices/*; do
      case "$(cat "$device/class")" in
        0x02*)
          echo "LAB: pci=${device##*/} class=$(cat "$device/class")" \
            "driver=$(basename "$(readlink "$device/driver")")" \
            "reset_method=$(cat "$device/reset_method" 2>/dev/null | tr ' ' ,)"
          ;;
      esac
    done
    for disk in $(cat /etc/handoff-disks 2>/dev/null); do
      # nvme finds its namespaces after its probe returns: wait up to 20 s
      tries=0
      while [ ! -b "/dev/$disk" ] && [ $tries -lt 200 ]; do
        usleep 100000
        tries=$((tries + 1))
      done
    done
    if [ -e /etc/handoff-devices ]; then
      # each PCI function's driver, and for virtio the driver behind it
      for device in /sys/bus/pci/devices/*; do
        drivers=none
        [ -e "$device/driver" ] && drivers="$(basename "$(readlink "$device/driver")")"
        for virtio in "$device"/virtio*; do
          [ -e "$virtio/driver" ] && drivers="$drivers,$(basename "$(readlink "$virtio/driver")")"
        done
        id="$(cut -c3- "$device/vendor"):$(cut -c3- "$device/device")"
        echo "LAB: device=${device##*/} id=$id class=$(cat "$device/class") drivers=$drivers"
      done
      echo "LAB: iommu-groups=$(ls /sys/kernel/iommu_groups | wc -l)"
    fi
    if [ -e /etc/handoff-carry ]; then
      echo "LAB: carried=$(dd if="/dev/$(cat /etc/handoff-carry)" bs=64k count=16 2>/dev/null \\
        | sha256sum | cut -d' ' -f1)"
    else
      for disk in $(cat /etc/handoff-disks 2>/dev/null); do
        echo "LAB: disk=$disk sha256=$(sha256sum < "/dev/$disk" | cut -d' ' -f1)"
      done
    fi
    for net in /sys/class/net/*; do
      [ "${net##*/}" = lo ] && continue
      echo "LAB: net=${net##*/} driver=$(basename "$(readlink "$net/device/driver")")" \
        "pci=$(basename "$(readlink -f "$net/device/..")")"
    done
    if [ -e /etc/handoff-fill ]; then
      # 256 MiB of the 16-byte marker in a tmpfs, then freed: free pages
      # that still hold it, as an old kernel's secrets would be
      mount -t tmpfs -o size=320m tmpfs /mnt
      cp /etc/handoff-fill /mnt/block
      for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
        cat /mnt/block /mnt/block > /mnt/double && mv /mnt/double /mnt/block
      done
      for i in $(seq 256); do cat /mnt/block; done > /mnt/fill
      echo "LAB: filled=$(wc -c < /mnt/fill)"
      rm /mnt/block /mnt/fill
      umount /mnt
      sync
      echo 3 > /proc/sys/vm/drop_caches
      echo "LAB: freed; $(dmesg | grep -m 1 'mem auto-init')"
    fi
    if [ -e /next/hop ]; then
      . /next/hop
      echo "LAB: handoff-failed"
    elif [ -e /next/kexec-dialect ]; then
      echo "LAB: load-start"
      if kexec -l /next/vmlinuz --initrd=/next/initrd --command-line="$(cat /next/cmdline)" \\
          $(cat /next/load-options) -d; then
        echo "LAB: loaded"
        echo "LAB: exec"
        kexec -e -d
      fi
      echo "LAB: handoff-failed"
    elif [ -e /next/vmlinuz ]; then
      # a unified kernel image brings its own initrd and command line
      if [ -e /next/initrd ]; then
        set -- --initrd /next/initrd --cmdline "$(cat /next/cmdline)"
      else
        set --
      fi
      handoff check /next/vmlinuz "$@" 2>&1 | sed 's/^/LAB: check: /'
      echo "LAB: load-start"
      if handoff load /next/vmlinuz "$@" $(cat /next/load-options) --debug; then
        echo "LAB: loaded"
        handoff status
        if [ -e /etc/handoff-carry ]; then
          # into the page cache only: handoff exec's sync must write it out
          dd if=/dev/urandom of=/tmp/carry bs=64k count=16 2>/dev/null
          echo "LAB: wrote=$(sha256sum < /tmp/carry | cut -d' ' -f1)"
          dd if=/tmp/carry of="/dev/$(cat /etc/handoff-carry)" bs=64k 2>/dev/null
        fi
        echo "LAB: exec"
        handoff exec $(cat /next/exec-options) --debug
      fi
      echo "LAB: handoff-failed"
    else
      echo "LAB: end"
      if [ -e /etc/handoff-hold ]; then
        echo "LAB: holding for the host to read RAM"
        while true; do sleep 60; done
      fi
    fi
    poweroff -f
    """

  /// The hop a scenario runs in place of the standard one, sourced by the
  /// init script; nil for the standard hop.
  static func hop(_ script: HopScript) -> String? {
    switch script {
    case .standard: return nil
    case .signatureChecks: return attempt + signatureChecks
    case .loadDisabled: return attempt + loadDisabled
    case .crash: return crash
    }
  }

  /// `attempt NAME KERNEL [OPTION ...]`: a load the kernel must refuse. Its
  /// command line names it, so a kernel it staged would give itself away.
  static let attempt = """
    attempt() {
      name="$1" kernel="$2"
      shift 2
      echo "LAB: attempt=$name"
      if handoff load "$kernel" --initrd /next/initrd \\
          --cmdline "$(cat /next/cmdline) handoff.refused=$name" "$@"; then
        echo "LAB: attempt-loaded"
      else
        echo "LAB: attempt-refused"
      fi
    }

    """

  static let signatureChecks = """
    attempt unsigned-first /next/vmlinuz.unsigned
    handoff status
    echo "LAB: load-start"
    if handoff load /next/vmlinuz --initrd /next/initrd --cmdline "$(cat /next/cmdline)" \\
        $(cat /next/load-options) --debug; then
      echo "LAB: loaded"
      attempt unsigned-after /next/vmlinuz.unsigned
      attempt debian-after /next/vmlinuz.debian
      handoff status
      echo "LAB: exec"
      handoff exec --debug
    fi

    """

  static let crash = """
    echo "LAB: load-start"
    if handoff load /next/vmlinuz --crash --initrd /next/initrd --cmdline "$(cat /next/cmdline)" \\
        $(cat /next/load-options) --debug; then
      echo "LAB: loaded"
      echo "LAB: crash-loaded=$(cat /sys/kernel/kexec_crash_loaded)"
      echo "LAB: loaded=$(cat /sys/kernel/kexec_loaded)"
      echo "LAB: exec"
      echo c > /proc/sysrq-trigger
    fi

    """

  static let loadDisabled = """
    echo "LAB: load-start"
    if handoff load /next/vmlinuz --initrd /next/initrd --cmdline "$(cat /next/cmdline)" \\
        $(cat /next/load-options) --debug; then
      echo "LAB: loaded"
      echo 1 > /proc/sys/kernel/kexec_load_disabled
      echo "LAB: kexec_load_disabled=$(cat /proc/sys/kernel/kexec_load_disabled)"
      attempt kexec_load /next/vmlinuz --syscall kexec_load
      attempt kexec_file_load /next/vmlinuz --syscall kexec_file_load
      attempt auto /next/vmlinuz
      handoff status
      echo "LAB: exec"
      handoff exec --debug
    fi

    """
}
