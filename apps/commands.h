// The CLI's subcommands. Each lives in its own apps/cmd_*.cpp and registers itself here; the
// commands are thin: parse options, call the library, print.
#pragma once
#include <CLI/CLI.hpp>

namespace nl::cli {

void register_version(CLI::App& app);
void register_bench(CLI::App& app);
void register_train(CLI::App& app);
void register_config(CLI::App& app);
void register_sweep(CLI::App& app);    // apps/cmd_sweep.cpp: the lab's sweep runner
void register_report(CLI::App& app);   // apps/cmd_report.cpp: report.md / report.html
void register_explain(CLI::App& app);  // apps/cmd_explain.cpp: LN vs BN worked example
// `normlab bench` families (apps/bench_*.cpp), registered by register_bench.
void register_bench_matmul(CLI::App& bench);
void register_bench_norms(CLI::App& bench);
void register_bench_models(CLI::App& bench);

inline void register_commands(CLI::App& app) {
  register_version(app);
  register_bench(app);
  register_train(app);
  register_config(app);
  register_sweep(app);
  register_report(app);
  register_explain(app);
}

// Validates a --threads value: a whole number from 1 to kMaxThreads. A bad value becomes one
// line naming the flag, the value given and what is accepted (CLI11's own PositiveNumber
// check printed a 300-digit range and "not in range" for a word).
constexpr int kMaxThreads = 1024;
inline CLI::Validator thread_count() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const bool digits = !value.empty() && value.size() <= 4 &&
                            value.find_first_not_of("0123456789") == std::string::npos;
        const int n = digits ? std::stoi(value) : 0;
        if (n >= 1 && n <= kMaxThreads) return "";
        return "got '" + value + "', expected a whole number of threads from 1 to " +
               std::to_string(kMaxThreads);
      },
      "N");
}

// The exit code a command asked for (0 unless it set one).
int& exit_code_ref();
inline int exit_code() { return exit_code_ref(); }

}  // namespace nl::cli
