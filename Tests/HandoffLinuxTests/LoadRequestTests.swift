import HandoffCore
import HandoffLinux
import Testing

/// The command line a load request gives the next kernel.
@Suite("The next kernel's command line")
struct LoadRequestTests {
  static let running = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=384M,high quiet\n"

  @Test("A crash kernel reusing the running command line leaves out crashkernel=")
  func crashKernelDropsReservation() {
    var request = LoadRequest(
      kernelPath: "/boot/vmlinuz", commandLine: .append("irqpoll nr_cpus=1"), crash: true)
    #expect(
      request.resolvedCommandLine(running: Self.running)
        == "root=/dev/vda1 quiet irqpoll nr_cpus=1")
    request.commandLine = .reuse
    #expect(request.resolvedCommandLine(running: Self.running) == "root=/dev/vda1 quiet")
  }

  @Test("A command line given whole, and any kernel but a crash kernel, keep crashkernel=")
  func othersKeepIt() {
    var request = LoadRequest(
      kernelPath: "/boot/vmlinuz", commandLine: .replace("crashkernel=256M console=ttyS0"),
      crash: true)
    #expect(request.resolvedCommandLine(running: Self.running) == "crashkernel=256M console=ttyS0")
    request = LoadRequest(kernelPath: "/boot/vmlinuz", commandLine: .reuse)
    #expect(
      request.resolvedCommandLine(running: Self.running)
        == "root=/dev/vda1 crashkernel=384M,high quiet")
  }

  @Test("A unified kernel image's own command line is used when none is given")
  func carried() {
    let request = LoadRequest(kernelPath: "/boot/uki.efi", commandLine: .empty, crash: true)
    #expect(
      request.resolvedCommandLine(running: Self.running, carried: "console=ttyS0")
        == "console=ttyS0")
  }
}
