#pragma once
// Stop requests from the operating system: SIGTERM and SIGINT ask a run to finish its current
// cycle, write its outputs and exit (docs/operations.md); SIGPIPE is ignored, so a closed
// output is a failed write that the writer reports, not a silent death of the process.

namespace twin {

/// Installs the handlers (once per process; later calls do nothing). The handlers only record
/// the signal; the run polls stop_signal() between cycles. Blocking reads are interrupted
/// (no SA_RESTART), so a run waiting for input sees the request too.
void install_stop_handlers();

/// The signal that asked the run to stop (SIGTERM or SIGINT), or 0.
int stop_signal();

/// "SIGTERM", "SIGINT", or "a signal".
const char* signal_name(int signal);

}  // namespace twin
