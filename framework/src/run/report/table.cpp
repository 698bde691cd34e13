#include "run/report/table.hpp"

#include <cmath>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow::report {

namespace {

std::string text(const Cell& c) {
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&c)) return fmt::format("{:.10g}", *d);
  return "";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

void Table::add(std::vector<Cell> row) {
  if (row.size() != columns.size())
    throw Error(fmt::format("table '{}': a row of {} cells for {} columns", name, row.size(),
                            columns.size()));
  rows.push_back(std::move(row));
}

std::string Table::csv() const {
  std::string out;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c) out += ',';
    out += csv_field(columns[c]);
  }
  out += "\n";
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c) out += ',';
      out += csv_field(text(row[c]));
    }
    out += "\n";
  }
  return out;
}

nlohmann::json Table::json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json o = nlohmann::json::object();
    for (std::size_t c = 0; c < row.size(); ++c) {
      const Cell& cell = row[c];
      if (const auto* s = std::get_if<std::string>(&cell)) o[columns[c]] = *s;
      else if (const auto* i = std::get_if<std::int64_t>(&cell)) o[columns[c]] = *i;
      else if (const auto* d = std::get_if<double>(&cell)) o[columns[c]] = *d;
      else o[columns[c]] = nullptr;
    }
    list.push_back(std::move(o));
  }
  return list;
}

std::string Table::html() const {
  std::string out = "<table>\n<thead><tr>";
  for (const auto& c : columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      const bool number = std::holds_alternative<std::int64_t>(cell) ||
                          std::holds_alternative<double>(cell);
      std::string t = text(cell);
      if (const auto* d = std::get_if<double>(&cell)) t = fmt::format("{:.4g}", *d);
      out += number ? "<td class=\"n\">" : "<td>";
      out += html_escape(t) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

Cell real_cell(double x) {
  if (!std::isfinite(x)) return std::monostate{};
  return x;
}

Cell real_cell(const std::optional<double>& x) {
  return x ? real_cell(*x) : Cell{std::monostate{}};
}

Spread spread(const std::vector<double>& xs) {
  Spread s;
  s.n = xs.size();
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x;
  s.mean /= double(xs.size());
  if (xs.size() >= 2) {
    double v = 0;
    for (double x : xs) v += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(v / double(xs.size() - 1));
  }
  return s;
}

Cell mean_cell(const Spread& s) { return s.n ? real_cell(s.mean) : Cell{}; }
Cell sd_cell(const Spread& s) { return real_cell(s.sd); }

}  // namespace narrow::report
