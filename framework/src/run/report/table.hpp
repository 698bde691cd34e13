#pragma once
// A report table: named columns and rows of cells (text, integer, real or empty), written as
// CSV, as JSON (an array of objects, one per row) and as an HTML table.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace narrow::report {

/// An empty cell (a value that does not exist, e.g. no latency measured) is std::monostate:
/// empty in CSV, null in JSON.
using Cell = std::variant<std::monostate, std::string, std::int64_t, double>;

struct Table {
  std::string name;                  // file stem: NAME.csv, NAME.json
  std::string title;                 // one line for the page
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;  // each of columns.size() cells

  /// Appends a row; throws Error when its size differs from the columns'.
  void add(std::vector<Cell> row);
  /// RFC 4180 CSV with a header line; reals with up to 10 significant digits.
  std::string csv() const;
  /// [{column: value, ...}, ...]
  nlohmann::json json() const;
  /// An HTML <table> with a header row (text escaped).
  std::string html() const;
};

/// `text` with &, <, >, " escaped for HTML.
std::string html_escape(const std::string& text);

/// A real as a cell, or empty when it is not finite.
Cell real_cell(double x);
/// An optional real as a cell.
Cell real_cell(const std::optional<double>& x);

/// Mean and sample standard deviation (n - 1) of values; the deviation is empty below two.
struct Spread {
  std::size_t n = 0;
  double mean = 0;
  std::optional<double> sd;
};
Spread spread(const std::vector<double>& xs);
/// The mean as a cell (empty without values) and the deviation (empty below two values).
Cell mean_cell(const Spread& s);
Cell sd_cell(const Spread& s);

}  // namespace narrow::report
