// Fuzzes the kernel image reader: KernelImage.read and the bzImage setup
// header behind it, then the checks a load makes of a header it accepted.
import FuzzSupport
import HandoffCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = fuzzBytes(data, size)
  readImage(bytes)

  // a head of a real kernel stops at syssize; fitted, it reaches the fields after
  if let fitted = FuzzKernel.fitted(bytes), fitted != bytes { readImage(fitted) }
  return 0
}

func readImage(_ bytes: [UInt8]) {
  let image: BzImage
  do {
    image = try KernelImage.read(path: "fuzz.bzImage", bytes: bytes).bzImage()
  } catch {
    _ = error.description
    return
  }

  // what inspect prints, and what a load checks
  expect(image.setupSize <= bytes.count, "the setup code is larger than the file")
  _ = (image.kernelSize, image.protocolVersionText, image.xloadflags.names, image.loadedHigh)
  do { try image.requireBootable64() } catch { _ = error.description }
  let limit = Int(image.commandLineSize)
  for length in [0, 1, limit - 1, limit, limit + 1] where length >= 0 && length <= 1 << 20 {
    let commandLine = String(repeating: "x", count: length)
    do {
      try image.requireFits(commandLine: commandLine)
      expect(length < limit, "a command line of \(length) bytes fits in \(limit)")
    } catch {
      _ = error.description
    }
  }
}
