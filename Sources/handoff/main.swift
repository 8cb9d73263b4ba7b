// The process entry: passes the arguments to the CLI and exits with the
// status it returns. Embedded Swift has no `CommandLine`, so the static build
// (scripts/build-static.sh) exports the C `main` and reads argv itself.
import CHandoffShims
import HandoffCLI

#if hasFeature(Embedded)
  @_cdecl("main")
  func handoffMain(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  ) -> Int32 {
    let arguments = (0..<Int(argc)).map { String(cString: argv[$0]!) }
    return runHandoff(arguments: arguments)
  }
#else
  handoff_exit(runHandoff(arguments: CommandLine.arguments))
#endif
