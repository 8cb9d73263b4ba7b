import Foundation
import HandoffCore

// The benchmark's guests. One initramfs serves every variant: it carries
// both loaders, and the kernel command line names the variant, so the
// archive each run boots is the same, byte for byte.

/// lab/memset-rate.c, the scrub's baseline: a plain memset in the guest's
/// user space, built static with musl-gcc.
enum MemsetRateProgram {
  static let source = "lab/memset-rate.c"
  static let compilerPath = "/usr/bin/musl-gcc"

  /// Compiles the program into `work` and returns the binary.
  static func build(in work: URL) throws -> [UInt8] {
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let binary = work.appendingPathComponent("memset-rate")
    guard FileManager.default.isExecutableFile(atPath: compilerPath) else {
      throw LabError.missing("\(compilerPath) (Debian's musl-tools); run 'make setup'")
    }
    let compiler = Process()
    compiler.executableURL = URL(fileURLWithPath: compilerPath)
    compiler.arguments = ["-static", "-O2", "-Wall", "-Werror", "-o", binary.path, source]
    try compiler.run()
    compiler.waitUntilExit()
    guard compiler.terminationStatus == 0,
      let contents = FileManager.default.contents(atPath: binary.path)
    else {
      throw LabError.tool("musl-gcc could not build \(source)")
    }
    return [UInt8](contents)
  }
}

/// Builds the benchmark's two initramfs images with Handoff's cpio writer:
/// the first kernel's, with both loaders, memset-rate, the next kernel and
/// the next initramfs; and the next kernel's, which reports and powers off.
struct BenchmarkGuest {
  let busybox: [UInt8]
  let handoff: [UInt8]
  let kexecTools: KexecToolsFiles
  /// The scrub's baseline, when the scrub is among the runs.
  let memsetRate: [UInt8]?

  /// The next kernel's initramfs: busybox and the init script alone.
  func nextInitramfs() -> [UInt8] {
    base(extraDirectories: []).finish()
  }

  /// The first kernel's initramfs. `nextCommandLine` is what both loaders
  /// give the next kernel.
  func firstInitramfs(nextKernel: [UInt8], nextInitrd: [UInt8], nextCommandLine: String)
    -> [UInt8]
  {
    let carried = [kexecTools.binary] + kexecTools.libraries
    var archive = base(extraDirectories: Self.parents(of: carried.map(\.path)) + ["next"])
    archive.addFile("bin/handoff", contents: handoff, mode: 0o755)
    if let memsetRate { archive.addFile("bin/memset-rate", contents: memsetRate, mode: 0o755) }
    for file in carried {
      archive.addFile(String(file.path.dropFirst()), contents: file.contents, mode: 0o755)
    }
    archive.addFile("next/vmlinuz", contents: nextKernel)
    archive.addFile("next/initrd", contents: nextInitrd)
    archive.addFile("next/cmdline", contents: Array(nextCommandLine.utf8))
    return archive.finish()
  }

  /// What both stages hold: the directories, the console, busybox and /init.
  private func base(extraDirectories: [String]) -> CpioWriter {
    var archive = CpioWriter()
    var directories = ["bin", "dev", "proc", "sys", "tmp"]
    for directory in extraDirectories where !directories.contains(directory) {
      directories.append(directory)
    }
    for directory in directories { archive.addDirectory(directory) }
    archive.addCharacterDevice("dev/console", major: 5, minor: 1)
    archive.addFile("bin/busybox", contents: busybox, mode: 0o755)
    archive.addFile("init", contents: Array(BenchmarkInitScript.text.utf8), mode: 0o755)
    return archive
  }

  /// Every directory above `paths`, relative and parents first:
  /// /lib/x86_64-linux-gnu/libc.so.6 gives lib and lib/x86_64-linux-gnu.
  private static func parents(of paths: [String]) -> [String] {
    var directories: [String] = []
    for path in paths {
      let components = path.split(separator: "/").dropLast()
      for depth in components.indices {
        let directory = components[...depth].joined(separator: "/")
        if !directories.contains(directory) { directories.append(directory) }
      }
    }
    return directories
  }
}

/// The benchmark guests' /init. The word `handoff.bench=VARIANT` on the
/// kernel command line picks the loader; the next kernel gets
/// `handoff.bench=next` and only reports itself.
///
/// Each load runs under busybox `time`, whose one-line report gives the
/// loader's user and system time and its peak resident set (ru_maxrss from
/// wait4). The same wrapper around busybox alone gives the floor that
/// report cannot go below: the wrapper's own resident set, which the child
/// inherits until it runs the loader.
///
/// Before a scrub, the guest asks `handoff plan --scrub --json` how many
/// bytes the purgatory will zero and has memset-rate zero as many, for the
/// baseline and the TSC's rate.
enum BenchmarkInitScript {
  static let text = """
    #!/bin/busybox sh
    /bin/busybox --install -s /bin
    export PATH=/bin:/sbin
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    variant=none
    for word in $(cat /proc/cmdline); do
      case "$word" in handoff.bench=*) variant="${word#handoff.bench=}" ;; esac
    done
    echo "LAB: variant=$variant"
    echo "LAB: version=$(cat /proc/version)"
    if [ "$variant" = next ]; then
      echo "LAB: end"
      poweroff -f
    fi

    # let the boot's delayed work (the TSC's refined calibration) pass first
    while [ "$(cut -d. -f1 /proc/uptime)" -lt 3 ]; do sleep 0.1; done
    busybox time -f "%M" -o /tmp/floor /bin/busybox true
    echo "LAB: rss-floor-kb=$(cat /tmp/floor)"
    next="$(cat /next/cmdline)"
    if [ "$variant" = handoff-scrub ]; then
      bytes=$(handoff plan /next/vmlinuz --initrd /next/initrd --cmdline "$next" --scrub --json |
        tr -d ' \\n' | sed -n 's/.*"scrub":{"bytes":\\([0-9]*\\),.*/\\1/p')
      echo "LAB: scrub-plan bytes=$bytes"
      echo "LAB: memset $(memset-rate "$bytes")"
    fi
    report="LAB: rusage max_rss_kb=%M user=%U sys=%S elapsed=%e"
    timed() { busybox time -f "$report" -o /tmp/rusage "$@"; }

    echo "LAB: load-start"
    case "$variant" in
      handoff) timed handoff load /next/vmlinuz --initrd /next/initrd --cmdline "$next" ;;
      handoff-no-verify)
        timed handoff load /next/vmlinuz --initrd /next/initrd --cmdline "$next" --no-verify ;;
      handoff-scrub)
        timed handoff load /next/vmlinuz --initrd /next/initrd --cmdline "$next" --scrub ;;
      kexec-tools) timed kexec -l /next/vmlinuz --initrd=/next/initrd --command-line="$next" ;;
      kexec-tools-no-checks)
        timed kexec -l -i /next/vmlinuz --initrd=/next/initrd --command-line="$next" ;;
      *) echo "LAB: unknown variant $variant"; false ;;
    esac
    loaded=$?
    [ $loaded -eq 0 ] && echo "LAB: loaded"
    cat /tmp/rusage 2>/dev/null
    if [ $loaded -eq 0 ]; then
      echo "LAB: exec"
      case "$variant" in
        handoff*) handoff exec ;;
        kexec-tools*) kexec -e ;;
      esac
    fi
    echo "LAB: handoff-failed"
    poweroff -f
    """
}
