#include "narrow/laws.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "core/names.hpp"
#include "narrow/errors.hpp"
#include "narrow/store.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

Record learned_law_record(const SpaceEntry& space, const LearnedLaw& law) {
  if (!valid_name(law.law.name))
    throw Error(fmt::format("learned law '{}' of space '{}': not a valid law name (letters, "
                            "digits, _ - ., at most 64)",
                            law.law.name, space.name));
  try {
    space.space->check_law(law.law);
  } catch (const InputError& e) {
    throw Error(fmt::format("learned law '{}' does not fit space '{}': {}", law.law.name,
                            space.name, e.message()));
  }
  const auto& vars = space.space->variables();
  nlohmann::json ranges = nlohmann::json::object();
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (law.law.low[i] != vars[i].min || law.law.high[i] != vars[i].max)
      ranges[vars[i].name] = {vars[i].label(law.law.low[i]), vars[i].label(law.law.high[i])};
  nlohmann::json j{{"space", space.name},
                   {"space_key", space.key},
                   {"name", law.law.name},
                   {"low", law.law.low},
                   {"high", law.law.high},
                   {"variables", vars.size()},
                   {"ranges", ranges},
                   {"note", law.note},
                   {"order", law.order}};
  if (law.target)
    j["target"] = {{"metric", law.target->metric},
                   {"low", law.target->low},
                   {"high", law.target->high}};
  return Record{learned_law_kind, "", "", j.dump()};
}

LearnedLaw learned_law(const Record& record) {
  if (record.kind != learned_law_kind)
    throw Error(fmt::format("record of kind '{}' is not a learned law", record.kind));
  LearnedLaw out;
  try {
    const auto j = nlohmann::json::parse(record.data);
    out.space = j.at("space");
    out.space_key = j.at("space_key");
    out.law.name = j.at("name");
    out.law.low = j.at("low").get<std::vector<std::int64_t>>();
    out.law.high = j.at("high").get<std::vector<std::int64_t>>();
    out.note = j.value("note", "");
    out.order = j.value("order", std::int64_t(0));
    for (const auto& [variable, range] : j.at("ranges").items())
      out.ranges.push_back(LawRangeText{variable, range.at(0), range.at(1)});
    if (j.contains("target"))
      out.target = LawTarget{j["target"].at("metric"), j["target"].at("low"),
                             j["target"].at("high")};
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("stored law of stage '{}' cannot be read: {}", record.stage,
                            e.what()));
  }
  if (out.law.low.size() != out.law.high.size())
    throw Error(fmt::format("stored law '{}' of stage '{}' has {} low and {} high bounds",
                            out.law.name, record.stage, out.law.low.size(), out.law.high.size()));
  return out;
}

std::vector<LearnedLaw> stored_laws(const Store& store, const std::string& stage) {
  std::vector<LearnedLaw> out;
  for (const Record& r : store.records(learned_law_kind, stage)) out.push_back(learned_law(r));
  std::stable_sort(out.begin(), out.end(),
                   [](const LearnedLaw& a, const LearnedLaw& b) { return a.order < b.order; });
  return out;
}

std::vector<std::pair<std::string, std::vector<LearnedLaw>>> laws_by_space(
    const std::vector<LearnedLaw>& laws) {
  std::vector<std::pair<std::string, std::vector<LearnedLaw>>> out;
  for (const LearnedLaw& law : laws) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& group) { return group.first == law.space; });
    if (it == out.end()) it = out.insert(out.end(), {law.space, {}});
    it->second.push_back(law);
  }
  return out;
}

std::string law_file_text(const std::vector<LearnedLaw>& laws, const std::string& header) {
  std::ostringstream text;
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);)
    text << (line.empty() ? "#" : "# " + line) << '\n';
  for (const LearnedLaw& law : laws) {
    if (law.space != laws.front().space)
      throw Error(fmt::format("a law file holds the laws of one space; '{}' is of space '{}', "
                              "'{}' of space '{}'",
                              laws.front().law.name, laws.front().space, law.law.name, law.space));
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << law.law.name << YAML::Value << YAML::Flow
        << YAML::BeginMap;
    for (const LawRangeText& r : law.ranges) {
      out << YAML::Key << r.variable << YAML::Value << YAML::Flow << YAML::BeginSeq << r.low
          << r.high << YAML::EndSeq;
    }
    out << YAML::EndMap << YAML::EndMap;
    if (!out.good()) throw Error(fmt::format("law '{}': {}", law.law.name, out.GetLastError()));
    if (!law.note.empty()) text << "# " << law.note << '\n';
    text << out.c_str() << '\n';
  }
  return text.str();
}

std::string learned_law_file(const std::vector<LearnedLaw>& laws, const std::string& stage) {
  if (laws.empty()) throw Error("a law file needs at least one law");
  return law_file_text(
      laws, fmt::format("{} sampling law{} of space '{}' learned by {}.\n"
                        "An experiment reads them with `laws: FILE` under a space of the same "
                        "plugin and parameters.",
                        laws.size(), laws.size() == 1 ? "" : "s", laws.front().space,
                        stage.empty() ? "the run's stages" : "stage '" + stage + "'"));
}

}  // namespace narrow
