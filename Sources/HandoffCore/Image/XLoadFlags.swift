/// The setup header's `xloadflags`: what the kernel's entry points and
/// placement rules allow a loader to do.
public struct XLoadFlags: OptionSet, Equatable, Sendable {
  public let rawValue: UInt16

  public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// XLF_KERNEL_64: a 64-bit entry point at the kernel's start + 0x200.
  public static let kernel64 = XLoadFlags(rawValue: 1 << 0)
  /// XLF_CAN_BE_LOADED_ABOVE_4G: kernel, boot_params and initrd may sit above 4 GiB.
  public static let canBeLoadedAbove4G = XLoadFlags(rawValue: 1 << 1)
  /// XLF_EFI_HANDOVER_32: a 32-bit EFI handover entry.
  public static let efiHandover32 = XLoadFlags(rawValue: 1 << 2)
  /// XLF_EFI_HANDOVER_64: a 64-bit EFI handover entry.
  public static let efiHandover64 = XLoadFlags(rawValue: 1 << 3)
  /// XLF_EFI_KEXEC: the kernel accepts EFI runtime state handed over by kexec.
  public static let efiKexec = XLoadFlags(rawValue: 1 << 4)
  /// XLF_5LEVEL: the kernel can be entered with 5-level paging on.
  public static let fiveLevelPaging = XLoadFlags(rawValue: 1 << 5)
  /// XLF_5LEVEL_ENABLED: the kernel was built with 5-level paging.
  public static let fiveLevelPagingEnabled = XLoadFlags(rawValue: 1 << 6)
  /// XLF_MEM_ENCRYPTION: the kernel supports memory encryption.
  public static let memoryEncryption = XLoadFlags(rawValue: 1 << 7)

  /// Each flag with the name the kernel's boot protocol gives it.
  public static let named: [(XLoadFlags, String)] = [
    (.kernel64, "XLF_KERNEL_64"),
    (.canBeLoadedAbove4G, "XLF_CAN_BE_LOADED_ABOVE_4G"),
    (.efiHandover32, "XLF_EFI_HANDOVER_32"),
    (.efiHandover64, "XLF_EFI_HANDOVER_64"),
    (.efiKexec, "XLF_EFI_KEXEC"),
    (.fiveLevelPaging, "XLF_5LEVEL"),
    (.fiveLevelPagingEnabled, "XLF_5LEVEL_ENABLED"),
    (.memoryEncryption, "XLF_MEM_ENCRYPTION"),
  ]

  /// The names of the flags that are set, in bit order.
  public var names: [String] {
    var result: [String] = []
    for (flag, name) in XLoadFlags.named where contains(flag) {
      result.append(name)
    }
    return result
  }
}
