// SIGINT (and SIGTERM under MPI) -> flag (see train/interrupt.h).
#include "train/interrupt.h"

#include <csignal>

#include "core/distributed.h"

namespace nl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
using Handler = void (*)(int);
Handler g_previous = SIG_DFL, g_previous_term = SIG_DFL;
bool g_term = false;  // SIGTERM handled too

extern "C" void on_sigint(int sig) {
  g_interrupted = 1;
  std::signal(sig, SIG_DFL);  // the next Ctrl-C ends the process at once
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  g_previous = std::signal(SIGINT, on_sigint);
  if (g_previous == SIG_ERR) g_previous = SIG_DFL;
  // Ctrl-C at mpirun's terminal reaches mpirun alone, which sends SIGTERM to every rank (and
  // SIGKILL odls_base_sigkill_timeout seconds later): a rank treats it as Ctrl-C.
  g_term = dist::active();
  if (g_term) {
    g_previous_term = std::signal(SIGTERM, on_sigint);
    if (g_previous_term == SIG_ERR) g_previous_term = SIG_DFL;
  }
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, g_previous);
  if (g_term) std::signal(SIGTERM, g_previous_term);
}

bool interrupt_requested() { return g_interrupted != 0; }
void request_interrupt() { g_interrupted = 1; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace nl
