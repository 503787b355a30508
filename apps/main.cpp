// normlab CLI entry point: parses the command line and hands each subcommand to its file.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/threading.h"

namespace {
// MPI_Finalize on every way out of main (a no-op without MPI; docs/distributed.md).
struct DistributedSession {
  DistributedSession(int* argc, char*** argv) { nl::dist::init(argc, argv); }
  ~DistributedSession() { nl::dist::finalize(); }
};

// The one-line error and its exit code. As one rank of several, the line names the rank and
// the whole job ends (the other ranks would otherwise wait forever at their next collective).
int fail(const char* kind, const std::string& what, int code) {
  // One write: under mpirun each write is forwarded on its own, and pieces of the line would
  // interleave with Open MPI's MPI_Abort banner.
  const std::string line = "normlab: " + nl::dist::rank_prefix() + kind + what + "\n";
  std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
  if (nl::dist::active()) {
    std::cerr.flush();
    nl::dist::abort_all(code);
  }
  return code;
}
}  // namespace

int main(int argc, char** argv) {
  const DistributedSession session(&argc, &argv);
  // Over a file size limit (ulimit -f) a write should fail with EFBIG and become a one-line
  // error naming the file, not kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"normlab — a small from-scratch training framework and the LayerNorm vs "
               "BatchNorm lab built on it.\nRun 'normlab <command> --help' for a command's options."};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads for OpenBLAS and normlab's own loops together (default: "
                 "$NORMLAB_THREADS or the CPUs this process may use / MPI ranks on this machine)")
      ->check(nl::cli::thread_count());
  app.parse_complete_callback([&] {
    if (threads > 0) nl::set_num_threads(threads);
  });

  nl::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A usage error: one line (the flag, the value, what it accepts) and exit 2, like a config
    // error; CLI11's default adds a second "Run with --help" line and its own exit codes.
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    // CLI11 says only "A subcommand is required" for a misspelt command: name it.
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--threads") ++i;  // skip its value
      if (arg == "--threads" || arg.rfind("-", 0) == 0) continue;
      std::string names;
      bool known = false;
      const CLI::App& all = app;
      for (const CLI::App* sub : all.get_subcommands(std::function<bool(const CLI::App*)>())) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
        known = known || sub->get_name() == arg;
      }
      if (!known) what = "unknown command '" + arg + "' (commands: " + names + ")";
      break;
    }
    std::cerr << "normlab: usage error: " << what << " (see normlab --help)\n";
    return 2;
  } catch (const nl::ConfigError& e) {
    return fail("config error: ", e.what(), 2);
  } catch (const nl::Error& e) {
    return fail("error: ", e.what(), 1);
  } catch (const std::exception& e) {  // e.g. a file system error: still one line, not an abort
    return fail("error: ", e.what(), 1);
  }
  return nl::cli::exit_code();
}
