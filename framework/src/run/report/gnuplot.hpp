#pragma once
// Plots drawn by gnuplot: a plot is described as data series and axis settings; draw_plot
// writes NAME.dat (the data, one block per series) and NAME.gp (the script) into a folder and
// runs `gnuplot NAME.gp` there, which writes NAME.svg and NAME.png (pngcairo) of the size asked.
#include <filesystem>
#include <string>
#include <vector>

namespace narrow::report {

/// One data series: rows of numbers (the columns its `using` reads) and how gnuplot draws it.
struct Series {
  std::string title;                      // legend entry; empty: none
  std::string using_columns = "1:2";      // gnuplot's `using`
  std::string style;                      // gnuplot's `with ...`, e.g. "points pt 7 ps 0.5"
  std::vector<std::vector<double>> rows;  // every row has the same number of columns
  std::vector<std::string> labels;        // when not empty: one text per row, its last column
};

/// One plot.
struct Plot {
  std::string name;    // file stem: letters, digits, '_' and '-'
  std::string title;
  std::string xlabel, ylabel;  // with units, e.g. "weight memory (bytes, log scale)"
  bool logx = false, logy = false;
  int width = 960, height = 600;  // pixels of the PNG; the SVG has the same size
  std::vector<std::string> settings;  // further gnuplot `set ...` lines, as written
  std::vector<Series> series;
  /// Points over all series.
  std::size_t points() const;
};

/// Whether `gnuplot` can be run (found on PATH).
bool gnuplot_available();
/// Throws Error "gnuplot is not installed: install Debian's gnuplot-nox ..." unless available.
void require_gnuplot();

/// Draws `plot` into `dir` (which must exist): writes NAME.dat and NAME.gp, runs gnuplot and
/// checks that NAME.svg and NAME.png were written. Throws Error when gnuplot is missing
/// ("install Debian's gnuplot-nox"), when the plot has no points, or when gnuplot fails (the
/// message names the plot and gives gnuplot's last line on stderr).
void draw_plot(const Plot& plot, const std::filesystem::path& dir);

/// `text` as a gnuplot string literal in single quotes (a quote is doubled).
std::string gnuplot_quote(const std::string& text);

}  // namespace narrow::report
