// Fuzzes the command line tool as a whole: `handoff` and its `kexec` dialect
// run with fuzzed arguments against an in-memory machine that refuses every
// kexec and reboot call.
//
// Input (FuzzSections): the preamble is argv, one argument a line, argv[0]
// first; `@@ PATH` sections add or replace files. The machine starts with a
// kernel at /k, an initrd at /i, a memory map at /m, and the /proc and /sys
// files a load reads. With HANDOFF_FUZZ_VERBOSE set, what the tool writes
// goes to standard error, for reading a reproduced input's run.
import FuzzSupport
import HandoffCLI
import HandoffCore
import HandoffLinux

let defaultFiles: [String: [UInt8]] = [
  "/k": FuzzKernel.image,
  "/i": Array("070701".utf8) + [UInt8](repeating: 0x30, count: 100),
  "/m": Array("00000000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n".utf8),
  "/proc/iomem": Array(
    """
    00000000-00000fff : Reserved
    00001000-0009fbff : System RAM
    00100000-7ffdffff : System RAM
      01000000-01ffffff : Kernel code
      6f000000-7effffff : Crash kernel
    7ffe0000-7fffffff : Reserved

    """.utf8),
  "/proc/cmdline": Array("BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0\n".utf8),
  "/sys/kernel/kexec_loaded": Array("1\n".utf8),
  "/sys/kernel/security/lockdown": Array("[none] integrity confidentiality\n".utf8),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCLI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let sections = FuzzSections(fuzzBytes(data, size))
  let system = MemorySystem(sections, defaults: defaultFiles)
  var written = 0
  func write(_ text: String) {
    written += text.utf8.count
    FuzzKernel.show(text)
  }
  let console = Console(output: write, error: write)
  let status = runHandoff(arguments: sections.preambleText, system: system, console: console)
  expect([0, 1, 64].contains(status), "exit status \(status)")
  expect(written > 0 || status == 0, "failed without a word")
  return 0
}
