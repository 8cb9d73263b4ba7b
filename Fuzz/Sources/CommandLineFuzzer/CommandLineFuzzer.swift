// Fuzzes the command line choice: the running kernel's /proc/cmdline, and
// the text given with --cmdline or --append.
//
// Input: the first line is the text given; the rest is /proc/cmdline.
import FuzzSupport
import HandoffCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = fuzzBytes(data, size)
  let newline = bytes.firstIndex(of: 0x0a) ?? bytes.count
  let given = String(decoding: bytes[..<newline], as: UTF8.self)
  let running = String(decoding: bytes[min(newline + 1, bytes.count)...], as: UTF8.self)

  expect(
    CommandLineChoice.replace(given).resolve(running: running) == given, "replace changed the text")
  expect(CommandLineChoice.empty.resolve(running: running).isEmpty, "empty is not empty")
  let reused = CommandLineChoice.reuse.resolve(running: running)
  let appended = CommandLineChoice.append(given).resolve(running: running)
  for word in reused.split(separator: " ") {
    expect(!word.hasPrefix("BOOT_IMAGE="), "BOOT_IMAGE= was passed on")
  }
  if reused.isEmpty {
    expect(appended == given, "append to nothing changed the text")
  } else if !given.isEmpty {
    expect(appended == reused + " " + given, "append did not add the text at the end")
  }

  // the bound a load checks, against the sizes kernels declare
  for resolved in [reused, appended] {
    do {
      try KernelImage.read(path: "fuzz", bytes: FuzzKernel.handmade).bzImage()
        .requireFits(commandLine: resolved)
    } catch {
      _ = error.description
    }
  }
  return 0
}
