// AtomicFileWriter: what the state file is written with. Pieces of any size end up in the
// file in order; a failure at any step leaves the previous file as it was and no
// temporary file behind.

#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/StateFile.h"

namespace fs = std::filesystem;
using vigil::daemon::AtomicFileWriter;
using vigil::daemon::writeFileAtomically;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/vigil-state-file-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string contentOf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_file)

// Small pieces that cross the buffer's end many times, then one piece larger than the
// buffer, then a last small one: the file holds exactly their concatenation.
BOOST_AUTO_TEST_CASE(pieces_of_any_size_arrive_in_order) {
  TempDir dir;
  const fs::path file = dir.path / "state.json";
  std::string expected;
  {
    AtomicFileWriter w(file);
    for (int i = 0; i < 20000; ++i) {
      const std::string piece = std::to_string(i) + ",";
      w.append(piece);
      expected += piece;
    }
    const std::string big(AtomicFileWriter::kBufferBytes * 3 + 17, 'x');
    w.append(big);
    expected += big;
    w.append("\n");
    expected += "\n";
    BOOST_TEST(!fs::exists(file));  // nothing replaces the file before commit()
    auto r = w.commit();
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message()));
  }
  BOOST_TEST(expected.size() > 4 * AtomicFileWriter::kBufferBytes);
  BOOST_TEST(contentOf(file) == expected);
  BOOST_TEST(!fs::exists(dir.path / "state.json.tmp"));
}

BOOST_AUTO_TEST_CASE(a_new_write_replaces_the_previous_file) {
  TempDir dir;
  const fs::path file = dir.path / "state.json";
  BOOST_TEST_REQUIRE(writeFileAtomically(file, "first, and longer\n").has_value());
  BOOST_TEST_REQUIRE(writeFileAtomically(file, "second\n").has_value());
  BOOST_TEST(contentOf(file) == "second\n");
}

// A writer dropped before commit() (vigild stopped mid-write) leaves the old file and
// removes its temporary file.
BOOST_AUTO_TEST_CASE(without_commit_the_previous_file_stays) {
  TempDir dir;
  const fs::path file = dir.path / "state.json";
  BOOST_TEST_REQUIRE(writeFileAtomically(file, "previous\n").has_value());
  {
    AtomicFileWriter w(file);
    w.append(std::string(AtomicFileWriter::kBufferBytes * 2, 'y'));
    BOOST_TEST(fs::exists(dir.path / "state.json.tmp"));
  }
  BOOST_TEST(contentOf(file) == "previous\n");
  BOOST_TEST(!fs::exists(dir.path / "state.json.tmp"));
}

BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_created_is_one_error_naming_it) {
  TempDir dir;
  const fs::path file = dir.path / "missing" / "state.json";
  AtomicFileWriter w(file);
  w.append("ignored");
  auto r = w.commit();
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message() ==
             "creating '" + file.string() + ".tmp': No such file or directory");
  BOOST_TEST(!fs::exists(dir.path / "missing"));
}

// The rename fails (the path is a non-empty directory): the directory and what it holds
// are untouched, the error names the step, and the temporary file is gone.
BOOST_AUTO_TEST_CASE(a_failed_rename_keeps_the_previous_path_and_removes_the_temporary) {
  TempDir dir;
  const fs::path file = dir.path / "state.json";
  fs::create_directory(file);
  BOOST_TEST_REQUIRE(writeFileAtomically(file / "inside", "kept\n").has_value());
  auto r = writeFileAtomically(file, "new\n");
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message().starts_with("renaming '" + file.string() + ".tmp': "));
  BOOST_TEST(fs::is_directory(file));
  BOOST_TEST(contentOf(file / "inside") == "kept\n");
  BOOST_TEST(!fs::exists(dir.path / "state.json.tmp"));
}

BOOST_AUTO_TEST_SUITE_END()
