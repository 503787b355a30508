// Child processes with fork/exec (lab/process.h). Between fork and exec the child only makes
// async-signal-safe calls: the parent may have other threads (OpenBLAS, normlab's pool).
#include "lab/process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

extern char** environ;

namespace nl::lab {

std::string ProcessExit::describe() const {
  if (signal != 0) {
    const char* name = strsignal(signal);
    return "killed by signal " + std::to_string(signal) + (name ? " (" + std::string(name) + ")" : "");
  }
  return "exit code " + std::to_string(exit_code);
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path, bool append,
                   const std::vector<std::string>& extra_env) {
  if (argv.empty()) throw Error("spawn_logged: empty argv");
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& x : extra_env) replaced |= x.substr(0, x.find('=')) == name;
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> cenv;
  for (std::string& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  const int log_fd = ::open(log_path.c_str(), flags, 0644);
  if (log_fd < 0) throw Error("cannot open log file '" + log_path + "': " + std::strerror(errno));
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(log_fd);
    throw Error("cannot start '" + argv[0] + "': " + std::strerror(err));
  }
  if (pid == 0) {
    ::setpgid(0, 0);                      // Ctrl-C at the terminal goes to the sweep only
    ::prctl(PR_SET_PDEATHSIG, SIGINT);    // the sweep died: checkpoint and stop
    if (::getppid() != parent) ::_exit(130);  // it died before prctl took effect
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(cargv[0], cargv.data(), cenv.data());
    static const char msg[] = "normlab sweep: cannot execute the program\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with a signal sent right away
  ::close(log_fd);
  return pid;
}

namespace {
ProcessExit decode(int status) {
  ProcessExit e;
  if (WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
  return e;
}
}  // namespace

std::optional<ProcessExit> poll_exit(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return std::nullopt;
  if (r < 0) return ProcessExit{};  // not our child any more (should not happen): treat as ended
  return decode(status);
}

ProcessExit wait_exit(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ProcessExit{};
  return decode(status);
}

std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;  // the process ended meanwhile
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so parse after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = -1;
    if (rest >> state >> ppid && ppid == pid) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string find_executable(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(full.c_str(), X_OK) == 0 && !std::filesystem::is_directory(full)) return full;
  }
  return "";
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 8192 ? size - 8192 : 0;  // the tail is enough
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Progress lines rewritten with '\r' count as line ends too.
  std::string last, cur;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (cur.find_first_not_of(" \t") != std::string::npos) last = cur;
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (cur.find_first_not_of(" \t") != std::string::npos) last = cur;
  if (last.size() > 300) last = last.substr(0, 297) + "...";
  return last;
}

}  // namespace nl::lab
