// SwiftPM builds a C target from at least one source file; everything
// Handoff needs from libfdt is declared in include/CHandoffFDT.h.
#include "CHandoffFDT.h"
