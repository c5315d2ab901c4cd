#include "ground/signals.hpp"

#include <signal.h>

#include <atomic>

namespace twin {
namespace {

volatile sig_atomic_t g_stop = 0;  // written by the handler, read by the run
std::atomic<bool> g_installed{false};

// The first request is recorded for the run to act on between cycles; a second one ends the
// process at once, as if no handler were installed (a way out of a run that is stuck).
extern "C" void on_stop(int signal) {
  if (g_stop != 0) {
    ::signal(signal, SIG_DFL);
    ::raise(signal);
    return;
  }
  g_stop = signal;
}

}  // namespace

void install_stop_handlers() {
  if (g_installed.exchange(true)) return;
  struct sigaction action {};
  action.sa_handler = on_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress complete; the run looks between cycles
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);  // a file-size limit (ulimit -f) makes writes fail with EFBIG, reported like a full disk
}

int stop_signal() { return g_stop; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "a signal";
  }
}

}  // namespace twin
