#define BOOST_TEST_MODULE store_lock
// The lock that makes a run the one writer of its store: one holder at a time, a refusal that
// names the holder, a file that goes away with its holder, and an owner that died replaced.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "run/store_lock.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using narrow::StoreLock;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string host() {
  char name[256] = {};
  BOOST_REQUIRE(::gethostname(name, sizeof name - 1) == 0);
  return name;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_holder_at_a_time_and_the_refusal_names_it) {
  narrow::test::TempDir tmp("store-lock");
  const auto store = tmp.file("results.db");
  std::optional<StoreLock> held(std::in_place, store, "narrow run");
  BOOST_TEST(held->path() == store + ".lock");
  BOOST_TEST(held->previous_owner().empty());

  // The file says who holds the lock.
  {
    std::ifstream in(store + ".lock");
    const auto j = nlohmann::json::parse(in);
    BOOST_TEST(j.at("pid").get<long>() == long(::getpid()));
    BOOST_TEST(j.at("host").get<std::string>() == host());
    BOOST_TEST(j.at("command").get<std::string>() == "narrow run");
    BOOST_TEST(j.at("since").get<std::string>().size() == 20u);  // YYYY-MM-DDTHH:MM:SSZ
  }

  // A second holder (here another open file of the same process; flock locks belong to open
  // files, not to processes) is refused with an InputError naming the first.
  try {
    StoreLock second(store, "narrow run --resume");
    BOOST_ERROR("a second lock was granted");
  } catch (const narrow::InputError& e) {
    const std::string m = e.what();
    BOOST_TEST(e.exit_code() == 2);
    BOOST_TEST(has(m, "results store " + store + " is in use by process " +
                          std::to_string(::getpid()) + " on host " + host() + " since "),
               m);
    BOOST_TEST(has(m, "(narrow run)"), m);
  }

  // Let go: the file is gone, and the next holder finds no previous owner.
  held.reset();
  BOOST_TEST(!fs::exists(store + ".lock"));
  StoreLock next(store, "narrow run --resume");
  BOOST_TEST(next.previous_owner().empty());
}

BOOST_AUTO_TEST_CASE(an_owner_that_died_is_replaced) {
  narrow::test::TempDir tmp("store-lock");
  const auto store = tmp.file("results.db");
  // A child process takes the lock and dies without letting go (_exit: no destructor runs).
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    try {
      new StoreLock(store, "narrow run");  // never freed: the process ends holding it
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  BOOST_REQUIRE(fs::exists(store + ".lock"));

  // The kernel let go of the lock with the process: the store is taken over.
  StoreLock taken(store, "narrow run --resume");
  BOOST_TEST(has(taken.previous_owner(), "process " + std::to_string(child) + " on host "),
             taken.previous_owner());
  BOOST_TEST(has(taken.previous_owner(), "(narrow run)"), taken.previous_owner());
  std::ifstream in(store + ".lock");
  const auto j = nlohmann::json::parse(in);
  BOOST_TEST(j.at("pid").get<long>() == long(::getpid()));
}

BOOST_AUTO_TEST_CASE(a_folder_without_the_store_is_a_clear_error) {
  narrow::test::TempDir tmp("store-lock");
  const auto store = tmp.file("missing/results.db");
  try {
    StoreLock lock(store, "narrow run");
    BOOST_ERROR("a lock in a missing folder was granted");
  } catch (const narrow::InputError& e) {
    const std::string m = e.what();
    BOOST_TEST(has(m, "cannot lock results store " + store), m);
    BOOST_TEST(has(m, "No such file or directory"), m);
  }
}
