// The sweep folder's lock (lab/sweep_lock.h): flock on SWEEP/.lock, the holder's pid written
// in the file so that a second sweep can tell a live sweep from the runs of a killed one.
#include "lab/sweep_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/error.h"

namespace nl::lab {
namespace {

// The pid written in the lock file by the sweep that took it (0 when unreadable).
pid_t holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? static_cast<pid_t>(std::strtol(buf, nullptr, 10)) : 0;
}

}  // namespace

SweepLock::SweepLock(const std::string& dir, double wait_s, const std::function<void(const std::string&)>& note) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / ".lock").string();
  // Not O_CLOEXEC: the training processes inherit the descriptor and with it the lock.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw Error("cannot open the sweep lock '" + path + "': " + std::strerror(errno));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int err = errno;
      ::close(fd_);
      throw Error("cannot lock '" + path + "': " + std::strerror(err));
    }
    const pid_t other = holder_pid(fd_);
    if (other > 0 && other != ::getpid() && ::kill(other, 0) == 0) {
      ::close(fd_);
      throw Error("another normlab sweep (pid " + std::to_string(other) + ") is running in '" + dir + "'");
    }
    if (!waited_ && note) note("waiting for the runs of an earlier sweep in " + dir + " to save a checkpoint and stop");
    waited_ = true;
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd_);
      throw Error("the runs of an earlier sweep still hold '" + path + "' after " +
                  std::to_string(static_cast<int>(std::ceil(wait_s))) + " s: wait for them to end or stop them");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The pid only improves the message a second sweep gives; the lock itself holds.
  }
}

SweepLock::~SweepLock() {
  if (fd_ >= 0) ::close(fd_);  // the lock stays while a training process still holds a copy
}

}  // namespace nl::lab
