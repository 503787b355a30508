// Progress line / log lines (see train/progress.h).
#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

namespace nl {

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

std::string Progress::duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::status(int64_t step, int64_t total, double loss, const std::string& metric_name,
                      double metric, double steps_per_s, double elapsed_s, bool log_line) {
  if (quiet_) return;
  if (tty_ && !(log_line || step == total || elapsed_s - last_draw_s_ >= 0.1)) return;
  if (!tty_ && !log_line) return;
  last_draw_s_ = elapsed_s;
  const double eta = steps_per_s > 0 ? static_cast<double>(total - step) / steps_per_s : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %lld/%lld  loss %.4f  %s %.4f  %.1f steps/s  ETA %s",
                static_cast<long long>(step), static_cast<long long>(total), loss,
                metric_name.c_str(), metric, steps_per_s, duration(eta).c_str());
  if (tty_) {
    out_ << "\r\033[K" << buf << std::flush;  // \033[K clears the rest of the old line
    status_shown_ = true;
  } else {
    out_ << buf << "\n" << std::flush;
  }
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  end_line();
  out_ << text << "\n" << std::flush;
}

void Progress::end_line() {
  if (status_shown_) out_ << "\n" << std::flush;
  status_shown_ = false;
}

}  // namespace nl
