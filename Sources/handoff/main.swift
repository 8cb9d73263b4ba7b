import CHandoffShims
import HandoffCLI

handoff_exit(runHandoff(arguments: CommandLine.arguments))
