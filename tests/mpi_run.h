// Runs a command as N ranks under `mpirun --oversubscribe -np N`, with a hard timeout so a
// hang fails the test instead of blocking the suite. These machines and CI run as root, which
// Open MPI refuses unless told otherwise: the variables are set for the child processes only.
// Multi-rank tests call mpi_available() first and SKIP (with a message) in builds without MPI.
// Sanitizer builds: Open MPI's dlopen'ed components leak at MPI_Finalize and are unloaded by
// then (their frames cannot be symbolised, so no suppression file matches them): LeakSanitizer
// is off inside mpirun'd ranks; ASan/UBSan errors still fail them, and the single-process
// suite keeps leak detection on.
#pragma once
#include "test_paths.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/distributed.h"

namespace nl::test {

struct MpiResult {
  int exit_code = -1;      // mpirun's exit status (-1 when it died from a signal)
  bool timed_out = false;  // killed by the timeout (exit status 124 or 137 from timeout(1))
  std::string out, err;    // everything the ranks and mpirun wrote
};

inline bool mpi_available() {
  return nl::dist::built_with_mpi() && std::system("command -v mpirun >/dev/null 2>&1") == 0;
}

// Single-quotes one shell word.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `mpirun --oversubscribe -np np CMD...` (CMD[0] is an executable path), killed after
// timeout_s seconds. extra_env: "NAME=value" entries for every rank.
inline MpiResult run_mpi(int np, const std::vector<std::string>& cmd, int timeout_s = 120,
                         const std::vector<std::string>& extra_env = {}) {
  const std::string base = std::filesystem::temp_directory_path() /
                           ("normlab_mpi_" + std::to_string(::getpid()) + "_" + std::to_string(rand()));
  std::string line = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                     "OMPI_MCA_btl_vader_single_copy_mechanism=none ASAN_OPTIONS=detect_leaks=0 ";
  for (const std::string& e : extra_env) line += shell_quote(e) + " ";
  line += "timeout -k 5 " + std::to_string(timeout_s) + " mpirun --oversubscribe --bind-to none -np " +
          std::to_string(np);
  for (const std::string& c : cmd) line += " " + shell_quote(c);
  line += " >" + base + ".out 2>" + base + ".err";
  std::fflush(nullptr);
  const int status = std::system(line.c_str());
  MpiResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.timed_out = r.exit_code == 124 || r.exit_code == 137;
  for (auto [path, dst] : {std::pair{base + ".out", &r.out}, std::pair{base + ".err", &r.err}}) {
    std::ifstream in(path);
    dst->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::filesystem::remove(path);
  }
  return r;
}

// Runs this test binary's hidden worker test(s) with `tag` (e.g. "[.mpi_worker_syncbn]") as np
// ranks; "-w NoTests" makes a tag that matches nothing fail instead of passing vacuously.
inline MpiResult run_worker_tests(int np, const std::string& tag, int timeout_s = 120) {
  return run_mpi(np, {test_binary_path(), tag, "-w", "NoTests"}, timeout_s);
}

// Runs the worker test(s) `tag` as each rank count of `nps` and checks that every run passed
// in time (the ranks' output goes into the failure message).
inline void check_worker_tests_pass(const std::string& tag, std::initializer_list<int> nps, int timeout_s = 120) {
  for (int np : nps) {
    const MpiResult r = run_worker_tests(np, tag, timeout_s);
    INFO(tag << " as " << np << " ranks\n" << r.out << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
  }
}

}  // namespace nl::test

// First line of a multi-rank test: in builds without MPI (or without mpirun) it says so and
// returns.
#define SKIP_WITHOUT_MPI()                                              \
  if (!nl::test::mpi_available()) {                                     \
    WARN("built without MPI (or no mpirun): multi-rank test skipped"); \
    return;                                                             \
  }

namespace nl::test {

}  // namespace nl::test
