// The sweep runner (lab/sweep.h): plans every run of the experiments' grids against what the
// sweep folder already holds, runs the unfinished ones as `normlab train` child processes a
// few at a time, and keeps SWEEP/sweep.json in step with the run folders.
#include "lab/sweep.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "lab/launch.h"
#include "lab/process.h"
#include "lab/sweep_lock.h"
#include "train/progress.h"

namespace nl::lab {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kCheckpoint = "checkpoint.safetensors";

// ---- signals -------------------------------------------------------------------------------
// SIGINT and SIGTERM only count here; the loop reacts (first: stop and let runs checkpoint,
// second: kill them).
volatile std::sig_atomic_t g_stop_signals = 0;
extern "C" void on_stop_signal(int) { g_stop_signals = g_stop_signals + 1; }

class StopSignalGuard {
 public:
  StopSignalGuard() {
    g_stop_signals = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a sleep ends early and the loop reacts at once
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// ---- files ---------------------------------------------------------------------------------
json read_json_or_null(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

void write_json_atomic(const fs::path& p, const json& j) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) throw DataError("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, p);
}

std::string summary_status(const json& summary) {
  return summary.is_object() ? summary.value("status", "") : "";
}
bool is_final(const std::string& status) { return status == "completed" || status == "diverged"; }

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// ---- the plan ------------------------------------------------------------------------------
enum class Action { skip, resume, start, restart_changed };

struct Run {
  size_t exp = 0;
  RunSpec spec;
  std::string rel;      // NAME/RUN_ID
  fs::path dir, config_file;
  Action action = Action::start;
  bool cleared = false;  // this session cleared (or resumed) the folder: its files are current
  // What this session saw of the run's process (none when it did not run).
  std::optional<std::string> status;
  std::optional<int> exit_code;
  std::optional<double> wall_s;
  std::string error;
};

struct Plan {
  std::vector<ExperimentSpec> specs;  // profile applied
  std::vector<Run> runs;               // every run of every grid, in order
};

Plan make_plan(const std::vector<ExperimentSpec>& experiments, const SweepOptions& opt) {
  Plan plan;
  std::set<std::string> names;
  const fs::path root(opt.out_dir);
  for (const ExperimentSpec& e : experiments) {
    if (!names.insert(e.name).second)
      throw ConfigError("two experiments are named '" + e.name + "'; their runs would share the folder " +
                        (root / e.name).string());
    plan.specs.push_back(apply_profile(e, opt.profile));
  }
  for (size_t x = 0; x < plan.specs.size(); ++x) {
    const ExperimentSpec& s = plan.specs[x];
    for (RunSpec& rs : expand_grid(s)) {
      Run r;
      r.exp = x;
      r.rel = s.name + "/" + rs.id;
      r.dir = root / s.name / rs.id;
      r.config_file = root / s.name / (rs.id + ".json");
      r.spec = std::move(rs);
      // A run whose stored config differs was made by an earlier version of the spec: its
      // results do not belong to this grid, so it starts again.
      const json stored = read_json_or_null(r.config_file);
      const bool changed = !stored.is_null() && stored != r.spec.config;
      if (changed)
        r.action = Action::restart_changed;
      else if (is_final(summary_status(read_json_or_null(r.dir / "summary.json"))))
        r.action = Action::skip;
      else if (fs::exists(r.dir / kCheckpoint))
        r.action = Action::resume;
      else
        r.action = Action::start;
      plan.runs.push_back(std::move(r));
    }
  }
  return plan;
}

// ---- the index -----------------------------------------------------------------------------
json run_entry(const Run& r) {
  const json summary = read_json_or_null(r.dir / "summary.json");
  // An unrestarted run with a changed config keeps old files: they do not count.
  const bool current = r.action != Action::restart_changed || r.cleared;
  const std::string sstat = current ? summary_status(summary) : "";
  std::string status = "pending";
  if (is_final(sstat))
    status = sstat;
  else if (r.status)
    status = *r.status;
  else if (sstat == "interrupted")
    status = "interrupted";

  json e = json::object();
  e["id"] = r.spec.id;
  e["cell_id"] = r.spec.cell_id;
  e["cell"] = r.spec.cell;
  e["seed"] = r.spec.seed;
  e["dir"] = r.rel;
  e["status"] = status;
  e["exit_code"] = r.exit_code ? json(*r.exit_code) : json(nullptr);
  if (current && summary.is_object() && summary.contains("wall_s") && summary["wall_s"].is_number())
    e["wall_s"] = summary["wall_s"];
  else
    e["wall_s"] = r.wall_s ? json(*r.wall_s) : json(nullptr);
  std::string error = r.error;
  if (error.empty() && status == "diverged" && summary.is_object()) error = summary.value("message", "");
  e["error"] = error;
  return e;
}

json build_index(const Plan& plan, const SweepOptions& opt) {
  json idx = json::object();
  idx["format"] = 1;
  idx["profile"] = opt.profile;
  idx["updated"] = utc_now();
  json exps = json::array();
  for (size_t x = 0; x < plan.specs.size(); ++x) {
    const ExperimentSpec& s = plan.specs[x];
    json e = json::object();
    e["name"] = s.name;
    e["spec_file"] = s.spec_file;
    e["profile"] = opt.profile;
    e["spec"] = s.raw;
    json runs = json::array();
    for (const Run& r : plan.runs)
      if (r.exp == x) runs.push_back(run_entry(r));
    e["runs"] = std::move(runs);
    exps.push_back(std::move(e));
  }
  idx["experiments"] = std::move(exps);
  return idx;
}

// ---- output --------------------------------------------------------------------------------
class Display {
 public:
  Display(const SweepOptions& opt) : out_(*opt.out), tty_(opt.tty), quiet_(opt.quiet) {}
  ~Display() { clear(); }

  void line(const std::string& text) {  // a whole line (clears the status line first)
    if (quiet_) return;
    clear();
    out_ << text << "\n" << std::flush;
  }
  void status(const std::string& text, bool force) {  // the TTY line, redrawn <= 5 times a second
    if (quiet_ || !tty_) return;
    const double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    if (!force && now - last_draw_ < 0.2) return;
    last_draw_ = now;
    out_ << "\r\033[K" << text << std::flush;
    shown_ = true;
  }
  void clear() {
    if (shown_) out_ << "\r\033[K" << std::flush;
    shown_ = false;
  }
  bool tty() const { return tty_; }

 private:
  std::ostream& out_;
  bool tty_, quiet_;
  bool shown_ = false;
  double last_draw_ = -1;
};

std::string fmt_s(double s) {
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << s << "s";
  return os.str();
}

std::string strip_prefix(std::string s, const std::string& prefix) {
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  return s;
}

// ---- running -------------------------------------------------------------------------------
struct Running {
  Run* run;
  pid_t pid;
  Clock::time_point t0;
  int slots;  // of the --jobs slots: min(ranks, jobs)
};

int slots_of(const Run& r, const SweepOptions& opt) { return std::min(r.spec.ranks, opt.jobs); }

// What follows "train" on the run's command line.
std::vector<std::string> train_args(const Run& r) {
  if (r.action == Action::resume) return {"--resume", r.dir.string()};
  return {r.config_file.string(), "--out", r.dir.string()};
}

// Signals a run: a plain run directly; an mpirun run through its ranks (see lab/sweep.h), or
// mpirun itself while it has not started them yet. SIGKILL goes to mpirun as well.
void signal_run(const Running& p, int sig) {
  if (p.run->spec.ranks > 1) {
    const std::vector<pid_t> ranks = child_pids(p.pid);
    for (pid_t c : ranks) ::kill(c, sig);
    if (!ranks.empty() && sig != SIGKILL) return;
  }
  ::kill(p.pid, sig);
}

// Prepares the run folder and starts the process.
Running start_run(Run& r, const SweepOptions& opt, const Launcher& launcher) {
  const std::vector<std::string> argv = launcher.argv(r.spec.ranks, train_args(r));
  const fs::path log = r.dir / "log.txt";
  bool append = false;
  if (r.action == Action::resume) {
    append = true;
    std::ofstream(log, std::ios::app) << "---- normlab sweep: resuming from the checkpoint ----\n";
  } else {
    // A fresh start: anything left from an earlier attempt goes (the trainer refuses a folder
    // that holds a run), the config is written next to the folder.
    fs::remove_all(r.dir);
    fs::create_directories(r.dir);
    write_json_atomic(r.config_file, r.spec.config);
  }
  r.cleared = true;
  r.status.reset();
  r.exit_code.reset();
  r.wall_s.reset();
  r.error.clear();
  Running run{&r, spawn_logged(argv, log.string(), append, launcher.env(r.spec.ranks)), Clock::now(),
              slots_of(r, opt)};
  return run;
}

// Records how the process ended.
void finish_run(Run& r, const ProcessExit& ex, double wall, bool stopping) {
  const json summary = read_json_or_null(r.dir / "summary.json");
  const std::string sstat = summary_status(summary);
  r.exit_code = ex.signal ? std::optional<int>() : std::optional<int>(ex.exit_code);
  r.wall_s = wall;
  if (is_final(sstat)) {
    r.status = sstat;
    r.error = sstat == "diverged" ? summary.value("message", "") : "";
  } else if (ex.exit_code == 130 || ex.signal == SIGINT || (stopping && ex.signal != 0) ||
             (stopping && r.spec.ranks > 1 && ex.exit_code != 0)) {
    // (mpirun reports its own code, not the ranks', when it ends a job it was told to stop.)
    r.status = "interrupted";
  } else {
    r.status = "failed";
    std::string last = last_line_of((r.dir / "log.txt").string());
    if (ex.signal != 0 || last.empty()) last = ex.describe() + (last.empty() ? "" : "; last output: " + last);
    r.error = last;
  }
}

}  // namespace

SweepResult run_sweep(const std::vector<ExperimentSpec>& experiments, const SweepOptions& opt) {
  if (opt.out_dir.empty()) throw ConfigError("sweep: no output folder given");
  if (opt.jobs < 1) throw ConfigError("--jobs must be at least 1, got " + std::to_string(opt.jobs));
  if (experiments.empty()) throw ConfigError("sweep: no experiment given");
  if (!opt.dry_run && ::access(opt.normlab_exe.c_str(), X_OK) != 0)
    throw Error("sweep: cannot execute the normlab binary '" + opt.normlab_exe + "'");
  const auto t_start = Clock::now();
  Plan plan = make_plan(experiments, opt);  // validates everything before anything runs
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = opt.threads_per_job > 0 ? opt.threads_per_job : std::max(1, cores / opt.jobs);
  LaunchNeeds needs;
  needs.normlab_exe = opt.normlab_exe;
  needs.mpirun = opt.mpirun;
  needs.exe_has_mpi = opt.exe_has_mpi;
  needs.threads = threads;
  needs.as_root = ::geteuid() == 0;
  needs.root_vars_set = std::getenv("OMPI_ALLOW_RUN_AS_ROOT") && std::getenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM");
  for (const Run& r : plan.runs)
    if (r.spec.ranks > needs.max_ranks) {
      needs.max_ranks = r.spec.ranks;
      needs.ranks_where = "experiment '" + plan.specs[r.exp].name + "'";
    }
  const Launcher launcher(needs);  // a run needs MPI and none is there: ConfigError now
  // One sweep per folder at a time (taken only once the sweep is known to be runnable: a
  // refused sweep leaves no folder behind); the runs of a killed one finish stopping first,
  // and what they left is planned again (lab/sweep_lock.h).
  std::optional<SweepLock> lock;
  if (!opt.dry_run) {
    lock.emplace(opt.out_dir, 60.0, [&](const std::string& m) {
      if (!opt.quiet) *opt.out << m << "\n" << std::flush;
    });
    if (lock->waited()) plan = make_plan(experiments, opt);
  }
  const std::string threads_text =
      std::to_string(threads) + " thread(s) each" +
      (needs.max_ranks > 1 ? " (runs with N > 1 ranks: N of the slots, at most all, 1 thread per rank)" : "");

  SweepResult res;
  res.total = static_cast<int>(plan.runs.size());
  std::vector<Run*> todo;
  int changed = 0;
  for (Run& r : plan.runs) {
    if (r.action == Action::skip)
      ++res.skipped;
    else
      todo.push_back(&r);
    if (r.action == Action::restart_changed) ++changed;
  }
  Display disp(opt);
  std::string names;
  for (const ExperimentSpec& s : plan.specs) names += (names.empty() ? "" : ", ") + s.name;

  if (opt.dry_run) {
    std::ostream& out = *opt.out;
    out << "sweep " << opt.out_dir << ": " << res.total << " runs (" << names << "), " << res.skipped
        << " finished, " << todo.size() << " to run; " << opt.jobs << " at a time, " << threads_text << "\n";
    if (!launcher.root_note().empty()) out << launcher.root_note() << "\n";
    for (const Run& r : plan.runs) {
      const char* what = r.action == Action::skip              ? "finished, skipped"
                         : r.action == Action::resume          ? "resume from its checkpoint"
                         : r.action == Action::restart_changed ? "start again (its config changed)"
                                                               : "start";
      out << "  " << r.rel << "  " << what << "\n";
      if (r.spec.ranks > 1 && r.action != Action::skip) {
        std::vector<std::string> line = launcher.env(r.spec.ranks);  // NAME=value words first
        for (const std::string& w : launcher.argv(r.spec.ranks, train_args(r))) line.push_back(w);
        out << "      $ " << shell_command(line) << "\n";
      }
    }
    res.wall_s = std::chrono::duration<double>(Clock::now() - t_start).count();
    return res;
  }

  const fs::path root(opt.out_dir);
  fs::create_directories(root);
  for (const ExperimentSpec& s : plan.specs) {
    fs::create_directories(root / s.name);
    write_json_atomic(root / s.name / "experiment.json", spec_to_json(s));
  }
  const fs::path index_file = root / "sweep.json";
  write_json_atomic(index_file, build_index(plan, opt));

  disp.line("sweep " + opt.out_dir + ": " + std::to_string(res.total) + " runs (" + names + "), " +
            std::to_string(opt.jobs) + " at a time, " + threads_text);
  if (!launcher.root_note().empty()) disp.line(launcher.root_note());
  if (res.skipped > 0) disp.line("skipped " + std::to_string(res.skipped) + " finished runs");
  if (changed > 0)
    disp.line(std::to_string(changed) + " runs start again: their config changed since they ran");

  StopSignalGuard guard;
  std::vector<Running> running;
  size_t next = 0;
  int done = res.skipped, session_done = 0;
  double session_wall = 0;
  bool stopping = false, killed = false;
  std::optional<std::string> config_error;

  auto status_text = [&] {
    std::string s = "sweep: " + std::to_string(done) + "/" + std::to_string(res.total) + " runs done, " +
                    std::to_string(running.size()) + " running, " + std::to_string(res.failed) + " failed";
    if (stopping) return s + ", stopping (Ctrl-C again: kill)";
    const size_t remaining = todo.size() - static_cast<size_t>(session_done);
    if (session_done > 0 && remaining > 0)
      s += ", ETA " + Progress::duration(session_wall / session_done * static_cast<double>(remaining) /
                                         std::min<double>(opt.jobs, static_cast<double>(remaining)));
    return s;
  };

  // In grid order; a run that does not fit in the free slots waits (no overtaking: a many-rank
  // run is never starved by smaller ones).
  auto start_more = [&] {
    for (;;) {
      if (stopping || next >= todo.size()) return;
      int busy = 0;
      for (const Running& p : running) busy += p.slots;
      if (busy + slots_of(*todo[next], opt) > opt.jobs) return;
      running.push_back(start_run(*todo[next++], opt, launcher));
    }
  };

  for (;;) {
    if (g_stop_signals > 0 && !stopping) {
      stopping = true;
      for (const Running& p : running) signal_run(p, SIGINT);
      disp.line("stopping: " + std::to_string(running.size()) +
                " running run(s) save a checkpoint and stop (Ctrl-C again to kill them)");
    }
    if (g_stop_signals > 1 && !killed) {
      killed = true;
      for (const Running& p : running) signal_run(p, SIGKILL);
    }
    start_more();
    if (running.empty()) break;

    bool ended = false;
    for (size_t i = 0; i < running.size();) {
      const std::optional<ProcessExit> ex = poll_exit(running[i].pid);
      if (!ex) {
        ++i;
        continue;
      }
      Run& r = *running[i].run;
      const double wall = std::chrono::duration<double>(Clock::now() - running[i].t0).count();
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      finish_run(r, *ex, wall, stopping);
      ended = true;
      const std::string& st = *r.status;
      if (st == "completed") ++res.completed;
      if (st == "diverged") ++res.diverged;
      if (st == "failed") ++res.failed;
      if (st == "interrupted") ++res.interrupted;
      if (st != "interrupted") {
        ++done;
        ++session_done;
        session_wall += wall;
      }
      if (st == "failed" && ex->exit_code == 2 && !config_error) {
        // A config error: every other run would fail alike.
        config_error = "run " + r.rel + ": " + strip_prefix(r.error, "normlab: config error: ");
        if (!stopping) {
          stopping = true;
          for (const Running& p : running) signal_run(p, SIGINT);
        }
      }
      const std::string counter = "[" + std::to_string(done) + "/" + std::to_string(res.total) + "] ";
      if (st == "failed")
        disp.line(counter + r.rel + ": failed (" + r.error + "); log: " + (r.dir / "log.txt").string());
      else if (!disp.tty())
        disp.line(counter + r.rel + ": " + st + " (" + fmt_s(wall) + ")" +
                  (st == "diverged" && !r.error.empty() ? ": " + r.error : ""));
      write_json_atomic(index_file, build_index(plan, opt));
    }
    if (ended) start_more();  // before the redraw, so the line shows the runs that replace them
    disp.status(status_text(), ended);
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  disp.clear();
  write_json_atomic(index_file, build_index(plan, opt));
  if (config_error) throw ConfigError(*config_error);
  // Stopped means something is left to do (a Ctrl-C during the last runs' final evaluation
  // may find them finishing anyway).
  res.stopped = stopping && res.skipped + res.completed + res.diverged < res.total;
  res.wall_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  return res;
}

json read_sweep_index(const std::string& sweep_dir) {
  const fs::path p = fs::path(sweep_dir) / "sweep.json";
  std::ifstream in(p);
  if (!in) throw DataError("no sweep index at '" + p.string() + "' (is '" + sweep_dir + "' a sweep folder?)");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("experiments") || !j["experiments"].is_array())
    throw DataError("'" + p.string() + "' is not a sweep index (malformed JSON or no \"experiments\" list)");
  return j;
}

}  // namespace nl::lab
