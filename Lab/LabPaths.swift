import Foundation

/// Where the lab finds what `make setup` fetched and what `make static` built.
struct LabPaths {
  /// The cache of kernels and busybox, outside the source tree.
  let cache: URL
  /// The static `handoff` binary that goes into every x86_64 guest; the
  /// other architectures' are beside it, named handoff-ARCH.
  let handoffBinary: URL
  /// Scratch space for initramfs images and firmware variable stores.
  let work: URL

  static func fromEnvironment() -> LabPaths {
    let environment = ProcessInfo.processInfo.environment
    let home = environment["HOME"] ?? "/root"
    let xdgCache = environment["XDG_CACHE_HOME"] ?? ""
    let cacheBase = xdgCache.isEmpty ? home + "/.cache" : xdgCache
    let cache = environment["HANDOFF_LAB_CACHE"] ?? cacheBase + "/handoff-lab"
    let binary = environment["HANDOFF_BINARY"] ?? "dist/handoff-x86_64"
    let work = environment["HANDOFF_LAB_WORK"] ?? ".build/lab"
    return LabPaths(
      cache: URL(fileURLWithPath: cache), handoffBinary: URL(fileURLWithPath: binary),
      work: URL(fileURLWithPath: work))
  }

  /// The static busybox of `architecture`'s guests.
  func busybox(_ architecture: GuestArchitecture) -> URL {
    switch architecture {
    case .x86_64: return cache.appendingPathComponent("busybox")
    default: return cache.appendingPathComponent(architecture.debianName + "/busybox")
    }
  }

  /// The static handoff binary of `architecture`'s guests.
  func handoffBinary(_ architecture: GuestArchitecture) -> URL {
    switch architecture {
    case .x86_64: return handoffBinary
    default:
      return handoffBinary.deletingLastPathComponent()
        .appendingPathComponent("handoff-" + architecture.rawValue)
    }
  }

  /// OVMF's variable store with the lab's own certificate as PK, KEK and db
  /// and Secure Boot on, which `make setup` writes.
  var enrolledVariables: URL {
    cache.appendingPathComponent("secureboot").appendingPathComponent("OVMF_VARS_4M.enrolled.fd")
  }

  func kernelDirectory(
    _ suite: Suite, _ architecture: GuestArchitecture = .x86_64, flavour: KernelFlavour = .cloud
  ) -> URL {
    let kernels = cache.appendingPathComponent("kernels")
    switch architecture {
    case .x86_64 where flavour == .generic:
      return kernels.appendingPathComponent("generic").appendingPathComponent(suite.rawValue)
    case .x86_64: return kernels.appendingPathComponent(suite.rawValue)
    default:
      return kernels.appendingPathComponent(architecture.debianName)
        .appendingPathComponent(suite.rawValue)
    }
  }
}

/// The Debian suites whose kernels the lab boots.
enum Suite: String, CaseIterable {
  case bookworm, trixie, sid

  /// The kernel generation, as scenario names spell it.
  var generation: String {
    switch self {
    case .bookworm: return "6.1"
    case .trixie: return "6.12"
    case .sid: return "7.x"
    }
  }
}

/// Which of Debian's amd64 kernel flavours a scenario boots.
enum KernelFlavour {
  /// cloud-amd64, built for virtual machines: of the lab's devices it drives
  /// only virtio ones.
  case cloud
  /// The generic amd64 kernel, with drivers for e1000e, NVMe, xhci and
  /// DRM's bochs as modules; `make setup` keeps it in kernels/generic/SUITE
  /// with those modules, as Debian signed it (the lab signs only the cloud
  /// kernels).
  case generic
}

/// Whose signature a cached kernel image carries; `make setup` writes all three.
enum Signing: String {
  /// As Debian ships it: signed with Debian's key, which a kernel trusts only
  /// when it was booted through shim.
  case debian = "vmlinuz"
  /// Debian's signature stripped, then signed with the lab's own key.
  case lab = "vmlinuz.signed"
  /// Debian's signature stripped and nothing added.
  case none = "vmlinuz.unsigned"
}

/// A Debian kernel in the cache.
struct LabKernel {
  let suite: Suite
  /// The release, as `uname -r` prints it, such as 6.1.0-40-cloud-amd64.
  let release: String
  let image: URL

  /// The same kernel with another signature.
  func image(_ signing: Signing) -> URL {
    image.deletingLastPathComponent().appendingPathComponent(signing.rawValue)
  }

  /// The kernel's modules the guest loads at boot (`make setup` fetches them).
  func modules() throws -> [URL] {
    let directory = image.deletingLastPathComponent().appendingPathComponent("modules")
    return try FileManager.default.contentsOfDirectory(
      at: directory, includingPropertiesForKeys: nil
    ).filter { $0.pathExtension == "ko" }.sorted { $0.path < $1.path }
  }

  /// The modules a generic kernel's guest loads, in the order insmod must
  /// take them, each after those it needs (`make setup` writes the list
  /// from modules.dep).
  func moduleOrder() throws -> [String] {
    let order = image.deletingLastPathComponent().appendingPathComponent("modules/order")
    guard let text = try? String(contentsOf: order, encoding: .utf8) else {
      throw LabError.missing("\(order.path) for \(release); run 'make setup'")
    }
    return text.split(separator: "\n").map(String.init)
  }

  /// Finds the kernel of `suite` as `signing` has it, or says what is missing.
  static func find(
    _ suite: Suite, in paths: LabPaths, architecture: GuestArchitecture = .x86_64,
    flavour: KernelFlavour = .cloud, signing: Signing = .debian
  ) throws -> LabKernel {
    let directory = paths.kernelDirectory(suite, architecture, flavour: flavour)
    let file = architecture == .x86_64 ? signing.rawValue : architecture.kernelFile
    let image = directory.appendingPathComponent(file)
    let releaseFile = directory.appendingPathComponent("release")
    guard FileManager.default.fileExists(atPath: image.path),
      let release = try? String(contentsOf: releaseFile, encoding: .utf8)
    else {
      throw LabError.missing(
        "the \(suite.rawValue) \(architecture.debianName) kernel (\(image.path)); run 'make setup'")
    }
    return LabKernel(
      suite: suite, release: release.trimmingCharacters(in: .whitespacesAndNewlines),
      image: image)
  }
}

/// Why the lab could not run a scenario at all.
enum LabError: Error, CustomStringConvertible {
  case missing(String)
  case qemu(String)
  /// A host tool the lab runs failed.
  case tool(String)

  var description: String {
    switch self {
    case .missing(let what): return "missing \(what)"
    case .qemu(let what): return "QEMU: \(what)"
    case .tool(let what): return what
    }
  }
}
