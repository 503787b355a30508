// Runs the real `normlab` binary in a child process and captures its exit status and stderr,
// for tests of what a user sees: one-line errors, exit codes, no signals.
#pragma once
#include "test_paths.h"
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace nl::test {

struct CliResult {
  int exit_code = -1;   // the exit status, or -1 when the process died from a signal
  int signal = 0;       // the terminating signal, 0 when it exited
  std::string err;      // everything written to stderr
  // stderr as one line (the trailing newline removed); empty when it is not exactly one line.
  std::string one_line() const {
    if (err.empty() || err.back() != '\n') return {};
    const std::string s = err.substr(0, err.size() - 1);
    return s.find('\n') == std::string::npos ? s : std::string();
  }
};

// Runs `normlab args...` with stdout discarded; `in_child` runs in the child before exec
// (e.g. to set a resource limit).
inline CliResult run_normlab(const std::vector<std::string>& args,
                             const std::function<void()>& in_child = {}) {
  const std::string err_path = std::filesystem::temp_directory_path() /
                               ("normlab_cli_err_" + std::to_string(::getpid()));
  std::fflush(nullptr);  // the child must not print the parent's buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    if (in_child) in_child();
    std::vector<std::string> copy = args;
    std::string cli = NORMLAB_CLI_PATH;
    std::vector<char*> argv{cli.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int out = ::open("/dev/null", O_WRONLY);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_path);
  return r;
}

// Checks that a CLI run failed cleanly: no signal, exit code `code`, one line on stderr that
// contains every piece.
inline void expect_one_line_error(const CliResult& r, int code, const std::vector<std::string>& pieces) {
  INFO("stderr: " << r.err);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == code);
  const std::string line = r.one_line();
  REQUIRE_FALSE(line.empty());
  for (const std::string& p : pieces) {
    INFO("expected to contain: " << p);
    CHECK(line.find(p) != std::string::npos);
  }
}

}  // namespace nl::test
