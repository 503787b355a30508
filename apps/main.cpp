// normlab CLI entry point: parses the command line and hands each subcommand to its file.
#include <CLI/CLI.hpp>

#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "core/threading.h"

int main(int argc, char** argv) {
  CLI::App app{"normlab — a small from-scratch training framework and the LayerNorm vs "
               "BatchNorm lab built on it.\nRun 'normlab <command> --help' for a command's options."};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads for OpenBLAS and normlab's own loops together (default: "
                 "$NORMLAB_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  app.parse_complete_callback([&] {
    if (threads > 0) nl::set_num_threads(threads);
  });

  nl::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const nl::ConfigError& e) {
    std::cerr << "normlab: config error: " << e.what() << "\n";
    return 2;
  } catch (const nl::Error& e) {
    std::cerr << "normlab: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // e.g. a file system error: still one line, not an abort
    std::cerr << "normlab: error: " << e.what() << "\n";
    return 1;
  }
  return nl::cli::exit_code();
}
