// The kernel to hand off to, held against this machine: its architecture,
// entry, boot protocol and EFI support, and whether it fits.
import HandoffCore

extension Preflight {
  func checkKernel(_ request: LoadRequest, into report: inout PreflightReport) {
    let section = "kernel"
    let path = request.kernelPath
    let image: BzImage
    do throws(HandoffError) {
      let bytes = try system.readFile(path)
      let kernel = try KernelImage.read(path: path, bytes: bytes)
      if kernel.architecture == .arm64 || kernel.architecture == .riscv64 {
        checkDeviceTreeKernel(kernel, bytes, request, into: &report)
        return
      }
      if case .elf(let elf) = kernel, elf.machine == .x86_64 {
        // no setup header to hold against the machine: its placement says it all
        report.add(
          section, "image", .ok,
          "\(path): ELF vmlinux, \(elf.loadSegments.count) program headers, entry "
            + hex(elf.entry) + ", with the running kernel's setup header")
        checkPlacement(request, into: &report)
        return
      }
      let x86 = try kernel.x86Kernel(fileBytes: bytes)
      image = x86.image
      if x86.fromUKI {
        report.add(
          section, "image", .ok,
          "\(path): unified kernel image" + (x86.initrd == nil ? "" : " with an initrd")
            + (x86.commandLine == nil ? "" : " and a cmdline") + ", its .linux a bzImage")
      }
    } catch {
      report.add(section, "image", .fail, error.description)
      return
    }
    let release = image.kernelVersion.flatMap { $0.split(separator: " ").first }
    report.add(
      section, "image", .ok,
      "\(path): bzImage" + (release.map { " of \($0)" } ?? "") + ", \(image.fileSize) bytes")

    // the machine: a bzImage is an x86 kernel, and Handoff loads 64-bit ones
    let machine = runningArchitecture()
    switch machine {
    case "x86_64"?:
      report.add(section, "architecture", .ok, "x86_64, as this machine")
    case let other?:
      report.add(
        section, "architecture", .fail,
        "the image is an x86_64 kernel, and this machine runs \(other)")
    case nil:
      report.add(
        section, "architecture", .warn,
        "unknown: /proc/sys/kernel/arch cannot be read, and a bzImage needs x86_64")
    }
    if !image.xloadflags.contains(.kernel64) {
      report.add(
        section, "64-bit entry", .fail,
        "none: XLF_KERNEL_64 is not set, so a 64-bit kernel cannot enter it")
    } else if !image.xloadflags.contains(.canBeLoadedAbove4G) || !image.loadedHigh {
      report.add(
        section, "64-bit entry", .fail,
        "XLF_KERNEL_64, but without "
          + (image.loadedHigh ? "XLF_CAN_BE_LOADED_ABOVE_4G" : "LOADED_HIGH")
          + ", which a 64-bit loader needs")
    } else {
      report.add(section, "64-bit entry", .ok, "XLF_KERNEL_64, loadable above 4 GiB")
    }
    if image.protocolVersion >= 0x020c {
      report.add(section, "boot protocol", .ok, image.protocolVersionText)
    } else {
      report.add(
        section, "boot protocol", .fail,
        "\(image.protocolVersionText), older than 2.12, the oldest a 64-bit loader can "
          + "hand off to")
    }

    // EFI: the next kernel takes over the runtime services only if it says it can
    if !bootedThroughEFI {
      report.add(section, "EFI handover", .ok, "not needed: the machine did not boot through EFI")
    } else if image.xloadflags.contains(.efiKexec) {
      report.add(
        section, "EFI handover", .ok, "XLF_EFI_KEXEC: it takes over EFI runtime services")
    } else {
      report.add(
        section, "EFI handover", .warn,
        "no XLF_EFI_KEXEC: it cannot take over EFI runtime services, so EFI variables "
          + "will be gone")
    }
    if image.relocatable {
      report.add(
        section, "relocatable", .ok, "yes, at any multiple of \(hex(image.kernelAlignment))")
    } else {
      report.add(
        section, "relocatable", .warn,
        "no: it must run at pref_address \(hex(image.preferredAddress)), which must be free")
    }

    // the command line the load would give it
    let commandLine = request.commandLine.resolve(
      running: system.text(SystemPaths.commandLine) ?? "")
    do throws(HandoffError) {
      try image.requireFits(commandLine: commandLine)
      report.add(
        section, "cmdline", .ok,
        "\(commandLine.utf8.count) bytes; the image takes up to \(image.commandLineSize - 1)")
    } catch {
      report.add(section, "cmdline", .fail, error.description)
      return
    }
    do throws(HandoffError) {
      try image.requireBootable64()
    } catch {
      // the items above name every other reason a 64-bit handoff is refused
      if case .invalidField(_, "init_size", _, _, _) = error {
        report.add(section, "init_size", .fail, error.description)
      }
      return
    }
    checkPlacement(request, into: &report)
  }

