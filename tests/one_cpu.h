// Pins the calling thread to the first CPU it may use for one scope, and restores its affinity
// set when the scope ends (a test of what `taskset -c N` gives a process).
#pragma once
#include <pthread.h>
#include <sched.h>

class OneCpuScope {
 public:
  OneCpuScope() {
    pthread_getaffinity_np(pthread_self(), sizeof before_, &before_);
    int first = 0;
    while (first < CPU_SETSIZE - 1 && !CPU_ISSET(first, &before_)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
  }
  ~OneCpuScope() { pthread_setaffinity_np(pthread_self(), sizeof before_, &before_); }
  OneCpuScope(const OneCpuScope&) = delete;
  OneCpuScope& operator=(const OneCpuScope&) = delete;
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t before_;
  bool pinned_ = false;
};
