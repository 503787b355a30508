// SIGINT -> flag (see train/interrupt.h).
#include "train/interrupt.h"

#include <csignal>

namespace nl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
using Handler = void (*)(int);
Handler g_previous = SIG_DFL;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // the next Ctrl-C ends the process at once
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  g_previous = std::signal(SIGINT, on_sigint);
  if (g_previous == SIG_ERR) g_previous = SIG_DFL;
}

InterruptGuard::~InterruptGuard() { std::signal(SIGINT, g_previous); }

bool interrupt_requested() { return g_interrupted != 0; }
void request_interrupt() { g_interrupted = 1; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace nl
