#pragma once
// Stop requests from the operating system: SIGTERM and SIGINT ask a run to finish its current
// cycle, write its outputs and exit (docs/operations.md); SIGPIPE is ignored, so a closed
// output is a failed write that the writer reports, not a silent death of the process.

namespace twin {

/// Installs the handlers (once per process; later calls do nothing). The first SIGTERM/SIGINT is
/// only recorded, and the run polls stop_signal() between cycles (system calls in progress
/// resume: SA_RESTART); a second one ends the process at once with the default action.
void install_stop_handlers();

/// The signal that asked the run to stop (SIGTERM or SIGINT), or 0.
int stop_signal();

/// "SIGTERM", "SIGINT", or "a signal".
const char* signal_name(int signal);

}  // namespace twin
