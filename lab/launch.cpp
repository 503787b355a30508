// The command line of a sweep run, plain or under mpirun (lab/launch.h).
#include "lab/launch.h"

#include "core/error.h"
#include "lab/process.h"

namespace nl::lab {

Launcher::Launcher(const LaunchNeeds& n) : exe_(n.normlab_exe), threads_(n.threads) {
  if (n.max_ranks <= 1) return;
  const std::string what = "grid axis 'ranks'" + (n.ranks_where.empty() ? "" : " of " + n.ranks_where) +
                           " asks for " + std::to_string(n.max_ranks) + " ranks";
  if (!n.exe_has_mpi)
    throw ConfigError(what + ", but this normlab was built without MPI (install Open MPI with "
                      "scripts/install-deps.sh and rebuild with -DNORMLAB_MPI=ON)");
  const std::string name = n.mpirun.empty() ? "mpirun" : n.mpirun;
  mpirun_ = find_executable(name);
  if (mpirun_.empty())
    throw ConfigError(what + ", but " +
                      (n.mpirun.empty() ? std::string("no mpirun was found in PATH (give --mpirun PATH)")
                                        : "the mpirun '" + n.mpirun + "' given by --mpirun was not found or cannot be executed"));
  // Open MPI refuses to start as root unless both variables say so (these machines and CI).
  if (n.as_root && !n.root_vars_set) mpi_env_ = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"};
}

std::vector<std::string> Launcher::argv(int ranks, const std::vector<std::string>& train_args) const {
  std::vector<std::string> a;
  if (ranks > 1) {
    if (mpirun_.empty()) throw Error("sweep: a run with " + std::to_string(ranks) + " ranks but no mpirun was resolved");
    a = {mpirun_, "--oversubscribe", "--bind-to", "none", "-np", std::to_string(ranks)};
  }
  a.insert(a.end(), {exe_, "--threads", std::to_string(ranks > 1 ? 1 : threads_), "train"});
  a.insert(a.end(), train_args.begin(), train_args.end());
  return a;
}

const std::vector<std::string>& Launcher::env(int ranks) const {
  static const std::vector<std::string> none;
  return ranks > 1 ? mpi_env_ : none;
}

std::string Launcher::root_note() const {
  if (mpi_env_.empty()) return "";
  return "running as root: the mpirun runs get OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "(Open MPI refuses root otherwise)";
}

std::string shell_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& w : argv) {
    bool plain = !w.empty();
    for (char c : w) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string("_-./=+:,@%").find(c) != std::string::npos;
      if (!ok) plain = false;
    }
    std::string q = w;
    if (!plain) {
      q = "'";
      for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      q += "'";
    }
    out += (out.empty() ? "" : " ") + q;
  }
  return out;
}

}  // namespace nl::lab
