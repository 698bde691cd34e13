#pragma once
// Learned sampling laws: what a law-search strategy stores, what later stages draw from, and
// the law files that `narrow laws` and a strategy write for experiments to read.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "narrow/export.hpp"
#include "narrow/record.hpp"
#include "narrow/space.hpp"

namespace narrow {

class Store;
struct SpaceEntry;

/// The kind of the records that hold learned laws. A strategy that learns laws stores each as
/// a record of this kind (learned_law_record); later stages draw from them
/// (StageContext::learned_spaces, e.g. `random` with `laws: STAGE`), and `narrow laws` writes
/// them out as law files.
inline constexpr const char* learned_law_kind = "law";

/// The window a search aimed a law at: values of `metric` (not log10) from low to high.
struct NARROW_API LawTarget {
  std::string metric;
  double low = 0, high = 0;
};

/// One variable's range as law files write it (labels for choice variables).
struct NARROW_API LawRangeText {
  std::string variable, low, high;
};

/// A law learned for one space of the experiment.
struct NARROW_API LearnedLaw {
  std::string space;                 // the space's name in the experiment
  std::string space_key;             // SpaceEntry::key of that space
  SamplingLaw law;                   // its name (a valid law name) and ranges by position
  std::optional<LawTarget> target;   // the window it was learned for, if any
  std::string note;                  // one line on how it was learned (a comment in law files)
  /// Its place among the laws of its stage: units of work finish in any order, so
  /// stored_laws orders by this (then by the order written), e.g. window * k + cluster.
  std::int64_t order = 0;
  std::vector<LawRangeText> ranges;  // set by learned_law(): the variables it restricts
};

/// The record of a learned law of `space` (the law's space and space_key are taken from
/// `space`). Throws Error when the law does not fit the space or its name is not a valid law
/// name (1 to 64 letters, digits, `_`, `-` or `.`).
NARROW_API Record learned_law_record(const SpaceEntry& space, const LearnedLaw& law);

/// Reads a record of kind learned_law_kind back; throws Error when it is not one.
NARROW_API LearnedLaw learned_law(const Record& record);

/// The laws `stage` stored (every stage's when empty), by `order`, then in the order written.
NARROW_API std::vector<LearnedLaw> stored_laws(const Store& store, const std::string& stage = "");

/// Laws grouped by space, spaces in the order they first appear.
NARROW_API std::vector<std::pair<std::string, std::vector<LearnedLaw>>> laws_by_space(
    const std::vector<LearnedLaw>& laws);

/// A law file (YAML) of laws of one space, in the syntax experiments read under `laws:`
/// (`NAME: {variable: [low, high], ...}` with the variables each law restricts, labels for
/// choices), each law after a comment line with its note; `header` (lines) opens the file as
/// comments. Throws Error when the laws belong to different spaces.
NARROW_API std::string law_file_text(const std::vector<LearnedLaw>& laws,
                                     const std::string& header);

/// The law file of one space's laws learned by `stage` (by the run's stages when empty), as
/// `narrow laws` and the strategies that learn laws write it: law_file_text with a header that
/// names the space and the stage and says how to use the file.
NARROW_API std::string learned_law_file(const std::vector<LearnedLaw>& laws,
                                        const std::string& stage);

}  // namespace narrow
