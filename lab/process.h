// Child processes for the sweep runner: start a program (no shell) with stdout and stderr
// going to a log file, poll it for its end without blocking, and signal it. Each child gets
// its own process group, so a Ctrl-C at the terminal reaches only the sweep (which forwards
// exactly one SIGINT: a second one would kill a training run before its checkpoint is saved),
// and it receives SIGINT when the sweep dies (even by SIGKILL), so it checkpoints and stops
// instead of running on unsupervised.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace nl::lab {

struct ProcessExit {
  int exit_code = -1;  // the exit status when the child exited, else -1
  int signal = 0;      // the signal that ended it, else 0
  std::string describe() const;  // "exit code 1", "killed by signal 11 (Segmentation fault)"
};

// Starts argv[0] (a path, not looked up in PATH) with argv; stdout and stderr are appended to
// (append) or replace the file at `log_path`. The child's environment is this process's with
// `extra_env` ("NAME=value" entries) added or replacing same-named variables. Throws nl::Error
// when the log cannot be opened or the process cannot be created; a program that cannot be
// executed exits with 127.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path, bool append,
                   const std::vector<std::string>& extra_env = {});

// The processes whose parent is `pid` (from /proc; empty when there are none or /proc cannot be
// read). The sweep signals the ranks an mpirun started directly: mpirun answers a SIGINT by
// SIGTERM-ing and then killing its ranks, while ranks that get SIGINT themselves checkpoint.
std::vector<pid_t> child_pids(pid_t pid);

// The full path of an executable: `name` itself when it holds a '/', else the first match in
// PATH; "" when there is none (or it is not executable).
std::string find_executable(const std::string& name);

// Whether the child ended (reaps it); nullopt while it still runs.
std::optional<ProcessExit> poll_exit(pid_t pid);

// Blocks until the child ends (reaps it).
ProcessExit wait_exit(pid_t pid);

// The last non-empty line of a text file ("" when there is none), at most ~300 characters.
std::string last_line_of(const std::string& path);

}  // namespace nl::lab