  /// Plans the load as `handoff load` would, and holds the segments
  /// against the memory the running kernel has free to stage them in.
  private func checkPlacement(_ request: LoadRequest, into report: inout PreflightReport) {
    let section = "kernel"
    let plan: LoadPlan
    do throws(HandoffError) {
      plan = try SegmentLoader(system: system, debug: debug).plan(
        request, options: PlanOptions(verify: false))
    } catch .unsupportedMemoryMap(let source, let problem) {
      report.add(
        section, "placement", .warn,
        "Handoff cannot read the memory map (\(source): \(problem)); 'handoff load' would "
          + "fall back to kexec_file_load, which places the segments itself")
      return
    } catch {
      report.add(section, "placement", .fail, error.description)
      return
    }
    var parts: [String] = []
    var total: UInt64 = 0
    for segment in plan.segments {
      total += segment.memorySize
      if segment.role == "kernel" || segment.role == "initrd" {
        parts.append("\(segment.role) at \(hex(segment.destination))")
      }
    }
    report.add(
      section, "placement", .ok,
      joinedPhrases(parts) + "; \(plan.segments.count) segments, "
        + "\(Preflight.mebibytes(total)) in all")

    // the kernel copies every segment into pages of its own when it loads
    guard let available = availableMemory() else {
      report.add(
        section, "free memory", .warn,
        "unknown: MemAvailable cannot be read from /proc/meminfo; the load needs "
          + Preflight.mebibytes(total))
      return
    }
    if available >= total {
      report.add(
        section, "free memory", .ok,
        "the load needs \(Preflight.mebibytes(total)); \(Preflight.mebibytes(available)) "
          + "available")
    } else {
      report.add(
        section, "free memory", .fail,
        "the load needs \(Preflight.mebibytes(total)), and only "
          + "\(Preflight.mebibytes(available)) is available: it would fail with ENOMEM")
    }
  }

  /// An arm64 or riscv64 kernel: its Image, this machine's architecture,
  /// and where the load would place it.
  private func checkDeviceTreeKernel(
    _ kernel: KernelImage, _ bytes: [UInt8], _ request: LoadRequest,
    into report: inout PreflightReport
  ) {
    let section = "kernel"
    let image: DeviceTreeKernel
    do throws(HandoffError) {
      image = try kernel.deviceTreeKernel(fileBytes: bytes)
    } catch {
      report.add(section, "image", .fail, error.description)
      return
    }
    let release = image.kernelVersion.flatMap { $0.split(separator: " ").first }
    report.add(
      section, "image", .ok,
      "\(request.kernelPath): \(kernel.formatName)" + (release.map { " of \($0)" } ?? "")
        + ", text_offset \(hex(image.textOffset)), image_size \(hex(image.imageSize))")
    let machine = kernel.architecture == .arm64 ? "aarch64" : "riscv64"
    switch runningArchitecture() {
    case machine?:
      report.add(section, "architecture", .ok, "\(machine), as this machine")
    case let other?:
      report.add(
        section, "architecture", .fail,
        "the image is a kernel for \(machine), and this machine runs \(other)")
      return
    case nil:
      report.add(
        section, "architecture", .warn,
        "unknown: /proc/sys/kernel/arch cannot be read, and the Image needs \(machine)")
    }
    checkPlacement(request, into: &report)
  }

  /// uname's machine, such as `x86_64`, from /proc/sys/kernel/arch
  /// (Linux 6.1 and later).
  func runningArchitecture() -> String? {
    system.text("/proc/sys/kernel/arch")
  }

  /// MemAvailable of /proc/meminfo, in bytes.
  func availableMemory() -> UInt64? {
    guard let text = system.text("/proc/meminfo") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let words = line.split(separator: " ")
      guard words.count >= 2, let kibibytes = UInt64(String(words[1])) else { return nil }
      return kibibytes * 1024
    }
    return nil
  }
}
