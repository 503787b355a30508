// The sweep folder's lock: SWEEP/.lock held with flock(LOCK_EX) by a running sweep and inherited
// by every training process it starts (the descriptor is not close-on-exec), so the lock is
// released only when the sweep and all its runs have ended. A sweep killed with SIGKILL leaves
// runs that save a checkpoint and stop (they get SIGINT: lab/process.cpp); a rerun started in
// the meantime waits for them instead of starting the same runs beside them in the same
// folders. A second sweep that is still alive in the folder is an error.
#pragma once
#include <functional>
#include <string>

namespace nl::lab {

class SweepLock {
 public:
  // Takes DIR/.lock (creating DIR). While the processes of an ended sweep hold it, calls
  // `note` once and waits up to `wait_s` seconds. Throws nl::Error naming the folder when
  // another live sweep holds it, or when the wait ends.
  SweepLock(const std::string& dir, double wait_s, const std::function<void(const std::string&)>& note);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

  bool waited() const { return waited_; }  // the folder was busy: what is on disk has changed

 private:
  int fd_ = -1;
  bool waited_ = false;
};

}  // namespace nl::lab
