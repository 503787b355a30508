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

// The exit code a command asked for (0 unless it set one).
int& exit_code_ref();
inline int exit_code() { return exit_code_ref(); }

}  // namespace nl::cli
