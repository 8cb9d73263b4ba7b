// The raw disks a scenario's guests read and write. The host fills each
// with fresh random bytes before the run and keeps their SHA-256, so a
// kernel that reads a disk back proves its driver sees what is there.
import Foundation

/// How a disk reaches the guest, and so its name in the guest's /dev.
enum DiskBus {
  /// virtio-blk-pci, driven by virtio_blk: /dev/vda.
  case virtio
  /// QEMU's NVMe controller with one namespace, driven by nvme: /dev/nvme0n1.
  case nvme

  var device: String {
    switch self {
    case .virtio: return "vda"
    case .nvme: return "nvme0n1"
    }
  }
}

/// One disk image and what the host wrote into it.
struct GuestDisk {
  let bus: DiskBus
  let file: URL
  let bytes: Int
  /// sha256sum of the whole image as the host wrote it.
  let sha256: String

  /// Disks of a few MiB: large enough to span many requests, small enough
  /// that busybox reads one through in a fraction of a second under TCG.
  static let sizeMiB = 8

  /// Writes one fresh image per bus of `plan`'s machine into `directory`.
  static func make(for plan: ChainPlan, in directory: URL) throws -> [GuestDisk] {
    var generator = SystemRandomNumberGenerator()
    return try plan.scenario.machine.disks.map { bus in
      let file = directory.appendingPathComponent("\(plan.scenario.name)-\(bus.device).img")
      let bytes = sizeMiB << 20
      var contents = [UInt8](repeating: 0, count: bytes)
      contents.withUnsafeMutableBytes { buffer in
        for offset in stride(from: 0, to: bytes, by: 8) {
          buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
        }
      }
      try Data(contents).write(to: file)
      let line = try KernelForms.run("/usr/bin/sha256sum", [file.path])
      let sha256 = String(decoding: line.prefix(64), as: UTF8.self)
      return GuestDisk(bus: bus, file: file, bytes: bytes, sha256: sha256)
    }
  }

  /// QEMU's options for this disk as the `index`th drive, on `bus`.
  func qemuArguments(index: Int, bus port: String) -> [String] {
    let drive = "disk\(index)"
    let device: String
    switch bus {
    case .virtio: device = "virtio-blk-pci,drive=\(drive)"
    case .nvme: device = "nvme,drive=\(drive),serial=handoff\(index)"
    }
    return [
      "-drive", "if=none,id=\(drive),format=raw,file=\(file.path)",
      "-device", device + ",bus=\(port)",
    ]
  }
}
