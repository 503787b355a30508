// Ctrl-C handling for training: while an InterruptGuard lives, SIGINT only sets a flag that
// the loop checks at the end of each step (it then saves a checkpoint and stops). A second
// Ctrl-C restores the default action, so a stuck run can still be killed. As one rank of an
// MPI job, SIGTERM does the same (mpirun turns Ctrl-C into SIGTERM to the ranks).
#pragma once

namespace nl {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handler and clears the flag
  ~InterruptGuard();  // restores the previous handler
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool interrupt_requested();
// Sets the flag as SIGINT would (for tests and embedding programs).
void request_interrupt();
void clear_interrupt();

}  // namespace nl
