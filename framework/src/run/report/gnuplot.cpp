#include "run/report/gnuplot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"

extern char** environ;

namespace narrow::report {
namespace fs = std::filesystem;

namespace {

constexpr const char* kInstall =
    "gnuplot is not installed: install Debian's gnuplot-nox (scripts/setup.sh installs it)";

// The last line of `text` that is not blank: gnuplot ends an error with its reason.
std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r^") != std::string::npos) last = line;
  return last;
}

std::string script(const Plot& plot) {
  std::string s;
  const auto line = [&](const std::string& l) { s += l + "\n"; };
  line("set encoding utf8");
  line(fmt::format("set terminal svg size {},{} font 'DejaVu Sans,13' background rgb 'white' "
                   "enhanced",
                   plot.width, plot.height));
  line(fmt::format("set output {}", gnuplot_quote(plot.name + ".svg")));
  line(fmt::format("set title {} noenhanced", gnuplot_quote(plot.title)));
  line(fmt::format("set xlabel {} noenhanced", gnuplot_quote(plot.xlabel)));
  line(fmt::format("set ylabel {} noenhanced", gnuplot_quote(plot.ylabel)));
  if (plot.logx) line("set logscale x 10\nset format x '10^{%L}'\nset mxtics 10");
  if (plot.logy) line("set logscale y 10\nset format y '10^{%L}'\nset mytics 10");
  line("set grid xtics ytics mxtics lc rgb '#dddddd' lw 1, lc rgb '#eeeeee' lw 1");
  line("set key noenhanced");
  for (const auto& extra : plot.settings) line(extra);
  std::vector<std::string> parts;
  int index = 0;
  for (const auto& series : plot.series) {
    if (series.rows.empty()) continue;
    parts.push_back(fmt::format("{} index {} using {} with {} {}", gnuplot_quote(plot.name + ".dat"),
                                index++, series.using_columns, series.style,
                                series.title.empty() ? std::string("notitle")
                                                     : "title " + gnuplot_quote(series.title)));
  }
  std::string command = "plot ";
  for (std::size_t i = 0; i < parts.size(); ++i) command += (i ? ", \\\n     " : "") + parts[i];
  line(command);
  line(fmt::format("set terminal pngcairo size {},{} font 'DejaVu Sans,10' background rgb "
                   "'white' enhanced",
                   plot.width, plot.height));
  line(fmt::format("set output {}", gnuplot_quote(plot.name + ".png")));
  line("replot");
  line("unset output");
  return s;
}

std::string data(const Plot& plot) {
  std::string s;
  for (const auto& series : plot.series) {
    if (series.rows.empty()) continue;
    s += "# " + series.title + "\n";
    for (std::size_t r = 0; r < series.rows.size(); ++r) {
      const auto& row = series.rows[r];
      for (std::size_t c = 0; c < row.size(); ++c) s += fmt::format("{}{:.10g}", c ? " " : "", row[c]);
      if (r < series.labels.size()) {
        std::string label = series.labels[r];
        for (char& ch : label)
          if (ch == '"' || ch == '\n') ch = '\'';
        s += " \"" + label + "\"";
      }
      s += "\n";
    }
    s += "\n\n";
  }
  return s;
}

// Runs `gnuplot SCRIPT` in `dir`; returns its exit status and what it wrote on stderr.
int run_gnuplot(const fs::path& dir, const std::string& script_name, std::string& err) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) throw Error(fmt::format("cannot run gnuplot: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  std::string program = "gnuplot";
  std::vector<char*> argv{program.data(), const_cast<char*>(script_name.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (spawned != 0) {
    ::close(pipefd[0]);
    if (spawned == ENOENT) throw Error(kInstall);
    throw Error(fmt::format("cannot run gnuplot: {}", std::strerror(spawned)));
  }
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    err.append(buffer, std::size_t(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::size_t Plot::points() const {
  std::size_t n = 0;
  for (const auto& s : series) n += s.rows.size();
  return n;
}

std::string gnuplot_quote(const std::string& text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\'') q += "''";
    else if (c == '\n') q += ' ';
    else q += c;
  }
  return q + "'";
}

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (d.empty()) continue;
    if (::access((fs::path(d) / "gnuplot").c_str(), X_OK) == 0) return true;
  }
  return false;
}

void require_gnuplot() {
  if (!gnuplot_available()) throw Error(kInstall);
}

void draw_plot(const Plot& plot, const fs::path& dir) {
  require_gnuplot();
  if (plot.points() == 0) throw Error(fmt::format("plot '{}' has no data", plot.name));
  write_output_file((dir / (plot.name + ".dat")).string(), data(plot), "plot data file");
  write_output_file((dir / (plot.name + ".gp")).string(), script(plot), "gnuplot script");
  for (const char* ext : {".svg", ".png"}) {
    std::error_code ec;
    fs::remove(dir / (plot.name + ext), ec);  // a failed run must not leave an older plot
  }
  std::string err;
  const int status = run_gnuplot(dir, plot.name + ".gp", err);
  if (status != 0)
    throw Error(fmt::format("gnuplot failed on plot '{}' (exit status {}): {}", plot.name, status,
                            err.empty() ? std::string("no message") : last_line(err)));
  for (const char* ext : {".svg", ".png"}) {
    const fs::path out = dir / (plot.name + ext);
    std::error_code ec;
    if (!fs::exists(out, ec) || fs::file_size(out, ec) == 0)
      throw Error(fmt::format("gnuplot wrote no {} for plot '{}'{}", out.string(), plot.name,
                              err.empty() ? "" : ": " + last_line(err)));
  }
}

}  // namespace narrow::report
