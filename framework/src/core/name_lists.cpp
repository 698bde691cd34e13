#include "narrow/name_lists.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> out;
  // A YAML list arrives as "[a, b]" (the text of a list parameter): the brackets go.
  const auto first_char = text.find_first_not_of(' ');
  const auto last_char = text.find_last_not_of(' ');
  if (first_char != std::string_view::npos && last_char > first_char &&
      text[first_char] == '[' && text[last_char] == ']')
    text = text.substr(first_char + 1, last_char - first_char - 1);
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(begin, end - begin);
    const auto first = item.find_first_not_of(' ');
    if (first != std::string_view::npos)
      out.emplace_back(item.substr(first, item.find_last_not_of(' ') - first + 1));
    begin = end + 1;
  }
  return out;
}

void require_spaces(const StagePlan& plan, const std::string& parameter,
                    const std::vector<std::string>& names) {
  for (const auto& name : names)
    if (std::find(plan.spaces.begin(), plan.spaces.end(), name) == plan.spaces.end())
      throw ParameterError(parameter,
                           fmt::format("'{}' is not a space of the experiment (spaces: {})", name,
                                       fmt::join(plan.spaces, ", ")));
}

}  // namespace narrow
