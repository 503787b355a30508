// How the sweep starts one run (lab/sweep.h): `normlab --threads T train ARGS` as a plain
// process, or, for a run of a "ranks" axis value N > 1,
//   MPIRUN --oversubscribe --bind-to none -np N normlab --threads 1 train ARGS
// (the same ARGS; one thread per rank, since N ranks on a small machine already share its
// cores). Checked once at sweep start: a run with N > 1 needs an mpirun and a normlab built
// with MPI, else ConfigError naming the "ranks" axis and what is missing.
#pragma once
#include <string>
#include <vector>

namespace nl::lab {

struct LaunchNeeds {
  std::string normlab_exe;      // the binary every run executes
  std::string mpirun;           // --mpirun: a path, or a name looked up in PATH; "" = "mpirun"
  bool exe_has_mpi = false;     // normlab_exe was built with MPI
  int max_ranks = 1;            // the largest "ranks" value of any run of the sweep
  std::string ranks_where;      // for messages: e.g. "experiment 'e6_data_parallel'"
  int threads = 1;              // threads of a single-process run
  bool as_root = false;         // the sweep runs as root (euid 0)
  bool root_vars_set = false;   // OMPI_ALLOW_RUN_AS_ROOT and ..._CONFIRM are both set already
};

class Launcher {
 public:
  // Validates (see the file comment) and resolves mpirun to a full path when any run needs it.
  explicit Launcher(const LaunchNeeds& needs);

  // The whole command line of a run with `ranks` processes; train_args follow "train".
  std::vector<std::string> argv(int ranks, const std::vector<std::string>& train_args) const;
  // Variables added to the environment of a run with `ranks` processes (the Open MPI run-as-root
  // permission for mpirun runs when the sweep is root and they are unset; else none).
  const std::vector<std::string>& env(int ranks) const;

  const std::string& mpirun() const { return mpirun_; }  // "" when no run needs it
  // One line for the sweep's output when the run-as-root variables are set for its mpirun runs,
  // else "".
  std::string root_note() const;

 private:
  std::string exe_, mpirun_;
  int threads_ = 1;
  std::vector<std::string> mpi_env_;
};

// argv as one line a shell would run as the same command (words with special characters
// single-quoted), for --dry-run.
std::string shell_command(const std::vector<std::string>& argv);

}  // namespace nl::lab
