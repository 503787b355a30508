// Rendering a Plot with gnuplot (lab/plot.h): NAME.dat holds one data block per series
// (selected with `index`), NAME.gp the script, run as `gnuplot NAME.gp` inside the figures
// folder so the script only names files beside it. The SVG terminal is self-contained (no
// mouse/JavaScript option), so the SVG can be inlined into report.html as is.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "lab/plot.h"

namespace nl::lab {
namespace fs = std::filesystem;

namespace {

// A gnuplot double-quoted string: backslashes and quotes escaped (labels are noenhanced).
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

void write_dat(const Plot& p, const fs::path& file) {
  std::ofstream out(file);
  if (!out) throw DataError("cannot write '" + file.string() + "'");
  out << "# " << p.title << ": one block per series (gnuplot 'index N'), in plot order\n";
  for (size_t i = 0; i < p.series.size(); ++i) {
    if (i) out << "\n\n";
    out << "# " << i << ": " << p.series[i].title << "\n";
    for (const auto& row : p.series[i].rows) {
      for (size_t c = 0; c < row.size(); ++c) out << (c ? " " : "") << number(row[c]);
      out << "\n";
    }
  }
}

std::string series_command(const Plot& p, size_t i) {
  const PlotSeries& s = p.series[i];
  const std::string src = quoted(p.name + ".dat") + " index " + std::to_string(i);
  const std::string title = s.title.empty() ? " notitle" : " title " + quoted(s.title);
  const std::string lc = s.color > 0 ? " lt " + std::to_string(s.color) : " lc rgb \"black\"";
  switch (s.style) {
    case PlotSeries::Style::yerrorlines:
      return src + " using 1:2:3:4 with yerrorlines" + lc + " lw 2 pt 7 ps 0.6" + title;
    case PlotSeries::Style::band:
      return src + " using 1:3:4 with filledcurves" + lc + " fs transparent solid 0.18 noborder notitle, " + src +
             " using 1:2 with lines" + lc + " lw 2" + title;
    case PlotSeries::Style::lines: return src + " using 1:2 with lines" + lc + " lw 2" + title;
    case PlotSeries::Style::points: return src + " using 1:2 with points" + lc + " pt 2 ps 1.2" + title;
    case PlotSeries::Style::boxes: return src + " using 1:2 with boxes" + lc + " fs solid 0.7 border -1" + title;
  }
  return "";
}

void write_gp(const Plot& p, const fs::path& file) {
  std::ofstream out(file);
  if (!out) throw DataError("cannot write '" + file.string() + "'");
  out << "# " << p.title << " (written by normlab report; run: gnuplot " << p.name << ".gp)\n";
  out << "set terminal svg size 760,460 font \"sans,11\" background rgb \"white\"\n";
  out << "set output " << quoted(p.name + ".svg") << "\n";
  out << "set encoding utf8\n";
  out << "set title " << quoted(p.title) << " noenhanced\n";
  out << "set xlabel " << quoted(p.xlabel) << " noenhanced\n";
  out << "set ylabel " << quoted(p.ylabel) << " noenhanced\n";
  out << "set key below noenhanced\n";
  out << "set grid\n";
  if (p.logx2) out << "set logscale x 2\nset offsets graph 0.05, graph 0.05, 0, 0\n";
  bool boxes = false;
  for (const PlotSeries& s : p.series) boxes |= s.style == PlotSeries::Style::boxes;
  if (boxes) out << "set boxwidth 0.4\nset yrange [0:*]\n";
  if (!p.xtics.empty()) {
    out << "set xtics (";
    for (size_t i = 0; i < p.xtics.size(); ++i)
      out << (i ? ", " : "") << quoted(p.xtics[i].second) << " " << number(p.xtics[i].first);
    size_t chars = 0;
    for (const auto& t : p.xtics) chars += t.second.size();
    out << ") noenhanced" << (chars > 70 ? " rotate by -25" : "") << "\n";
    out << "set xrange [" << number(p.xtics.front().first - 0.6) << ":" << number(p.xtics.back().first + 0.6) << "]\n";
  }
  out << "plot ";
  for (size_t i = 0; i < p.series.size(); ++i) out << (i ? ", \\\n     " : "") << series_command(p, i);
  out << "\n";
}

// Runs `program script` in `dir` with stderr to `err_file`; returns the exit status (127:
// could not be started).
int run_in(const std::string& program, const std::string& script, const fs::path& dir, const fs::path& err_file) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    const int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    execlp(program.c_str(), program.c_str(), script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string last_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t^") != std::string::npos) last = line;
  return last;
}

}  // namespace

bool program_available(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0 && !fs::is_directory(program);
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const fs::path p = fs::path(d.empty() ? "." : d) / program;
    if (access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return true;
  }
  return false;
}

std::vector<RenderedPlot> render_plots(const std::vector<Plot>& plots, const std::string& figures_dir,
                                       const std::string& gnuplot) {
  std::vector<RenderedPlot> out(plots.size());
  if (plots.empty()) return out;
  const fs::path dir = fs::absolute(figures_dir);
  fs::create_directories(dir);
  const bool available = program_available(gnuplot);
  const std::string why = gnuplot.empty() ? "gnuplot not set" : "gnuplot not found: " + gnuplot;
  for (size_t i = 0; i < plots.size(); ++i) {
    const Plot& p = plots[i];
    write_dat(p, dir / (p.name + ".dat"));
    write_gp(p, dir / (p.name + ".gp"));
    const fs::path svg = dir / (p.name + ".svg");
    fs::remove(svg);  // a stale SVG from an earlier report must not pass for this one
    if (!available) {
      out[i].error = why;
      continue;
    }
    const fs::path err = dir / (p.name + ".log");
    const int rc = run_in(gnuplot, p.name + ".gp", dir, err);
    if (rc == 0 && fs::exists(svg) && fs::file_size(svg) > 0) {
      out[i].ok = true;
      out[i].svg_path = svg.string();
      fs::remove(err);
    } else {
      out[i].error = rc == 127 ? why : "gnuplot failed (exit " + std::to_string(rc) + "): " + last_line(err);
    }
  }
  return out;
}

}  // namespace nl::lab
