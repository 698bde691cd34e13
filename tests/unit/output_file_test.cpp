#define BOOST_TEST_MODULE output_file
// Output files are written under a temporary name and renamed: the final name only ever holds
// a complete file, and a failure leaves the previous file and no temporary file behind.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using narrow::OutputFile;
using narrow::write_output_file;

namespace {

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The names in a folder, sorted.
std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The message of the InputError that `f` throws; fails the test if it throws none.
template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const narrow::InputError& e) {
    BOOST_TEST(e.exit_code() == 2);
    return e.what();
  }
  BOOST_ERROR("no InputError thrown");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(content_lands_under_the_final_name_only) {
  narrow::test::TempDir tmp("output-file");
  const auto path = tmp.file("a.csv");
  write_output_file(path, std::string("x,y\n1,2\n"), "CSV file");
  BOOST_TEST(read(path) == "x,y\n1,2\n");
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"a.csv"});

  // Binary content with a NUL and no newline translation, through a callback, replacing it.
  const std::string bytes("\x00\x01\r\n\xff", 5);
  write_output_file(path, [&](std::ostream& out) { out << bytes; });
  BOOST_TEST(read(path) == bytes);
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"a.csv"});

  // While it is written, the content is in a temporary file in the same folder, and the
  // final name still shows the previous content.
  {
    OutputFile file(path, "CSV file");
    BOOST_TEST(file.path() == path);
    BOOST_TEST(fs::path(file.temporary_path()).parent_path() == tmp.dir);
    BOOST_TEST(fs::exists(file.temporary_path()));
    file.stream() << "new";
    BOOST_TEST(read(path) == bytes);
    file.commit();
    BOOST_TEST(file.temporary_path().empty());
  }
  BOOST_TEST(read(path) == "new");
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"a.csv"});

  // A file name without a folder goes to the current folder.
  const auto cwd = fs::current_path();
  fs::current_path(tmp.dir);
  write_output_file("b.txt", std::string("b"));
  fs::current_path(cwd);
  BOOST_TEST(read(tmp.dir / "b.txt") == "b");
}

BOOST_AUTO_TEST_CASE(a_failure_while_writing_leaves_the_old_file_and_no_temporary) {
  narrow::test::TempDir tmp("output-file");
  const auto path = tmp.file("weights.pt");
  write_output_file(path, std::string("old weights"));

  // The callback writes part of the content (more than a stream buffer) and throws.
  const std::string half(1 << 20, 'w');
  BOOST_CHECK_EXCEPTION(write_output_file(path,
                                          [&](std::ostream& out) {
                                            out << half;
                                            throw std::runtime_error("out of memory, say");
                                          }),
                        std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()) == "out of memory, say";
                        });
  BOOST_TEST(read(path) == "old weights");
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"weights.pt"});

  // An OutputFile dropped without commit() (an exception elsewhere) leaves no trace either,
  // and no file at all where there was none.
  const auto fresh = tmp.file("fresh.csv");
  {
    OutputFile file(fresh);
    file.stream() << half;
  }
  BOOST_TEST(!fs::exists(fresh));
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"weights.pt"});
}

BOOST_AUTO_TEST_CASE(a_path_that_cannot_be_written_is_one_clear_input_error) {
  narrow::test::TempDir tmp("output-file");

  // A folder that does not exist: said at once, when the file is opened.
  const auto missing = tmp.file("no/such/folder/x.csv");
  auto message = input_error_of([&] { OutputFile file(missing, "CSV file"); });
  BOOST_TEST(contains(message, "cannot write CSV file '" + missing + "'"), message);
  BOOST_TEST(contains(message, "does not exist"), message);

  // A folder in the way of the file.
  fs::create_directory(tmp.dir / "sub");
  message = input_error_of([&] { write_output_file(tmp.file("sub"), std::string("x")); });
  BOOST_TEST(contains(message, tmp.file("sub")), message);
  BOOST_TEST(contains(message, "it is a folder"), message);

  // A folder nobody may create files in, even root: the OS's reason is in the message.
  message = input_error_of(
      [&] { write_output_file("/proc/self/narrow-out.csv", std::string("x"), "CSV file"); });
  BOOST_TEST(contains(message, "cannot write CSV file '/proc/self/narrow-out.csv': "), message);
  BOOST_TEST(contains(message, "No such file or directory"), message);

  message = input_error_of([&] { write_output_file("", std::string("x"), "weights file"); });
  BOOST_TEST(contains(message, "the weights file needs a file name"), message);

  // Folder permissions do not stop root: check them only as another user.
  if (::geteuid() != 0) {
    const fs::path locked = tmp.dir / "locked";
    fs::create_directory(locked);
    write_output_file((locked / "kept.csv").string(), std::string("kept"));
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec,
                    fs::perm_options::replace);
    const auto inside = (locked / "kept.csv").string();
    message = input_error_of([&] { write_output_file(inside, std::string("x"), "CSV file"); });
    BOOST_TEST(contains(message, "cannot write CSV file '" + inside + "': Permission denied"),
               message);
    BOOST_TEST(read(inside) == "kept");
  }
  // No temporary file is left behind by any of these.
  for (const auto& e : fs::recursive_directory_iterator(tmp.dir))
    BOOST_TEST(!contains(e.path().string(), ".partial"), e.path());
}

BOOST_AUTO_TEST_CASE(a_replaced_file_keeps_its_permissions) {
  narrow::test::TempDir tmp("output-file");
  const auto path = tmp.file("shared.csv");
  write_output_file(path, std::string("1"));
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                  fs::perm_options::replace);
  write_output_file(path, std::string("2"));
  BOOST_TEST(read(path) == "2");
  const auto kept = fs::status(path).permissions() & fs::perms::all;
  BOOST_TEST(unsigned(kept) == unsigned(fs::perms::owner_read | fs::perms::owner_write |
                                        fs::perms::group_read));
}

BOOST_AUTO_TEST_CASE(a_file_written_by_name_is_put_in_place_the_same_way) {
  narrow::test::TempDir tmp("output-file");
  const auto path = tmp.file("results.db");
  std::string seen;
  // The library (here a plain stream) writes the temporary file by its name.
  narrow::write_output_file_by_name(
      path,
      [&](const std::string& temporary) {
        seen = temporary;
        BOOST_TEST(fs::path(temporary).parent_path() == tmp.dir);
        BOOST_TEST(!fs::exists(path));
        std::ofstream(temporary, std::ios::binary) << "store";
      },
      "results store");
  BOOST_TEST(read(path) == "store");
  BOOST_TEST(!fs::exists(seen));

  // A writer that fails leaves the previous file and no temporary file.
  BOOST_CHECK_THROW(narrow::write_output_file_by_name(path,
                                                      [&](const std::string& temporary) {
                                                        std::ofstream(temporary) << "half";
                                                        throw narrow::Error("disk full, say");
                                                      }),
                    narrow::Error);
  BOOST_TEST(read(path) == "store");
  BOOST_TEST(names(tmp.dir) == std::vector<std::string>{"results.db"});

  // A folder that does not exist is said before the writer is called.
  bool called = false;
  const auto missing = tmp.file("gone/results.db");
  const auto message = input_error_of([&] {
    narrow::write_output_file_by_name(
        missing, [&](const std::string&) { called = true; }, "results store");
  });
  BOOST_TEST(!called);
  BOOST_TEST(contains(message, "cannot write results store '" + missing + "'"), message);
}
