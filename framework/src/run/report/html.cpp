// index.html of a report: one page that reads offline (images by relative path, CSS inline,
// no script).
#include <fmt/format.h>

#include "run/report/report.hpp"

namespace narrow::report {

namespace {

constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1040px;
       color: #222; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
p.meta { color: #555; } p.omitted { color: #8a3b00; font-style: italic; }
img { display: block; border: 1px solid #ddd; max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; } th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
nav a { margin-right: 1em; }
div.table { overflow-x: auto; }
)";

std::string table_block(const Table& t, std::size_t inline_rows) {
  std::string s = fmt::format("<p>{}: {} rows (<a href=\"{}.csv\">CSV</a>, <a href=\"{}.json\">"
                              "JSON</a>)</p>\n",
                              html_escape(t.title), t.rows.size(), t.name, t.name);
  if (!t.rows.empty() && t.rows.size() <= inline_rows) s += "<div class=\"table\">\n" + t.html() + "</div>\n";
  return s;
}

}  // namespace

std::string index_html(const Report& report, std::size_t inline_rows) {
  const std::string title =
      report.experiment.empty() ? "narrow report" : "narrow report: " + report.experiment;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  s += fmt::format("<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n", html_escape(title),
                   kStyle);
  s += fmt::format("<h1>{}</h1>\n<p class=\"meta\">Results store: <code>{}</code></p>\n",
                   html_escape(title), html_escape(report.store));
  if (!report.summary.empty()) {
    s += "<h2 id=\"summary\">Where the search stands</h2>\n";
    for (const auto& line : report.summary) s += fmt::format("<p>{}</p>\n", html_escape(line));
  }
  s += "<nav>";
  for (const auto& f : report.figures)
    s += fmt::format("<a href=\"#{}\">{}</a>", f.name, html_escape(f.title.substr(0, f.title.find(':'))));
  s += "<a href=\"#tables\">Tables</a></nav>\n";
  for (const auto& f : report.figures) {
    s += fmt::format("<h2 id=\"{}\">{}</h2>\n<p>{}</p>\n", f.name, html_escape(f.title),
                     html_escape(f.caption));
    if (f.plot)
      s += fmt::format("<a href=\"{0}.svg\"><img id=\"img-{0}\" src=\"{0}.png\" width=\"{1}\" "
                       "height=\"{2}\" alt=\"{3}\"></a>\n<p><a href=\"{0}.svg\">SVG</a></p>\n",
                       f.name, f.plot->width, f.plot->height, html_escape(f.title));
    else
      s += fmt::format("<p class=\"omitted\">Not drawn: {}.</p>\n", html_escape(f.omitted));
    s += table_block(f.table, inline_rows);
  }
  s += "<h2 id=\"tables\">Tables</h2>\n";
  for (const auto& t : report.tables) s += table_block(t, inline_rows);
  s += "<p class=\"meta\">Every table is also in <a href=\"report.json\">report.json</a>'s list, "
       "as CSV and JSON.</p>\n</body>\n</html>\n";
  return s;
}

}  // namespace narrow::report
