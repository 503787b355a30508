// Progress reporting of a training run: on a terminal, one status line rewritten in place with
// '\r' (step, loss, metric, steps/s, ETA); otherwise (pipes, CI logs) plain lines at each log
// interval. Evaluation results and messages are printed as whole lines in both modes.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace nl {

class Progress {
 public:
  // tty: rewrite the status line in place; quiet: print nothing but messages of errors.
  Progress(std::ostream& out, bool tty, bool quiet) : out_(out), tty_(tty), quiet_(quiet) {}
  ~Progress() { end_line(); }

  // The status after `step` of `total` (called every step; a TTY line is redrawn at most
  // ~10 times a second, plain lines only when `log_line` is set).
  void status(int64_t step, int64_t total, double loss, const std::string& metric_name,
              double metric, double steps_per_s, double elapsed_s, bool log_line);
  // A whole line (evaluations, notices); clears a pending status line first.
  void line(const std::string& text);

  // "1h02m", "3m05s", "12s".
  static std::string duration(double seconds);

 private:
  void end_line();
  std::ostream& out_;
  bool tty_, quiet_;
  bool status_shown_ = false;
  double last_draw_s_ = -1.0;
};

// Whether stdout is a terminal.
bool stdout_is_tty();

}  // namespace nl
