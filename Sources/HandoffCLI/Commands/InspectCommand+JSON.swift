// inspect's JSON: one object, the header fields under the kernel's own
// names, the image inside a zboot image or UKI as an object of its own.
import HandoffCore

extension InspectCommand {
  /// Every field of `image`, then whether a 64-bit x86 handoff can boot it.
  static func json(_ image: KernelImage, refusal: String?) -> String {
    var object = self.object(image)
    object.add("bootable_64", refusal == nil)
    object.add("refusal", refusal)
    return object.text
  }

  static func object(_ image: KernelImage) -> JSONObject {
    var object = JSONObject()
    object.add("file", image.path)
    object.add("format", image.formatName)
    object.add("architecture", image.architecture.rawValue)
    object.add("kernel_version", image.kernelVersion)
    switch image {
    case .bzImage(let bzImage): add(bzImage, to: &object)
    case .elf(let elf): add(elf, to: &object)
    case .arm64Image(let arm64): add(arm64, to: &object)
    case .riscvImage(let riscv): add(riscv, to: &object)
    case .zboot(let zboot): add(zboot, to: &object)
    case .uki(let uki): add(uki, to: &object)
    }
    return object
  }

  static func add(_ image: BzImage, to object: inout JSONObject) {
    object.add("boot_protocol", image.protocolVersionText)
    object.add("setup_sects", image.setupSectors)
    object.add("setup_size", image.setupSize)
    object.add("kernel_size", image.kernelSize)
    object.add("payload_compression", image.payloadCompression.rawValue)
    object.add("payload_offset", image.payloadOffset)
    object.add("payload_length", image.payloadLength)
    object.add("relocatable", image.relocatable)
    object.add("kernel_alignment", image.kernelAlignment)
    object.add("pref_address", image.preferredAddress)
    object.add("init_size", image.initSize)
    object.add("cmdline_size", image.commandLineSize)
    object.add("loadflags", image.loadFlags)
    object.add("xloadflags", image.xloadflags.rawValue)
    object.add("xloadflags_names", strings: image.xloadflags.names)
    object.add("handover_offset", image.handoverOffset)
  }

  static func add(_ image: ELFImage, to object: inout JSONObject) {
    object.add("file_size", image.fileSize)
    object.add("e_machine", image.machine.rawValue)
    object.add("e_machine_name", image.machine.name)
    object.add("e_type", image.type)
    object.add("e_entry", image.entry)
    var segments: [JSONObject] = []
    for segment in image.loadSegments {
      var entry = JSONObject()
      entry.add("index", segment.index)
      entry.add("p_offset", segment.offset)
      entry.add("p_vaddr", segment.virtualAddress)
      entry.add("p_paddr", segment.physicalAddress)
      entry.add("p_filesz", segment.fileSize)
      entry.add("p_memsz", segment.memorySize)
      entry.add("p_flags", segment.flags)
      entry.add("p_align", segment.alignment)
      segments.append(entry)
    }
    object.add("load_segments", objects: segments)
  }

  static func add(_ image: Arm64Image, to object: inout JSONObject) {
    object.add("file_size", image.fileSize)
    object.add("compression", image.compression?.rawValue)
    object.add("unpacked_size", image.bytes.count)
    object.add("text_offset", image.textOffset)
    object.add("image_size", image.imageSize)
    object.add("flags", image.flags.rawValue)
    object.add("flags_names", strings: image.flags.names)
    add(stub: image.efiStub, to: &object)
  }

  static func add(_ image: RISCVImage, to object: inout JSONObject) {
    object.add("file_size", image.fileSize)
    object.add("compression", image.compression?.rawValue)
    object.add("unpacked_size", image.bytes.count)
    object.add("header_version", image.headerVersionText)
    object.add("text_offset", image.textOffset)
    object.add("image_size", image.imageSize)
    object.add("flags", image.flags)
    add(stub: image.efiStub, to: &object)
  }

  static func add(_ image: ZbootImage, to object: inout JSONObject) {
    object.add("file_size", image.fileSize)
    object.add("compression", image.compression.rawValue)
    object.add("compression_type", image.compressionType)
    object.add("payload_offset", image.payloadOffset)
    object.add("payload_size", image.payloadSize)
    object.add("unpacked_size", image.unpackedSize)
    add(stub: image.pe, to: &object)
    object.add("payload", object: self.object(image.kernel))
  }

  static func add(_ image: UnifiedKernelImage, to object: inout JSONObject) {
    object.add("file_size", image.fileSize)
    object.add("os_release", image.osRelease)
    object.add("pretty_name", image.prettyName)
    object.add("uname", image.uname)
    object.add("cmdline", image.commandLine)
    object.add("initrd_size", image.initrd?.count)
    object.add("devicetree_size", image.devicetree?.count)
    add(stub: image.pe, to: &object)
    object.add("linux", object: self.object(image.kernel))
  }

  /// The PE headers and section table under `efi_stub`; null without them.
  static func add(stub pe: PEFile?, to object: inout JSONObject) {
    guard let pe else {
      object.add("efi_stub", nil as String?)
      return
    }
    var stub = JSONObject()
    stub.add("pe_offset", pe.headerOffset)
    stub.add("machine", pe.machine)
    stub.add("architecture", pe.architecture?.rawValue)
    stub.add("entry_point", pe.entryPoint)
    stub.add("image_base", pe.imageBase)
    stub.add("size_of_image", pe.sizeOfImage)
    stub.add("subsystem", pe.subsystem)
    var sections: [JSONObject] = []
    for section in pe.sections {
      var entry = JSONObject()
      entry.add("name", section.name)
      entry.add("offset", section.rawOffset)
      entry.add("size", section.dataSize)
      entry.add("raw_size", section.rawSize)
      entry.add("virtual_address", section.virtualAddress)
      entry.add("virtual_size", section.virtualSize)
      sections.append(entry)
    }
    stub.add("sections", objects: sections)
    object.add("efi_stub", object: stub)
  }
}
